#pragma once
// The per-schema migration sequencer (`upgrade schemata`, DESIGN decision 6), written against
// the Directory interface (admin/directory.h: own tables or an OX configdb) with everything of
// its own in the state database. For every schema, in schema order (schema_less: numbers in
// names compare as numbers, as OX orders oxdatabase_5 < oxdatabase_44), steps run in this
// order and each is journaled before and after (sy_upgrade_journal: run id, schema, step,
// phase begin|done|failed, at, detail):
//
//   disable  Directory::set_schema_enabled(false); every instance starts holding its requests
//   drain    wait until every live instance (heartbeat within live_within) reports
//            applied_seq >= the disable's version AND no request in flight for the schema,
//            and at least one instance and every one live at the start of the run is live
//            (fail closed: an empty or shrunken live set is never drained); bounded by
//            drain_timeout, failing with the instances that still have work or are missing
//   move     Directory::move_schema(schema, target server)  (the one-way door applies)
//   update   run_update_tasks()  (a failure leaves the schema disabled, marked failed)
//   enable   set_schema_enabled(true); held requests are released to the new pool
//   verify   the schema reads enabled on the target server (or has no contexts) and every
//            live instance reports applied_seq >= the enable's version, with the same
//            live-set rule as drain (bounded by drain_timeout)
//
// One driver at a time across the fleet, also on Galera: the lease row in sy_upgrade_driver
// (store/upgrade_store.h DriverLock), taken by a conditional UPDATE, renewed by its own thread
// every driver_lease/3, checked by every journal write in the same transaction. A second
// driver is refused with tag "driver-busy" and the holder's identity; a driver whose lease was
// taken over stops at its next journal write with tag "lease-lost". After `kill -9` of the
// driver its lease runs out within driver_lease (at once when the same instance restarts), the
// next run takes it and resumes: a run that is not finished in sy_upgrade_runs is continued,
// and a step whose journal says done is never repeated.
//
// Control: pause / resume / abort are rows in sy_upgrade_runs.control, read before each schema
// (pause waits, abort ends the run with status "aborted"); a schema in progress always finishes
// its steps first, so no tenant is left held by a paused or aborted run.
// Blocks for the whole run: admin thread only (the command streams progress meanwhile).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "admin/directory.h"
#include "admin/events.h"
#include "admin/update_tasks.h"
#include "common/result.h"
#include "store/db.h"
#include "store/upgrade_store.h"

namespace sy::admin {

// The words of the runs and the journal, typed (store/upgrade_store.h).
using store::Phase;
using store::RunControl;
using store::RunState;
using store::RunStatus;
using store::SchemaOutcome;
using store::SchemaStatus;
using store::Step;
// The newest run (or run |run_id|) and its journal; the newest |limit| runs. One query each.
using store::list_runs;
using store::read_run_status;

struct UpgradeOptions {
  // The target server: registered when missing (register_new), used when it exists and
  // use_existing is set, otherwise refused with tag "exists" (never a silent reuse).
  ServerInfo server;  // name required; id 0 = next free id
  bool register_new = true;
  bool use_existing = false;      // --continue
  bool force = false;             // --force: a failed schema is recorded and the run goes on
  std::string resume_from;        // --resume-from SCHEMA: schemas before it skipped (it runs)
  std::string continue_after;     // --continue-after SCHEMA (OX's -m): it and the schemas
                                  // before it skipped; the run continues after it
  std::vector<std::string> skip;  // --skip a,b,c
  std::string actor;              // who drives (instance id / admin user), for the lock row
  std::chrono::seconds live_within{10};            // heartbeat age of a live instance
  std::chrono::milliseconds drain_timeout{30000};  // drain and verify bound per schema
  std::chrono::milliseconds poll_interval{100};    // heartbeat polling while waiting
  std::chrono::milliseconds driver_lease{15000};   // admin.driver_lease
  UpdateTaskConfig tasks;
  std::vector<store::Dsn> dsns;  // the directory's, for the SQL update tasks' own sessions
  EventSink* events = nullptr;   // schema results and cluster transitions; may be null
  // Set when the process shuts down (SIGTERM): the run stops at the next step boundary (a
  // wait in progress ends early; a moved and updated schema is still enabled), journals phase
  // "stopped" on the step it did not run, gives a schema that has not moved back to its
  // server, and ends with tag "stopped", leaving the run unfinished for the next driver (which
  // continues a moved schema at that step, and starts a given-back one over). May be null.
  const std::atomic<bool>* stop = nullptr;
};

// One line of live progress (switchyardctl prints one line per schema step).
struct Progress {
  uint64_t run_id = 0;
  std::string schema;
  Step step = Step::Disable;
  Phase phase = Phase::Begin;
  std::string detail;  // e.g. "held 3 requests", the failure reason
  int schemas_done = 0;
  int schemas_total = 0;
  int64_t elapsed_ms = 0;  // since the run (re)started
  int64_t eta_ms = -1;     // until the run ends: the mean time of the schemas this run has
                           // finished so far x those left, less the current one's time so far;
                           // -1 until one schema has finished
};

struct UpgradeReport {
  uint64_t run_id = 0;
  bool resumed = false;              // continued a run left unfinished
  RunState status = RunState::Done;  // final_state() below
  std::vector<SchemaOutcome> schemas;
  // Every schema of the directory that is not enabled on the target server when the run ends,
  // whether or not this run touched it; error says where it is ("disabled on server app-new,
  // update failed: ..."); status Failed or Skipped. Empty exactly when status is Done.
  std::vector<SchemaOutcome> unfinished;
  int64_t duration_ms = 0;
};

// Pure: how a run ended. Aborted (`upgrade abort`) wins; then Failed when a schema is left failed
// (in this run, or disabled with a failed update task from an earlier one); then
// DoneWithSkipped when |unfinished| schemas are not enabled on the target; else Done.
RunState final_state(bool aborted, bool left_failed, size_t unfinished);

// Every schema of |dir| that is not enabled on server |target|, in schema order, saying where
// it is (SchemaOutcome::error): status Failed when it is disabled with a failed update task
// (sy_update_tasks in |state|), else Skipped. Blocks on both databases: admin threads only.
Result<std::vector<SchemaOutcome>> unfinished_schemas(Directory& dir, store::Db& state,
                                                      uint32_t target);

// Runs (or resumes) `upgrade schemata` on |dir| with its lock, run, journal and everything else
// of its own in the state database |state|; both sessions must stay this call's own.
// Cluster state: the run needs RUNNING_UPGRADE_TASKS (after approve) or
// UPGRADE_TASKS_FAILED (then it fires retry); at the end it fires finish when every schema is
// on the target server and enabled (status Done), fail while a schema is left failed (status
// Failed, also when an earlier run failed it and this one skipped it), and nothing otherwise
// (DoneWithSkipped, Aborted: the cluster stays RUNNING_UPGRADE_TASKS). |progress| is called
// on this thread for every step (may be empty).
Result<UpgradeReport> run_upgrade(Directory& dir, store::Db& state, const UpgradeOptions& options,
                                  const std::function<void(const Progress&)>& progress);

// Sets the control of the unfinished run (tag "not-found" when none is unfinished).
Result<Unit> control_run(store::Db& db, const std::string& control);  // pause|resume|abort

}  // namespace sy::admin
