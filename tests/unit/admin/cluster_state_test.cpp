// admin/cluster_state.h: the pure transition table (every state x every event), the facts that
// gate prepare / mixed / cancel, and the stored state with its history.

#include "admin/cluster_state.h"

#include <map>

#include <catch.hpp>

#include "admin/directory.h"
#include "unit/admin/admin_fixture.h"

using namespace sy::admin;
using namespace sy::store;
using sy::test::run_sql;
using sy::test::seed_directory;
using sy::test::TestDb;

namespace {

const std::vector<ClusterState> kStates = {ClusterState::Stable,
                                           ClusterState::ReadyToUpgrade,
                                           ClusterState::Mixed,
                                           ClusterState::ReadyToRunUpgradeTasks,
                                           ClusterState::RunningUpgradeTasks,
                                           ClusterState::UpgradeTasksFailed};
const std::vector<ClusterEvent> kEvents = {
    ClusterEvent::Prepare, ClusterEvent::Mixed,  ClusterEvent::Ready,
    ClusterEvent::Approve, ClusterEvent::Finish, ClusterEvent::Fail,
    ClusterEvent::Retry,   ClusterEvent::Cancel, ClusterEvent::Revert};

using S = ClusterState;
using E = ClusterEvent;
const std::map<std::pair<S, E>, S> kLegal = {
    {{S::Stable, E::Prepare}, S::ReadyToUpgrade},
    {{S::ReadyToUpgrade, E::Mixed}, S::Mixed},
    {{S::Mixed, E::Ready}, S::ReadyToRunUpgradeTasks},
    {{S::Mixed, E::Revert}, S::ReadyToUpgrade},
    {{S::ReadyToRunUpgradeTasks, E::Approve}, S::RunningUpgradeTasks},
    {{S::RunningUpgradeTasks, E::Finish}, S::Stable},
    {{S::RunningUpgradeTasks, E::Fail}, S::UpgradeTasksFailed},
    {{S::UpgradeTasksFailed, E::Retry}, S::RunningUpgradeTasks},
    {{S::ReadyToUpgrade, E::Cancel}, S::Stable},
    {{S::Mixed, E::Cancel}, S::Stable},
    {{S::ReadyToRunUpgradeTasks, E::Cancel}, S::Stable},
    {{S::RunningUpgradeTasks, E::Cancel}, S::Stable},
    {{S::UpgradeTasksFailed, E::Cancel}, S::Stable},
};

}  // namespace

TEST_CASE("next_state: every legal transition, and every other pair is illegal") {
  TransitionFacts permissive;
  permissive.target_server_set = true;
  permissive.live_new_instances = 1;
  permissive.any_schema_moved = false;
  permissive.target_version = "8.0";
  permissive.live_target_version = 0;  // revert needs none, ready checks it apart below
  int legal = 0;
  int illegal = 0;
  for (S from : kStates) {
    for (E event : kEvents) {
      INFO(to_string(from) << " + " << to_string(event));
      TransitionFacts facts = permissive;
      facts.live_target_version = event == E::Ready ? 1 : 0;
      auto r = next_state(from, event, facts);
      auto it = kLegal.find({from, event});
      if (it != kLegal.end()) {
        REQUIRE(r.ok());
        CHECK(*r == it->second);
        ++legal;
      } else {
        REQUIRE_FALSE(r.ok());
        CHECK(std::string(r.error().tag) == "illegal-transition");
        CHECK(r.error().message.find(to_string(from)) != std::string::npos);
        CHECK(r.error().message.find(to_string(event)) != std::string::npos);
        ++illegal;
      }
    }
  }
  CHECK(legal == 13);
  CHECK(illegal == 41);
}

TEST_CASE("next_state: the facts gate prepare, mixed and cancel") {
  TransitionFacts none;
  auto prepare = next_state(S::Stable, E::Prepare, none);
  REQUIRE_FALSE(prepare.ok());
  CHECK(prepare.error().message.find("registered target server") != std::string::npos);
  auto mixed = next_state(S::ReadyToUpgrade, E::Mixed, none);
  REQUIRE_FALSE(mixed.ok());
  CHECK(mixed.error().message.find("\"new\"") != std::string::npos);
  TransitionFacts moved;
  moved.any_schema_moved = true;
  for (S from : {S::ReadyToUpgrade, S::Mixed, S::ReadyToRunUpgradeTasks, S::RunningUpgradeTasks,
                 S::UpgradeTasksFailed}) {
    auto cancel = next_state(from, E::Cancel, moved);
    REQUIRE_FALSE(cancel.ok());
    CHECK(std::string(cancel.error().tag) == "illegal-transition");
    CHECK(cancel.error().message.find("one-way door") != std::string::npos);
  }
  // Once upgrading, the refusal names the way forward.
  CHECK(next_state(S::RunningUpgradeTasks, E::Cancel, moved)
            .error()
            .message.find("`upgrade schemata` again resumes") != std::string::npos);
  TransitionFacts running;
  running.run_in_progress = true;
  auto busy = next_state(S::RunningUpgradeTasks, E::Cancel, running);
  REQUIRE_FALSE(busy.ok());
  CHECK(busy.error().message.find("`upgrade abort`") != std::string::npos);
}

TEST_CASE("next_state: ready needs every live instance on the target version; revert none") {
  TransitionFacts f;
  auto no_version = next_state(S::Mixed, E::Ready, f);
  REQUIRE_FALSE(no_version.ok());
  CHECK(no_version.error().message.find("server update NAME --version") != std::string::npos);
  f.target_version = "8.0";
  auto nobody = next_state(S::Mixed, E::Ready, f);
  REQUIRE_FALSE(nobody.ok());
  CHECK(nobody.error().message.find("no live instance runs the target version 8.0") !=
        std::string::npos);
  f.live_target_version = 2;
  f.old_version_live = {"sy-a (version '7.10')", "sy-b (version '')"};
  auto old = next_state(S::Mixed, E::Ready, f);
  REQUIRE_FALSE(old.ok());
  CHECK(old.error().message.find("2 live instance(s) still run a version older") !=
        std::string::npos);
  CHECK(old.error().message.find("sy-a (version '7.10'); sy-b (version '')") != std::string::npos);
  f.old_version_live.clear();
  CHECK(next_state(S::Mixed, E::Ready, f).value() == S::ReadyToRunUpgradeTasks);
  auto stay = next_state(S::Mixed, E::Revert, f);
  REQUIRE_FALSE(stay.ok());
  CHECK(stay.error().message.find("still run the target version") != std::string::npos);
  f.live_target_version = 0;
  CHECK(next_state(S::Mixed, E::Revert, f).value() == S::ReadyToUpgrade);
}

TEST_CASE("version_facts: older labels are named, --keep-old-role spares old-role ones") {
  std::vector<InstanceRow> live(4);
  live[0].id = "new-a", live[0].role = "new", live[0].version = "8.0.0";
  live[1].id = "new-b", live[1].role = "new", live[1].version = "8.0.1";  // later counts too
  live[2].id = "old-a", live[2].role = "old", live[2].version = "7.10.6";
  live[3].id = "new-c", live[3].role = "new", live[3].version = "7.10.6";  // went back
  live[3].heartbeat_at_us = 1'765'000'000'000'000;
  live[3].heartbeat_age_ms = 1300;
  TransitionFacts all;
  version_facts(live, "8.0.0", false, &all);
  CHECK(all.live_target_version == 2);
  REQUIRE(all.old_version_live.size() == 2);
  CHECK(all.old_version_live[0].find("old-a (version '7.10.6', role old") == 0);
  CHECK(all.old_version_live[1] ==
        "new-c (version '7.10.6', role new, last heartbeat 2025-12-06T05:46:40.000Z, 1.3s ago)");
  TransitionFacts keep;
  version_facts(live, "8.0.0", true, &keep);
  REQUIRE(keep.old_version_live.size() == 1);
  CHECK(keep.old_version_live[0].find("new-c") == 0);
}

TEST_CASE("names of states and events round-trip") {
  for (E e : kEvents) {
    CHECK(parse_cluster_event(to_string(e)) == e);
  }
  CHECK_FALSE(parse_cluster_event("PREPARE").has_value());
  CHECK(std::string(to_string(S::ReadyToRunUpgradeTasks)) == "READY_TO_RUN_UPGRADE_TASKS");
}

TEST_CASE("the stored state walks the whole cycle and writes a history row per transition") {
  TestDb t;
  seed_directory(*t.db, {"s_a"});
  auto st = read_cluster(*t.db);
  REQUIRE(st.ok());
  CHECK(st->state == S::Stable);
  CHECK(st->target_server_id == 0);

  // Illegal ones change nothing and are counted.
  const uint64_t illegal_before = illegal_transition_count();
  auto approve = transition(*t.db, *make_own_directory(*t.db), E::Approve, "tester");
  REQUIRE_FALSE(approve.ok());
  CHECK(std::string(approve.error().tag) == "illegal-transition");
  CHECK(approve.error().message.find("STABLE") != std::string::npos);
  CHECK(illegal_transition_count() == illegal_before + 1);
  auto unknown =
      transition(*t.db, *make_own_directory(*t.db), E::Prepare, "tester", "", "no-such-server");
  REQUIRE_FALSE(unknown.ok());
  CHECK(std::string(unknown.error().tag) == "not-found");
  REQUIRE_FALSE(
      transition(*t.db, *make_own_directory(*t.db), E::Prepare, "tester").ok());  // no server given

  auto prepared =
      transition(*t.db, *make_own_directory(*t.db), E::Prepare, "tester", "go", "app-new");
  REQUIRE(prepared.ok());
  CHECK(prepared->state == S::ReadyToUpgrade);
  CHECK(prepared->target_server_id == 2);
  CHECK(prepared->target_server_name == "app-new");
  CHECK(prepared->reason == "go");

  // mixed needs a live "new" instance.
  auto early = transition(*t.db, *make_own_directory(*t.db), E::Mixed, "tester");
  REQUIRE_FALSE(early.ok());
  REQUIRE(write_heartbeat(*t.db, InstanceBeat{"n1", "new", "8.0.0", 7, {}, 0}).ok());
  REQUIRE(transition(*t.db, *make_own_directory(*t.db), E::Mixed, "tester").ok());
  // ready: refused while an instance on the old version is live, naming it.
  REQUIRE(write_heartbeat(*t.db, InstanceBeat{"o1", "old", "7.10.6", 8, {}, 0}).ok());
  auto not_yet = transition(*t.db, *make_own_directory(*t.db), E::Ready, "tester");
  REQUIRE_FALSE(not_yet.ok());
  CHECK(not_yet.error().message.find("o1 (version '7.10.6', role old, last heartbeat ") !=
        std::string::npos);
  CHECK(read_cluster(*t.db)->state == S::Mixed);
  REQUIRE(remove_instance(*t.db, "o1").ok());
  REQUIRE(transition(*t.db, *make_own_directory(*t.db), E::Ready, "tester").ok());
  REQUIRE(transition(*t.db, *make_own_directory(*t.db), E::Approve, "tester").ok());
  REQUIRE(
      transition(*t.db, *make_own_directory(*t.db), E::Fail, "driver", "s_a: update failed").ok());
  CHECK(read_cluster(*t.db)->state == S::UpgradeTasksFailed);
  CHECK(read_cluster(*t.db)->reason == "s_a: update failed");
  REQUIRE(transition(*t.db, *make_own_directory(*t.db), E::Retry, "driver").ok());
  auto fin = transition(*t.db, *make_own_directory(*t.db), E::Finish, "driver");
  REQUIRE(fin.ok());
  CHECK(fin->state == S::Stable);
  CHECK(fin->target_server_id == 0);

  auto history = cluster_history(*t.db, 100);
  REQUIRE(history.ok());
  REQUIRE(history->size() == 7);              // the refused ready wrote none
  CHECK(history->front().event == "finish");  // newest first
  CHECK(history->front().from == "RUNNING_UPGRADE_TASKS");
  CHECK(history->front().to == "STABLE");
  CHECK(history->back().event == "prepare");
  CHECK(history->back().actor == "tester");
  CHECK(history->back().at_unix_ms > 1600000000000LL);
  CHECK(cluster_history(*t.db, 2)->size() == 2);
}

TEST_CASE("MIXED goes back to READY_TO_UPGRADE when the new node runs the old version again") {
  TestDb t;
  seed_directory(*t.db, {"s_a"});
  REQUIRE(transition(*t.db, *make_own_directory(*t.db), E::Prepare, "t", "", "app-new").ok());
  REQUIRE(write_heartbeat(*t.db, InstanceBeat{"n1", "new", "8.0.0", 7, {}, 0}).ok());
  REQUIRE(transition(*t.db, *make_own_directory(*t.db), E::Mixed, "t").ok());
  auto dir = make_own_directory(*t.db);
  auto still = reconcile_cluster(*t.db, *dir, "t", std::chrono::seconds(10));
  REQUIRE(still.ok());
  CHECK(still->state == S::Mixed);  // the new node is live: nothing to do
  // The same node restarts on the old version.
  REQUIRE(write_heartbeat(*t.db, InstanceBeat{"n1", "new", "7.10.6", 9, {}, 0}).ok());
  auto back = reconcile_cluster(*t.db, *dir, "t", std::chrono::seconds(10));
  REQUIRE(back.ok());
  CHECK(back->state == S::ReadyToUpgrade);
  CHECK(back->target_server_id == 2);  // still the upgrade to app-new
  CHECK(back->reason.find("no live instance runs the target version '8.0.0'") != std::string::npos);
  auto history = cluster_history(*t.db, 1);
  REQUIRE(history.ok());
  CHECK(history->front().event == "revert");
  CHECK(history->front().from == "MIXED");
  // Idempotent: READY_TO_UPGRADE stays.
  CHECK(reconcile_cluster(*t.db, *dir, "t", std::chrono::seconds(10))->state == S::ReadyToUpgrade);
  CHECK(cluster_history(*t.db, 100)->size() == 3);
}

TEST_CASE("cancel goes back to STABLE until a schema has moved to the target") {
  TestDb t;
  seed_directory(*t.db, {"s_a", "s_b"});
  REQUIRE(transition(*t.db, *make_own_directory(*t.db), E::Prepare, "t", "", "app-new").ok());
  auto cancel = transition(*t.db, *make_own_directory(*t.db), E::Cancel, "t");
  REQUIRE(cancel.ok());
  CHECK(cancel->state == S::Stable);
  CHECK(cancel->target_server_id == 0);

  REQUIRE(transition(*t.db, *make_own_directory(*t.db), E::Prepare, "t", "", "2").ok());
  REQUIRE(make_own_directory(*t.db)->move_schema("s_a", 2).ok());
  auto refused = transition(*t.db, *make_own_directory(*t.db), E::Cancel, "t");
  REQUIRE_FALSE(refused.ok());
  CHECK(std::string(refused.error().tag) == "illegal-transition");
  CHECK(read_cluster(*t.db)->state == S::ReadyToUpgrade);
}
