// conf/load.h: what issue 13 added to pools and members: `sticky` and members' `route`,
// `unix:` member addresses, `send_proxy`; defaults, and errors at their file:line:col.

#include "conf/load.h"
#include "unit/conf/load_helpers.h"

#include <catch.hpp>

#include <string>

using namespace sy::conf;
using namespace sy::conf::test;

namespace {

// A valid document with the pool's |sticky| lines (from line 5) and its |members| after them.
std::string with_sticky(const std::string& sticky, const std::string& members) {
  return "listeners:\n"                               // 1
         "  - {name: main, port: 8080, pool: app}\n"  // 2
         "pools:\n"                                   // 3
         "  - name: app\n"                            // 4
         + sticky + "    members:\n" + members;
}

// A valid document whose pool has |pool_lines| (from line 5) and then the members list.
std::string with_pool(const std::string& pool_lines, const std::string& members) {
  return with_sticky(pool_lines, members);
}

const std::string kRouted =
    "      - {address: 127.0.0.1:9001, route: node1}\n"
    "      - {address: 127.0.0.1:9002, route: node2}\n";

}  // namespace

TEST_CASE("sticky insert mode: cookie SYSRV by default, routes or a secret name members") {
  LoadResult r = load_config_string(with_sticky("    sticky: {mode: insert}\n", kRouted));
  INFO(all(r));
  REQUIRE(r.ok());
  const Sticky& s = r.config.pools[0].sticky;
  CHECK(s.mode == StickyMode::Insert);
  CHECK(s.cookie == "SYSRV");
  CHECK(s.max_age.count() == 0);
  CHECK(r.config.pools[0].members[1].route == "node2");

  r = load_config_string(with_sticky(
      "    sticky: {mode: insert, cookie: SRV, secret: k, max_age: 1h}\n",
      "      - {address: 127.0.0.1:9001}\n"));
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.config.pools[0].sticky.cookie == "SRV");
  CHECK(r.config.pools[0].sticky.secret == "k");
  CHECK(r.config.pools[0].sticky.max_age.count() == 3600000);
}

TEST_CASE("sticky route mode reads JSESSIONID by default") {
  LoadResult r = load_config_string(with_sticky("    sticky: {mode: route}\n", kRouted));
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.config.pools[0].sticky.mode == StickyMode::Route);
  CHECK(r.config.pools[0].sticky.cookie == "JSESSIONID");
  CHECK(load_config_string(with_sticky("", kRouted)).config.pools[0].sticky.mode ==
        StickyMode::Off);
}

TEST_CASE("sticky errors") {
  require_one_error(with_sticky("    sticky: {mode: insert}\n",
                                "      - {address: 127.0.0.1:9001}\n"),
                    7, 9, "pools[0].members[0]", "has no route and pools[0].sticky has no secret");
  require_one_error(with_sticky("    sticky: {mode: route}\n",
                                "      - {address: 127.0.0.1:9001, route: a}\n"
                                "      - {address: 127.0.0.1:9002}\n"),
                    8, 9, "pools[0].members[1]", "has no route");
  require_one_error(with_sticky("    sticky: {mode: route}\n",
                                "      - {address: 127.0.0.1:9001, route: a}\n"
                                "      - {address: 127.0.0.1:9002, route: a}\n"),
                    8, 42, "pools[0].members[1].route", "duplicate route \"a\" (first at line 7)");
  require_one_error(with_sticky("    sticky: {mode: sometimes}\n", kRouted), 5, 20,
                    "pools[0].sticky.mode", "expected one of: insert, route");
  require_one_error(with_sticky("    sticky: {mode: insert, cookie: \"a b\"}\n", kRouted), 5, 36,
                    "pools[0].sticky.cookie", "expected a cookie name");
  require_one_error(with_sticky("", "      - {address: 127.0.0.1:9001, route: a.b}\n"), 6, 42,
                    "pools[0].members[0].route", "expected a route");
  require_one_error(with_sticky("    balance: cookie\n", kRouted), 5, 14, "pools[0].balance",
                    "the pool's `sticky` mapping");
}

TEST_CASE("unix: members") {
  LoadResult r = load_config_string(with_pool("", "      - {address: \"unix:/run/app.sock\"}\n"
                                                  "      - {address: 127.0.0.1:9002}\n"));
  INFO(all(r));
  REQUIRE(r.ok());
  const Member& m = r.config.pools[0].members[0];
  CHECK(m.address == "unix:/run/app.sock");
  CHECK(m.unix_path == "/run/app.sock");
  CHECK(m.host.empty());
  CHECK(m.port == 0);
  CHECK(r.config.pools[0].members[1].unix_path.empty());

  require_one_error(with_pool("", "      - {address: \"unix:run/app.sock\"}\n"), 6, 19,
                    "pools[0].members[0].address", "expected unix: and an absolute path");
  require_one_error(with_pool("", "      - {address: \"unix:/" + std::string(107, 'a') + "\"}\n"),
                    6, 19, "pools[0].members[0].address", "108 bytes long (at most 107)");
  require_one_error(with_pool("", "      - {address: \"unix:/a\"}\n"
                                  "      - {address: \"unix:/a\"}\n"),
                    7, 19, "pools[0].members[1].address", "duplicate member unix:/a");
  require_one_error(with_pool("    tls: {}\n", "      - {address: \"unix:/a\"}\n"), 7, 19,
                    "pools[0].members[0].address", "needs pools[0].tls.server_name");
  CHECK(load_config_string(with_pool("    tls: {server_name: app.internal}\n",
                                     "      - {address: \"unix:/a\"}\n"))
            .ok());
}

TEST_CASE("members added at runtime: one address parser, and what a pool refuses") {
  Member m;
  std::string why;
  REQUIRE(parse_member_address("unix:/run/x.sock", &m, &why));  // `pool member add`'s parser
  CHECK(m.unix_path == "/run/x.sock");
  CHECK(m.host.empty());
  REQUIRE(parse_member_address("127.0.0.1:80", &m, &why));  // reused: no unix path left over
  CHECK(m.unix_path.empty());
  CHECK_FALSE(parse_member_address("unix:x.sock", &m, &why));
  CHECK(why.find("absolute path") != std::string::npos);

  Pool pool;
  pool.name = "app";
  Member unix_member;
  REQUIRE(parse_member_address("unix:/run/x.sock", &unix_member, &why));
  CHECK(runtime_member_problem(pool, unix_member, "") == "");
  pool.tls.enabled = true;
  CHECK(runtime_member_problem(pool, unix_member, "").find("needs a TLS name") !=
        std::string::npos);
  CHECK(runtime_member_problem(pool, unix_member, "app.internal") == "");
  pool.tls.enabled = false;
  pool.sticky.mode = StickyMode::Insert;
  CHECK(runtime_member_problem(pool, unix_member, "").find("without sticky.secret") !=
        std::string::npos);
  pool.sticky.secret = "k";
  CHECK(runtime_member_problem(pool, unix_member, "") == "");
  pool.sticky.mode = StickyMode::Route;
  CHECK(runtime_member_problem(pool, unix_member, "").find("sticky by route") !=
        std::string::npos);
}

TEST_CASE("send_proxy: v1 | v2 | off, HTTP/1.1 cleartext pools only") {
  LoadResult r = load_config_string(with_pool("", kRouted));
  CHECK(r.config.pools[0].send_proxy == SendProxy::Off);
  r = load_config_string(with_pool("    send_proxy: v2\n", kRouted));
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.config.pools[0].send_proxy == SendProxy::V2);
  CHECK(load_config_string(with_pool("    send_proxy: v1\n", kRouted)).config.pools[0].send_proxy ==
        SendProxy::V1);
  require_one_error(with_pool("    send_proxy: v3\n", kRouted), 5, 17, "pools[0].send_proxy",
                    "expected one of: off, v1, v2");
  require_one_error(with_pool("    send_proxy: v1\n    protocol: h2\n", kRouted), 5, 17,
                    "pools[0].send_proxy", "needs protocol http1");
  require_one_error(with_pool("    send_proxy: v1\n    tls: {}\n", kRouted), 5, 17,
                    "pools[0].send_proxy", "not supported with tls");
}
