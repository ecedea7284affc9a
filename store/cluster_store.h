#pragma once
// The cluster upgrade state's tables in the state database (store/db_migrate.h, migration 4):
// sy_cluster (exactly one row, id 1) and sy_cluster_history (one row per transition). The state
// machine itself (its enums, transition table and diagram) is admin/cluster_state.h; here the
// state and event are the words stored, which admin/cluster_state.cpp parses.
// Every call blocks on the database: admin/upgrade threads only. Errors are the session's.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/db.h"

namespace sy::store {

struct ClusterRow {
  std::string state;  // e.g. "STABLE"
  uint32_t target_server_id = 0;
  int64_t since_unix_ms = 0;
  std::string reason;
};

struct ClusterHistoryRow {
  int64_t at_unix_ms = 0;
  std::string from, to, event, actor, reason;
};

// The row, or nullopt when there is none yet. |for_update|: SELECT ... FOR UPDATE (inside a
// transaction, to serialise transitions).
Result<std::optional<ClusterRow>> read_cluster_row(Db& db, bool for_update = false);
// Creates the row as STABLE when it is missing.
Result<Unit> ensure_cluster_row(Db& db);
// Sets state, target and reason; since = now.
Result<Unit> write_cluster_row(Db& db, const std::string& state, uint32_t target,
                               const std::string& reason);
Result<Unit> append_cluster_history(Db& db, const std::string& from, const std::string& to,
                                    const std::string& event, const std::string& actor,
                                    const std::string& reason);
// Newest first.
Result<std::vector<ClusterHistoryRow>> read_cluster_history(Db& db, int limit);

}  // namespace sy::store
