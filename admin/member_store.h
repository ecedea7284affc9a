#pragma once
// Runtime state of pool members set through the admin socket (drain, maintenance, ready,
// weight), stored in sy_member_state so it survives restarts and reaches every instance
// (DESIGN decision 7). Blocks: admin thread only.

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "routing/db.h"

namespace sy::admin {

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

Result<Unit> store_member_state(routing::Db& db, const MemberRuntime& m);
Result<std::vector<MemberRuntime>> load_member_states(routing::Db& db);

}  // namespace sy::admin
