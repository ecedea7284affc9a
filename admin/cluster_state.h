#pragma once
// The cluster upgrade state machine (DESIGN decision 6), stored in the state database so every
// instance and every admin agrees:
//
//                                     ┌───── revert ──────┐
//                                     ▼                   │
//   STABLE ─prepare(server)─▶ READY_TO_UPGRADE ─mixed─▶ MIXED ─ready─▶ READY_TO_RUN_UPGRADE_TASKS
//     ▲                                                                    │ approve
//     │                 finish (every schema done)                         ▼
//     └──────────────────────────────────────────────────────── RUNNING_UPGRADE_TASKS
//                                                                          │ fail    ▲ retry
//                                                                          ▼         │
//                                                                   UPGRADE_TASKS_FAILED
//   cancel: READY_TO_UPGRADE / MIXED / READY_TO_RUN_UPGRADE_TASKS / RUNNING_UPGRADE_TASKS /
//   UPGRADE_TASKS_FAILED ─▶ STABLE, only while no schema has moved to the target server in this
//   upgrade and no upgrade run is in progress (unfinished and not asked to abort). After
//   `upgrade abort` the way forward is therefore: `cluster cancel` when nothing moved, else
//   `upgrade schemata` again, which resumes (done schemas are skipped) and finishes.
//
// `mixed` needs at least one live instance with role "new" (a new-version node is serving).
// `ready` means every live instance runs the target server's version (as in Jira's ZDU): it is
// refused while any live instance reports an older version label (routing.version), each one
// named with its version, role and last heartbeat; `--keep-old-role` accepts old-role instances
// (they keep serving unmoved tenants and redirecting moved ones, DESIGN decision 4) but still
// refuses a new-role one on an old version. `revert` (MIXED -> READY_TO_UPGRADE) fires when no
// live instance runs the target version any more (the new node went back to the old version):
// reconcile_cluster() applies it, and `cluster status` and `cluster ready` call that first.
// Every transition is one row in sy_cluster_history; illegal ones fail with tag
// "illegal-transition" and a message naming the state, the event, and what is allowed.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin/directory.h"
#include "admin/events.h"
#include "common/result.h"
#include "store/cluster_store.h"
#include "store/db.h"
#include "store/instances.h"

namespace sy::admin {

enum class ClusterState {
  Stable,
  ReadyToUpgrade,
  Mixed,
  ReadyToRunUpgradeTasks,
  RunningUpgradeTasks,
  UpgradeTasksFailed,
};

enum class ClusterEvent { Prepare, Mixed, Ready, Approve, Finish, Fail, Retry, Cancel, Revert };

const char* to_string(ClusterState s);  // "STABLE", "READY_TO_UPGRADE", ...
const char* to_string(ClusterEvent e);  // "prepare", "mixed", ...
std::optional<ClusterEvent> parse_cluster_event(std::string_view word);

// What the pure transition check needs to know besides the state.
struct TransitionFacts {
  bool any_schema_moved = false;   // some schema is on the target server (cancel)
  int live_new_instances = 0;      // live heartbeats with role "new" (mixed)
  bool target_server_set = false;  // prepare was given a registered server
  bool run_in_progress = false;    // an upgrade run is unfinished and not aborting (cancel)
  // ready / revert: the target server's version, the live instances that run it (or a later
  // one), and each live instance on an older version, described for the operator.
  std::string target_version;
  int live_target_version = 0;
  std::vector<std::string> old_version_live;
};

// Pure: the next state, or an Error tagged "illegal-transition" saying why.
Result<ClusterState> next_state(ClusterState from, ClusterEvent event,
                                const TransitionFacts& facts);

// Illegal transitions refused by transition() since the process started (each is also logged).
uint64_t illegal_transition_count();

struct ClusterStatus {
  ClusterState state = ClusterState::Stable;
  uint32_t target_server_id = 0;  // set by prepare; 0 in STABLE
  std::string target_server_name;
  int64_t since_unix_ms = 0;
  std::string reason;  // of the last transition (e.g. the failure)
};

using store::ClusterHistoryRow;  // as stored (store/cluster_store.h)

// Reads the state from the state database |state| (a missing row reads as STABLE). With |dir|
// the target server's name is looked up there (left empty when that fails).
Result<ClusterStatus> read_cluster(store::Db& state, Directory* dir = nullptr);
Result<std::vector<ClusterHistoryRow>> cluster_history(store::Db& state, int limit);

// Applies |event| in one transaction of the state database (SELECT ... FOR UPDATE on the single
// state row, facts gathered inside it, history row written); |dir| answers the directory's
// facts (the Prepare server, schemas on the target for Cancel). |server| is required for
// Prepare (name or id of a registered server). |actor| names who did it (instance id / admin
// user). |live_within|: the heartbeat age within which a "new" instance counts as serving (for
// Mixed; admin.live_within). With |events| the event "cluster.transition" is appended in the
// same transaction (admin/events.h): no transition without its event, and no event without it.
// |keep_old_role| (Ready): old-role instances on an older version do not block.
Result<ClusterStatus> transition(store::Db& state, Directory& dir, ClusterEvent event,
                                 const std::string& actor, const std::string& reason = {},
                                 const std::string& server = {},
                                 std::chrono::seconds live_within = std::chrono::seconds(10),
                                 EventSink* events = nullptr, bool keep_old_role = false);

// In MIXED with no live instance on the target server's version any more: applies `revert`
// (back to READY_TO_UPGRADE, with a history row saying why). Otherwise changes nothing. The
// state as it is afterwards.
Result<ClusterStatus> reconcile_cluster(store::Db& state, Directory& dir, const std::string& actor,
                                        std::chrono::seconds live_within,
                                        EventSink* events = nullptr);

// Pure: the facts of ready / revert from the live instances |live| and the target version.
// An instance runs the target version when its label is not lower (version_less).
void version_facts(const std::vector<store::InstanceRow>& live, const std::string& target_version,
                   bool keep_old_role, TransitionFacts* facts);

}  // namespace sy::admin
