// Pool member runtime state in sy_member_state: one upsert per change, one read at start.

#include "store/member_store.h"

#include "store/db_error.h"
#include "store/query.h"

namespace sy::store {

const char* to_string(MemberAdmin m) {
  switch (m) {
  case MemberAdmin::Ready: return "ready";
  case MemberAdmin::Drain: return "drain";
  case MemberAdmin::Maintenance: return "maintenance";
  }
  return "?";
}

bool parse_member_admin(const std::string& word, MemberAdmin* out) {
  for (MemberAdmin m : {MemberAdmin::Ready, MemberAdmin::Drain, MemberAdmin::Maintenance}) {
    if (word == to_string(m)) {
      *out = m;
      return true;
    }
  }
  return false;
}

Result<Unit> store_member_state(Db& db, const MemberRuntime& m) {
  if (m.pool.empty() || m.member.empty()) {
    return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                             "member state: pool and member are required", ErrorSource::Downstream);
  }
  if (m.weight < 0) {
    return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                             "member " + m.pool + "/" + m.member + ": weight " +
                                 std::to_string(m.weight) + " is negative",
                             ErrorSource::Downstream);
  }
  return in_context(
      "storing member " + m.pool + "/" + m.member,
      done(exec(db,
                "INSERT INTO sy_member_state (pool, member, admin_state, weight,"
                " updated_at) VALUES (?, ?, ?, ?, NOW(6)) ON DUPLICATE KEY UPDATE"
                " admin_state = VALUES(admin_state), weight = VALUES(weight),"
                " updated_at = NOW(6)",
                m.pool, m.member, to_string(m.admin), static_cast<int32_t>(m.weight))));
}

Result<std::vector<MemberRuntime>> load_member_states(Db& db) {
  std::string bad;
  auto rows = query_all(
      db,
      "SELECT pool, member, admin_state, weight, CAST(UNIX_TIMESTAMP(updated_at) * 1000 AS SIGNED)"
      " FROM sy_member_state ORDER BY pool, member",
      [&](const Row& row) {
        MemberRuntime m;
        m.pool = row.str(1);
        m.member = row.str(2);
        if (!parse_member_admin(row.str(3), &m.admin) && bad.empty()) {
          bad = m.pool + "/" + m.member + ": admin_state '" + row.str(3) + "'";
        }
        m.weight = row.i32(4);
        m.updated_unix_ms = row.i64(5);
        return m;
      });
  if (!rows) {
    return db_error("reading sy_member_state", rows.error());
  }
  if (!bad.empty()) {
    return make_tagged_error(Errc::Database, "database", "sy_member_state: " + bad,
                             ErrorSource::Upstream);
  }
  return rows;
}

Result<Unit> store_pool_member(Db& db, const PoolMemberRow& m) {
  if (m.pool.empty() || m.member.empty()) {
    return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                             "pool member: pool and member are required", ErrorSource::Downstream);
  }
  if (m.weight < 1 || m.weight > 256) {
    return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                             "member " + m.pool + "/" + m.member + ": weight " +
                                 std::to_string(m.weight) + " is not in 1..256",
                             ErrorSource::Downstream);
  }
  return in_context(
      "storing pool member " + m.pool + "/" + m.member,
      done(exec(db,
                "INSERT INTO sy_pool_members (pool, member, weight, tls_name, removed, updated_at)"
                " VALUES (?, ?, ?, ?, ?, NOW(6)) ON DUPLICATE KEY UPDATE weight = VALUES(weight),"
                " tls_name = VALUES(tls_name), removed = VALUES(removed), updated_at = NOW(6)",
                m.pool, m.member, static_cast<int32_t>(m.weight), m.tls_name,
                static_cast<int32_t>(m.removed ? 1 : 0))));
}

Result<std::vector<PoolMemberRow>> load_pool_members(Db& db) {
  auto rows = query_all(db,
                        "SELECT pool, member, weight, tls_name, removed,"
                        " CAST(UNIX_TIMESTAMP(updated_at) * 1000 AS SIGNED)"
                        " FROM sy_pool_members ORDER BY pool, member",
                        [&](const Row& row) {
                          PoolMemberRow m;
                          m.pool = row.str(1);
                          m.member = row.str(2);
                          m.weight = row.i32(3);
                          m.tls_name = row.str(4);
                          m.removed = row.i32(5) != 0;
                          m.updated_unix_ms = row.i64(6);
                          return m;
                        });
  if (!rows) {
    return db_error("reading sy_pool_members", rows.error());
  }
  return rows;
}

Result<Unit> store_pool(Db& db, const PoolRow& p) {
  if (p.name.empty()) {
    return make_tagged_error(Errc::InvalidArgument, "invalid-argument", "pool: a name is required",
                             ErrorSource::Downstream);
  }
  return in_context("storing pool " + p.name,
                    done(exec(db,
                              "INSERT INTO sy_pools (name, spec, removed, updated_at)"
                              " VALUES (?, ?, ?, NOW(6)) ON DUPLICATE KEY UPDATE spec ="
                              " VALUES(spec), removed = VALUES(removed), updated_at = NOW(6)",
                              p.name, p.spec, static_cast<int32_t>(p.removed ? 1 : 0))));
}

Result<std::vector<PoolRow>> load_pools(Db& db) {
  auto rows = query_all(db,
                        "SELECT name, spec, removed,"
                        " CAST(UNIX_TIMESTAMP(updated_at) * 1000 AS SIGNED)"
                        " FROM sy_pools ORDER BY name",
                        [&](const Row& row) {
                          PoolRow p;
                          p.name = row.str(1);
                          p.spec = row.str(2);
                          p.removed = row.i32(3) != 0;
                          p.updated_unix_ms = row.i64(4);
                          return p;
                        });
  if (!rows) {
    return db_error("reading sy_pools", rows.error());
  }
  return rows;
}

}  // namespace sy::store
