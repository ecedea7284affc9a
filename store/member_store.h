#pragma once
// Runtime state of pool members set through the admin socket (drain, maintenance, ready,
// weight), stored in sy_member_state, and the members themselves added, changed or removed at
// runtime (sy_pool_members), so it survives restarts and reaches every instance
// (DESIGN decision 7). Blocks: admin thread only.

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/db.h"

namespace sy::store {

enum class MemberAdmin { Ready, Drain, Maintenance };
const char* to_string(MemberAdmin m);  // "ready", "drain", "maintenance"
bool parse_member_admin(const std::string& word, MemberAdmin* out);

struct MemberRuntime {
  std::string pool;
  std::string member;  // "host:port" as in the YAML
  MemberAdmin admin = MemberAdmin::Ready;
  int weight = 0;  // 0 = the YAML weight
  int64_t updated_unix_ms = 0;
};

Result<Unit> store_member_state(Db& db, const MemberRuntime& m);
Result<std::vector<MemberRuntime>> load_member_states(Db& db);

// A pool member added, changed or removed at runtime (`pool member add|set|remove`), stored in
// sy_pool_members. Overlays the YAML's members of |pool|: the database wins (app/member_sync.h).
struct PoolMemberRow {
  std::string pool;
  std::string member;    // "host:port"
  int weight = 1;        // 1..256
  std::string tls_name;  // TLS pools: SNI / name to verify; "" = the pool's
  bool removed = false;  // a tombstone: the member is gone, even when the YAML lists it
  int64_t updated_unix_ms = 0;
  bool operator==(const PoolMemberRow&) const = default;
};

Result<Unit> store_pool_member(Db& db, const PoolMemberRow& m);
Result<std::vector<PoolMemberRow>> load_pool_members(Db& db);

// A pool added, changed or removed at runtime (`pool add|remove`), stored in sy_pools. Overlays
// the YAML's pools by name: the database wins (app/pool_sync.h).
struct PoolRow {
  std::string name;
  std::string spec;      // the pool's settings as a YAML flow mapping (conf::parse_pool_settings)
  bool removed = false;  // a tombstone: the pool is gone, even when the YAML lists it
  int64_t updated_unix_ms = 0;
  bool operator==(const PoolRow&) const = default;
};

Result<Unit> store_pool(Db& db, const PoolRow& p);
Result<std::vector<PoolRow>> load_pools(Db& db);

}  // namespace sy::store
