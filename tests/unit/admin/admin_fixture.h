#pragma once
// Shared set-up of the admin database tests: the store fixture (a migrated TestDb with a small
// directory) and a helper to drive the cluster state.

#include <string>
#include <vector>

#include <catch.hpp>

#include "admin/cluster_state.h"
#include "admin/directory.h"
#include "store/instances.h"
#include "unit/store/store_fixture.h"

namespace sy::test {

// Walks the cluster from STABLE to RUNNING_UPGRADE_TASKS with target |server|; writes a live
// heartbeat of role "new" (id "new-1", applied_seq huge) for `mixed`; `ready` keeps old-role
// instances (the sequencer tests' old instances redirect moved tenants).
inline void approve_upgrade(sy::store::Db& db, const std::string& server = "app-new") {
  using namespace sy::admin;
  using sy::store::InstanceBeat;
  InstanceBeat nb{"new-1", "new", "8.0.0", 1, {}, uint64_t{1} << 60};
  REQUIRE(write_heartbeat(db, nb).ok());
  for (auto [event, arg] :
       std::vector<std::pair<ClusterEvent, std::string>>{{ClusterEvent::Prepare, server},
                                                         {ClusterEvent::Mixed, ""},
                                                         {ClusterEvent::Ready, ""},
                                                         {ClusterEvent::Approve, ""}}) {
    auto st = transition(db, *make_own_directory(db), event, "test", "", arg,
                         std::chrono::seconds(10), /*events=*/nullptr,
                         /*keep_old_role=*/true);
    INFO(to_string(event));
    if (!st) {
      FAIL(st.error().message);
    }
  }
}

}  // namespace sy::test
