// conf/load.h: pools in the YAML: pool references, member addresses (IP, host name, and the
// resolver block), health checks, duplicate members.

#include "conf/load.h"
#include "unit/conf/load_helpers.h"

#include <catch.hpp>

#include <string>

using namespace sy::conf;
using namespace sy::conf::test;

TEST_CASE("unknown pool reference") {
  require_one_error(doc({
                        "listeners:",
                        "  - name: main",
                        "    port: 8080",
                        "    pool: nwe",
                        "pools:",
                        "  - name: old",
                        "    members: [{address: '127.0.0.1:1'}]",
                        "  - name: new",
                        "    members: [{address: '127.0.0.1:2'}]",
                    }),
                    4, 11, "listeners[0].pool", "unknown pool \"nwe\" (expected one of: old, new)");
}

TEST_CASE("a pool whose name failed does not also cause an unknown-pool error") {
  require_one_error(doc({
                        "listeners: [{name: main, port: 8080, pool: old}]",
                        "pools:",
                        "  - name: [old]",
                        "    members: [{address: '127.0.0.1:1'}]",
                    }),
                    3, 11, "pools[0].name", "wrong type: expected a name, got a list");
}

TEST_CASE("member addresses") {
  auto with_member = [](const char* line) {
    return doc({
        "listeners: [{name: a, port: 1, pool: p}]",
        "pools:",
        "  - name: p",
        "    members:",
        line,
    });
  };
  const char* expected = "(expected ip:port, [v6]:port, hostname:port or unix:/path)";
  require_one_error(with_member("      - address: -bad.example:80"), 5, 18,
                    "pools[0].members[0].address", expected);
  require_one_error(with_member("      - address: 'app_1.internal:80'"), 5, 18,
                    "pools[0].members[0].address", expected);
  require_one_error(with_member("      - address: 1.2.3:80"), 5, 18, "pools[0].members[0].address",
                    expected);
  require_one_error(with_member("      - address: 127.0.0.1"), 5, 18, "pools[0].members[0].address",
                    expected);
  require_one_error(with_member("      - address: ::1:80"), 5, 18, "pools[0].members[0].address",
                    expected);
  require_one_error(with_member("      - address: '[127.0.0.1]:80'"), 5, 18,
                    "pools[0].members[0].address", expected);
  require_one_error(with_member("      - address: 127.0.0.1:http"), 5, 18,
                    "pools[0].members[0].address", expected);
  require_one_error(with_member("      - address: 127.0.0.1:0"), 5, 18,
                    "pools[0].members[0].address",
                    "port 0 in \"127.0.0.1:0\" is out of range (expected 1..65535)");
  require_one_error(with_member("      - address: 127.0.0.1:65536"), 5, 18,
                    "pools[0].members[0].address", "is out of range (expected 1..65535)");
}

TEST_CASE("host-name members and the resolver block") {
  auto r = sy::conf::load_config_string(doc({
      "listeners: [{name: a, port: 1, pool: p}]",
      "pools: [{name: p, members: [{address: 'app.internal:8080'}, {address: '10.0.0.1:80'}]}]",
      "resolver: {nameservers: ['127.0.0.1:5353', '::1', '10.0.0.53'], resolve_interval: 500ms}",
  }));
  REQUIRE(r.ok());
  CHECK(r.config.pools[0].members[0].host == "app.internal");
  CHECK(r.config.pools[0].members[0].port == 8080);
  CHECK(r.config.resolver.nameservers ==
        std::vector<std::string>{"127.0.0.1:5353", "[::1]:53", "10.0.0.53:53"});
  CHECK(r.config.resolver.resolve_interval == sy::conf::Millis{500});
  CHECK(r.config.resolver.timeout == sy::conf::Millis{2000});
  auto with_resolver = [](const char* line) {
    return doc({"listeners: [{name: a, port: 1, pool: p}]",
                "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]", line});
  };
  require_one_error(with_resolver("resolver: {nameservers: [dns.example]}"), 3, 26,
                    "resolver.nameservers[0]", "bad nameserver \"dns.example\"");
  require_one_error(with_resolver("resolver: {resolve_interval: 10ms}"), 3, 30,
                    "resolver.resolve_interval", "is 10ms (expected at least 100ms)");
}

TEST_CASE("health check path and host") {
  auto with_hc = [](const char* line) {
    return doc({
        "listeners: [{name: a, port: 1, pool: p}]",
        "pools:",
        "  - name: p",
        "    members: [{address: '127.0.0.1:1'}]",
        "    health_check:",
        line,
    });
  };
  require_one_error(with_hc("      path: health"), 6, 13, "pools[0].health_check.path",
                    "bad path \"health\" (expected a path starting with '/'");
  require_one_error(with_hc("      path: /a b"), 6, 13, "pools[0].health_check.path", "bad path");
  require_one_error(with_hc("      host: 'a b'"), 6, 13, "pools[0].health_check.host", "bad host");
  require_one_error(with_hc("      rise: 0"), 6, 13, "pools[0].health_check.rise", "out of range");
  require_one_error(with_hc("      timeout: 3s"), 6, 16, "pools[0].health_check.timeout",
                    "is 3000ms, longer than the interval (2000ms)");
  // When only the interval is written, the conflict is reported there.
  require_one_error(with_hc("      interval: 500ms"), 6, 17, "pools[0].health_check.interval",
                    "is 500ms, shorter than the timeout (default 1000ms)");
}

TEST_CASE("duplicate member in a pool") {
  require_one_error(doc({
                        "listeners: [{name: a, port: 1, pool: p}]",
                        "pools:",
                        "  - name: p",
                        "    members:",
                        "      - address: 127.0.0.1:9001",
                        "      - address: 127.0.0.1:9001",
                    }),
                    6, 18, "pools[0].members[1].address",
                    "duplicate member 127.0.0.1:9001 (first at line 5)");
}
