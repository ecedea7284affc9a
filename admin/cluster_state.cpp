// The cluster upgrade state machine: one table of legal transitions, one pure check over it,
// and the stored state (sy_cluster, one row) with its history (sy_cluster_history).
//
//                             ┌───── revert ──────┐
//                             ▼                   │
//   STABLE ─prepare─▶ READY_TO_UPGRADE ─mixed─▶ MIXED ─ready─▶ READY_TO_RUN_UPGRADE_TASKS
//     ▲  ▲                 │ cancel               │ cancel          │ cancel   │ approve
//     │  └─────────────────┴──────────────────────┴─────────────────┘          ▼
//     │◀─────────────── finish ─────────────────────────────────── RUNNING_UPGRADE_TASKS
//     │                                                                fail │   ▲ retry
//     │                                                                     ▼   │
//     └──────────────── cancel (nothing moved, no run in progress) ─ UPGRADE_TASKS_FAILED
//                       (also from RUNNING_UPGRADE_TASKS, e.g. after `upgrade abort`)
//
//   ready:  every live instance runs the target server's version (none older is live)
//   revert: no live instance runs the target version any more (the new node went back)

#include "admin/cluster_state.h"

#include <algorithm>
#include <array>
#include <atomic>

#include "admin/directory.h"
#include "admin/protocol.h"
#include "common/log.h"
#include "store/cluster_store.h"
#include "store/db_error.h"
#include "store/instances.h"
#include "store/upgrade_store.h"

namespace sy::admin {

using store::Db;

namespace {

struct Edge {
  ClusterState from;
  ClusterEvent event;
  ClusterState to;
};

constexpr std::array<Edge, 13> kEdges = {{
    {ClusterState::Stable, ClusterEvent::Prepare, ClusterState::ReadyToUpgrade},
    {ClusterState::ReadyToUpgrade, ClusterEvent::Mixed, ClusterState::Mixed},
    {ClusterState::Mixed, ClusterEvent::Ready, ClusterState::ReadyToRunUpgradeTasks},
    // Jira ZDU: the new node(s) went back to the old version before the cluster was ready.
    {ClusterState::Mixed, ClusterEvent::Revert, ClusterState::ReadyToUpgrade},
    {ClusterState::ReadyToRunUpgradeTasks, ClusterEvent::Approve,
     ClusterState::RunningUpgradeTasks},
    {ClusterState::RunningUpgradeTasks, ClusterEvent::Finish, ClusterState::Stable},
    {ClusterState::RunningUpgradeTasks, ClusterEvent::Fail, ClusterState::UpgradeTasksFailed},
    {ClusterState::UpgradeTasksFailed, ClusterEvent::Retry, ClusterState::RunningUpgradeTasks},
    {ClusterState::ReadyToUpgrade, ClusterEvent::Cancel, ClusterState::Stable},
    {ClusterState::Mixed, ClusterEvent::Cancel, ClusterState::Stable},
    {ClusterState::ReadyToRunUpgradeTasks, ClusterEvent::Cancel, ClusterState::Stable},
    // After `upgrade abort` (or a failure) before any schema moved: back out of the upgrade.
    {ClusterState::RunningUpgradeTasks, ClusterEvent::Cancel, ClusterState::Stable},
    {ClusterState::UpgradeTasksFailed, ClusterEvent::Cancel, ClusterState::Stable},
}};

constexpr std::array<ClusterState, 6> kAllStates = {ClusterState::Stable,
                                                    ClusterState::ReadyToUpgrade,
                                                    ClusterState::Mixed,
                                                    ClusterState::ReadyToRunUpgradeTasks,
                                                    ClusterState::RunningUpgradeTasks,
                                                    ClusterState::UpgradeTasksFailed};

constexpr std::array<ClusterEvent, 9> kAllEvents = {
    ClusterEvent::Prepare, ClusterEvent::Mixed,  ClusterEvent::Ready,
    ClusterEvent::Approve, ClusterEvent::Finish, ClusterEvent::Fail,
    ClusterEvent::Retry,   ClusterEvent::Cancel, ClusterEvent::Revert};

std::atomic<uint64_t> g_illegal_transitions{0};

Error illegal(ClusterState from, ClusterEvent event, const std::string& why) {
  std::string allowed;
  for (const Edge& e : kEdges) {
    if (e.from == from) {
      allowed += std::string(allowed.empty() ? "" : ", ") + to_string(e.event);
    }
  }
  return make_tagged_error(Errc::InvalidArgument, "illegal-transition",
                           std::string("cluster ") + to_string(event) + " in state " +
                               to_string(from) + ": " + why + " (allowed in " + to_string(from) +
                               ": " + (allowed.empty() ? "nothing" : allowed) + ")",
                           ErrorSource::Downstream);
}

Error unknown_state(const std::string& text) {
  return make_tagged_error(Errc::Database, "database",
                           "sy_cluster holds an unknown state '" + text + "'",
                           ErrorSource::Upstream);
}

std::optional<ClusterState> parse_state(const std::string& s) {
  for (ClusterState st : kAllStates) {
    if (s == to_string(st)) {
      return st;
    }
  }
  return std::nullopt;
}

}  // namespace

const char* to_string(ClusterState s) {
  switch (s) {
  case ClusterState::Stable: return "STABLE";
  case ClusterState::ReadyToUpgrade: return "READY_TO_UPGRADE";
  case ClusterState::Mixed: return "MIXED";
  case ClusterState::ReadyToRunUpgradeTasks: return "READY_TO_RUN_UPGRADE_TASKS";
  case ClusterState::RunningUpgradeTasks: return "RUNNING_UPGRADE_TASKS";
  case ClusterState::UpgradeTasksFailed: return "UPGRADE_TASKS_FAILED";
  }
  return "?";
}

const char* to_string(ClusterEvent e) {
  switch (e) {
  case ClusterEvent::Prepare: return "prepare";
  case ClusterEvent::Mixed: return "mixed";
  case ClusterEvent::Ready: return "ready";
  case ClusterEvent::Approve: return "approve";
  case ClusterEvent::Finish: return "finish";
  case ClusterEvent::Fail: return "fail";
  case ClusterEvent::Retry: return "retry";
  case ClusterEvent::Cancel: return "cancel";
  case ClusterEvent::Revert: return "revert";
  }
  return "?";
}

std::optional<ClusterEvent> parse_cluster_event(std::string_view word) {
  for (ClusterEvent e : kAllEvents) {
    if (word == to_string(e)) {
      return e;
    }
  }
  return std::nullopt;
}

uint64_t illegal_transition_count() { return g_illegal_transitions.load(); }

Result<ClusterState> next_state(ClusterState from, ClusterEvent event,
                                const TransitionFacts& facts) {
  for (const Edge& e : kEdges) {
    if (e.from != from || e.event != event) {
      continue;
    }
    if (event == ClusterEvent::Prepare && !facts.target_server_set) {
      return illegal(from, event, "prepare needs a registered target server");
    }
    if (event == ClusterEvent::Mixed && facts.live_new_instances <= 0) {
      return illegal(from, event, "no live instance with role \"new\" is serving yet");
    }
    if (event == ClusterEvent::Ready) {
      if (facts.target_version.empty()) {
        return illegal(from, event,
                       "the target server has no version recorded, so no instance can be "
                       "checked against it (`server update NAME --version V`)");
      }
      if (!facts.old_version_live.empty()) {
        std::string names;
        for (const auto& d : facts.old_version_live) {
          names += (names.empty() ? "" : "; ") + d;
        }
        return illegal(from, event,
                       std::to_string(facts.old_version_live.size()) +
                           " live instance(s) still run a version older than the target's " +
                           facts.target_version + ": " + names +
                           " (stop or upgrade them; old-role instances that redirect moved "
                           "tenants: --keep-old-role)");
      }
      if (facts.live_target_version <= 0) {
        return illegal(from, event,
                       "no live instance runs the target version " + facts.target_version);
      }
    }
    if (event == ClusterEvent::Revert && facts.live_target_version > 0) {
      return illegal(from, event,
                     std::to_string(facts.live_target_version) +
                         " live instance(s) still run the target version " + facts.target_version);
    }
    const bool upgrading =
        from == ClusterState::RunningUpgradeTasks || from == ClusterState::UpgradeTasksFailed;
    if (event == ClusterEvent::Cancel && facts.run_in_progress) {
      return illegal(from, event,
                     "an upgrade run is in progress; `upgrade abort` ends it after its current "
                     "schema");
    }
    if (event == ClusterEvent::Cancel && facts.any_schema_moved) {
      return illegal(
          from, event,
          std::string("a schema has moved to the target server already (the one-way "
                      "door)") +
              (upgrading ? "; `upgrade schemata` again resumes and finishes the upgrade" : ""));
    }
    return e.to;
  }
  return illegal(from, event, "not a transition of this state");
}

Result<ClusterStatus> read_cluster(Db& db, Directory* dir) {
  auto row = store::read_cluster_row(db);
  if (!row) {
    return store::db_error("reading sy_cluster", row.error());
  }
  ClusterStatus st;
  if (!row->has_value()) {
    return st;
  }
  st.target_server_id = (*row)->target_server_id;
  st.since_unix_ms = (*row)->since_unix_ms;
  st.reason = (*row)->reason;
  if (dir != nullptr && st.target_server_id != 0) {
    if (auto s = dir->find_server(std::to_string(st.target_server_id))) {
      st.target_server_name = s->name;
    }
  }
  auto parsed = parse_state((*row)->state);
  if (!parsed) {
    return unknown_state((*row)->state);
  }
  st.state = *parsed;
  return st;
}

Result<std::vector<ClusterHistoryRow>> cluster_history(Db& db, int limit) {
  return store::in_context("reading sy_cluster_history", store::read_cluster_history(db, limit));
}

namespace {

Result<ClusterStatus> transition_once(Db& db, Directory& dir, ClusterEvent event,
                                      const std::string& actor, const std::string& reason,
                                      const std::string& server, std::chrono::seconds live_within,
                                      EventSink* events, bool keep_old_role) {
  const std::string what = std::string("cluster ") + to_string(event);
  if (auto r = store::ensure_cluster_row(db); !r) {
    return store::db_error(what, r.error());
  }
  auto txn = db.begin();
  if (!txn) {
    return store::db_error(what, txn.error());
  }
  auto row = store::read_cluster_row(db, /*for_update=*/true);
  if (!row) {
    return store::db_error(what, row.error());
  }
  const std::string state_text = row->has_value() ? (*row)->state : std::string();
  uint32_t target = row->has_value() ? (*row)->target_server_id : 0;
  auto from = parse_state(state_text);
  if (!from) {
    return unknown_state(state_text);
  }

  TransitionFacts facts;
  if (event == ClusterEvent::Prepare) {
    if (!server.empty()) {
      auto s = dir.find_server(server);
      if (!s) {
        return s.error();
      }
      target = s->id;
      facts.target_server_set = true;
    }
  }
  if (event == ClusterEvent::Mixed) {
    auto live = store::list_instances(db, live_within);
    if (!live) {
      return live.error();
    }
    for (const store::InstanceRow& i : *live) {
      facts.live_new_instances += i.role == "new" ? 1 : 0;
    }
  }
  if ((event == ClusterEvent::Ready || event == ClusterEvent::Revert) && target != 0) {
    auto server_row = dir.find_server(std::to_string(target));
    if (!server_row) {
      return server_row.error();
    }
    auto live = store::list_instances(db, live_within);
    if (!live) {
      return live.error();
    }
    version_facts(*live, server_row->version, keep_old_role, &facts);
  }
  if (event == ClusterEvent::Cancel) {
    // A run that is going on (not asked to abort) would keep moving schemas after the cancel.
    auto run = store::find_unfinished_run(db);
    if (!run) {
      return run.error();
    }
    if (run->has_value()) {
      auto control = store::read_run_control(db, (*run)->id);
      if (!control) {
        return control.error();
      }
      facts.run_in_progress = *control != store::RunControl::Abort;
    }
  }
  if (event == ClusterEvent::Cancel && target != 0) {
    auto schemas = dir.list_schemas();
    if (!schemas) {
      return schemas.error();
    }
    facts.any_schema_moved =
        std::any_of(schemas->begin(), schemas->end(),
                    [target](const SchemaInfo& s) { return s.server_id == target; });
  }
  auto to = next_state(*from, event, facts);
  if (!to) {
    ++g_illegal_transitions;
    SY_LOG(Warn, "%s (by %s)", to.error().message.c_str(), actor.c_str());
    return to.error();
  }
  if (*to == ClusterState::Stable) {
    target = 0;
  }
  if (auto u = store::write_cluster_row(db, to_string(*to), target, reason); !u) {
    return store::db_error(what, u.error());
  }
  if (auto h = store::append_cluster_history(db, to_string(*from), to_string(*to), to_string(event),
                                             actor, reason);
      !h) {
    return store::db_error(what, h.error());
  }
  if (events != nullptr) {
    auto ev = events->emit(db, Event{"cluster.transition", "", to_string(*to),
                                     std::string("event ") + to_string(event) +
                                         (reason.empty() ? "" : ": " + reason)});
    if (!ev) {
      return store::db_error(what, ev.error());
    }
  }
  if (auto c = txn->commit(); !c) {
    return store::db_error(what, c.error());
  }
  SY_LOG(Info, "cluster: %s -> %s (%s by %s)%s%s", to_string(*from), to_string(*to),
         to_string(event), actor.c_str(), reason.empty() ? "" : ": ", reason.c_str());
  return read_cluster(db, &dir);
}

}  // namespace

// One transaction that reads the row it changes FOR UPDATE first: run again after a deadlock or
// a certification conflict, it does what one run would have.
Result<ClusterStatus> transition(Db& db, Directory& dir, ClusterEvent event,
                                 const std::string& actor, const std::string& reason,
                                 const std::string& server, std::chrono::seconds live_within,
                                 EventSink* events, bool keep_old_role) {
  return store::with_conflict_retries([&] {
    return transition_once(db, dir, event, actor, reason, server, live_within, events,
                           keep_old_role);
  });
}

void version_facts(const std::vector<store::InstanceRow>& live, const std::string& target_version,
                   bool keep_old_role, TransitionFacts* facts) {
  facts->target_version = target_version;
  for (const store::InstanceRow& i : live) {
    if (!version_less(i.version, target_version)) {
      ++facts->live_target_version;
      continue;
    }
    if (keep_old_role && i.role == "old") {
      continue;
    }
    facts->old_version_live.push_back(i.id + " (version '" + i.version + "', role " + i.role +
                                      ", last heartbeat " +
                                      format_time(i.heartbeat_at_us / 1000, false) + ", " +
                                      format_duration(i.heartbeat_age_ms) + " ago)");
  }
}

Result<ClusterStatus> reconcile_cluster(Db& db, Directory& dir, const std::string& actor,
                                        std::chrono::seconds live_within, EventSink* events) {
  auto st = read_cluster(db, &dir);
  if (!st || st->state != ClusterState::Mixed || st->target_server_id == 0) {
    return st;
  }
  auto target = dir.find_server(std::to_string(st->target_server_id));
  if (!target) {
    return target.error();
  }
  auto live = store::list_instances(db, live_within);
  if (!live) {
    return live.error();
  }
  TransitionFacts facts;
  version_facts(*live, target->version, false, &facts);
  if (facts.live_target_version > 0) {
    return st;
  }
  // Decided again inside the transaction (a new node may have come back meanwhile).
  auto reverted = transition(db, dir, ClusterEvent::Revert, actor,
                             "no live instance runs the target version '" + target->version +
                                 "' any more (the new node went back to the old version)",
                             {}, live_within, events);
  if (!reverted && reverted.error().tag != nullptr &&
      std::string_view(reverted.error().tag) == "illegal-transition") {
    return read_cluster(db, &dir);
  }
  return reverted;
}

}  // namespace sy::admin
