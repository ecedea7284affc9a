// The upgrade runs, their journal and the driver lock in the state database.

#include "store/upgrade_store.h"

#include <map>

#include "store/db_error.h"
#include "store/query.h"

namespace sy::store {

namespace {

// The driver lock is per database, so clusters (and tests) sharing one MariaDB server do not
// exclude each other.
constexpr NamedLock::Name kDriverLock{"sy_upgrade_driver", 40};
constexpr const char* kDriverRow = "upgrade";  // sy_upgrade_driver.name
// The server frees a dead driver's lock when it has torn its session down, which happens just
// after the client is gone; a rerun right after a crash waits this long for that.
constexpr std::chrono::seconds kLockWait{1};

template <class E, size_t N>
std::optional<E> parse_word(const E (&all)[N], std::string_view word) {
  for (E e : all) {
    if (word == to_string(e)) {
      return e;
    }
  }
  return std::nullopt;
}

constexpr Phase kPhases[] = {Phase::Begin, Phase::Done, Phase::Failed, Phase::Skipped,
                             Phase::Stopped};
constexpr RunState kRunStates[] = {RunState::Running,         RunState::Paused, RunState::Done,
                                   RunState::DoneWithSkipped, RunState::Failed, RunState::Aborted};
constexpr RunControl kControls[] = {RunControl::Run, RunControl::Pause, RunControl::Abort};

Error unknown_word(const char* column, const std::string& word) {
  return make_tagged_error(Errc::Database, "database",
                           std::string(column) + " holds an unknown value '" + word + "'",
                           ErrorSource::Upstream);
}

// A run and (when the run has any) one journal row per result row, newest run first; the
// journal rows of a run in journal order. |which| selects the runs.
std::string runs_sql(const char* which) {
  return std::string(
             "SELECT r.id, r.status, r.control, r.target_server_id, r.started_ms, r.finished_ms,"
             " COALESCE(d.holder, ''), j.schema_name, j.step, j.phase, COALESCE(j.detail, ''),"
             " CAST(UNIX_TIMESTAMP(j.at) * 1000 AS SIGNED)"
             " FROM (SELECT id, status, control, target_server_id,"
             " CAST(UNIX_TIMESTAMP(started_at) * 1000 AS SIGNED) AS started_ms,"
             " COALESCE(CAST(UNIX_TIMESTAMP(finished_at) * 1000 AS SIGNED), 0) AS finished_ms"
             " FROM sy_upgrade_runs ") +
         which +
         ") r"
         " LEFT JOIN sy_upgrade_driver d ON d.name = '" +
         kDriverRow + "' AND d.connection_id = " + NamedLock::holder_sql(kDriverLock) +
         " LEFT JOIN sy_upgrade_journal j ON j.run_id = r.id"
         " ORDER BY r.id DESC, j.id";
}

// Folds the rows of runs_sql() into runs.
class RunReader {
 public:
  void take(const Row& row) {
    const uint64_t id = row.u64(1);
    if (runs_.empty() || runs_.back().run_id != id) {
      RunStatus s;
      s.run_id = id;
      const std::string status = row.str(2);
      const std::string control = row.str(3);
      auto st = parse_run_state(status);
      auto ctl = parse_run_control(control);
      if (!st || !ctl) {
        fail(st ? unknown_word("sy_upgrade_runs.control", control)
                : unknown_word("sy_upgrade_runs.status", status));
        return;
      }
      s.status = *st;
      s.control = *ctl;
      s.target_server_id = row.u32(4);
      s.started_unix_ms = row.i64(5);
      s.finished_unix_ms = row.i64(6);
      s.driver = row.str(7);
      runs_.push_back(std::move(s));
      index_.clear();
      first_at_.clear();
    }
    if (row.is_null(8)) {
      return;  // a run without journal rows
    }
    const std::string step_word = row.str(9);
    const std::string phase_word = row.str(10);
    auto step = parse_step(step_word);
    auto phase = parse_phase(phase_word);
    if (!step || !phase) {
      fail(step ? unknown_word("sy_upgrade_journal.phase", phase_word)
                : unknown_word("sy_upgrade_journal.step", step_word));
      return;
    }
    RunStatus& run = runs_.back();
    const std::string schema = row.str(8);
    const int64_t at = row.i64(12);
    auto [it, fresh] = index_.emplace(schema, run.schemas.size());
    if (fresh) {
      run.schemas.push_back(SchemaOutcome{schema, SchemaStatus::Running, {}, 0});
      first_at_[schema] = at;
    }
    SchemaOutcome& o = run.schemas[it->second];
    o.duration_ms = at - first_at_[schema];
    switch (*phase) {
    case Phase::Failed:
      o.status = SchemaStatus::Failed;
      o.error = step_word + ": " + row.str(11);
      break;
    case Phase::Skipped:
      o.status = SchemaStatus::Skipped;
      o.error = row.str(11);
      break;
    case Phase::Stopped:
      o.status = SchemaStatus::Running;  // unfinished: the next driver resumes it
      o.error = row.str(11);
      break;
    case Phase::Done:
      if (*step == Step::Verify) {
        o.status = SchemaStatus::Done;
        o.error.clear();
      }
      break;
    case Phase::Begin: o.status = SchemaStatus::Running; break;
    }
  }
  const std::optional<Error>& error() const { return error_; }
  std::vector<RunStatus>& runs() { return runs_; }

 private:
  void fail(Error e) {
    if (!error_) {
      error_ = std::move(e);
    }
  }
  std::vector<RunStatus> runs_;
  std::map<std::string, size_t> index_;      // schema -> index in runs_.back().schemas
  std::map<std::string, int64_t> first_at_;  // schema -> its first journal row's time
  std::optional<Error> error_;
};

template <class... Args>
Result<std::vector<RunStatus>> read_runs(Db& db, const char* which, const Args&... args) {
  RunReader reader;
  auto r = query_each(
      db, runs_sql(which), [&](const Row& row) { reader.take(row); }, args...);
  if (!r) {
    return db_error("reading sy_upgrade_runs", r.error());
  }
  if (reader.error()) {
    return *reader.error();
  }
  return std::move(reader.runs());
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

const char* to_string(Phase p) {
  switch (p) {
  case Phase::Begin: return "begin";
  case Phase::Done: return "done";
  case Phase::Failed: return "failed";
  case Phase::Skipped: return "skipped";
  case Phase::Stopped: return "stopped";
  }
  return "?";
}

const char* to_string(RunState s) {
  switch (s) {
  case RunState::Running: return "running";
  case RunState::Paused: return "paused";
  case RunState::Done: return "done";
  case RunState::DoneWithSkipped: return "done-with-skipped";
  case RunState::Failed: return "failed";
  case RunState::Aborted: return "aborted";
  }
  return "?";
}

const char* to_string(RunControl c) {
  switch (c) {
  case RunControl::Run: return "run";
  case RunControl::Pause: return "pause";
  case RunControl::Abort: return "abort";
  }
  return "?";
}

const char* to_string(SchemaStatus s) {
  switch (s) {
  case SchemaStatus::Running: return "running";
  case SchemaStatus::Done: return "done";
  case SchemaStatus::Failed: return "failed";
  case SchemaStatus::Skipped: return "skipped";
  }
  return "?";
}

std::optional<Step> parse_step(std::string_view word) { return parse_word(kSteps, word); }
std::optional<Phase> parse_phase(std::string_view word) { return parse_word(kPhases, word); }
std::optional<RunState> parse_run_state(std::string_view word) {
  return parse_word(kRunStates, word);
}
std::optional<RunControl> parse_run_control(std::string_view word) {
  return parse_word(kControls, word);
}

Result<RunStatus> read_run_status(Db& db, std::optional<uint64_t> run_id) {
  auto runs =
      run_id ? read_runs(db, "WHERE id = ?", *run_id) : read_runs(db, "ORDER BY id DESC LIMIT 1");
  if (!runs) {
    return runs.error();
  }
  if (runs->empty()) {
    return make_tagged_error(Errc::NotFound, "not-found",
                             run_id ? "no upgrade run " + std::to_string(*run_id)
                                    : std::string("no upgrade run yet"),
                             ErrorSource::Downstream);
  }
  return std::move(runs->front());
}

Result<std::vector<RunStatus>> list_runs(Db& db, int limit) {
  return read_runs(db, "ORDER BY id DESC LIMIT ?", static_cast<int64_t>(std::max(limit, 0)));
}

Result<std::optional<UnfinishedRun>> find_unfinished_run(Db& db) {
  return in_context("reading sy_upgrade_runs",
                    query_one(db,
                              "SELECT id, target_server_id FROM sy_upgrade_runs"
                              " WHERE status IN ('running', 'paused') ORDER BY id DESC LIMIT 1",
                              [](const Row& row) {
                                return UnfinishedRun{row.u64(1), row.u32(2)};
                              }));
}

Result<uint64_t> create_run(Db& db, uint32_t target, const std::string& flags,
                            const std::string& actor) {
  auto w = exec(db,
                "INSERT INTO sy_upgrade_runs (target_server_id, status, control, flags, actor,"
                " started_at) VALUES (?, 'running', 'run', ?, ?, NOW(6))",
                target, flags, actor);
  if (!w) {
    return db_error("creating the upgrade run", w.error());
  }
  return in_context("creating the upgrade run",
                    query_value<uint64_t>(db, "SELECT LAST_INSERT_ID()"));
}

Result<Unit> resume_run(Db& db, uint64_t id, const std::string& actor) {
  return in_context("resuming upgrade run " + std::to_string(id),
                    done(exec(db,
                              "UPDATE sy_upgrade_runs SET status = 'running', control = 'run',"
                              " actor = ? WHERE id = ?",
                              actor, id)));
}

Result<Unit> set_run_state(Db& db, uint64_t id, RunState state) {
  return in_context(
      "writing the run status",
      done(exec(db, "UPDATE sy_upgrade_runs SET status = ? WHERE id = ?", to_string(state), id)));
}

Result<Unit> finish_run(Db& db, uint64_t id, RunState state) {
  return in_context(
      "finishing upgrade run " + std::to_string(id),
      done(exec(db, "UPDATE sy_upgrade_runs SET status = ?, finished_at = NOW(6) WHERE id = ?",
                to_string(state), id)));
}

Result<RunControl> read_run_control(Db& db, uint64_t id) {
  auto word = query_one(
      db, "SELECT control FROM sy_upgrade_runs WHERE id = ?",
      [](const Row& row) { return row.str(1); }, id);
  if (!word) {
    return db_error("reading the run control", word.error());
  }
  if (!word->has_value()) {
    return RunControl::Run;
  }
  auto control = parse_run_control(**word);
  if (!control) {
    return unknown_word("sy_upgrade_runs.control", **word);
  }
  return *control;
}

Result<uint64_t> control_unfinished_run(Db& db, RunControl control) {
  auto run = find_unfinished_run(db);
  if (!run) {
    return run.error();
  }
  if (!run->has_value()) {
    return make_tagged_error(Errc::NotFound, "not-found", "no upgrade run is unfinished",
                             ErrorSource::Downstream);
  }
  const uint64_t id = (*run)->id;
  auto w = exec(db, "UPDATE sy_upgrade_runs SET control = ? WHERE id = ?", to_string(control), id);
  if (!w) {
    return db_error("writing the control of upgrade run " + std::to_string(id), w.error());
  }
  return id;
}

Result<std::vector<JournalRow>> read_journal(Db& db, uint64_t run_id) {
  std::optional<Error> bad;
  auto rows = query_all(
      db,
      "SELECT schema_name, step, phase, change_seq FROM sy_upgrade_journal WHERE run_id = ?"
      " ORDER BY id",
      [&](const Row& row) {
        JournalRow j;
        j.schema = row.str(1);
        const std::string step = row.str(2);
        const std::string phase = row.str(3);
        auto s = parse_step(step);
        auto p = parse_phase(phase);
        if ((!s || !p) && !bad) {
          bad = s ? unknown_word("sy_upgrade_journal.phase", phase)
                  : unknown_word("sy_upgrade_journal.step", step);
        }
        j.step = s.value_or(Step::Disable);
        j.phase = p.value_or(Phase::Begin);
        j.change_seq = row.u64(4);
        return j;
      },
      run_id);
  if (!rows) {
    return db_error("reading the upgrade journal", rows.error());
  }
  if (bad) {
    return *bad;
  }
  return rows;
}

Result<Unit> append_journal(Db& db, uint64_t run_id, const std::string& schema, Step step,
                            Phase phase, uint64_t change_seq, const std::string& detail) {
  return in_context(
      "writing the upgrade journal (schema '" + schema + "', step " + to_string(step) + ")",
      done(exec(db,
                "INSERT INTO sy_upgrade_journal (run_id, schema_name, step, phase, at,"
                " change_seq, detail) VALUES (?, ?, ?, ?, NOW(6), ?, ?)",
                run_id, schema, to_string(step), to_string(phase), change_seq, detail)));
}

Result<DriverLock> DriverLock::take(Db& db, const std::string& actor) {
  auto lock = NamedLock::take(db, kDriverLock, kLockWait);
  if (!lock) {
    if (lock.error().code != Errc::Unavailable) {
      return db_error("taking the upgrade driver lock", lock.error());
    }
    struct Holder {
      std::string name;
      uint64_t connection = 0;
      std::string since;
    };
    auto holder = query_one(
        db,
        "SELECT holder, connection_id, CAST(since AS CHAR) FROM sy_upgrade_driver WHERE name = ?",
        [](const Row& row) {
          return Holder{row.str(1), row.u64(2), row.str(3)};
        },
        kDriverRow);
    const Holder h = holder && holder->has_value() ? **holder : Holder{};
    return make_tagged_error(
        Errc::Unavailable, "driver-busy",
        h.name.empty()
            ? std::string("another session holds the upgrade driver lock (no holder recorded)")
            : "another upgrade driver is running: '" + h.name + "' (database connection " +
                  std::to_string(h.connection) + ") since " + h.since + " UTC",
        ErrorSource::Downstream);
  }
  // From here on the lock is released on every way out (NamedLock's destructor).
  auto row = exec(db,
                  "REPLACE INTO sy_upgrade_driver (name, holder, connection_id, since)"
                  " VALUES (?, ?, CONNECTION_ID(), NOW(6))",
                  kDriverRow, actor);
  if (!row) {
    return db_error("recording the upgrade driver", row.error());
  }
  return DriverLock(&db, std::move(lock.value()));
}

DriverLock::~DriverLock() {
  if (db_ != nullptr) {
    (void)exec(*db_,
               "DELETE FROM sy_upgrade_driver WHERE name = ? AND connection_id = CONNECTION_ID()",
               kDriverRow);
  }
}

}  // namespace sy::store
