// sy_cluster and sy_cluster_history.

#include "store/cluster_store.h"

#include "store/query.h"

namespace sy::store {

Result<std::optional<ClusterRow>> read_cluster_row(Db& db, bool for_update) {
  auto read = [](const Row& row) {
    return ClusterRow{row.str(1), row.u32(2), row.i64(3), row.str(4)};
  };
  constexpr const char* kRead =
      "SELECT state, target_server_id, CAST(UNIX_TIMESTAMP(since) * 1000 AS SIGNED),"
      " COALESCE(reason, '') FROM sy_cluster WHERE id = 1";
  constexpr const char* kLock =
      "SELECT state, target_server_id, CAST(UNIX_TIMESTAMP(since) * 1000 AS SIGNED),"
      " COALESCE(reason, '') FROM sy_cluster WHERE id = 1 FOR UPDATE";
  return query_one(db, for_update ? kLock : kRead, read);
}

Result<Unit> ensure_cluster_row(Db& db) {
  return done(exec(db, "INSERT IGNORE INTO sy_cluster (id, state) VALUES (1, 'STABLE')"));
}

Result<Unit> write_cluster_row(Db& db, const std::string& state, uint32_t target,
                               const std::string& reason) {
  return done(exec(db,
                   "UPDATE sy_cluster SET state = ?, target_server_id = ?, since = NOW(6),"
                   " reason = ? WHERE id = 1",
                   state, target, reason));
}

Result<Unit> append_cluster_history(Db& db, const std::string& from, const std::string& to,
                                    const std::string& event, const std::string& actor,
                                    const std::string& reason) {
  return done(exec(db,
                   "INSERT INTO sy_cluster_history (from_state, to_state, event, actor, reason)"
                   " VALUES (?, ?, ?, ?, ?)",
                   from, to, event, actor, reason));
}

Result<std::vector<ClusterHistoryRow>> read_cluster_history(Db& db, int limit) {
  return query_all(
      db,
      "SELECT CAST(UNIX_TIMESTAMP(at) * 1000 AS SIGNED), from_state, to_state, event, actor,"
      " COALESCE(reason, '') FROM sy_cluster_history ORDER BY id DESC LIMIT ?",
      [](const Row& row) {
        return ClusterHistoryRow{row.i64(1), row.str(2), row.str(3),
                                 row.str(4), row.str(5), row.str(6)};
      },
      static_cast<int64_t>(limit < 0 ? 0 : limit));
}

}  // namespace sy::store
