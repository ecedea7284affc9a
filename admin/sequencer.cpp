// The per-schema migration sequencer. One driver (GET_LOCK on its own session), one run row,
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
#include "admin/db_error.h"
#include "admin/instances.h"
#include "common/log.h"

namespace sy::admin {

using routing::Db;
using routing::Row;

namespace {

using Clock = std::chrono::steady_clock;

constexpr Step kSteps[] = {Step::Disable, Step::Drain,  Step::Move,
                           Step::Update,  Step::Enable, Step::Verify};

// The lock is per database, so clusters (and tests) sharing one MariaDB server do not
// exclude each other.
constexpr const char* kLockName = "CONCAT('sy_upgrade_driver.', LEFT(DATABASE(), 40))";
constexpr const char* kDriverRow = "upgrade";  // sy_upgrade_driver.name
// The server frees a dead driver's lock when it has torn its session down, which happens just
// after the client is gone; a rerun right after a crash waits this long for that.
constexpr int kLockWaitSeconds = 1;

int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// The driver lock and its holder row; released (lock and row) when destroyed.
class DriverLock {
 public:
  static Result<DriverLock> take(Db& db, const std::string& actor) {
    int got = -1;
    auto r = db.query(std::string("SELECT GET_LOCK(") + kLockName + ", " +
                          std::to_string(kLockWaitSeconds) + ")",
                      [&](const Row& row) { got = row.is_null(1) ? -1 : row.i32(1); });
    if (!r) {
      return db_error("taking the upgrade driver lock", r.error());
    }
    if (got != 1) {
      std::string holder;
      uint64_t connection = 0;
      std::string since;
      auto stmt =
          db.prepare("SELECT holder, connection_id, CAST(since AS CHAR) FROM sy_upgrade_driver"
                     " WHERE name = ?");
      if (stmt) {
        (void)stmt->bind(kDriverRow).query([&](const Row& row) {
          holder = row.str(1);
          connection = row.u64(2);
          since = row.str(3);
        });
      }
      return make_tagged_error(
          Errc::Unavailable, "driver-busy",
          holder.empty()
              ? std::string("another session holds the upgrade driver lock (no holder recorded)")
              : "another upgrade driver is running: '" + holder + "' (database connection " +
                    std::to_string(connection) + ") since " + since + " UTC");
    }
    auto row = db.prepare("REPLACE INTO sy_upgrade_driver (name, holder, connection_id, since)"
                          " VALUES (?, ?, CONNECTION_ID(), NOW(6))");
    if (!row) {
      DriverLock release(&db);
      return db_error("recording the upgrade driver", row.error());
    }
    if (auto w = row->bind(kDriverRow).bind(actor).exec(); !w) {
      DriverLock release(&db);
      return db_error("recording the upgrade driver", w.error());
    }
    return DriverLock(&db);
  }
  DriverLock(DriverLock&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  DriverLock& operator=(DriverLock&&) = delete;
  ~DriverLock() {
    if (db_ == nullptr) {
      return;
    }
    if (auto stmt = db_->prepare(
            "DELETE FROM sy_upgrade_driver WHERE name = ? AND connection_id = CONNECTION_ID()")) {
      (void)stmt->bind(kDriverRow).exec();
    }
    (void)db_->query(std::string("SELECT RELEASE_LOCK(") + kLockName + ")", [](const Row&) {});
  }

 private:
  explicit DriverLock(Db* db) : db_(db) {}
  Db* db_;
};

// What this run's journal says about one schema.
struct SchemaJournal {
  std::set<std::string> done;            // steps journaled done (cleared by a failure)
  std::map<std::string, uint64_t> seqs;  // step -> change seq of its done row
  bool finished = false;                 // verify done, or the schema was skipped
};

struct UnfinishedRun {
  uint64_t id = 0;
  uint32_t target = 0;
};

class Runner {
 public:
  Runner(Directory& dir, Db& state, const UpgradeOptions& options,
         const std::function<void(const Progress&)>& progress)
      : dir_(dir), db_(state), options_(options), progress_(progress) {}

  Result<UpgradeReport> run();

 private:
  Result<uint32_t> resolve_target(const ClusterStatus& cluster);
  Result<std::optional<UnfinishedRun>> find_unfinished();
  Result<Unit> start_or_resume(uint32_t target);
  Result<std::map<std::string, SchemaJournal>> load_journal();
  Result<std::set<std::string>> schemas_with_all_tasks_ok(const std::vector<SchemaInfo>& all);
  // "run", "abort" (after waiting out a pause).
  Result<std::string> check_control();
  Result<Unit> journal(const std::string& schema, const char* step, const char* phase, uint64_t seq,
                       const std::string& detail);
  void notify(const std::string& schema, Step step, const char* phase, const std::string& detail);
  void emit(const std::string& kind, const std::string& schema, const std::string& state,
            const std::string& detail);
  // Runs the steps of one schema; an Error only for a broken journal (database gone).
  Result<SchemaOutcome> run_schema(const std::string& schema, SchemaJournal& j);
  // Waits until every live instance applied |seq| (and, when |schema| is non-empty, has no
  // request in flight for it). "" = reached (|detail| says what was seen), else why not.
  std::string wait_instances(const std::string& schema, uint64_t seq, std::string& detail);
  Result<Unit> fire(ClusterEvent event, const std::string& reason);

  Directory& dir_;
  Db& db_;  // the state database: lock, runs, journal, instances, cluster, update tasks
  const UpgradeOptions& options_;
  const std::function<void(const Progress&)>& progress_;
  Clock::time_point started_ = Clock::now();
  UpgradeReport report_;
  uint32_t target_ = 0;
  int schemas_done_ = 0;
  int schemas_total_ = 0;
};

void Runner::notify(const std::string& schema, Step step, const char* phase,
                    const std::string& detail) {
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
  progress_(p);
}

void Runner::emit(const std::string& kind, const std::string& schema, const std::string& state,
                  const std::string& detail) {
  if (options_.events != nullptr) {
    options_.events->emit(Event{kind, schema, state, detail});
  }
}

Result<Unit> Runner::journal(const std::string& schema, const char* step, const char* phase,
                             uint64_t seq, const std::string& detail) {
  auto stmt = db_.prepare(
      "INSERT INTO sy_upgrade_journal (run_id, schema_name, step, phase, at, change_seq, detail)"
      " VALUES (?, ?, ?, ?, NOW(6), ?, ?)");
  if (!stmt) {
    return db_error("writing the upgrade journal", stmt.error());
  }
  auto r =
      stmt->bind(report_.run_id).bind(schema).bind(step).bind(phase).bind(seq).bind(detail).exec();
  if (!r) {
    return db_error("writing the upgrade journal (schema '" + schema + "', step " + step + ")",
                    r.error());
  }
  return ok_result();
}

Result<Unit> Runner::fire(ClusterEvent event, const std::string& reason) {
  auto st = transition(db_, dir_, event, options_.actor, reason, {}, options_.live_within);
  if (!st) {
    return st.error();
  }
  emit("cluster.transition", "", to_string(st->state),
       std::string(to_string(event)) + (reason.empty() ? "" : ": " + reason));
  return ok_result();
}

Result<uint32_t> Runner::resolve_target(const ClusterStatus& cluster) {
  const ServerInfo& wanted = options_.server;
  if (wanted.name.empty()) {
    if (cluster.target_server_id == 0) {
      return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                               "upgrade schemata: no target server given and none prepared");
    }
    return cluster.target_server_id;
  }
  auto found = dir_.find_server(wanted.name);
  if (found) {
    if (cluster.target_server_id != 0 && found->id != cluster.target_server_id) {
      return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                               "upgrade schemata: server '" + wanted.name +
                                   "' is not the target '" + cluster.target_server_name +
                                   "' prepared for this upgrade");
    }
    if (!options_.use_existing) {
      return make_tagged_error(Errc::InvalidArgument, "exists",
                               "server '" + wanted.name + "' exists already (id " +
                                   std::to_string(found->id) + "); pass --continue to use it");
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
                                 cluster.target_server_name + "'");
  }
  if (!options_.register_new) {
    return make_tagged_error(Errc::NotFound, "not-found", "no server '" + wanted.name + "'");
  }
  auto reg = dir_.register_server(wanted, IfExists::Refuse);
  if (!reg) {
    return reg.error();
  }
  return reg->server.id;
}

Result<std::optional<UnfinishedRun>> Runner::find_unfinished() {
  std::optional<UnfinishedRun> run;
  auto r = db_.query(
      "SELECT id, target_server_id FROM sy_upgrade_runs WHERE status IN ('running', 'paused')"
      " ORDER BY id DESC LIMIT 1",
      [&](const Row& row) {
        run = UnfinishedRun{row.u64(1), row.u32(2)};
      });
  if (!r) {
    return db_error("reading sy_upgrade_runs", r.error());
  }
  return run;
}

Result<Unit> Runner::start_or_resume(uint32_t target) {
  auto unfinished = find_unfinished();
  if (!unfinished) {
    return unfinished.error();
  }
  if (unfinished->has_value()) {
    const UnfinishedRun& u = **unfinished;
    if (u.target != target) {
      return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                               "unfinished upgrade run " + std::to_string(u.id) +
                                   " targets server " + std::to_string(u.target) + ", not " +
                                   std::to_string(target));
    }
    auto upd = db_.prepare(
        "UPDATE sy_upgrade_runs SET status = 'running', control = 'run', actor = ? WHERE id = ?");
    if (!upd) {
      return db_error("resuming the upgrade run", upd.error());
    }
    if (auto w = upd->bind(options_.actor).bind(u.id).exec(); !w) {
      return db_error("resuming upgrade run " + std::to_string(u.id), w.error());
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
  auto ins = db_.prepare(
      "INSERT INTO sy_upgrade_runs (target_server_id, status, control, flags, actor, started_at)"
      " VALUES (?, 'running', 'run', ?, ?, NOW(6))");
  if (!ins) {
    return db_error("creating the upgrade run", ins.error());
  }
  if (auto w = ins->bind(target).bind(flags).bind(options_.actor).exec(); !w) {
    return db_error("creating the upgrade run", w.error());
  }
  auto r =
      db_.query("SELECT LAST_INSERT_ID()", [&](const Row& row) { report_.run_id = row.u64(1); });
  if (!r) {
    return db_error("creating the upgrade run", r.error());
  }
  return ok_result();
}

Result<std::map<std::string, SchemaJournal>> Runner::load_journal() {
  std::map<std::string, SchemaJournal> out;
  auto stmt = db_.prepare(
      "SELECT schema_name, step, phase, change_seq FROM sy_upgrade_journal WHERE run_id = ?"
      " ORDER BY id");
  if (!stmt) {
    return db_error("reading the upgrade journal", stmt.error());
  }
  auto r = stmt->bind(report_.run_id).query([&](const Row& row) {
    SchemaJournal& j = out[row.str(1)];
    const std::string step = row.str(2);
    const std::string phase = row.str(3);
    if (phase == "done") {
      j.done.insert(step);
      j.seqs[step] = row.u64(4);
      j.finished = j.finished || step == to_string(Step::Verify);
    } else if (phase == "skipped") {
      j.finished = true;
    } else if (phase == "failed") {
      j.done.clear();
      j.seqs.clear();
      j.finished = false;
    }
  });
  if (!r) {
    return db_error("reading the upgrade journal", r.error());
  }
  return out;
}

Result<std::set<std::string>>
Runner::schemas_with_all_tasks_ok(const std::vector<SchemaInfo>& all) {
  auto tasks = list_tasks(options_.tasks);
  if (!tasks) {
    return tasks.error();
  }
  std::map<std::string, std::set<std::string>> ok_tasks;
  auto r = db_.query("SELECT schema_name, task FROM sy_update_tasks WHERE status = 'ok'",
                     [&](const Row& row) { ok_tasks[row.str(1)].insert(row.str(2)); });
  if (!r) {
    return db_error("reading sy_update_tasks", r.error());
  }
  std::set<std::string> out;
  for (const SchemaInfo& s : all) {
    const auto& have = ok_tasks[s.name];
    if (std::all_of(tasks->begin(), tasks->end(),
                    [&](const std::string& t) { return have.count(t) != 0; })) {
      out.insert(s.name);
    }
  }
  return out;
}

Result<std::string> Runner::check_control() {
  auto stmt = db_.prepare("SELECT control FROM sy_upgrade_runs WHERE id = ?");
  if (!stmt) {
    return db_error("reading the run control", stmt.error());
  }
  auto set_status = db_.prepare("UPDATE sy_upgrade_runs SET status = ? WHERE id = ?");
  if (!set_status) {
    return db_error("writing the run status", set_status.error());
  }
  bool paused = false;
  for (;;) {
    std::string control = "run";
    auto r = stmt->bind(report_.run_id).query([&](const Row& row) { control = row.str(1); });
    if (!r) {
      return db_error("reading the run control", r.error());
    }
    if (control != "pause") {
      if (paused) {
        if (auto w = set_status->bind("running").bind(report_.run_id).exec(); !w) {
          return db_error("writing the run status", w.error());
        }
        SY_LOG(Info, "upgrade run %llu: resumed", static_cast<unsigned long long>(report_.run_id));
      }
      return control;
    }
    if (!paused) {
      paused = true;
      if (auto w = set_status->bind("paused").bind(report_.run_id).exec(); !w) {
        return db_error("writing the run status", w.error());
      }
      SY_LOG(Info, "upgrade run %llu: paused", static_cast<unsigned long long>(report_.run_id));
    }
    std::this_thread::sleep_for(options_.poll_interval);
  }
}

std::string Runner::wait_instances(const std::string& schema, uint64_t seq, std::string& detail) {
  const auto deadline = Clock::now() + options_.drain_timeout;
  for (;;) {
    auto live = list_instances(db_, options_.live_within);
    if (!live) {
      return "listing instances: " + live.error().message;
    }
    std::string busy;
    std::string behind;
    for (const InstanceRow& i : *live) {
      if (!schema.empty() && i.inflight(schema) > 0) {
        busy += (busy.empty() ? "" : ", ") +
                ("'" + i.id + "' (" + std::to_string(i.inflight(schema)) + " requests)");
      }
      if (i.applied_seq < seq) {
        behind += (behind.empty() ? "" : ", ") +
                  ("'" + i.id + "' (applied seq " + std::to_string(i.applied_seq) + ")");
      }
    }
    if (busy.empty() && behind.empty()) {
      detail = std::to_string(live->size()) + " live instances at seq >= " + std::to_string(seq) +
               (schema.empty() ? "" : ", none with requests in flight");
      return {};
    }
    if (Clock::now() >= deadline) {
      std::string why = "timed out after " + std::to_string(options_.drain_timeout.count()) + " ms";
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

Result<SchemaOutcome> Runner::run_schema(const std::string& schema, SchemaJournal& j) {
  const auto schema_started = Clock::now();
  SchemaOutcome outcome;
  outcome.schema = schema;
  uint64_t disable_seq = j.seqs.count("disable") != 0 ? j.seqs["disable"] : 0;
  uint64_t enable_seq = j.seqs.count("enable") != 0 ? j.seqs["enable"] : 0;
  bool moved = j.done.count("move") != 0;

  for (Step step : kSteps) {
    const char* name = to_string(step);
    if (j.done.count(name) != 0) {
      continue;  // journaled done: never repeated
    }
    if (auto w = journal(schema, name, "begin", 0, {}); !w) {
      return w.error();
    }
    notify(schema, step, "begin", {});
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
        detail += (detail.empty() ? "" : ", ") + t.task + " " + t.status;
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
    if (!failure.empty()) {
      // Nothing moved yet: give the tenants back to their server instead of holding them.
      if (!moved && step != Step::Disable) {
        auto re = dir_.set_schema_enabled(schema, true);
        failure += re ? "; the schema was enabled again on its server"
                      : "; enabling it again failed too: " + re.error().message;
      }
      if (auto w = journal(schema, name, "failed", 0, failure); !w) {
        return w.error();
      }
      notify(schema, step, "failed", failure);
      outcome.status = "failed";
      outcome.error = std::string(name) + ": " + failure;
      outcome.duration_ms = ms_since(schema_started);
      return outcome;
    }
    if (auto w = journal(schema, name, "done", seq, detail); !w) {
      return w.error();
    }
    j.done.insert(name);
    notify(schema, step, "done", detail);
  }
  outcome.status = "done";
  outcome.duration_ms = ms_since(schema_started);
  return outcome;
}

Result<UpgradeReport> Runner::run() {
  auto lock = DriverLock::take(db_, options_.actor);
  if (!lock) {
    return lock.error();
  }
  auto cluster = read_cluster(db_, &dir_);
  if (!cluster) {
    return cluster.error();
  }
  if (cluster->state != ClusterState::RunningUpgradeTasks &&
      cluster->state != ClusterState::UpgradeTasksFailed) {
    return make_tagged_error(Errc::InvalidArgument, "illegal-transition",
                             std::string("upgrade schemata needs cluster state "
                                         "RUNNING_UPGRADE_TASKS or UPGRADE_TASKS_FAILED; it is ") +
                                 to_string(cluster->state) + " (prepare, mixed, ready, approve)");
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
              (named == &options_.resume_from ? "--resume-from" : "--continue-after") + ")");
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
      report_.schemas.push_back(SchemaOutcome{s.name, "skipped", why, 0});
      continue;
    }
    todo.push_back(&s);
  }
  schemas_total_ = static_cast<int>(todo.size());

  bool aborted = false;
  bool failed = false;
  for (const SchemaInfo* s : todo) {
    auto control = check_control();
    if (!control) {
      return control.error();
    }
    if (*control == "abort") {
      aborted = true;
      break;
    }
    SchemaJournal& j = (*journal_state)[s->name];
    if (j.finished) {  // done earlier in this run (before a restart)
      report_.schemas.push_back(SchemaOutcome{s->name, "done", {}, 0});
      ++schemas_done_;
      continue;
    }
    if (j.done.empty() && s->enabled && on_server(*s, target_) && tasks_ok->count(s->name) != 0) {
      const std::string why = "already on the target server, enabled, update tasks ok";
      if (auto w = journal(s->name, to_string(Step::Verify), "skipped", 0, why); !w) {
        return w.error();
      }
      notify(s->name, Step::Verify, "skipped", why);
      emit("schema.skipped", s->name, {}, why);
      report_.schemas.push_back(SchemaOutcome{s->name, "skipped", why, 0});
      ++schemas_done_;
      continue;
    }
    auto outcome = run_schema(s->name, j);
    if (!outcome) {
      return outcome.error();
    }
    ++schemas_done_;
    emit(outcome->status == "done" ? "schema.done" : "schema.failed", s->name, {}, outcome->error);
    report_.schemas.push_back(*outcome);
    if (outcome->status == "failed") {
      failed = true;
      if (!options_.force) {
        break;
      }
    }
  }

  report_.status = aborted ? "aborted" : failed ? "failed" : "done";
  auto fin =
      db_.prepare("UPDATE sy_upgrade_runs SET status = ?, finished_at = NOW(6) WHERE id = ?");
  if (!fin) {
    return db_error("finishing the upgrade run", fin.error());
  }
  if (auto w = fin->bind(report_.status).bind(report_.run_id).exec(); !w) {
    return db_error("finishing upgrade run " + std::to_string(report_.run_id), w.error());
  }
  if (failed) {
    std::string which;
    for (const SchemaOutcome& o : report_.schemas) {
      if (o.status == "failed") {
        which += (which.empty() ? "" : "; ") + o.schema + ": " + o.error;
      }
    }
    if (auto r = fire(ClusterEvent::Fail, which); !r) {
      SY_LOG(Warn, "upgrade run %llu: %s", static_cast<unsigned long long>(report_.run_id),
             r.error().message.c_str());
    }
  } else if (!aborted) {
    // Finish only when the whole cluster is there (a --skip or --resume-from run may not be).
    auto after = dir_.list_schemas();
    if (!after) {
      return after.error();
    }
    const bool all_there = std::all_of(after->begin(), after->end(), [&](const SchemaInfo& s) {
      return s.enabled && on_server(s, target_);
    });
    if (all_there) {
      if (auto r = fire(ClusterEvent::Finish, "every schema is on the target server"); !r) {
        SY_LOG(Warn, "upgrade run %llu: %s", static_cast<unsigned long long>(report_.run_id),
               r.error().message.c_str());
      }
    }
  }
  std::stable_sort(report_.schemas.begin(), report_.schemas.end(),
                   [](const SchemaOutcome& a, const SchemaOutcome& b) {
                     return schema_less(a.schema, b.schema);
                   });
  report_.duration_ms = ms_since(started_);
  emit("upgrade.finished", "", {}, "run " + std::to_string(report_.run_id) + ": " + report_.status);
  return report_;
}

}  // namespace

const char* to_string(Step s) {
  switch (s) {
  case Step::Disable: return "disable";
  case Step::Drain: return "drain";
  case Step::Move: return "move";
  case Step::Update: return "update";
  case Step::Enable: return "enable";
  case Step::Verify: return "verify";
  }
  return "?";
}

Result<UpgradeReport> run_upgrade(Directory& dir, Db& state, const UpgradeOptions& options,
                                  const std::function<void(const Progress&)>& progress) {
  Runner runner(dir, state, options, progress);
  return runner.run();
}

Result<RunStatus> read_run_status(Db& db, std::optional<uint64_t> run_id) {
  auto stmt =
      db.prepare(std::string("SELECT id, status, control, target_server_id,"
                             " CAST(UNIX_TIMESTAMP(started_at) * 1000 AS SIGNED),"
                             " COALESCE(CAST(UNIX_TIMESTAMP(finished_at) * 1000 AS SIGNED), 0)"
                             " FROM sy_upgrade_runs") +
                 (run_id ? " WHERE id = ?" : " ORDER BY id DESC LIMIT 1"));
  if (!stmt) {
    return db_error("reading sy_upgrade_runs", stmt.error());
  }
  if (run_id) {
    stmt->bind(*run_id);
  }
  std::optional<RunStatus> st;
  auto r = stmt->query([&](const Row& row) {
    RunStatus s;
    s.run_id = row.u64(1);
    s.status = row.str(2);
    s.control = row.str(3);
    s.target_server_id = row.u32(4);
    s.started_unix_ms = row.i64(5);
    s.finished_unix_ms = row.i64(6);
    st = std::move(s);
  });
  if (!r) {
    return db_error("reading sy_upgrade_runs", r.error());
  }
  if (!st) {
    return make_tagged_error(Errc::NotFound, "not-found",
                             run_id ? "no upgrade run " + std::to_string(*run_id)
                                    : std::string("no upgrade run yet"));
  }
  auto holder = db.prepare(std::string("SELECT holder FROM sy_upgrade_driver WHERE name = ?"
                                       " AND connection_id = IS_USED_LOCK(") +
                           kLockName + ")");
  if (!holder) {
    return db_error("reading sy_upgrade_driver", holder.error());
  }
  r = holder->bind(kDriverRow).query([&](const Row& row) { st->driver = row.str(1); });
  if (!r) {
    return db_error("reading sy_upgrade_driver", r.error());
  }
  auto journal = db.prepare(
      "SELECT schema_name, step, phase, COALESCE(detail, ''),"
      " CAST(UNIX_TIMESTAMP(at) * 1000 AS SIGNED) FROM sy_upgrade_journal WHERE run_id = ?"
      " ORDER BY id");
  if (!journal) {
    return db_error("reading the upgrade journal", journal.error());
  }
  std::map<std::string, size_t> index;
  std::map<std::string, int64_t> first_at;
  r = journal->bind(st->run_id).query([&](const Row& row) {
    const std::string schema = row.str(1);
    auto [it, fresh] = index.emplace(schema, st->schemas.size());
    if (fresh) {
      st->schemas.push_back(SchemaOutcome{schema, "running", {}, 0});
      first_at[schema] = row.i64(5);
    }
    SchemaOutcome& o = st->schemas[it->second];
    const std::string step = row.str(2);
    const std::string phase = row.str(3);
    o.duration_ms = row.i64(5) - first_at[schema];
    if (phase == "failed") {
      o.status = "failed";
      o.error = step + ": " + row.str(4);
    } else if (phase == "skipped") {
      o.status = "skipped";
      o.error = row.str(4);
    } else if (phase == "done" && step == to_string(Step::Verify)) {
      o.status = "done";
      o.error.clear();
    } else if (phase == "begin") {
      o.status = "running";
    }
  });
  if (!r) {
    return db_error("reading the upgrade journal", r.error());
  }
  return std::move(*st);
}

Result<std::vector<RunStatus>> list_runs(Db& db, int limit) {
  auto stmt = db.prepare("SELECT id FROM sy_upgrade_runs ORDER BY id DESC LIMIT ?");
  if (!stmt) {
    return db_error("reading sy_upgrade_runs", stmt.error());
  }
  std::vector<uint64_t> ids;
  auto r = stmt->bind(static_cast<int64_t>(std::max(limit, 0))).query([&](const Row& row) {
    ids.push_back(row.u64(1));
  });
  if (!r) {
    return db_error("reading sy_upgrade_runs", r.error());
  }
  std::vector<RunStatus> out;
  for (uint64_t id : ids) {
    auto st = read_run_status(db, id);
    if (!st) {
      return st.error();
    }
    out.push_back(std::move(st.value()));
  }
  return out;
}

Result<Unit> control_run(Db& db, const std::string& control) {
  std::string stored;
  if (control == "pause") {
    stored = "pause";
  } else if (control == "resume") {
    stored = "run";
  } else if (control == "abort") {
    stored = "abort";
  } else {
    return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                             "upgrade control '" + control + "': expected pause, resume or abort");
  }
  std::optional<uint64_t> run;
  auto r = db.query(
      "SELECT id FROM sy_upgrade_runs WHERE status IN ('running', 'paused') ORDER BY id DESC"
      " LIMIT 1",
      [&](const Row& row) { run = row.u64(1); });
  if (!r) {
    return db_error("reading sy_upgrade_runs", r.error());
  }
  if (!run) {
    return make_tagged_error(Errc::NotFound, "not-found",
                             "upgrade " + control + ": no upgrade run is unfinished");
  }
  auto upd = db.prepare("UPDATE sy_upgrade_runs SET control = ? WHERE id = ?");
  if (!upd) {
    return db_error("writing the run control", upd.error());
  }
  if (auto w = upd->bind(stored).bind(*run).exec(); !w) {
    return db_error("writing the control of upgrade run " + std::to_string(*run), w.error());
  }
  SY_LOG(Info, "upgrade run %llu: control %s", static_cast<unsigned long long>(*run),
         stored.c_str());
  return ok_result();
}

}  // namespace sy::admin
