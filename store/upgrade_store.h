#pragma once
// The upgrade runs' tables in the state database (store/db_migrate.h, migration 4), typed:
//
//   sy_upgrade_runs     one row per `upgrade schemata` run: target, status, control, actor
//   sy_upgrade_journal  one row before (begin) and after (done|failed|skipped) every step of
//                       every schema, with the change seq a disable/enable produced
//   sy_upgrade_driver   who holds the driver lock (informative; the lock is the truth)
//
// The words stored in these tables are enums here (Step, Phase, RunState, RunControl) and are
// parsed when read: a word this binary does not know is an error tagged "database", never a
// string compared somewhere else. admin/sequencer.h drives the runs.
//
// Every call blocks on the database: admin/upgrade threads only. Errors are tagged "database"
// (store/db_error.h) unless said otherwise.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "store/db.h"
#include "store/named_lock.h"

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
  std::string driver;  // holder of the driver lock now, "" = none
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

// The one upgrade driver across the fleet: the named lock "sy_upgrade_driver.<database>" plus
// the sy_upgrade_driver row naming the holder. take() fails with tag "driver-busy" naming the
// holder when another session drives. Destroying it deletes the row, then releases the lock.
// (A later lease-based lock for Galera replaces the inside of this class, not its users.)
class DriverLock {
 public:
  static Result<DriverLock> take(Db& db, const std::string& actor);
  DriverLock(DriverLock&& other) noexcept
      : db_(std::exchange(other.db_, nullptr)), lock_(std::move(other.lock_)) {}
  DriverLock& operator=(DriverLock&&) = delete;
  ~DriverLock();  // deletes the holder row; lock_ is released after it

 private:
  DriverLock(Db* db, NamedLock lock) : db_(db), lock_(std::move(lock)) {}
  Db* db_;  // nullptr once moved from
  NamedLock lock_;
};

}  // namespace sy::store
