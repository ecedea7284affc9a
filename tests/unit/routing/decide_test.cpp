#include "routing/decide.h"

#include <catch.hpp>

#include <sstream>

using namespace sy::routing;

namespace {

// The status and JSON body the proxy would send for |r| (own envelope, native status).
std::string answer(const Reject& r) {
  CtxDetails details;
  details.context = r.context;
  if (r.server != nullptr) {
    details.server_id = r.server->id;
    details.server_name = r.server->name;
  }
  std::string body;
  int status = render_ctx_error(ErrorStyle{}, r.code, details, &body);
  return std::to_string(status) + " " + body;
}

std::string code_of(const Decision& d) { return ctx_info(std::get<Reject>(d).code).id; }

// ---- The exhaustive matrix ----------------------------------------------------------------------
//
// Pools here: 0 = "old", 1 = "new" ("far" is a pool this instance does not configure).
// Servers: 10 "s-old" (old), 11 "s-new" (new), 12 "s-far" (far); 99 is unknown.
// One context, id 100, in schema 0 ("oxdb_1"); login "user@x" -> 100.

enum class KeyKind { None, Id, Login, UnknownLogin };
enum class CtxState { Unknown, Disabled, Enabled };
enum class Placement {
  Served,               // the effective server's pool is one this instance serves
  ConfiguredNotServed,  // the other version's pool, configured here
  NotConfigured,        // pool "far", not configured here
  UnknownServer,        // server id not in the directory
  NoServer,             // neither context nor schema names a server
};
enum class Via { Context, Schema };  // where the effective server comes from

struct Case {
  Role role;
  KeyKind key;
  CtxState ctx;
  bool schema_enabled;
  Placement placement;
  Via via;
  bool redirect_url;
  MovedAction moved;
  bool loop_guard;
  NoKeyPolicy no_key;
  bool stale;  // RequestFacts::directory_stale
};

constexpr ContextId kCtx = 100;
constexpr const char* kTarget = "/appsuite/api/login?action=x&name=a%20b";
constexpr const char* kRedirectBase = "https://target.example.com/";
constexpr const char* kLocation =
    "https://target.example.com/appsuite/api/login?action=x&name=a%20b";

ServerId server_for(Placement p, Role role) {
  switch (p) {
  case Placement::Served: return role == Role::Old ? 10 : 11;
  case Placement::ConfiguredNotServed: return role == Role::Old ? 11 : 10;
  case Placement::NotConfigured: return 12;
  case Placement::UnknownServer: return 99;
  case Placement::NoServer: return 0;
  }
  return 0;
}

std::shared_ptr<const RoutingSnapshot> snapshot_for(const Case& c) {
  std::string url = c.redirect_url ? kRedirectBase : "";
  DirectoryData d;
  d.servers = {{10, "s-old", "old", "7", url},
               {11, "s-new", "new", "8", url},
               {12, "s-far", "far", "8", url}};
  ServerId sid = server_for(c.placement, c.role);
  ServerId ctx_server = 0;
  ServerId schema_server = sid;
  if (c.via == Via::Context && sid != 0) {
    // The schema names a server that would give a different answer: the context's must win.
    ctx_server = sid;
    schema_server = c.placement == Placement::Served ? 12 : server_for(Placement::Served, c.role);
  }
  d.schemas = {
      {"oxdb_0", SchemaState::Enabled, 10},
      {"oxdb_1", c.schema_enabled ? SchemaState::Enabled : SchemaState::Disabled, schema_server}};
  if (c.ctx != CtxState::Unknown) {
    d.contexts = {{kCtx, 1, ctx_server, c.ctx == CtxState::Enabled}};
  }
  d.contexts.push_back({7, 0, 0, true});  // a neighbour, never asked for
  d.logins = {{"user@x", kCtx}};
  return RoutingSnapshot::build(std::move(d), SnapshotInput{{"old", "new"}}, 1);
}

struct Expect {
  char kind;  // 'P'roxy, 'R'edirect, 'H'old, 'J' reject
  int pool = -1;
  uint32_t schema = 0;
  ContextId context = 0;
  bool moved = false;
  int status = 0;
  std::string code;
  bool stale = false;  // Hold::stale
};

Expect proxy(int pool, uint32_t schema, ContextId ctx, bool moved = false) {
  return Expect{'P', pool, schema, ctx, moved, 0, ""};
}
Expect rejected(int status, std::string code) {
  return Expect{'J', -1, 0, 0, false, status, std::move(code)};
}

// The policy of decide.h restated as the spec table reads, row by row.
Expect expected(const Case& c) {
  if (c.key == KeyKind::None) {
    return c.no_key == NoKeyPolicy::DefaultPool ? proxy(0, kNoSchema, 0)
                                                : rejected(404, "CTX-0001");
  }
  if (c.key == KeyKind::UnknownLogin) {
    return rejected(404, "CTX-0002");
  }
  if (c.ctx == CtxState::Unknown) {
    return rejected(404, "CTX-0003");
  }
  if (c.ctx == CtxState::Disabled) {
    return rejected(403, "CTX-0004");
  }
  if (!c.schema_enabled) {
    return Expect{'H', -1, 1, kCtx, false, 0, "", c.stale};
  }
  int own_pool = c.role == Role::Old ? 0 : 1;
  int other_pool = 1 - own_pool;
  switch (c.placement) {
  case Placement::Served:
    // Stale: an old instance cannot know whether the schema moved meanwhile; what a new one
    // serves has moved to it for good.
    if (c.stale && c.role == Role::Old) {
      return Expect{'H', -1, 1, kCtx, false, 0, "", true};
    }
    return proxy(own_pool, 1, kCtx);
  case Placement::UnknownServer:
  case Placement::NoServer: return rejected(502, "CTX-0010");
  case Placement::ConfiguredNotServed:
  case Placement::NotConfigured: break;
  }
  if (c.role == Role::New) {
    return rejected(409, "CTX-0012");
  }
  if (c.loop_guard) {
    return rejected(508, "CTX-0013");
  }
  if (c.moved == MovedAction::Proxy && c.placement == Placement::ConfiguredNotServed) {
    return proxy(other_pool, 1, kCtx, true);
  }
  if (c.redirect_url) {
    return Expect{'R', -1, 0, 0, false, 0, ""};
  }
  return rejected(502, "CTX-0011");
}

std::string describe(const Case& c) {
  std::ostringstream o;
  o << "role=" << (c.role == Role::Old ? "old" : "new") << " key=" << static_cast<int>(c.key)
    << " ctx=" << static_cast<int>(c.ctx) << " schema_enabled=" << c.schema_enabled
    << " placement=" << static_cast<int>(c.placement) << " via=" << static_cast<int>(c.via)
    << " redirect_url=" << c.redirect_url << " moved=" << static_cast<int>(c.moved)
    << " loop_guard=" << c.loop_guard << " no_key=" << static_cast<int>(c.no_key)
    << " stale=" << c.stale;
  return o.str();
}

std::string check_case(const Case& c) {
  auto snap = snapshot_for(c);
  std::vector<Header> headers = {{"Host", "evil.example.org"}, {"Accept", "*/*"}};
  if (c.loop_guard) {
    headers.push_back({"x-switchyard-redirected", "1"});
  }
  RequestFacts f;
  f.method = "POST";
  f.target = kTarget;
  f.host = "evil.example.org";
  f.headers = headers.data();
  f.header_count = headers.size();
  f.directory_stale = c.stale;

  ContextKey key;
  switch (c.key) {
  case KeyKind::None: break;
  case KeyKind::Id:
    key.kind = ContextKey::Id;
    key.id = kCtx;
    break;
  case KeyKind::Login:
    key.kind = ContextKey::Login;
    key.login = "user@x";
    break;
  case KeyKind::UnknownLogin:
    key.kind = ContextKey::Login;
    key.login = "ghost@x";
    break;
  }
  DecideConfig cfg;
  cfg.role = c.role;
  cfg.served_pools = {c.role == Role::Old ? 0 : 1};
  cfg.moved = c.moved;
  cfg.no_key = c.no_key;
  cfg.default_pool = 0;

  Decision d = decide(f, key, *snap, cfg);
  Expect e = expected(c);
  std::ostringstream bad;
  switch (e.kind) {
  case 'P': {
    const auto* p = std::get_if<Proxy>(&d);
    if (p == nullptr) {
      bad << "want proxy, got " << decision_name(d);
    } else if (p->pool != e.pool || p->schema != e.schema || p->context != e.context ||
               p->moved != e.moved) {
      bad << "proxy fields " << p->pool << "/" << p->schema << "/" << p->context << "/" << p->moved;
    }
    break;
  }
  case 'R': {
    const auto* r = std::get_if<Redirect>(&d);
    if (r == nullptr) {
      bad << "want redirect, got " << decision_name(d);
    } else if (r->location != kLocation) {
      bad << "location " << r->location;
    }
    break;
  }
  case 'H': {
    const auto* h = std::get_if<Hold>(&d);
    if (h == nullptr) {
      bad << "want hold, got " << decision_name(d);
    } else if (h->schema != 1 || h->context != kCtx || h->stale != e.stale) {
      bad << "hold fields " << h->schema << "/" << h->context << "/" << h->stale;
    }
    break;
  }
  default: {
    const auto* j = std::get_if<Reject>(&d);
    if (j == nullptr) {
      bad << "want reject " << e.code << ", got " << decision_name(d);
    } else if (ctx_info(j->code).status != e.status || ctx_info(j->code).id != e.code) {
      bad << "reject " << answer(*j) << ", want " << e.status << " " << e.code;
    }
    break;
  }
  }
  std::string s = bad.str();
  return s.empty() ? s : describe(c) + ": " + s;
}

}  // namespace

TEST_CASE("decide: every combination of the policy dimensions matches the table") {
  size_t cases = 0;
  size_t failures = 0;
  std::string first_failure;
  for (Role role : {Role::Old, Role::New}) {
    for (KeyKind key : {KeyKind::None, KeyKind::Id, KeyKind::Login, KeyKind::UnknownLogin}) {
      for (CtxState ctx : {CtxState::Unknown, CtxState::Disabled, CtxState::Enabled}) {
        for (bool schema_enabled : {false, true}) {
          for (Placement pl :
               {Placement::Served, Placement::ConfiguredNotServed, Placement::NotConfigured,
                Placement::UnknownServer, Placement::NoServer}) {
            for (Via via : {Via::Context, Via::Schema}) {
              for (bool url : {false, true}) {
                for (MovedAction moved : {MovedAction::Redirect, MovedAction::Proxy}) {
                  for (bool guard : {false, true}) {
                    for (NoKeyPolicy nk : {NoKeyPolicy::NotFound, NoKeyPolicy::DefaultPool}) {
                      for (bool stale : {false, true}) {
                        Case c{role,  key,   ctx, schema_enabled, pl, via, url,
                               moved, guard, nk,  stale};
                        std::string err = check_case(c);
                        ++cases;
                        if (!err.empty()) {
                          if (failures++ == 0) {
                            first_failure = err;
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  INFO(first_failure);
  CHECK(failures == 0);
  CHECK(cases == 2 * 4 * 3 * 2 * 5 * 2 * 2 * 2 * 2 * 2 * 2);
}

// ---- Hand-written rows: concrete bodies, locations and edge cases -------------------------------

namespace {

struct Fixture {
  std::shared_ptr<const RoutingSnapshot> snap;
  std::vector<Header> headers;
  RequestFacts facts;

  explicit Fixture(std::string redirect_url = "https://new.example.com//",
                   std::string new_server_name = "ox-8.0") {
    DirectoryData d;
    d.servers = {{1, "ox-7.10", "old", "7.10", ""},
                 {2, std::move(new_server_name), "new", "8.0", std::move(redirect_url)}};
    d.schemas = {{"oxdb_a", SchemaState::Enabled, 1},
                 {"oxdb_b", SchemaState::Enabled, 2},
                 {"oxdb_c", SchemaState::Disabled, 1}};
    d.contexts = {
        {1, 0, 0, true}, {2, 1, 0, true}, {3, 2, 0, true}, {4, 0, 0, false}, {5, 0, 2, true}};
    d.logins = {{"a@x", 2}};
    snap = RoutingSnapshot::build(std::move(d), SnapshotInput{{"old", "new"}}, 1);
    headers = {{"Host", "attacker.example"}};
    facts.method = "GET";
    facts.target = "/ox/api?session=1&x=%2F";
    facts.host = "attacker.example";
    refresh();
  }
  void refresh() {
    facts.headers = headers.data();
    facts.header_count = headers.size();
  }
};

ContextKey id_key(ContextId id) {
  ContextKey k;
  k.kind = ContextKey::Id;
  k.id = id;
  return k;
}

DecideConfig old_cfg(MovedAction moved = MovedAction::Redirect) {
  DecideConfig c;
  c.role = Role::Old;
  c.served_pools = {0};
  c.moved = moved;
  return c;
}

DecideConfig new_cfg() {
  DecideConfig c;
  c.role = Role::New;
  c.served_pools = {1};
  return c;
}

}  // namespace

TEST_CASE("decide: proxy carries pool, schema and context") {
  Fixture fx;
  Decision d = decide(fx.facts, id_key(1), *fx.snap, old_cfg());
  REQUIRE(std::holds_alternative<Proxy>(d));
  CHECK(std::get<Proxy>(d).pool == 0);
  CHECK(std::get<Proxy>(d).schema == 0);
  CHECK(std::get<Proxy>(d).context == 1);
  CHECK_FALSE(std::get<Proxy>(d).moved);
  CHECK(std::string(decision_name(d)) == "proxy");

  d = decide(fx.facts, id_key(5), *fx.snap, new_cfg());  // context's own server overrides
  REQUIRE(std::holds_alternative<Proxy>(d));
  CHECK(std::get<Proxy>(d).pool == 1);
}

TEST_CASE("decide: redirect location is redirect_url without trailing slashes plus the target") {
  Fixture fx;
  Decision d = decide(fx.facts, id_key(2), *fx.snap, old_cfg());
  REQUIRE(std::holds_alternative<Redirect>(d));
  CHECK(std::get<Redirect>(d).location == "https://new.example.com/ox/api?session=1&x=%2F");
  CHECK(std::string(decision_name(d)) == "redirect");

  fx.facts.target = "http://attacker.example:81/p/q?r";  // absolute-form: keep path and query
  d = decide(fx.facts, id_key(2), *fx.snap, old_cfg());
  CHECK(std::get<Redirect>(d).location == "https://new.example.com/p/q?r");

  fx.facts.target = "*";
  d = decide(fx.facts, id_key(2), *fx.snap, old_cfg());
  CHECK(std::get<Redirect>(d).location == "https://new.example.com/");
}

TEST_CASE("decide: a redirect_url that could inject a header line is treated as absent") {
  Fixture fx("https://new.example.com\r\nSet-Cookie: x=1");
  Decision d = decide(fx.facts, id_key(2), *fx.snap, old_cfg());
  REQUIRE(std::holds_alternative<Reject>(d));
  CHECK(code_of(d) == "CTX-0011");
  CHECK(answer(std::get<Reject>(d)).substr(0, 4) == "502 ");

  Fixture slash_only("///");
  d = decide(slash_only.facts, id_key(2), *slash_only.snap, old_cfg());
  CHECK(code_of(d) == "CTX-0011");
}

TEST_CASE("decide: moved context proxied to the new pool when configured so") {
  Fixture fx;
  Decision d = decide(fx.facts, id_key(2), *fx.snap, old_cfg(MovedAction::Proxy));
  REQUIRE(std::holds_alternative<Proxy>(d));
  CHECK(std::get<Proxy>(d).pool == 1);
  CHECK(std::get<Proxy>(d).schema == 1);
  CHECK(std::get<Proxy>(d).context == 2);
  CHECK(std::get<Proxy>(d).moved);
}

TEST_CASE("decide: reject bodies are exact JSON") {
  Fixture fx;
  auto body = [&](const ContextKey& k, const DecideConfig& c) {
    Decision d = decide(fx.facts, k, *fx.snap, c);
    REQUIRE(std::holds_alternative<Reject>(d));
    CHECK(std::string(decision_name(d)) == "reject");
    return answer(std::get<Reject>(d));
  };
  CHECK(body(ContextKey{}, old_cfg()) ==
        R"(404 {"error":"CTX-0001","message":"no tenant in request"})");
  ContextKey login;
  login.kind = ContextKey::Login;
  login.login = "nobody@x";
  CHECK(body(login, old_cfg()) == R"(404 {"error":"CTX-0002","message":"unknown login"})");
  CHECK(body(id_key(77), old_cfg()) ==
        R"(404 {"error":"CTX-0003","message":"unknown context","context":77})");
  CHECK(body(id_key(4), old_cfg()) ==
        R"(403 {"error":"CTX-0004","message":"context disabled","context":4})");
  CHECK(
      body(id_key(1), new_cfg()) ==
      R"(409 {"error":"CTX-0012","message":"context lives on another server","context":1,"server":"ox-7.10"})");
  fx.headers.push_back({"X-SWITCHYARD-REDIRECTED", "1"});
  fx.refresh();
  CHECK(
      body(id_key(2), old_cfg()) ==
      R"(508 {"error":"CTX-0013","message":"redirect loop stopped","context":2,"server":"ox-8.0"})");
}

TEST_CASE("decide: JSON escapes server names") {
  Fixture fx("", std::string("a\"b\\c\nd\x01") + "\xc3\xa9");
  Decision d = decide(fx.facts, id_key(2), *fx.snap, old_cfg());
  REQUIRE(std::holds_alternative<Reject>(d));
  CHECK(code_of(d) == "CTX-0011");
  CHECK(answer(std::get<Reject>(d)) ==
        "502 {\"error\":\"CTX-0011\",\"message\":\"context moved but its server has no redirect "
        "URL\",\"context\":2,\"server\":\"a\\\"b\\\\c\\nd\\u0001\xc3\xa9\"}");
}

TEST_CASE("decide: the loop guard header name is configurable and can be switched off") {
  Fixture fx;
  fx.headers.push_back({"X-Hop", "1"});
  fx.refresh();
  DecideConfig c = old_cfg();
  c.loop_guard_header = "x-hop";
  CHECK(code_of(decide(fx.facts, id_key(2), *fx.snap, c)) == "CTX-0013");
  c.loop_guard_header = "";
  CHECK(std::holds_alternative<Redirect>(decide(fx.facts, id_key(2), *fx.snap, c)));
  // A served context is proxied even when the guard header is present.
  c.loop_guard_header = "X-Hop";
  CHECK(std::holds_alternative<Proxy>(decide(fx.facts, id_key(1), *fx.snap, c)));
}

TEST_CASE("decide: no key with a default pool, and without one") {
  Fixture fx;
  DecideConfig c = old_cfg();
  c.no_key = NoKeyPolicy::DefaultPool;
  c.default_pool = 1;
  Decision d = decide(fx.facts, ContextKey{}, *fx.snap, c);
  REQUIRE(std::holds_alternative<Proxy>(d));
  CHECK(std::get<Proxy>(d).pool == 1);
  CHECK(std::get<Proxy>(d).schema == kNoSchema);
  CHECK(std::get<Proxy>(d).context == 0);
  c.default_pool = -1;
  d = decide(fx.facts, ContextKey{}, *fx.snap, c);
  REQUIRE(std::holds_alternative<Reject>(d));
  CHECK(answer(std::get<Reject>(d)).substr(0, 4) == "502 ");
  CHECK(code_of(d) == "CTX-0010");
}

TEST_CASE("decide: no key goes to the pool of the listener the request came in on") {
  // The listener's pool is policy, so decide() owns it (it used to be patched in by the
  // connection): with a listener pool in the facts it wins over default_pool, on either role;
  // without one (-1) default_pool applies.
  Fixture fx;
  for (DecideConfig c : {old_cfg(), new_cfg()}) {
    c.no_key = NoKeyPolicy::DefaultPool;
    c.default_pool = 1;
    RequestFacts facts = fx.facts;
    facts.listener_pool = 0;
    Decision d = decide(facts, ContextKey{}, *fx.snap, c);
    REQUIRE(std::holds_alternative<Proxy>(d));
    CHECK(std::get<Proxy>(d).pool == 0);
    CHECK(std::get<Proxy>(d).schema == kNoSchema);
    CHECK(std::get<Proxy>(d).context == 0);
    CHECK_FALSE(std::get<Proxy>(d).moved);
    c.default_pool = -1;  // the listener's pool needs no configured default
    d = decide(facts, ContextKey{}, *fx.snap, c);
    REQUIRE(std::holds_alternative<Proxy>(d));
    CHECK(std::get<Proxy>(d).pool == 0);
    facts.listener_pool = -1;
    d = decide(facts, ContextKey{}, *fx.snap, c);
    REQUIRE(std::holds_alternative<Reject>(d));
    CHECK(std::get<Reject>(d).code == CtxCode::NoPool);
    // A listener pool changes nothing when a key is there, nor under no_key: not_found.
    facts.listener_pool = 0;
    CHECK(std::holds_alternative<Hold>(decide(facts, id_key(3), *fx.snap, c)));
    c.no_key = NoKeyPolicy::NotFound;
    d = decide(facts, ContextKey{}, *fx.snap, c);
    REQUIRE(std::holds_alternative<Reject>(d));
    CHECK(std::get<Reject>(d).code == CtxCode::NoKey);
  }
}

TEST_CASE("decide: a failed schema is answered CTX-0022 at once on either role, never held") {
  DirectoryData d;
  d.servers = {{1, "ox-7.10", "old", "7.10", ""}, {2, "ox-8.0", "new", "8.0", "https://n"}};
  d.schemas = {{"oxdb_a", SchemaState::Failed, 2}, {"oxdb_b", SchemaState::Disabled, 2}};
  d.contexts = {{1, 0, 0, true}, {2, 0, 0, false}, {3, 1, 0, true}};
  auto snap = RoutingSnapshot::build(std::move(d), SnapshotInput{{"old", "new"}}, 1);
  CHECK(snap->schema_failed(0));
  CHECK_FALSE(snap->schema_enabled(0));
  CHECK_FALSE(snap->schema_failed(1));
  CHECK_FALSE(snap->schema_failed(7));  // an index this snapshot does not know
  RequestFacts facts;
  facts.method = "GET";
  facts.target = "/";
  for (const DecideConfig& c : {old_cfg(), new_cfg()}) {
    Decision r = decide(facts, id_key(1), *snap, c);
    REQUIRE(std::holds_alternative<Reject>(r));
    CHECK(std::get<Reject>(r).code == CtxCode::SchemaFailed);
    CHECK(std::get<Reject>(r).context == 1);
    // The tenant's own state comes first: a disabled context stays 403.
    r = decide(facts, id_key(2), *snap, c);
    REQUIRE(std::holds_alternative<Reject>(r));
    CHECK(std::get<Reject>(r).code == CtxCode::ContextDisabled);
    // Disabled without the failed mark: held, as before.
    CHECK(std::holds_alternative<Hold>(decide(facts, id_key(3), *snap, c)));
  }
}

TEST_CASE("decide: a stale directory holds what may have moved, keeps what cannot move back") {
  DirectoryData d;
  d.servers = {{1, "ox-7.10", "old", "7.10", ""}, {2, "ox-8.0", "new", "8.0", "https://n"}};
  d.schemas = {{"oxdb_a", SchemaState::Enabled, 1},
               {"oxdb_b", SchemaState::Disabled, 1},
               {"oxdb_c", SchemaState::Enabled, 2},
               {"oxdb_d", SchemaState::Failed, 1}};
  d.contexts = {{1, 0, 0, true}, {2, 1, 0, true}, {3, 2, 0, true}, {4, 3, 0, true}};
  auto snap = RoutingSnapshot::build(std::move(d), SnapshotInput{{"old", "new"}}, 1);
  RequestFacts facts;
  facts.method = "GET";
  facts.target = "/x";
  // Fresh: as ever.
  CHECK(std::holds_alternative<Proxy>(decide(facts, id_key(1), *snap, old_cfg())));
  Decision held = decide(facts, id_key(2), *snap, old_cfg());
  REQUIRE(std::holds_alternative<Hold>(held));
  CHECK_FALSE(std::get<Hold>(held).stale);

  facts.directory_stale = true;
  // Old role: a schema it serves may have moved meanwhile -> held, marked stale (503 CTX-0023
  // when the hold ends); a disabled one too; a moved one keeps its redirect or its proxy to
  // the new pool (the one-way door).
  Decision a = decide(facts, id_key(1), *snap, old_cfg());
  REQUIRE(std::holds_alternative<Hold>(a));
  CHECK(std::get<Hold>(a).stale);
  CHECK(std::get<Hold>(a).schema == 0);
  CHECK(std::get<Hold>(a).context == 1);
  Decision b = decide(facts, id_key(2), *snap, old_cfg());
  REQUIRE(std::holds_alternative<Hold>(b));
  CHECK(std::get<Hold>(b).stale);
  Decision c = decide(facts, id_key(3), *snap, old_cfg());
  REQUIRE(std::holds_alternative<Redirect>(c));
  CHECK(std::get<Redirect>(c).location == "https://n/x");
  Decision cp = decide(facts, id_key(3), *snap, old_cfg(MovedAction::Proxy));
  REQUIRE(std::holds_alternative<Proxy>(cp));
  CHECK(std::get<Proxy>(cp).moved);
  // A failed schema is still answered at once; unknown contexts as ever.
  CHECK(code_of(decide(facts, id_key(4), *snap, old_cfg())) == "CTX-0022");
  CHECK(code_of(decide(facts, id_key(9), *snap, old_cfg())) == "CTX-0003");
  // New role: what it serves has moved to it and cannot move back -> still proxied; a disabled
  // schema is held (and marked); one still on the old server is refused as before.
  CHECK(std::holds_alternative<Proxy>(decide(facts, id_key(3), *snap, new_cfg())));
  Decision nb = decide(facts, id_key(2), *snap, new_cfg());
  REQUIRE(std::holds_alternative<Hold>(nb));
  CHECK(std::get<Hold>(nb).stale);
  CHECK(code_of(decide(facts, id_key(1), *snap, new_cfg())) == "CTX-0012");
}

TEST_CASE("decide: disabled schema holds on either role, login keys resolve through the table") {
  Fixture fx;
  for (const DecideConfig& c : {old_cfg(), new_cfg()}) {
    Decision d = decide(fx.facts, id_key(3), *fx.snap, c);
    REQUIRE(std::holds_alternative<Hold>(d));
    CHECK(std::get<Hold>(d).schema == 2);
    CHECK(std::get<Hold>(d).context == 3);
    CHECK(std::string(decision_name(d)) == "hold");
  }
  ContextKey login;
  login.kind = ContextKey::Login;
  login.login = "a@x";
  Decision d = decide(fx.facts, login, *fx.snap, new_cfg());
  REQUIRE(std::holds_alternative<Proxy>(d));
  CHECK(std::get<Proxy>(d).context == 2);
  CHECK(std::get<Proxy>(d).pool == 1);
}

TEST_CASE("decide: an instance serving both pools proxies everything it knows") {
  Fixture fx;
  DecideConfig c = new_cfg();
  c.served_pools = {1, 0};
  CHECK(std::get<Proxy>(decide(fx.facts, id_key(1), *fx.snap, c)).pool == 0);
  CHECK(std::get<Proxy>(decide(fx.facts, id_key(2), *fx.snap, c)).pool == 1);
}

TEST_CASE("decide: Open-Xchange logins resolve the part after the last '@', case-insensitively") {
  DirectoryData d;
  d.servers = {{1, "ox-7.10", "old", "7.10", ""}};
  d.schemas = {{"oxdatabase_5", SchemaState::Enabled, 0}};
  d.contexts = {{1, 0, 1, true}, {2, 0, 1, true}, {3, 0, 1, true}};
  d.logins = {{"defaultcontext", 1}, {"Acme.Example.COM", 2}, {"2", 2}, {"we@ird", 3}};
  SnapshotInput in{{"old"}, true};
  auto snap = RoutingSnapshot::build(std::move(d), in, 1);
  DecideConfig c = old_cfg();
  c.served_pools = {0};
  c.login_style = LoginStyle::OxContextPart;
  RequestFacts f;
  auto context_of = [&](std::string login) -> std::string {
    ContextKey key;
    key.kind = ContextKey::Login;
    key.login = std::move(login);
    Decision dd = decide(f, key, *snap, c);
    if (const auto* p = std::get_if<Proxy>(&dd)) {
      return std::to_string(p->context);
    }
    return code_of(dd);
  };
  CHECK(context_of("john@acme.example.com") == "2");
  CHECK(context_of("JOHN@ACME.example.Com") == "2");
  CHECK(context_of("john") == "1");                       // no '@': the defaultcontext mapping
  CHECK(context_of("john@doe@acme.example.com") == "2");  // the LAST '@' splits
  CHECK(context_of("x@we@ird") == "CTX-0002");            // "ird" is not a mapping
  CHECK(context_of("john@2") == "2");                     // OX also maps the context id
  CHECK(context_of("john@") == "CTX-0002");
  CHECK(context_of("john@nowhere.example") == "CTX-0002");
  c.default_context_login = "acme.example.com";
  CHECK(context_of("john") == "2");

  // Whole-login style on a case-sensitive snapshot: byte for byte, as before.
  DirectoryData exact;
  exact.servers = {{1, "ox-7.10", "old", "7.10", ""}};
  exact.schemas = {{"s", SchemaState::Enabled, 1}};
  exact.contexts = {{5, 0, 0, true}};
  exact.logins = {{"User@X", 5}};
  snap = RoutingSnapshot::build(std::move(exact), SnapshotInput{{"old"}}, 2);
  c.login_style = LoginStyle::Whole;
  CHECK(context_of("User@X") == "5");
  CHECK(context_of("user@x") == "CTX-0002");
}
