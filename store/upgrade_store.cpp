// The upgrade runs, their journal and the driver lock in the state database.

#include "store/upgrade_store.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "store/db_error.h"
#include "store/query.h"

namespace sy::store {

namespace {

// The lease row is per database, so clusters (and tests) sharing one MariaDB server do not
// exclude each other.
constexpr const char* kDriverRow = "upgrade";  // sy_upgrade_driver.name

int64_t micros(std::chrono::milliseconds d) { return static_cast<int64_t>(d.count()) * 1000; }

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
         kDriverRow + "' AND d.holder <> '' AND d.expires_at > NOW(6)" +
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

Result<Unit> append_journal(DriverLock& lock, Db& db, uint64_t run_id, const std::string& schema,
                            Step step, Phase phase, uint64_t change_seq,
                            const std::string& detail) {
  return lock.guarded(
      std::string("the journal row ") + to_string(step) + " " + to_string(phase) + " of schema '" +
          schema + "'",
      [&] { return append_journal(db, run_id, schema, step, phase, change_seq, detail); });
}

const std::string& driver_process_token() {
  static const std::string token = [] {
    char host[256] = {};
    (void)gethostname(host, sizeof host - 1);
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return std::string(host) + ":" + std::to_string(getpid()) + ":" +
           std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(now).count());
  }();
  return token;
}

namespace {

struct Holder {
  std::string name;
  uint64_t epoch = 0;
  std::string since;
  std::string until;
};

// Who holds the lease now ("" when nobody does).
Holder read_holder(Db& db) {
  auto h = query_one(
      db,
      "SELECT holder, epoch, CAST(since AS CHAR), CAST(expires_at AS CHAR) FROM sy_upgrade_driver"
      " WHERE name = ? AND holder <> '' AND expires_at > NOW(6)",
      [](const Row& row) {
        return Holder{row.str(1), row.u64(2), row.str(3), row.str(4)};
      },
      kDriverRow);
  return h && h->has_value() ? **h : Holder{};
}

std::string describe(const Holder& h) {
  return "'" + h.name + "' (lease epoch " + std::to_string(h.epoch) + ", since " + h.since +
         " UTC, renewed until " + h.until + " UTC)";
}

// Extends the lease of |epoch|; false when the row has another epoch (taken over).
Result<bool> extend(Db& db, uint64_t epoch, std::chrono::milliseconds lease) {
  auto n = exec(db,
                "UPDATE sy_upgrade_driver SET expires_at = NOW(6) + INTERVAL ? MICROSECOND,"
                " renewals = renewals + 1 WHERE name = ? AND epoch = ?",
                micros(lease), kDriverRow, epoch);
  if (!n) {
    return n.error();
  }
  return *n == 1;
}

}  // namespace

// The renewer: its own session on its own thread, so a long step (a drain, an update task) on
// the driver's session never lets the lease lapse.
struct DriverLock::Renewer {
  Dsn dsn;
  uint64_t epoch = 0;
  std::chrono::milliseconds lease{};
  std::chrono::milliseconds connect_timeout{};
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::atomic<bool> lost{false};
  std::thread thread;

  void run() {
    std::unique_ptr<Db> db;
    const auto every = std::max(std::chrono::milliseconds(50), lease / 3);
    std::unique_lock<std::mutex> lk(mu);
    while (!cv.wait_for(lk, every, [this] { return stop; })) {
      lk.unlock();
      if (!db) {
        auto c = Db::connect({dsn}, connect_timeout,
                             std::chrono::duration_cast<std::chrono::seconds>(lease) +
                                 std::chrono::seconds(1));
        if (c) {
          db = std::move(c.value());
        } else {
          SY_LOG(Warn, "upgrade driver lease %llu: renewer cannot connect: %s",
                 static_cast<unsigned long long>(epoch), c.error().message.c_str());
        }
      }
      if (db) {
        auto kept = extend(*db, epoch, lease);
        if (!kept) {
          SY_LOG(Warn, "upgrade driver lease %llu: renewing failed: %s",
                 static_cast<unsigned long long>(epoch), kept.error().message.c_str());
          db.reset();  // connect again next time
        } else if (!*kept) {
          SY_LOG(Error, "upgrade driver lease %llu: taken over by %s",
                 static_cast<unsigned long long>(epoch), describe(read_holder(*db)).c_str());
          lost = true;
          return;
        }
      }
      lk.lock();
    }
  }
};

DriverLock::DriverLock(Db* db, uint64_t epoch, std::chrono::milliseconds lease,
                       std::unique_ptr<Renewer> renewer)
    : db_(db), epoch_(epoch), lease_(lease), renewer_(std::move(renewer)) {}

DriverLock::DriverLock(DriverLock&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), epoch_(other.epoch_), lease_(other.lease_),
      renewer_(std::move(other.renewer_)) {}

bool DriverLock::lost() const { return renewer_ != nullptr && renewer_->lost.load(); }

Result<DriverLock> DriverLock::take(Db& db, const Options& options) {
  // The row exists from migration 6 on; a database migrated before keeps working.
  if (auto r = exec(db, "INSERT IGNORE INTO sy_upgrade_driver (name) VALUES (?)", kDriverRow); !r) {
    return db_error("taking the upgrade driver lease", r.error());
  }
  // One conditional UPDATE; its affected-row count says who won. A concurrent take through
  // another Galera node fails one of the two commits (1213): that one tries again and then
  // sees the winner's row (or wins, when the other lost too).
  const std::string& process = driver_process_token();
  auto attempt = [&]() -> Result<std::optional<uint64_t>> {
    auto txn = db.begin();
    if (!txn) {
      return txn.error();
    }
    auto won =
        exec(db,
             "UPDATE sy_upgrade_driver SET holder = ?, process = ?, connection_id ="
             " CONNECTION_ID(), since = NOW(6), epoch = epoch + 1, renewals = 0,"
             " expires_at = NOW(6) + INTERVAL ? MICROSECOND WHERE name = ? AND (holder = ''"
             " OR expires_at IS NULL OR expires_at <= NOW(6) OR (holder = ? AND process <> ?))",
             options.actor, process, micros(options.lease), kDriverRow, options.actor, process);
    if (!won) {
      return won.error();
    }
    if (*won != 1) {
      (void)txn->rollback();
      return std::optional<uint64_t>();
    }
    auto e =
        query_value<uint64_t>(db, "SELECT epoch FROM sy_upgrade_driver WHERE name = ?", kDriverRow);
    if (!e) {
      return e.error();
    }
    if (auto c = txn->commit(); !c) {
      return c.error();
    }
    return std::optional<uint64_t>(*e);
  };
  auto taken = with_conflict_retries(attempt);
  if (!taken && !is_conflict(taken.error())) {
    return db_error("taking the upgrade driver lease", taken.error());
  }
  const std::optional<uint64_t> epoch = taken ? *taken : std::nullopt;
  if (!epoch) {
    const Holder h = read_holder(db);
    return make_tagged_error(Errc::Unavailable, "driver-busy",
                             h.name.empty()
                                 ? std::string("another upgrade driver took the lease just now")
                                 : "another upgrade driver is running: " + describe(h),
                             ErrorSource::Downstream);
  }
  auto renewer = std::make_unique<Renewer>();
  renewer->dsn = db.dsn();
  renewer->epoch = *epoch;
  renewer->lease = options.lease;
  renewer->connect_timeout = options.connect_timeout;
  Renewer* r = renewer.get();
  renewer->thread = std::thread([r] { r->run(); });
  SY_LOG(Info, "upgrade driver lease %llu taken by '%s' for %lld ms",
         static_cast<unsigned long long>(*epoch), options.actor.c_str(),
         static_cast<long long>(options.lease.count()));
  return DriverLock(&db, *epoch, options.lease, std::move(renewer));
}

Result<Unit> DriverLock::guarded(const std::string& what,
                                 const std::function<Result<Unit>()>& write) {
  auto lost_error = [&](Db& db) {
    const Holder h = read_holder(db);
    return make_tagged_error(
        Errc::Unavailable, "lease-lost",
        "this upgrade driver lost its lease (epoch " + std::to_string(epoch_) + ") and stops: " +
            (h.name.empty() ? std::string("its lease expired") : describe(h) + " holds it now") +
            "; not written: " + what,
        ErrorSource::Downstream);
  };
  // The whole transaction again after a deadlock or certification conflict: it rolled back,
  // so the write happens once.
  return with_conflict_retries([&]() -> Result<Unit> {
    auto txn = db_->begin();
    if (!txn) {
      return txn.error();
    }
    auto kept = extend(*db_, epoch_, lease_);
    if (!kept) {
      return db_error("checking the upgrade driver lease", kept.error());
    }
    if (!*kept) {
      (void)txn->rollback();
      return lost_error(*db_);
    }
    if (auto w = write(); !w) {
      return w.error();
    }
    if (auto c = txn->commit(); !c) {
      return db_error("writing " + what, c.error());
    }
    return ok_result();
  });
}

DriverLock::~DriverLock() {
  if (renewer_) {
    {
      std::lock_guard<std::mutex> lk(renewer_->mu);
      renewer_->stop = true;
    }
    renewer_->cv.notify_all();
    renewer_->thread.join();
  }
  if (db_ != nullptr) {
    (void)exec(*db_,
               "UPDATE sy_upgrade_driver SET holder = '', process = '', expires_at = NULL"
               " WHERE name = ? AND epoch = ?",
               kDriverRow, epoch_);
  }
}

}  // namespace sy::store
