// The admin commands that add and remove members and pools at runtime (rows in
// admin/command_text.cpp, dispatched by admin/commands.cpp): `pool member add|set|remove`
// (sy_pool_members; app/member_sync.h) and `pool add|remove` (sy_pools; app/pool_sync.h). Each
// stores a row in the state database and applies every row here at once; the other instances
// follow at their next poll. A removal drains first and waits until nothing is in flight here.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>

#include "admin/commands_internal.h"
#include "store/db.h"
#include "store/member_store.h"

namespace sy::admin::detail {

// --- pool members at runtime (sy_pool_members; app/member_sync.h) ------------------------------

namespace {

// A reply the admin server polls until |inflight| says nothing of |what| is in flight here,
// then |finish|(milliseconds waited); past |timeout| an `ERR timeout` that says what |stays|.
Reply when_drained(std::string what, std::string stays, conf::Millis timeout,
                   std::function<uint64_t()> inflight, std::function<Reply(int64_t)> finish) {
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + timeout;
  Reply r;
  r.poll = [what = std::move(what), stays = std::move(stays), deadline, start,
            inflight = std::move(inflight), finish = std::move(finish)]() -> std::optional<Reply> {
    uint64_t n = inflight();
    auto now = std::chrono::steady_clock::now();
    int64_t waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - start).count();
    if (n == 0) {
      return finish(waited);
    }
    if (now < deadline) {
      return std::nullopt;
    }
    return error_reply("timeout", what + " not removed: " + std::to_string(n) +
                                      " request(s) still in flight after " +
                                      std::to_string(waited) + " ms; " + stays +
                                      " (run the command again, or with a longer --timeout)");
  };
  return r;
}

// Stores |row| with |put|, reads every row back with |get| and applies them all here at once
// with |apply| (the other instances follow at their next poll). The changes applied.
template <class Row, class Put, class Get, class Apply>
Result<std::vector<std::string>> store_and_apply(Stores* stores, const Row& row, Put put, Get get,
                                                 const Apply& apply) {
  auto db = stores->state();
  if (!db.ok()) {
    return db.error();
  }
  // One upsert each (idempotent): a Galera certification conflict (1213) is run again.
  if (auto r = store::with_conflict_retries([&] { return put(**db, row); }); !r.ok()) {
    return r.error();
  }
  auto rows = store::with_conflict_retries([&] { return get(**db); });
  if (!rows.ok()) {
    return rows.error();
  }
  return apply(*rows);
}

Result<std::vector<std::string>> store_and_apply(Stores* stores, AdminContext* ctx,
                                                 const store::PoolMemberRow& row) {
  return store_and_apply(stores, row, store::store_pool_member, store::load_pool_members,
                         ctx->apply_pool_members);
}

// `pool VERB` changes rows of the state database: an error reply without one.
std::optional<Reply> needs_state(CommandEnv& env, const std::string& verb, bool hooked,
                                 const char* what) {
  if (!env.stores->has_state() || !hooked) {
    return error_reply("unavailable", "pool " + verb + " needs the state database (" + what +
                                          " added at runtime live there, for every instance); "
                                          "configure database: or change the YAML and reload");
  }
  return std::nullopt;
}

// The common checks of `pool member add|set|remove`: a state database, a known pool, an
// address in the YAML's syntax; then --weight and --tls-name into |row|.
std::optional<Reply> member_row(CommandEnv& env, const Args& a, const std::string& verb,
                                store::PoolMemberRow* row) {
  if (auto err = needs_state(env, "member " + verb, bool(env.ctx->apply_pool_members), "members")) {
    return err;
  }
  row->pool = a.positional[0];
  bool pool_known = false;
  for (const auto& p : env.ctx->pools()) {
    pool_known = pool_known || p.name == row->pool;
  }
  if (!pool_known) {
    return error_reply("not-found", "no pool named " + row->pool + " (add it with pool add)");
  }
  conf::Member parsed;
  std::string why;
  if (!conf::parse_member_address(a.positional[1], &parsed, &why)) {
    return error_reply("invalid-argument", why);
  }
  row->member = parsed.address;
  if (a.has("--weight") &&
      (!parse_int(a.get("--weight"), &row->weight) || row->weight < 1 || row->weight > 256)) {
    return error_reply("invalid-argument",
                       "--weight '" + a.get("--weight") + "' is not an integer in 1..256");
  }
  if (a.has("--tls-name")) {
    row->tls_name = a.get("--tls-name");
  }
  if (verb == "add" && env.ctx->config != nullptr) {
    for (const auto& p : env.ctx->config->pools) {  // pool settings are fixed at start
      if (p.name == row->pool) {
        why = conf::runtime_member_problem(p, parsed, row->tls_name);
      }
    }
    if (!why.empty()) {
      return error_reply("invalid-argument", why);
    }
  }
  return std::nullopt;
}

Json changes_json(const std::vector<std::string>& applied) {
  Json changes = Json::array();
  for (const auto& c : applied) {
    changes.push(Json(c));
  }
  return changes;
}

Reply member_changed(const store::PoolMemberRow& row, const std::string& what,
                     const std::vector<std::string>& applied) {
  return ok_reply(Json::object()
                      .set("message", "member " + row.pool + "/" + row.member + " " + what +
                                          "; every instance applies it within one refresh")
                      .set("pool", row.pool)
                      .set("member", row.member)
                      .set("weight", row.weight)
                      .set("tls_name", row.tls_name)
                      .set("applied", changes_json(applied)));
}

}  // namespace

Reply cmd_member_add(CommandEnv& env, const Args& a) {
  store::PoolMemberRow row;
  if (auto err = member_row(env, a, "add", &row)) {
    return *err;
  }
  MemberView view;
  if (!find_member(env, row.pool, row.member, &view)) {
    return error_reply("conflict", "pool " + row.pool + " already has member " + row.member +
                                       " (from " + view.origin +
                                       "); change it with pool member set");
  }
  // A member removed before left its drain state behind: a new member starts ready.
  auto db = env.stores->state();
  if (!db.ok()) {
    return error_reply(db.error());
  }
  MemberRuntime ready;
  ready.pool = row.pool;
  ready.member = row.member;
  if (auto r = store::with_conflict_retries([&] { return store_member_state(**db, ready); });
      !r.ok()) {
    return error_reply(r.error());
  }
  auto applied = store_and_apply(env.stores, env.ctx, row);
  if (!applied.ok()) {
    return error_reply(applied.error());
  }
  env.ctx->set_member(ready);
  return member_changed(row, "added", *applied);
}

Reply cmd_member_set(CommandEnv& env, const Args& a) {
  store::PoolMemberRow row;
  if (auto err = member_row(env, a, "set", &row)) {
    return *err;
  }
  if (!a.has("--weight") && !a.has("--tls-name")) {
    return error_reply("usage", "pool member set POOL ADDRESS [--weight N] [--tls-name NAME]: "
                                "give at least one of them");
  }
  MemberView view;
  if (auto err = find_member(env, row.pool, row.member, &view)) {
    return *err;
  }
  if (!a.has("--weight")) {
    row.weight = view.base_weight;
  }
  if (!a.has("--tls-name")) {
    row.tls_name = view.tls_name;
  }
  auto applied = store_and_apply(env.stores, env.ctx, row);
  if (!applied.ok()) {
    return error_reply(applied.error());
  }
  return member_changed(row, "changed", *applied);
}

// Drains the member first (stored: every instance stops sending it new requests), waits until
// no request is in flight on it here, then stores the removal (a tombstone, so a YAML member
// stays removed) and applies it. An exchange still running on another instance when the
// removal reaches it finishes there: a removed member is retired, never cut.
Reply cmd_member_remove(CommandEnv& env, const Args& a) {
  conf::Millis timeout{30000};
  if (auto err = timeout_option(a, &timeout)) {
    return *err;
  }
  store::PoolMemberRow row;
  if (auto err = member_row(env, a, "remove", &row)) {
    return *err;
  }
  MemberView view;
  if (auto err = find_member(env, row.pool, row.member, &view)) {
    return *err;
  }
  row.weight = view.base_weight;
  row.tls_name = view.tls_name;
  row.removed = true;
  MemberRuntime drain;
  drain.pool = row.pool;
  drain.member = row.member;
  drain.admin = MemberAdmin::Drain;
  drain.weight = view.weight_override;
  Reply drained = change_member(env, drain, "is draining");
  if (!drained.ok) {
    return drained;
  }
  AdminContext* ctx = env.ctx;
  Stores* stores = env.stores;
  auto inflight = [ctx, row] {
    uint64_t n = 0;
    for (const auto& p : ctx->pools()) {
      for (const auto& m : p.members) {
        if (p.name == row.pool && m.address == row.member) {
          n = m.inflight;
        }
      }
    }
    return n;
  };
  auto finish = [ctx, stores, row](int64_t waited) {
    auto applied = store_and_apply(stores, ctx, row);
    if (!applied.ok()) {
      return error_reply(applied.error());
    }
    Reply done =
        member_changed(row, "removed after draining (" + std::to_string(waited) + " ms)", *applied);
    done.doc.set("waited_ms", waited);
    return done;
  };
  return when_drained("member " + row.pool + "/" + row.member, "it stays drained", timeout,
                      inflight, finish);
}

// --- pools at runtime (sy_pools; app/pool_sync.h) -----------------------------------------------

namespace {

Result<std::vector<std::string>> store_and_apply_pool(Stores* stores, AdminContext* ctx,
                                                      const store::PoolRow& row) {
  return store_and_apply(stores, row, store::store_pool, store::load_pools, ctx->apply_pools);
}

std::optional<Reply> pools_available(CommandEnv& env, const std::string& verb) {
  return needs_state(env, verb, bool(env.ctx->apply_pools), "pools");
}

const PoolView* find_pool(const std::vector<PoolView>& pools, const std::string& name) {
  for (const auto& p : pools) {
    if (p.name == name) {
      return &p;
    }
  }
  return nullptr;
}

// |value| as a YAML scalar: plain when it is a plain word (so integers and booleans stay what
// they are), else double-quoted (then only a string setting accepts it).
std::string yaml_scalar(const std::string& value) {
  bool plain = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
           c == '/';
  });
  if (plain && value[0] != '-') {
    return value;
  }
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out + "\"";
}

// `pool add` flag -> the key of a `pools` entry it sets (docs/configuration.md).
struct PoolFlag {
  const char* flag;
  const char* key;  // "tls.ca": inside the tls mapping
};
constexpr PoolFlag kPoolFlags[] = {
    {"--version", "version"},
    {"--balance", "balance"},
    {"--protocol", "protocol"},
    {"--connect-timeout", "connect_timeout"},
    {"--response-timeout", "response_timeout"},
    {"--stream-timeout", "stream_timeout"},
    {"--tunnel-timeout", "tunnel_timeout"},
    {"--max-idle-connections", "max_idle_connections"},
    {"--retries", "retries"},
    {"--tls-ca", "tls.ca"},
    {"--tls-server-name", "tls.server_name"},
    {"--tls-verify", "tls.verify"},
    {"--tls-min-version", "tls.min_version"},
    {"--tls-cert", "tls.cert"},
    {"--tls-key", "tls.key"},
    {"--health-check", "health_check.path"},
    {"--health-check-interval", "health_check.interval"},
    {"--health-check-timeout", "health_check.timeout"},
};

// The settings of `pool add NAME [flags]` as the YAML flow mapping stored in sy_pools.
std::string pool_spec(const std::string& name, const Args& a) {
  std::string top = "name: " + yaml_scalar(name);
  std::string tls, hc;
  for (const auto& f : kPoolFlags) {
    if (!a.has(f.flag)) {
      continue;
    }
    std::string key = f.key, value = a.get(f.flag);
    if (key == "protocol" && value == "h1") {
      value = "http1";  // the YAML's word
    }
    std::string* into = &top;
    if (key.rfind("tls.", 0) == 0) {
      into = &tls;
      key = key.substr(4);
    } else if (key.rfind("health_check.", 0) == 0) {
      into = &hc;
      key = key.substr(13);
    }
    *into += (into->empty() ? "" : ", ") + key + ": " + yaml_scalar(value);
  }
  if (!tls.empty() || a.has("--tls")) {
    top += ", tls: {" + tls + "}";
  }
  if (!hc.empty()) {
    top += ", health_check: {enabled: true, " + hc + "}";
  }
  return "{" + top + "}";
}

}  // namespace

Reply cmd_pool_add(CommandEnv& env, const Args& a) {
  if (auto err = pools_available(env, "add")) {
    return *err;
  }
  const std::string& name = a.positional[0];
  auto pools = env.ctx->pools();
  if (const PoolView* p = find_pool(pools, name)) {
    return error_reply("conflict", "pool " + name + " already exists (from " + p->origin +
                                       "); remove it first to change its settings");
  }
  store::PoolRow row;
  row.name = name;
  row.spec = pool_spec(name, a);
  conf::Pool parsed;
  std::string why;
  if (!conf::parse_pool_settings(row.spec, &parsed, &why)) {
    return error_reply("invalid-argument", why);
  }
  auto applied = store_and_apply_pool(env.stores, env.ctx, row);
  if (!applied.ok()) {
    return error_reply(applied.error());
  }
  return ok_reply(Json::object()
                      .set("message", "pool " + name +
                                          " added; every instance applies it within one refresh "
                                          "(add members with pool member add)")
                      .set("pool", name)
                      .set("spec", row.spec)
                      .set("applied", changes_json(*applied)));
}

// Refuses a referenced pool; drains every member (stored: every instance stops sending the pool
// new requests), waits until no request is in flight on it here, then stores the removal (a
// tombstone, so a YAML pool stays removed) and applies it: its members are retired on every
// worker (exchanges still running elsewhere finish there; idle connections close).
Reply cmd_pool_remove(CommandEnv& env, const Args& a) {
  conf::Millis timeout{30000};
  if (auto err = timeout_option(a, &timeout)) {
    return *err;
  }
  if (auto err = pools_available(env, "remove")) {
    return *err;
  }
  const std::string name = a.positional[0];
  auto pools = env.ctx->pools();
  const PoolView* pool = find_pool(pools, name);
  if (pool == nullptr) {
    return error_reply("not-found", "no pool named " + name);
  }
  auto refused = [name](const std::string& ref) {
    return error_reply("conflict", "pool " + name + " is referenced by " + ref +
                                       "; not removed (remove the reference first)");
  };
  if (std::string ref = env.ctx->pool_referenced_by(name); !ref.empty()) {
    return refused(ref);
  }
  for (const auto& m : pool->members) {
    MemberRuntime drain;
    drain.pool = name;
    drain.member = m.address;
    drain.admin = MemberAdmin::Drain;
    drain.weight = m.weight_override;
    if (Reply r = change_member(env, drain, "is draining"); !r.ok) {
      return r;
    }
  }
  AdminContext* ctx = env.ctx;
  Stores* stores = env.stores;
  auto inflight = [ctx, name] {
    uint64_t n = 0;
    for (const auto& p : ctx->pools()) {
      n += p.name == name ? p.active : 0;
    }
    return n;
  };
  auto finish = [ctx, stores, name, refused](int64_t waited) {
    if (std::string ref = ctx->pool_referenced_by(name); !ref.empty()) {
      return refused(ref);  // a server row may have named it meanwhile
    }
    store::PoolRow row;
    row.name = name;
    row.removed = true;
    auto applied = store_and_apply_pool(stores, ctx, row);
    if (!applied.ok()) {
      return error_reply(applied.error());
    }
    Reply done = ok_reply(Json::object()
                              .set("message", "pool " + name + " removed after draining (" +
                                                  std::to_string(waited) +
                                                  " ms); every instance applies it within one "
                                                  "refresh")
                              .set("pool", name)
                              .set("waited_ms", waited)
                              .set("applied", changes_json(*applied)));
    return done;
  };
  return when_drained("pool " + name, "its members stay drained", timeout, inflight, finish);
}

}  // namespace sy::admin::detail
