// The admin commands of a pool member's runtime state (rows in admin/command_text.cpp,
// dispatched by admin/commands.cpp): `pool member drain|maintenance|ready|weight|wait`. The
// state is stored in the state database when there is one and applied here through
// AdminContext::set_member; find_member, change_member and timeout_option are shared with
// admin/commands_pools.cpp (admin/commands_internal.h).

#include <chrono>
#include <memory>

#include "admin/commands_internal.h"
#include "store/db.h"
#include "store/member_store.h"

namespace sy::admin::detail {

// --- pool members ------------------------------------------------------------------------------

std::optional<Reply> find_member(CommandEnv& env, const std::string& pool,
                                 const std::string& member, MemberView* out) {
  for (const auto& p : env.ctx->pools()) {
    if (p.name != pool) {
      continue;
    }
    for (const auto& m : p.members) {
      if (m.address == member) {
        *out = m;
        return std::nullopt;
      }
    }
    std::string known;
    for (const auto& m : p.members) {
      known += (known.empty() ? "" : ", ") + m.address;
    }
    return error_reply("not-found",
                       "pool " + pool + " has no member " + member + " (members: " + known + ")");
  }
  return error_reply("not-found", "no pool named " + pool);
}

Reply change_member(CommandEnv& env, const MemberRuntime& m, const std::string& what) {
  bool persisted = false;
  if (env.stores->has_state()) {
    auto db = env.stores->state();
    if (!db.ok()) {
      return error_reply(db.error());
    }
    // One upsert; concurrent admin writes through other Galera nodes fail it with 1213.
    auto r = store::with_conflict_retries([&] { return store_member_state(**db, m); });
    if (!r.ok()) {
      return error_reply(r.error());
    }
    persisted = true;
  }
  if (!env.ctx->set_member(m)) {
    return error_reply("not-found", "member " + m.pool + "/" + m.member + " is not known here");
  }
  return ok_reply(Json::object()
                      .set("message", "member " + m.pool + "/" + m.member + " " + what +
                                          (persisted ? "" : " (not persisted: no state database)"))
                      .set("pool", m.pool)
                      .set("member", m.member)
                      .set("admin", to_string(m.admin))
                      .set("weight_override", m.weight)
                      .set("persisted", persisted));
}

namespace {

Reply member_admin(CommandEnv& env, const Args& a, MemberAdmin state) {
  MemberView view;
  if (auto err = find_member(env, a.positional[0], a.positional[1], &view)) {
    return *err;
  }
  MemberRuntime m;
  m.pool = a.positional[0];
  m.member = a.positional[1];
  m.admin = state;
  m.weight = view.weight_override;
  m.updated_unix_ms = now_unix_ms();
  return change_member(env, m, std::string("is now ") + to_string(state));
}

}  // namespace

// Drains the member; when tunnels (upgraded connections, which may live for hours) are open to
// it, waits up to --tunnel-wait for their peers to close them, then cuts the rest, and says
// how many were cut.
Reply cmd_member_drain(CommandEnv& env, const Args& a) {
  conf::Millis bound{30000};
  if (a.has("--tunnel-wait") && !conf::parse_duration(a.get("--tunnel-wait"), &bound)) {
    return error_reply("invalid-argument", "--tunnel-wait '" + a.get("--tunnel-wait") +
                                               "' is not a duration (e.g. 30s)");
  }
  Reply r = member_admin(env, a, MemberAdmin::Drain);
  MemberView view;
  if (!r.ok || !env.ctx->cut_tunnels || find_member(env, a.positional[0], a.positional[1], &view) ||
      view.tunnels == 0) {
    return r;
  }
  AdminContext* ctx = env.ctx;
  std::string pool = a.positional[0];
  std::string member = a.positional[1];
  const Json* msg = r.doc.find("message");
  std::string drained = msg != nullptr ? msg->scalar_text() : std::string();
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + bound;
  struct Cut {
    bool done = false;
    uint64_t count = 0;
    std::chrono::steady_clock::time_point deadline;
  };
  auto cut = std::make_shared<Cut>();
  r.poll = [ctx, pool, member, drained, start, deadline, cut]() -> std::optional<Reply> {
    uint64_t open = 0;
    for (const auto& p : ctx->pools()) {
      for (const auto& m : p.members) {
        if (p.name == pool && m.address == member) {
          open = m.tunnels;
        }
      }
    }
    auto now = std::chrono::steady_clock::now();
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - start).count();
    if (open == 0) {
      return ok_reply(Json::object()
                          .set("message", drained + "; its tunnels closed after " +
                                              std::to_string(waited) + " ms, " +
                                              std::to_string(cut->count) + " cut")
                          .set("pool", pool)
                          .set("member", member)
                          .set("admin", "drain")
                          .set("tunnels_cut", cut->count)
                          .set("waited_ms", waited));
    }
    if (!cut->done && now >= deadline) {
      cut->done = true;
      cut->count = open;
      cut->deadline = now + std::chrono::seconds(5);  // each closes at its next tick (<= 1 s)
      ctx->cut_tunnels(pool, member);
      return std::nullopt;
    }
    if (cut->done && now >= cut->deadline) {
      return error_reply("timeout", "member " + pool + "/" + member + ": " + std::to_string(open) +
                                        " tunnel(s) still open " + std::to_string(waited) +
                                        " ms after the drain");
    }
    return std::nullopt;
  };
  return r;
}
Reply cmd_member_maintenance(CommandEnv& env, const Args& a) {
  return member_admin(env, a, MemberAdmin::Maintenance);
}
Reply cmd_member_ready(CommandEnv& env, const Args& a) {
  return member_admin(env, a, MemberAdmin::Ready);
}

Reply cmd_member_weight(CommandEnv& env, const Args& a) {
  int weight = 0;
  if (!parse_int(a.positional[2], &weight) || weight < 0 || weight > 256) {
    return error_reply("invalid-argument", "weight '" + a.positional[2] +
                                               "' is not an integer in 0..256 (0 = the YAML "
                                               "weight)");
  }
  MemberView view;
  if (auto err = find_member(env, a.positional[0], a.positional[1], &view)) {
    return *err;
  }
  MemberRuntime m;
  m.pool = a.positional[0];
  m.member = a.positional[1];
  m.admin = view.admin;
  m.weight = weight;
  m.updated_unix_ms = now_unix_ms();
  return change_member(env, m,
                       weight == 0 ? "weight reset to the YAML weight"
                                   : "weight is now " + std::to_string(weight));
}

std::optional<Reply> timeout_option(const Args& a, conf::Millis* timeout) {
  if (a.has("--timeout") && !conf::parse_duration(a.get("--timeout"), timeout)) {
    return error_reply("invalid-argument",
                       "--timeout '" + a.get("--timeout") + "' is not a duration (e.g. 30s)");
  }
  return std::nullopt;
}

Reply cmd_member_wait(CommandEnv& env, const Args& a) {
  conf::Millis timeout{30000};
  if (auto err = timeout_option(a, &timeout)) {
    return *err;
  }
  MemberView view;
  if (auto err = find_member(env, a.positional[0], a.positional[1], &view)) {
    return *err;
  }
  std::string pool = a.positional[0];
  std::string member = a.positional[1];
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + timeout;
  AdminContext* ctx = env.ctx;
  Reply r;
  r.poll = [ctx, pool, member, start, deadline]() -> std::optional<Reply> {
    MemberView now;
    bool found = false;
    for (const auto& p : ctx->pools()) {
      for (const auto& m : p.members) {
        if (p.name == pool && m.address == member) {
          now = m;
          found = true;
        }
      }
    }
    if (!found) {
      return error_reply("not-found", "member " + pool + "/" + member + " disappeared");
    }
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
    if (now.inflight == 0) {
      return ok_reply(Json::object()
                          .set("message", "member " + pool + "/" + member +
                                              " has no request in flight (" + to_string(now.admin) +
                                              ", waited " + std::to_string(waited) + " ms)")
                          .set("inflight", 0)
                          .set("admin", to_string(now.admin))
                          .set("waited_ms", waited));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string why = std::to_string(now.inflight) + " request(s) still in flight after " +
                        std::to_string(waited) + " ms";
      if (now.admin == MemberAdmin::Ready) {
        why += "; the member is ready, so new requests keep arriving (drain it first)";
      } else {
        why += " (" + std::string(to_string(now.admin)) + ": long-running requests)";
      }
      return error_reply("timeout", "member " + pool + "/" + member + ": " + why);
    }
    return std::nullopt;
  };
  return r;
}

}  // namespace sy::admin::detail
