#pragma once
// The upgrade runs' tables in the state database (store/db_migrate.h, migration 4), typed:
//
//   sy_upgrade_runs     one row per `upgrade schemata` run: target, status, control, actor
//   sy_upgrade_journal  one row before (begin) and after (done|failed|skipped) every step of
//                       every schema, with the change seq a disable/enable produced
//   sy_upgrade_driver   the driver lease: holder, epoch, expiry (DriverLock below)
//
// The words stored in these tables are enums here (Step, Phase, RunState, RunControl) and are
// parsed when read: a word this binary does not know is an error tagged "database", never a
// string compared somewhere else. admin/sequencer.h drives the runs.
//
// Every call blocks on the database: admin/upgrade threads only. Errors are tagged "database"
// (store/db_error.h) unless said otherwise.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "store/db.h"

namespace sy::store {

// The per-schema steps, in run order (admin/sequencer.h).
enum class Step { Disable, Drain, Move, Update, Enable, Verify };
inline constexpr Step kSteps[] = {Step::Disable, Step::Drain,  Step::Move,
                                  Step::Update,  Step::Enable, Step::Verify};
// A journal row's phase: before a step (Begin), after it (Done, Failed), a schema left alone
// (Skipped, journaled on step Verify), or the run stopped before the step because the process
// is shutting down (Stopped; the run stays unfinished and the next driver resumes it).
enum class Phase { Begin, Done, Failed, Skipped, Stopped };
// How a run ended (or that it has not): Done only when every schema of the directory is on the
// target server and enabled; DoneWithSkipped when the run ran all it was asked to but left
// schemas elsewhere (--skip, --resume-from, --continue-after) and none is failed; Failed when a
// schema is left failed (in this run or an earlier one); Aborted by `upgrade abort`.
enum class RunState { Running, Paused, Done, DoneWithSkipped, Failed, Aborted };
// What the operator asked of a run (`upgrade pause|resume|abort`); Run = go on.
enum class RunControl { Run, Pause, Abort };
// One schema's result in a run, as reported and as read back from the journal.
enum class SchemaStatus { Running, Done, Failed, Skipped };

const char* to_string(Step s);          // "disable", "drain", ...
const char* to_string(Phase p);         // "begin", "done", "failed", "skipped", "stopped"
const char* to_string(RunState s);      // "running", "paused", "done", "done-with-skipped",
                                        // "failed", "aborted"
const char* to_string(RunControl c);    // "run", "pause", "abort"
const char* to_string(SchemaStatus s);  // "running", "done", "failed", "skipped"
std::optional<Step> parse_step(std::string_view word);
std::optional<Phase> parse_phase(std::string_view word);
std::optional<RunState> parse_run_state(std::string_view word);
std::optional<RunControl> parse_run_control(std::string_view word);

struct SchemaOutcome {
  std::string schema;
  SchemaStatus status = SchemaStatus::Running;
  std::string error;  // "<step>: <why>" when failed; why it was skipped
  int64_t duration_ms = 0;
};

// A run and its journal, as `upgrade status` and `show migrations` show them.
struct RunStatus {
  uint64_t run_id = 0;
  RunState status = RunState::Running;
  RunControl control = RunControl::Run;
  std::string driver;  // holder of the driver lease now (not expired), "" = none
  uint32_t target_server_id = 0;
  int64_t started_unix_ms = 0;
  int64_t finished_unix_ms = 0;
  std::vector<SchemaOutcome> schemas;  // per schema, in journal order
};

// The run |run_id|, or the newest one; tag "not-found" when there is none. One query.
Result<RunStatus> read_run_status(Db& db, std::optional<uint64_t> run_id = {});
// The newest |limit| runs, newest first. One query, however many runs and journal rows.
Result<std::vector<RunStatus>> list_runs(Db& db, int limit);

struct UnfinishedRun {
  uint64_t id = 0;
  uint32_t target = 0;
};
// The newest run that is running or paused.
Result<std::optional<UnfinishedRun>> find_unfinished_run(Db& db);
// A new run, running, for |target|; its id.
Result<uint64_t> create_run(Db& db, uint32_t target, const std::string& flags,
                            const std::string& actor);
// Takes over run |id|: running, control run, |actor| drives it.
Result<Unit> resume_run(Db& db, uint64_t id, const std::string& actor);
Result<Unit> set_run_state(Db& db, uint64_t id, RunState state);
// Sets the final state and finished_at.
Result<Unit> finish_run(Db& db, uint64_t id, RunState state);
Result<RunControl> read_run_control(Db& db, uint64_t id);
// Sets the control of the newest unfinished run and returns its id; tag "not-found" when none
// is unfinished.
Result<uint64_t> control_unfinished_run(Db& db, RunControl control);

// One journal row as the resume logic needs it.
struct JournalRow {
  std::string schema;
  Step step = Step::Disable;
  Phase phase = Phase::Begin;
  uint64_t change_seq = 0;
};
Result<std::vector<JournalRow>> read_journal(Db& db, uint64_t run_id);
// Appends a row (at = NOW(6)). The statement is the session's cached one: one prepare per run.
Result<Unit> append_journal(Db& db, uint64_t run_id, const std::string& schema, Step step,
                            Phase phase, uint64_t change_seq, const std::string& detail);
class DriverLock;
// The same, checked against the driver's lease in one transaction (DriverLock::guarded).
Result<Unit> append_journal(DriverLock& lock, Db& db, uint64_t run_id, const std::string& schema,
                            Step step, Phase phase, uint64_t change_seq, const std::string& detail);

// The one upgrade driver across the fleet: a lease in the sy_upgrade_driver row 'upgrade'
// (holder, process, epoch, expires_at), taken by one conditional UPDATE whose affected-row count
// says who won. Exclusive on one server and across Galera nodes alike (the row is replicated
// and two takes of it conflict at certification), unlike GET_LOCK, which every Galera node
// grants on its own (docs/decisions.md 50).
//
//   take      UPDATE ... SET holder, process, epoch = epoch + 1, expires_at = NOW + lease
//             WHERE free (no holder, or expires_at passed) OR (holder = this actor AND process
//             <> this process: the same instance restarted, so its old driver is dead); 0 rows
//             = refused with tag "driver-busy" naming the holder and when its lease ends
//   renew     a thread with its own session extends expires_at every lease/3 while the epoch
//             is still this one's; when it is not, lost() turns true
//   guard     every journal write runs in a transaction that first extends the lease WHERE
//             epoch = this one's (a write, so a concurrent take conflicts with it, also on
//             Galera); 0 rows = tag "lease-lost" naming the new holder, nothing written
//   release   the destructor clears holder and expiry WHERE epoch = this one's
//
// The lease relies on the database nodes' clocks agreeing to well within |lease| (NOW(6) of the
// node each statement runs on).
class DriverLock {
 public:
  struct Options {
    std::string actor;                                // who drives, shown by `upgrade status`
    std::chrono::milliseconds lease{15000};           // how long a take or renewal holds
    std::chrono::milliseconds connect_timeout{2000};  // the renewer's own session
  };
  static Result<DriverLock> take(Db& db, const Options& options);
  DriverLock(DriverLock&& other) noexcept;
  DriverLock& operator=(DriverLock&&) = delete;
  ~DriverLock();  // stops the renewer, then releases the lease

  uint64_t epoch() const { return epoch_; }
  // The renewer found the lease taken over (or could not renew it before it expired).
  bool lost() const;
  // Runs |write| in one transaction on the lock's session after extending the lease for this
  // epoch; tag "lease-lost" (and nothing written) when another driver holds it now.
  Result<Unit> guarded(const std::string& what, const std::function<Result<Unit>()>& write);

 private:
  struct Renewer;
  DriverLock(Db* db, uint64_t epoch, std::chrono::milliseconds lease,
             std::unique_ptr<Renewer> renewer);
  Db* db_;  // nullptr once moved from
  uint64_t epoch_ = 0;
  std::chrono::milliseconds lease_;
  std::unique_ptr<Renewer> renewer_;
};

// The process token stored with a lease (host, pid, start time): tells a restarted instance's
// driver from a concurrent one of the same process.
const std::string& driver_process_token();

}  // namespace sy::store
