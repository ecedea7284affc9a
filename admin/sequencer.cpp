// The per-schema migration sequencer. One driver (the lease in sy_upgrade_driver), one run row,
// and a journal row before and after every step, so a restarted driver knows exactly what
// is done:
//
//   per schema:  disable ─▶ drain ─▶ move ─▶ update ─▶ enable ─▶ verify
//                   │          │        │        │                  │
//                   └──────────┴── failed: re-enabled on its old server (nothing moved yet)
//                                           update failed: stays disabled, marked failed
//
// On resume a schema whose journal (in this run) says verify done is not touched, a step
// journaled done is not repeated, and a schema whose last row is "failed" starts again from
// disable (every step is idempotent: disable/enable/move of what is already so are no-ops,
// update tasks recorded ok are skipped).

#include "admin/sequencer.h"

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "admin/cluster_state.h"
#include "admin/sequencer_runner.h"
#include "common/log.h"
#include "store/db_error.h"
#include "store/instances.h"
#include "store/update_task_store.h"
#include "store/upgrade_store.h"

namespace sy::admin {

using store::Db;
using store::Phase;
using store::RunControl;
using store::RunState;
using store::SchemaStatus;

RunState final_state(bool aborted, bool left_failed, size_t unfinished) {
  return aborted       ? RunState::Aborted
         : left_failed ? RunState::Failed
         : unfinished  ? RunState::DoneWithSkipped
                       : RunState::Done;
}

namespace sequencer_detail {

void Runner::notify(const std::string& schema, Step step, Phase phase, const std::string& detail) {
  if (!progress_) {
    return;
  }
  Progress p;
  p.run_id = report_.run_id;
  p.schema = schema;
  p.step = step;
  p.phase = phase;
  p.detail = detail;
  p.schemas_done = schemas_done_;
  p.schemas_total = schemas_total_;
  p.elapsed_ms = ms_since(started_);
  if (measured_schemas_ > 0) {
    const int64_t mean = measured_ms_ / measured_schemas_;
    const int64_t left = static_cast<int64_t>(schemas_total_ - schemas_done_) * mean -
                         (in_schema_ ? ms_since(schema_started_) : 0);
    p.eta_ms = std::max<int64_t>(left, 0);
  }
  progress_(p);
}

void Runner::emit(const std::string& kind, const std::string& schema, const std::string& state,
                  const std::string& detail) {
  if (options_.events != nullptr) {
    // Right after the journal write it reports (that one checks the lease in its own
    // transaction); a failure to store it is logged by emit() and does not stop the run.
    (void)options_.events->emit(db_, Event{kind, schema, state, detail});
  }
}

Result<Unit> Runner::fire(ClusterEvent event, const std::string& reason) {
  // The transition's event is written in its transaction.
  auto st = transition(db_, dir_, event, options_.actor, reason, {}, options_.live_within,
                       options_.events);
  if (!st) {
    return st.error();
  }
  return ok_result();
}

}  // namespace sequencer_detail

Result<std::vector<SchemaOutcome>> unfinished_schemas(Directory& dir, Db& state, uint32_t target) {
  auto all = dir.list_schemas();
  if (!all) {
    return all.error();
  }
  if (auto m = merge_update_states(state, &*all); !m) {
    return m.error();
  }
  std::vector<SchemaOutcome> out;
  for (const SchemaInfo& s : *all) {
    if (s.enabled && on_server(s, target)) {
      continue;
    }
    const bool failed = !s.enabled && s.update_status == "failed";
    std::string where = std::string(s.enabled ? "enabled" : "disabled") + " on server " +
                        (s.server_name.empty() ? std::to_string(s.server_id) : s.server_name);
    if (failed) {
      where += ", update failed" + (s.update_error.empty() ? "" : ": " + s.update_error);
    }
    out.push_back(SchemaOutcome{s.name, failed ? SchemaStatus::Failed : SchemaStatus::Skipped,
                                std::move(where), 0});
  }
  return out;
}

namespace sequencer_detail {

Result<uint32_t> Runner::resolve_target(const ClusterStatus& cluster) {
  const ServerInfo& wanted = options_.server;
  if (wanted.name.empty()) {
    if (cluster.target_server_id == 0) {
      return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                               "upgrade schemata: no target server given and none prepared",
                               ErrorSource::Downstream);
    }
    return cluster.target_server_id;
  }
  auto found = dir_.find_server(wanted.name);
  if (found) {
    if (cluster.target_server_id != 0 && found->id != cluster.target_server_id) {
      return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                               "upgrade schemata: server '" + wanted.name +
                                   "' is not the target '" + cluster.target_server_name +
                                   "' prepared for this upgrade",
                               ErrorSource::Downstream);
    }
    if (!options_.use_existing) {
      return make_tagged_error(Errc::InvalidArgument, "exists",
                               "server '" + wanted.name + "' exists already (id " +
                                   std::to_string(found->id) + "); pass --continue to use it",
                               ErrorSource::Downstream);
    }
    return found->id;
  }
  if (found.error().code != Errc::NotFound) {
    return found.error();
  }
  if (cluster.target_server_id != 0) {
    return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                             "upgrade schemata: server '" + wanted.name +
                                 "' is not registered and the upgrade targets '" +
                                 cluster.target_server_name + "'",
                             ErrorSource::Downstream);
  }
  if (!options_.register_new) {
    return make_tagged_error(Errc::NotFound, "not-found", "no server '" + wanted.name + "'",
                             ErrorSource::Downstream);
  }
  auto reg = dir_.register_server(wanted, IfExists::Refuse);
  if (!reg) {
    return reg.error();
  }
  return reg->server.id;
}

Result<Unit> Runner::start_or_resume(uint32_t target) {
  auto unfinished = store::find_unfinished_run(db_);
  if (!unfinished) {
    return unfinished.error();
  }
  if (unfinished->has_value()) {
    const store::UnfinishedRun& u = **unfinished;
    if (u.target != target) {
      return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                               "unfinished upgrade run " + std::to_string(u.id) +
                                   " targets server " + std::to_string(u.target) + ", not " +
                                   std::to_string(target),
                               ErrorSource::Downstream);
    }
    if (auto w = store::with_conflict_retries(
            [&] { return store::resume_run(db_, u.id, options_.actor); });
        !w) {
      return w.error();
    }
    report_.run_id = u.id;
    report_.resumed = true;
    return ok_result();
  }
  std::string flags = std::string("force=") + (options_.force ? "1" : "0");
  if (!options_.resume_from.empty()) {
    flags += " resume_from=" + options_.resume_from;
  }
  if (!options_.skip.empty()) {
    flags += " skip=";
    for (size_t i = 0; i < options_.skip.size(); ++i) {
      flags += (i == 0 ? "" : ",") + options_.skip[i];
    }
  }
  auto id = store::with_conflict_retries(
      [&] { return store::create_run(db_, target, flags, options_.actor); });
  if (!id) {
    return id.error();
  }
  report_.run_id = *id;
  return ok_result();
}

Result<std::map<std::string, SchemaJournal>> Runner::load_journal() {
  auto rows = store::read_journal(db_, report_.run_id);
  if (!rows) {
    return rows.error();
  }
  std::map<std::string, SchemaJournal> out;
  for (const store::JournalRow& row : *rows) {
    SchemaJournal& j = out[row.schema];
    switch (row.phase) {
    case Phase::Done:
      j.done.insert(row.step);
      j.seqs[row.step] = row.change_seq;
      j.finished = j.finished || row.step == Step::Verify;
      break;
    case Phase::Skipped: j.finished = true; break;
    case Phase::Stopped:
      if (j.done.count(Step::Move) != 0) {
        break;  // moved: the next run continues with the step that was not run
      }
      [[fallthrough]];  // given back to its server: the next run starts the schema over
    case Phase::Failed:
      j.done.clear();
      j.seqs.clear();
      j.finished = false;
      break;
    case Phase::Begin: break;
    }
  }
  return out;
}

Result<std::set<std::string>>
Runner::schemas_with_all_tasks_ok(const std::vector<SchemaInfo>& all) {
  auto tasks = list_tasks(options_.tasks);
  if (!tasks) {
    return tasks.error();
  }
  auto ok_tasks = store::tasks_ok(db_);
  if (!ok_tasks) {
    return ok_tasks.error();
  }
  std::set<std::string> out;
  for (const SchemaInfo& s : all) {
    const auto& have = (*ok_tasks)[s.name];
    if (std::all_of(tasks->begin(), tasks->end(),
                    [&](const std::string& t) { return have.count(t) != 0; })) {
      out.insert(s.name);
    }
  }
  return out;
}

Result<RunControl> Runner::check_control() {
  bool paused = false;
  for (;;) {
    auto control = store::read_run_control(db_, report_.run_id);
    if (!control) {
      return control.error();
    }
    if (*control != RunControl::Pause || stopping()) {
      if (paused) {
        if (auto w = store::with_conflict_retries(
                [&] { return store::set_run_state(db_, report_.run_id, RunState::Running); });
            !w) {
          return w.error();
        }
        SY_LOG(Info, "upgrade run %llu: resumed", static_cast<unsigned long long>(report_.run_id));
      }
      return *control;
    }
    if (!paused) {
      paused = true;
      if (auto w = store::with_conflict_retries(
              [&] { return store::set_run_state(db_, report_.run_id, RunState::Paused); });
          !w) {
        return w.error();
      }
      SY_LOG(Info, "upgrade run %llu: paused", static_cast<unsigned long long>(report_.run_id));
    }
    std::this_thread::sleep_for(options_.poll_interval);
  }
}

Result<UpgradeReport> Runner::run() {
  auto lock = store::DriverLock::take(db_, {options_.actor, options_.driver_lease});
  if (!lock) {
    return lock.error();
  }
  lock_.emplace(std::move(lock.value()));
  auto cluster = read_cluster(db_, &dir_);
  if (!cluster) {
    return cluster.error();
  }
  if (cluster->state != ClusterState::RunningUpgradeTasks &&
      cluster->state != ClusterState::UpgradeTasksFailed) {
    return make_tagged_error(Errc::InvalidArgument, "illegal-transition",
                             std::string("upgrade schemata needs cluster state "
                                         "RUNNING_UPGRADE_TASKS or UPGRADE_TASKS_FAILED; it is ") +
                                 to_string(cluster->state) + " (prepare, mixed, ready, approve)",
                             ErrorSource::Downstream);
  }
  auto target = resolve_target(*cluster);
  if (!target) {
    return target.error();
  }
  target_ = *target;
  if (auto tasks = list_tasks(options_.tasks); !tasks) {
    return tasks.error();
  }
  if (cluster->state == ClusterState::UpgradeTasksFailed) {
    if (auto r = fire(ClusterEvent::Retry, "upgrade schemata"); !r) {
      return r.error();
    }
  }
  if (auto r = start_or_resume(target_); !r) {
    return r.error();
  }
  auto live = list_instances(db_, options_.live_within);
  if (!live) {
    return live.error();
  }
  for (const store::InstanceRow& i : *live) {
    live_at_start_.push_back(i.id);
  }
  emit("upgrade.started", "", to_string(ClusterState::RunningUpgradeTasks),
       "run " + std::to_string(report_.run_id) + (report_.resumed ? " (resumed)" : "") +
           " to server " + std::to_string(target_));

  auto schemas = dir_.list_schemas();
  if (!schemas) {
    return schemas.error();
  }
  for (const std::string* named : {&options_.resume_from, &options_.continue_after}) {
    if (!named->empty() && std::none_of(schemas->begin(), schemas->end(),
                                        [&](const SchemaInfo& s) { return s.name == *named; })) {
      return make_tagged_error(
          Errc::NotFound, "not-found",
          "upgrade schemata: no schema '" + *named + "' (" +
              (named == &options_.resume_from ? "--resume-from" : "--continue-after") + ")",
          ErrorSource::Downstream);
    }
  }
  auto journal_state = load_journal();
  if (!journal_state) {
    return journal_state.error();
  }
  auto tasks_ok = schemas_with_all_tasks_ok(*schemas);
  if (!tasks_ok) {
    return tasks_ok.error();
  }
  const std::set<std::string> skip(options_.skip.begin(), options_.skip.end());
  std::vector<const SchemaInfo*> todo;
  for (const SchemaInfo& s : *schemas) {
    std::string why;
    if (skip.count(s.name) != 0) {
      why = "--skip";
    } else if (!options_.resume_from.empty() && schema_less(s.name, options_.resume_from)) {
      why = "before --resume-from " + options_.resume_from;
    } else if (!options_.continue_after.empty() && !schema_less(options_.continue_after, s.name)) {
      why = "not after --continue-after " + options_.continue_after;
    }
    if (!why.empty()) {
      report_.schemas.push_back(SchemaOutcome{s.name, SchemaStatus::Skipped, why, 0});
      continue;
    }
    todo.push_back(&s);
  }
  schemas_total_ = static_cast<int>(todo.size());

  bool aborted = false;
  bool failed = false;
  bool stopped = false;
  for (const SchemaInfo* s : todo) {
    auto control = check_control();
    if (!control) {
      return control.error();
    }
    if (*control == RunControl::Abort) {
      aborted = true;
      break;
    }
    if (stopping()) {
      stopped = true;
      break;
    }
    SchemaJournal& j = (*journal_state)[s->name];
    if (j.finished) {  // done earlier in this run (before a restart)
      report_.schemas.push_back(SchemaOutcome{s->name, SchemaStatus::Done, {}, 0});
      ++schemas_done_;
      continue;
    }
    if (j.done.empty() && s->enabled && on_server(*s, target_) && tasks_ok->count(s->name) != 0) {
      const std::string why = "already on the target server, enabled, update tasks ok";
      if (auto w = journal(s->name, Step::Verify, Phase::Skipped, 0, why); !w) {
        return w.error();
      }
      notify(s->name, Step::Verify, Phase::Skipped, why);
      emit("schema.skipped", s->name, {}, why);
      report_.schemas.push_back(SchemaOutcome{s->name, SchemaStatus::Skipped, why, 0});
      ++schemas_done_;
      continue;
    }
    auto outcome = run_schema(s->name, j);
    in_schema_ = false;
    if (!outcome) {
      return outcome.error();
    }
    measured_ms_ += outcome->duration_ms;
    ++measured_schemas_;
    if (outcome->status == SchemaStatus::Running) {  // stopped mid-schema
      stopped = true;
      break;
    }
    ++schemas_done_;
    emit(outcome->status == SchemaStatus::Done ? "schema.done" : "schema.failed", s->name, {},
         outcome->error);
    report_.schemas.push_back(*outcome);
    if (outcome->status == SchemaStatus::Failed) {
      failed = true;
      if (!options_.force) {
        break;
      }
    }
  }

  if (stopped) {
    // Unfinished on purpose (status stays running): the next driver resumes from the journal.
    emit("upgrade.stopped", "", {}, "run " + std::to_string(report_.run_id));
    return make_tagged_error(Errc::Unavailable, "stopped",
                             "upgrade run " + std::to_string(report_.run_id) +
                                 " stopped at a step boundary: switchyard is shutting down; "
                                 "upgrade schemata --continue resumes it",
                             ErrorSource::Internal);
  }
  // The final status is the directory's truth, not the loop's: whatever this run was asked to
  // do, it is Done only when every schema is on the target server and enabled.
  auto unfinished = unfinished_schemas(dir_, db_, target_);
  if (!unfinished) {
    return unfinished.error();
  }
  report_.unfinished = std::move(*unfinished);
  const bool left_failed =
      failed ||
      std::any_of(report_.unfinished.begin(), report_.unfinished.end(),
                  [](const SchemaOutcome& o) { return o.status == SchemaStatus::Failed; });
  report_.status = final_state(aborted, left_failed, report_.unfinished.size());
  if (auto w =
          lock_->guarded("the end of the run",
                         [&] { return store::finish_run(db_, report_.run_id, report_.status); });
      !w) {
    return w.error();
  }
  // The cluster says the same: STABLE only when done, UPGRADE_TASKS_FAILED while a schema is
  // failed (also one an earlier run failed and this one skipped), else still upgrading.
  std::optional<ClusterEvent> event;
  std::string reason;
  if (report_.status == RunState::Done) {
    event = ClusterEvent::Finish;
    reason = "every schema is on the target server";
  } else if (left_failed) {
    event = ClusterEvent::Fail;
    for (const SchemaOutcome& o : report_.schemas) {
      if (o.status == SchemaStatus::Failed) {
        reason += (reason.empty() ? "" : "; ") + o.schema + ": " + o.error;
      }
    }
    for (const SchemaOutcome& o : report_.unfinished) {
      if (o.status == SchemaStatus::Failed && reason.find(o.schema + ": ") == std::string::npos) {
        reason += (reason.empty() ? "" : "; ") + o.schema + ": " + o.error;
      }
    }
  }
  if (event) {
    if (auto r = fire(*event, reason); !r) {
      SY_LOG(Warn, "upgrade run %llu: %s", static_cast<unsigned long long>(report_.run_id),
             r.error().message.c_str());
    }
  }
  std::stable_sort(report_.schemas.begin(), report_.schemas.end(),
                   [](const SchemaOutcome& a, const SchemaOutcome& b) {
                     return schema_less(a.schema, b.schema);
                   });
  report_.duration_ms = ms_since(started_);
  emit("upgrade.finished", "", {},
       "run " + std::to_string(report_.run_id) + ": " + to_string(report_.status));
  return report_;
}

}  // namespace sequencer_detail

Result<UpgradeReport> run_upgrade(Directory& dir, Db& state, const UpgradeOptions& options,
                                  const std::function<void(const Progress&)>& progress) {
  sequencer_detail::Runner runner(dir, state, options, progress);
  return runner.run();
}

Result<Unit> control_run(Db& db, const std::string& word) {
  // The operator's words: pause, resume (= run again) and abort.
  const std::optional<RunControl> control = word == "pause"    ? std::optional(RunControl::Pause)
                                            : word == "resume" ? std::optional(RunControl::Run)
                                            : word == "abort"  ? std::optional(RunControl::Abort)
                                                               : std::nullopt;
  if (!control) {
    return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                             "upgrade control '" + word + "': expected pause, resume or abort",
                             ErrorSource::Downstream);
  }
  auto run =
      store::with_conflict_retries([&] { return store::control_unfinished_run(db, *control); });
  if (!run) {
    if (run.error().code == Errc::NotFound) {
      return make_tagged_error(Errc::NotFound, "not-found",
                               "upgrade " + word + ": no upgrade run is unfinished",
                               ErrorSource::Downstream);
    }
    return run.error();
  }
  SY_LOG(Info, "upgrade run %llu: control %s", static_cast<unsigned long long>(*run),
         to_string(*control));
  return ok_result();
}

}  // namespace sy::admin
