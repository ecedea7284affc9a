// One schema's steps in an upgrade run (disable, drain, move, update, enable, verify) and the
// waits on the fleet between them; the run around them is sequencer.cpp.

#include <algorithm>
#include <thread>

#include "admin/sequencer_runner.h"
#include "common/log.h"
#include "store/db_error.h"
#include "store/instances.h"
#include "store/update_task_store.h"

namespace sy::admin::sequencer_detail {

using store::Phase;
using store::SchemaStatus;

std::string Runner::wait_instances(const std::string& schema, uint64_t seq, std::string& detail) {
  const auto deadline = Clock::now() + options_.drain_timeout;
  for (;;) {
    if (stopping()) {
      return "stopped: switchyard is shutting down";
    }
    if (lock_->lost()) {
      return "the upgrade driver lease was taken over";
    }
    auto live = list_instances(db_, options_.live_within);
    if (!live) {
      return "listing instances: " + live.error().message;
    }
    std::string busy;
    std::string behind;
    for (const store::InstanceRow& i : *live) {
      if (!schema.empty() && i.inflight(schema) > 0) {
        busy += (busy.empty() ? "" : ", ") +
                ("'" + i.id + "' (" + std::to_string(i.inflight(schema)) + " requests)");
      }
      if (i.applied_seq < seq) {
        behind += (behind.empty() ? "" : ", ") +
                  ("'" + i.id + "' (applied seq " + std::to_string(i.applied_seq) + ")");
      }
    }
    // Fail closed: an empty live set, or one that lost an instance live at the start of the
    // run, never counts as drained (a blocked database ages every heartbeat at once).
    std::string missing;
    for (const std::string& id : live_at_start_) {
      if (std::none_of(live->begin(), live->end(),
                       [&](const store::InstanceRow& i) { return i.id == id; })) {
        missing += (missing.empty() ? "'" : ", '") + id + "'";
      }
    }
    if (busy.empty() && behind.empty() && !live->empty() && missing.empty()) {
      detail = std::to_string(live->size()) + " live instances at seq >= " + std::to_string(seq) +
               (schema.empty() ? "" : ", none with requests in flight");
      return {};
    }
    if (Clock::now() >= deadline) {
      std::string why = "timed out after " + std::to_string(options_.drain_timeout.count()) + " ms";
      if (live->empty()) {
        why += "; no live instance (none with a heartbeat within " +
               std::to_string(options_.live_within.count()) +
               " s): an empty live set never counts as drained";
      }
      if (!missing.empty()) {
        why += "; fewer live instances than at the start of the run (" +
               std::to_string(live->size()) + " of " + std::to_string(live_at_start_.size()) +
               "), no heartbeat within " + std::to_string(options_.live_within.count()) +
               " s from " + missing;
      }
      if (!busy.empty()) {
        why += "; requests still in flight on " + busy;
      }
      if (!behind.empty()) {
        why += "; not yet at change seq " + std::to_string(seq) + ": " + behind;
      }
      return why;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    std::this_thread::sleep_for(
        std::max(std::chrono::milliseconds(1), std::min(options_.poll_interval, left)));
  }
}

Result<Unit> Runner::journal_stop(const std::string& schema, Step step, bool moved) {
  std::string why = "switchyard is shutting down; the run resumes with the next upgrade schemata";
  if (auto held = lease_held(); !held) {
    return held.error();
  }
  if (!moved && step != Step::Disable) {
    // As after a failure: tenants go back to their server instead of staying held.
    auto re = dir_.set_schema_enabled(schema, true);
    why += re ? "; the schema was enabled again on its server"
              : "; enabling it again failed: " + re.error().message;
  }
  if (auto w = journal(schema, step, Phase::Stopped, 0, why); !w) {
    return w.error();
  }
  notify(schema, step, Phase::Stopped, why);
  SY_LOG(Info, "upgrade run %llu: stopped before %s of schema %s (shutting down)",
         static_cast<unsigned long long>(report_.run_id), to_string(step), schema.c_str());
  return ok_result();
}

Result<SchemaOutcome> Runner::run_schema(const std::string& schema, SchemaJournal& j) {
  const auto schema_started = Clock::now();
  schema_started_ = schema_started;
  in_schema_ = true;
  SchemaOutcome outcome;
  outcome.schema = schema;
  uint64_t disable_seq = j.seqs.count(Step::Disable) != 0 ? j.seqs[Step::Disable] : 0;
  uint64_t enable_seq = j.seqs.count(Step::Enable) != 0 ? j.seqs[Step::Enable] : 0;
  bool moved = j.done.count(Step::Move) != 0;

  for (Step step : store::kSteps) {
    if (j.done.count(step) != 0) {
      continue;  // journaled done: never repeated
    }
    // Stopping: no step that holds tenants or takes long runs any more, but a schema that is
    // moved and updated is still enabled (one write) so that its tenants are served.
    const bool give_back = step == Step::Enable && moved && j.done.count(Step::Update) != 0;
    if (stopping() && !give_back) {
      if (auto w = journal_stop(schema, step, moved); !w) {
        return w.error();
      }
      outcome.status = SchemaStatus::Running;
      outcome.error = std::string("stopped before ") + to_string(step);
      outcome.duration_ms = ms_since(schema_started);
      return outcome;
    }
    if (auto w = journal(schema, step, Phase::Begin, 0, {}); !w) {
      return w.error();
    }
    notify(schema, step, Phase::Begin, {});
    std::string failure;
    std::string detail;
    uint64_t seq = 0;
    switch (step) {
    case Step::Disable: {
      auto r = dir_.set_schema_enabled(schema, false);
      if (!r) {
        failure = r.error().message;
        break;
      }
      // Disabled already: wait for the version of now instead.
      seq = r->version;
      disable_seq = seq;
      detail =
          std::string(r->changed ? "" : "already disabled; ") + "version " + std::to_string(seq);
      break;
    }
    case Step::Drain: failure = wait_instances(schema, disable_seq, detail); break;
    case Step::Move: {
      auto r = dir_.move_schema(schema, target_);
      if (!r) {
        failure = r.error().message;
        break;
      }
      seq = r->version;
      moved = true;
      detail = r->changed ? "version " + std::to_string(seq)
                          : "nothing to move (on the target server already, or empty)";
      break;
    }
    case Step::Update: {
      auto r = run_update_tasks(db_, options_.dsns, schema, options_.tasks, {});
      if (!r) {
        failure = r.error().message;
        break;
      }
      for (const TaskResult& t : *r) {
        detail += (detail.empty() ? "" : ", ") + t.task + " " + to_string(t.status);
      }
      if (detail.empty()) {
        detail = "no update tasks";
      }
      break;
    }
    case Step::Enable: {
      auto r = dir_.set_schema_enabled(schema, true);
      if (!r) {
        failure = r.error().message;
        break;
      }
      seq = r->version;
      enable_seq = seq;
      detail = "version " + std::to_string(seq);
      break;
    }
    case Step::Verify: {
      auto s = dir_.find_schema(schema);
      if (!s) {
        failure = s.error().message;
        break;
      }
      if (!s->enabled || !on_server(*s, target_)) {
        failure = "schema reads " + std::string(s->enabled ? "enabled" : "disabled") +
                  " on server " + std::to_string(s->server_id) + ", expected enabled on " +
                  std::to_string(target_);
        break;
      }
      failure = wait_instances({}, enable_seq, detail);
      break;
    }
    }
    if (!failure.empty() && stopping() && (step == Step::Drain || step == Step::Verify)) {
      // The wait ended because the process is shutting down: the step did not happen.
      if (auto w = journal_stop(schema, step, moved); !w) {
        return w.error();
      }
      outcome.status = SchemaStatus::Running;
      outcome.error = std::string("stopped during ") + to_string(step);
      outcome.duration_ms = ms_since(schema_started);
      return outcome;
    }
    if (!failure.empty()) {
      // A driver that lost its lease writes nothing more, not even the give-back below.
      if (auto held = lease_held(); !held) {
        return held.error();
      }
      // Nothing moved yet: give the tenants back to their server instead of holding them.
      if (!moved && step != Step::Disable) {
        auto re = dir_.set_schema_enabled(schema, true);
        failure += re ? "; the schema was enabled again on its server"
                      : "; enabling it again failed too: " + re.error().message;
      } else if (step == Step::Update) {
        // It stays disabled until an operator fixes it: its tenants get CTX-0022 at once
        // instead of waiting max_wait for the same answer.
        auto mark = dir_.mark_schema_failed(schema);
        failure += !mark           ? "; marking it failed failed too: " + mark.error().message
                   : mark->changed ? "; marked failed: its requests get CTX-0022"
                                   : "";
      }
      if (auto w = journal(schema, step, Phase::Failed, 0, failure); !w) {
        return w.error();
      }
      notify(schema, step, Phase::Failed, failure);
      outcome.status = SchemaStatus::Failed;
      outcome.error = std::string(to_string(step)) + ": " + failure;
      outcome.duration_ms = ms_since(schema_started);
      return outcome;
    }
    if (auto w = journal(schema, step, Phase::Done, seq, detail); !w) {
      return w.error();
    }
    j.done.insert(step);
    notify(schema, step, Phase::Done, detail);
  }
  outcome.status = SchemaStatus::Done;
  outcome.duration_ms = ms_since(schema_started);
  return outcome;
}

}  // namespace sy::admin::sequencer_detail
