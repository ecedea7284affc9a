#pragma once
// Shared set-up of the admin database tests: a migrated TestDb with a small directory
// (two servers, N schemas on server 1, a few contexts), and helpers to drive the cluster state.

#include <string>
#include <vector>

#include <catch.hpp>

#include "admin/cluster_state.h"
#include "admin/db_migrate.h"
#include "admin/directory.h"
#include "admin/instances.h"
#include "unit/test_db.h"

namespace sy::test {

inline void run_sql(sy::routing::Db& db, const std::string& sql) {
  auto r = db.exec(sql);
  INFO(sql);
  if (!r) {
    FAIL(r.error().message);
  }
}

// The single string |sql| selects.
inline std::string text(sy::routing::Db& db, const std::string& sql) {
  std::string s;
  auto r = db.query(sql, [&](const sy::routing::Row& row) { s = row.str(1); });
  INFO(sql);
  REQUIRE(r.ok());
  return s;
}

// server 1 "app-old" 7.10.6 (pool old), server 2 "app-new" 8.0.0 (pool new); |schemas| on 1,
// each with two contexts (ids 10*k+1, 10*k+2); context 11 has a server override.
inline void seed_directory(sy::routing::Db& db, const std::vector<std::string>& schemas) {
  REQUIRE(sy::admin::migrate(db).ok());
  run_sql(db, "INSERT INTO sy_servers (id, name, pool, version, redirect_url) VALUES"
              " (1, 'app-old', 'old', '7.10.6', 'http://old'),"
              " (2, 'app-new', 'new', '8.0.0', 'http://new')");
  int k = 1;
  for (const std::string& s : schemas) {
    run_sql(db,
            "INSERT INTO sy_schemas (name, state, server_id) VALUES ('" + s + "', 'enabled', 1)");
    run_sql(db, "INSERT INTO sy_contexts (id, schema_name, enabled, server_id) VALUES (" +
                    std::to_string(10 * k + 1) + ", '" + s + "', 1, " + (k == 1 ? "1" : "NULL") +
                    "), (" + std::to_string(10 * k + 2) + ", '" + s + "', 1, NULL)");
    ++k;
  }
}

// Walks the cluster from STABLE to RUNNING_UPGRADE_TASKS with target |server|; writes a live
// heartbeat of role "new" (id "new-1", applied_seq huge) for `mixed`.
inline void approve_upgrade(sy::routing::Db& db, const std::string& server = "app-new") {
  using namespace sy::admin;
  InstanceBeat nb{"new-1", "new", "8.0.0", 1, {}, uint64_t{1} << 60};
  REQUIRE(write_heartbeat(db, nb).ok());
  for (auto [event, arg] :
       std::vector<std::pair<ClusterEvent, std::string>>{{ClusterEvent::Prepare, server},
                                                         {ClusterEvent::Mixed, ""},
                                                         {ClusterEvent::Ready, ""},
                                                         {ClusterEvent::Approve, ""}}) {
    auto st = transition(db, *make_own_directory(db), event, "test", "", arg);
    INFO(to_string(event));
    if (!st) {
      FAIL(st.error().message);
    }
  }
}

}  // namespace sy::test
