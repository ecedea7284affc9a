// The sequencer's Runner: one upgrade run, shared by sequencer.cpp (the run: lease, journal,
// cluster transitions, the loop over schemas) and sequencer_schema.cpp (one schema's steps and
// the waits on the fleet). Internal to admin/; the interface is admin/sequencer.h.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "admin/cluster_state.h"
#include "admin/sequencer.h"
#include "store/upgrade_store.h"

namespace sy::admin::sequencer_detail {

using store::Phase;
using store::RunControl;
using Clock = std::chrono::steady_clock;

inline int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// What this run's journal says about one schema.
struct SchemaJournal {
  std::set<Step> done;            // steps journaled done (cleared by a failure)
  std::map<Step, uint64_t> seqs;  // step -> change seq of its done row
  bool finished = false;          // verify done, or the schema was skipped
};

class Runner {
 public:
  Runner(Directory& dir, store::Db& state, const UpgradeOptions& options,
         const std::function<void(const Progress&)>& progress)
      : dir_(dir), db_(state), options_(options), progress_(progress) {}

  Result<UpgradeReport> run();

 private:
  Result<uint32_t> resolve_target(const ClusterStatus& cluster);
  Result<Unit> start_or_resume(uint32_t target);
  Result<std::map<std::string, SchemaJournal>> load_journal();
  Result<std::set<std::string>> schemas_with_all_tasks_ok(const std::vector<SchemaInfo>& all);
  // Run or Abort (after waiting out a pause; Run at once when stopping).
  Result<RunControl> check_control();
  bool stopping() const { return options_.stop != nullptr && options_.stop->load(); }
  // Journals that the run stopped before |step| of |schema| (the process is shutting down)
  // and gives the schema back to its server when nothing has moved yet.
  Result<Unit> journal_stop(const std::string& schema, Step step, bool moved);
  Result<Unit> journal(const std::string& schema, Step step, Phase phase, uint64_t seq,
                       const std::string& detail) {
    return store::append_journal(*lock_, db_, report_.run_id, schema, step, phase, seq, detail);
  }
  // The lease is still this driver's (checked on the database, extended on the way).
  Result<Unit> lease_held() {
    return lock_->guarded("a directory write", [] { return ok_result(); });
  }
  void notify(const std::string& schema, Step step, Phase phase, const std::string& detail);
  void emit(const std::string& kind, const std::string& schema, const std::string& state,
            const std::string& detail);
  // Runs the steps of one schema; an Error only for a broken journal (database gone).
  Result<SchemaOutcome> run_schema(const std::string& schema, SchemaJournal& j);
  // Waits until every live instance applied |seq| (and, when |schema| is non-empty, has no
  // request in flight for it). "" = reached (|detail| says what was seen), else why not.
  std::string wait_instances(const std::string& schema, uint64_t seq, std::string& detail);
  Result<Unit> fire(ClusterEvent event, const std::string& reason);
  Directory& dir_;
  store::Db& db_;  // the state database: lease, runs, journal, instances, cluster, update tasks
  std::optional<store::DriverLock> lock_;   // taken first thing in run()
  std::vector<std::string> live_at_start_;  // instance ids live when the run (re)started
  const UpgradeOptions& options_;
  const std::function<void(const Progress&)>& progress_;
  Clock::time_point started_ = Clock::now();
  UpgradeReport report_;
  uint32_t target_ = 0;
  int schemas_done_ = 0;
  int schemas_total_ = 0;
  // The ETA's measurements: schemas this run went through (done or failed) and their time.
  int measured_schemas_ = 0;
  int64_t measured_ms_ = 0;
  bool in_schema_ = false;
  Clock::time_point schema_started_;
};

}  // namespace sy::admin::sequencer_detail
