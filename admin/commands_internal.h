#pragma once
// What the parts of the admin command table share (private to admin/commands*.cpp): the
// handlers each part defines, for handler_of in admin/commands.cpp, and the helpers more than
// one part uses. The parts: admin/commands.cpp (replies, dispatch, help, show, reload,
// reopen-logs, upgrade binary), admin/commands_upgrade.cpp (cluster, servers and schemas,
// upgrade), admin/commands_members.cpp (a pool member's runtime state: drain, maintenance,
// ready, weight, wait), admin/commands_pools.cpp (members and pools added and removed at
// runtime). Admin thread only.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "admin/commands.h"
#include "admin/directory.h"
#include "admin/protocol.h"
#include "admin/server.h"
#include "conf/load.h"

namespace sy::admin::detail {

inline int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline bool parse_int(const std::string& text, int* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc{} && end == text.data() + text.size() && !text.empty();
}

// admin.live_within in whole seconds (at least 1): the heartbeat age of a live instance.
inline std::chrono::seconds live_within(const CommandEnv& env) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(env.options->admin.live_within);
  return std::max(s, std::chrono::seconds(1));
}

inline Json server_json(const ServerInfo& s) {
  return Json::object()
      .set("id", s.id)
      .set("name", s.name)
      .set("pool", s.pool)
      .set("version", s.version)
      .set("redirect_url", s.redirect_url);
}

// A stored time for people (ISO 8601, UTC); "" for 0 (not yet).
inline std::string iso(int64_t unix_ms) {
  return unix_ms == 0 ? std::string() : format_time(unix_ms, false);
}

// --- shared by the pool member commands (defined in admin/commands_members.cpp) ----------------

// Finds |pool| / |member| in the proxy's view; an error reply when either is unknown.
std::optional<Reply> find_member(CommandEnv& env, const std::string& pool,
                                 const std::string& member, MemberView* out);

// Stores (when there is a database) and applies a member's runtime state.
Reply change_member(CommandEnv& env, const MemberRuntime& m, const std::string& what);

// --timeout DURATION of the waiting commands (default: |*timeout| as it is).
std::optional<Reply> timeout_option(const Args& a, conf::Millis* timeout);

// --- the handlers of the parts (rows in admin/command_text.cpp) --------------------------------

// admin/commands_upgrade.cpp
Reply cmd_cluster_status(CommandEnv& env, const Args& a);
Reply cmd_cluster_history(CommandEnv& env, const Args& a);
Reply cmd_cluster_prepare(CommandEnv& env, const Args& a);
Reply cmd_cluster_mixed(CommandEnv& env, const Args& a);
Reply cmd_cluster_ready(CommandEnv& env, const Args& a);
Reply cmd_cluster_approve(CommandEnv& env, const Args& a);
Reply cmd_cluster_cancel(CommandEnv& env, const Args& a);
Reply cmd_server_register(CommandEnv& env, const Args& a);
Reply cmd_server_update(CommandEnv& env, const Args& a);
Reply cmd_schema_disable(CommandEnv& env, const Args& a);
Reply cmd_schema_enable(CommandEnv& env, const Args& a);
Reply cmd_schema_move(CommandEnv& env, const Args& a);
Reply cmd_schema_update(CommandEnv& env, const Args& a);
Reply cmd_upgrade_schemata(CommandEnv& env, const Args& a);
Reply cmd_upgrade_status(CommandEnv& env, const Args& a);
Reply cmd_upgrade_pause(CommandEnv& env, const Args& a);
Reply cmd_upgrade_resume(CommandEnv& env, const Args& a);
Reply cmd_upgrade_abort(CommandEnv& env, const Args& a);

// admin/commands_members.cpp
Reply cmd_member_drain(CommandEnv& env, const Args& a);
Reply cmd_member_maintenance(CommandEnv& env, const Args& a);
Reply cmd_member_ready(CommandEnv& env, const Args& a);
Reply cmd_member_weight(CommandEnv& env, const Args& a);
Reply cmd_member_wait(CommandEnv& env, const Args& a);

// admin/commands_pools.cpp
Reply cmd_member_add(CommandEnv& env, const Args& a);
Reply cmd_member_set(CommandEnv& env, const Args& a);
Reply cmd_member_remove(CommandEnv& env, const Args& a);
Reply cmd_pool_add(CommandEnv& env, const Args& a);
Reply cmd_pool_remove(CommandEnv& env, const Args& a);

}  // namespace sy::admin::detail
