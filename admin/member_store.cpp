// Pool member runtime state in sy_member_state: one upsert per change, one read at start.

#include "admin/member_store.h"

#include "admin/db_error.h"

namespace sy::admin {

using routing::Db;
using routing::Row;

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
                             "member state: pool and member are required");
  }
  if (m.weight < 0) {
    return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                             "member " + m.pool + "/" + m.member + ": weight " +
                                 std::to_string(m.weight) + " is negative");
  }
  auto stmt = db.prepare(
      "INSERT INTO sy_member_state (pool, member, admin_state, weight, updated_at)"
      " VALUES (?, ?, ?, ?, NOW(6)) ON DUPLICATE KEY UPDATE admin_state = VALUES(admin_state),"
      " weight = VALUES(weight), updated_at = NOW(6)");
  if (!stmt) {
    return db_error("storing member " + m.pool + "/" + m.member, stmt.error());
  }
  auto r = stmt->bind(m.pool)
               .bind(m.member)
               .bind(to_string(m.admin))
               .bind(static_cast<int32_t>(m.weight))
               .exec();
  if (!r) {
    return db_error("storing member " + m.pool + "/" + m.member, r.error());
  }
  return ok_result();
}

Result<std::vector<MemberRuntime>> load_member_states(Db& db) {
  std::vector<MemberRuntime> out;
  std::string bad;
  auto r = db.query(
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
        out.push_back(std::move(m));
      });
  if (!r) {
    return db_error("reading sy_member_state", r.error());
  }
  if (!bad.empty()) {
    return make_tagged_error(Errc::Database, "database", "sy_member_state: " + bad);
  }
  return out;
}

}  // namespace sy::admin
