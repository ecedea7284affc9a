// conf/load.h: the example loads, defaults apply, and every kind of error is reported at its
// exact file:line:col and key path, all of them at once, in document order.

#include "conf/load.h"
#include "unit/conf/load_helpers.h"

#include <catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <string>

using namespace sy::conf;
using namespace sy::conf::test;

namespace {

// Joins |lines| with '\n': line N of the document is element N-1, which keeps the expected
// positions below readable.
std::string doc(std::initializer_list<const char*> lines) {
  std::string out;
  for (const char* line : lines) {
    out += line;
    out += '\n';
  }
  return out;
}

// A valid document; tests below replace single lines.
const char* const kListenerLines[] = {
    "listeners:",                       // 1
    "  - name: main",                   // 2
    "    port: 8080",                   // 3
    "    pool: old",                    // 4
    "pools:",                           // 5
    "  - name: old",                    // 6
    "    members:",                     // 7
    "      - address: 127.0.0.1:9001",  // 8
};

}  // namespace

TEST_CASE("the example config loads with no errors") {
  std::string path = SY_SOURCE_DIR "/conf/examples/switchyard.yaml";
  LoadResult result = load_config_file(path);
  INFO(all(result));
  REQUIRE(result.ok());
  const Config& c = result.config;
  CHECK(c.file == path);
  CHECK(c.workers == 2);
  CHECK(c.log_level == "info");
  REQUIRE(c.listeners.size() == 2);
  REQUIRE(c.pools.size() == 2);
  CHECK(c.listeners[0].name == "old");
  CHECK(c.listeners[0].pool == "old");
  CHECK(c.listeners[0].port == 8080);
  CHECK(c.listeners[0].mark.line > 0);
  CHECK(c.listeners[1].pool == "new");
  const Pool* old_pool = c.find_pool("old");
  const Pool* new_pool = c.find_pool("new");
  REQUIRE(old_pool != nullptr);
  REQUIRE(new_pool != nullptr);
  CHECK(old_pool->version == "7.10.6");
  CHECK(old_pool->balance == Balance::RoundRobin);
  CHECK(new_pool->balance == Balance::LeastConn);
  REQUIRE(old_pool->members.size() == 2);
  CHECK(old_pool->members[0].host == "127.0.0.1");
  CHECK(old_pool->members[0].port == 9001);
  REQUIRE(new_pool->members.size() == 2);
  CHECK(new_pool->members[0].weight == 2);
  CHECK(new_pool->members[1].address == "[::1]:9102");
  CHECK(new_pool->members[1].host == "::1");
  CHECK(new_pool->members[1].port == 9102);
  CHECK(old_pool->health_check.path == "/health");
  CHECK(old_pool->health_check.interval == Millis(2000));
  CHECK(old_pool->passive_ejection.eject_for == Millis(10000));
  CHECK(c.limits.max_header_bytes == 16 * 1024);
  CHECK(c.limits.buffer_high_water == 256 * 1024);
  CHECK(c.limits.client_idle_timeout == Millis(60000));
  CHECK(c.limits.max_connections == 0);
  CHECK_FALSE(c.limits.underscores_in_headers);
  CHECK(c.listeners[0].max_connections == 0);
  CHECK(c.access_log.path == "-");
  CHECK(c.access_log.max_queue_bytes == 4 * 1024 * 1024);
}

TEST_CASE("defaults apply when optional keys are absent") {
  std::string yaml;
  for (const char* line : kListenerLines) {
    yaml += std::string(line) + "\n";
  }
  LoadResult result = load_config_string(yaml);
  INFO(all(result));
  REQUIRE(result.ok());
  const Config& c = result.config;
  CHECK(c.file.empty());
  CHECK(c.workers == 0);
  CHECK(c.log_level == "info");
  CHECK(c.access_log.path.empty());
  REQUIRE(c.listeners.size() == 1);
  CHECK(c.listeners[0].address == "127.0.0.1");
  CHECK(c.listeners[0].backlog == 511);
  CHECK(c.listeners[0].mark.line == 2);
  CHECK(c.listeners[0].mark.col == 5);
  REQUIRE(c.pools.size() == 1);
  const Pool& p = c.pools[0];
  CHECK(p.mark.line == 6);
  CHECK(p.version.empty());
  CHECK(p.balance == Balance::RoundRobin);
  CHECK(p.connect_timeout == Millis(2000));
  CHECK(p.response_timeout == Millis(30000));
  CHECK(p.max_idle_connections == 64);
  CHECK(p.retries == 2);
  REQUIRE(p.members.size() == 1);
  CHECK(p.members[0].host == "127.0.0.1");
  CHECK(p.members[0].port == 9001);
  CHECK(p.members[0].weight == 1);
  CHECK(p.members[0].mark.line == 8);
  CHECK(p.members[0].mark.col == 9);
  CHECK(p.health_check.enabled);
  CHECK(p.health_check.path == "/");
  CHECK(p.health_check.interval == Millis(2000));
  CHECK(p.health_check.timeout == Millis(1000));
  CHECK(p.health_check.rise == 2);
  CHECK(p.health_check.fall == 3);
  CHECK(p.health_check.host.empty());
  CHECK(p.passive_ejection.consecutive_failures == 5);
  CHECK(p.passive_ejection.eject_for == Millis(10000));
  CHECK(c.listeners[0].max_connections == 0);
  CHECK(c.access_log.max_queue_bytes == 4 * 1024 * 1024);
  const Limits& l = c.limits;
  CHECK(l.max_connections == 0);
  CHECK_FALSE(l.underscores_in_headers);
  CHECK(l.max_header_bytes == 16384);
  CHECK(l.max_headers == 100);
  CHECK(l.max_uri_bytes == 8192);
  CHECK(l.max_body_bytes == 0);
  CHECK(l.client_header_timeout == Millis(10000));
  CHECK(l.client_body_timeout == Millis(30000));
  CHECK(l.client_idle_timeout == Millis(60000));
  CHECK(l.send_timeout == Millis(60000));
  CHECK(l.drain_timeout == Millis(30000));
  CHECK(l.buffer_high_water == 262144);
}

TEST_CASE("every value form is decoded") {
  LoadResult result = load_config_string(doc({
      "workers: 256",
      "log_level: debug",
      "listeners:",
      "  - {name: a, address: '::', port: 0, pool: p, backlog: 1}",
      "  - {name: b, address: '::', port: 0, pool: p}",  // port 0 twice is fine
      "pools:",
      "  - name: p",
      "    version: 7.10",
      "    balance: least_conn",
      "    connect_timeout: 1500",  // bare integer = milliseconds
      "    response_timeout: 1h",
      "    max_idle_connections: 0",
      "    retries: 10",
      "    members:",
      "      - {address: 'localhost:1', weight: 256}",
      "      - {address: '[2001:db8::1]:65535'}",
      "    health_check: {enabled: no, path: '/h?x=1', interval: 1s, timeout: 1s, rise: 1,"
      " fall: 1, host: example.org}",
      "    passive_ejection: {consecutive_failures: 0, eject_for: 250ms}",
      "limits: {max_header_bytes: 1M, max_uri_bytes: 1m, max_body_bytes: 1g,"
      " buffer_high_water: 4k, max_headers: 10000, max_connections: 5000,"
      " underscores_in_headers: true}",
      "access_log: {path: /var/log/sy.log, max_queue_bytes: 64k}",
  }));
  INFO(all(result));
  REQUIRE(result.ok());
  const Config& c = result.config;
  CHECK(c.workers == 256);
  CHECK(c.log_level == "debug");
  CHECK(c.listeners[0].address == "::");
  CHECK(c.listeners[0].backlog == 1);
  const Pool& p = c.pools[0];
  CHECK(p.version == "7.10");
  CHECK(p.balance == Balance::LeastConn);
  CHECK(p.connect_timeout == Millis(1500));
  CHECK(p.response_timeout == Millis(3600000));
  CHECK(p.max_idle_connections == 0);
  CHECK(p.retries == 10);
  CHECK(p.members[0].host == "localhost");
  CHECK(p.members[0].port == 1);
  CHECK(p.members[0].weight == 256);
  CHECK(p.members[1].host == "2001:db8::1");
  CHECK(p.members[1].port == 65535);
  CHECK_FALSE(p.health_check.enabled);
  CHECK(p.health_check.path == "/h?x=1");
  CHECK(p.health_check.host == "example.org");
  CHECK(p.passive_ejection.consecutive_failures == 0);
  CHECK(p.passive_ejection.eject_for == Millis(250));
  CHECK(c.limits.max_header_bytes == 1024 * 1024);
  CHECK(c.limits.max_uri_bytes == 1024 * 1024);
  CHECK(c.limits.max_body_bytes == 1024ull * 1024 * 1024);
  CHECK(c.limits.buffer_high_water == 4096);
  CHECK(c.limits.max_connections == 5000);
  CHECK(c.limits.underscores_in_headers);
  CHECK(c.access_log.path == "/var/log/sy.log");
  CHECK(c.access_log.max_queue_bytes == 64 * 1024);
}

TEST_CASE("format prints file:line:col: path: message") {
  CHECK(format(ConfigError{"a.yaml", 3, 7, "pools[1].name", "bad"}) ==
        "a.yaml:3:7: pools[1].name: bad");
  CHECK(format(ConfigError{"a.yaml", 3, 7, "", "bad"}) == "a.yaml:3:7: bad");
  CHECK(format(ConfigError{"a.yaml", 0, 0, "", "cannot read file: x"}) ==
        "a.yaml: cannot read file: x");
}

TEST_CASE("unknown key") {
  require_one_error(doc({
                        "listeners:",
                        "  - name: main",
                        "    port: 8080",
                        "    pool: old",
                        "    bakclog: 5",
                        "pools:",
                        "  - name: old",
                        "    members:",
                        "      - address: 127.0.0.1:9001",
                    }),
                    5, 5, "listeners[0].bakclog",
                    "unknown key (expected one of: name, address, port, pool, backlog, "
                    "max_connections, trusted_proxies, proxy_protocol, tls)");
  require_one_error(doc({
                        "listeners: [{name: main, port: 8080, pool: old}]",
                        "pools: [{name: old, members: [{address: '127.0.0.1:1'}]}]",
                        "limit:",
                        "  max_headers: 5",
                    }),
                    3, 1, "limit", "unknown key");
}

TEST_CASE("duplicate key is reported at the second occurrence") {
  require_one_error(doc({
                        "listeners:",
                        "  - name: main",
                        "    port: 8080",
                        "    pool: old",
                        "    port: 8081",
                        "pools:",
                        "  - name: old",
                        "    members:",
                        "      - address: 127.0.0.1:9001",
                    }),
                    5, 5, "listeners[0].port", "duplicate key (first at line 3)");
}

TEST_CASE("wrong type") {
  auto with_port = [](const char* port_line) {
    return doc({
        "listeners:",
        "  - name: main",
        port_line,
        "    pool: old",
        "pools:",
        "  - name: old",
        "    members:",
        "      - address: 127.0.0.1:9001",
    });
  };
  require_one_error(with_port("    port: abc"), 3, 11, "listeners[0].port",
                    "wrong type: expected an integer, got \"abc\"");
  require_one_error(with_port("    port: [1]"), 3, 11, "listeners[0].port",
                    "wrong type: expected an integer, got a list");
  require_one_error(with_port("    port: \"8080\""), 3, 11, "listeners[0].port",
                    "wrong type: expected an integer, got the string \"8080\"");
  require_one_error(with_port("    port: 80.5"), 3, 11, "listeners[0].port", "expected an integer");
  // An empty value is reported at its key, not on the next line where yaml-cpp places it.
  require_one_error(with_port("    port:"), 3, 5, "listeners[0].port",
                    "missing value (expected an integer)");
  require_one_error(doc({
                        "listeners:",
                        "  name: main",
                        "pools: [{name: old, members: [{address: '127.0.0.1:1'}]}]",
                    }),
                    2, 3, "listeners", "wrong type: expected a list of listeners, got a mapping");
  require_one_error(doc({
                        "listeners: [{name: main, port: 8080, pool: old}]",
                        "pools: [{name: old, members: [{address: '127.0.0.1:1'}]}]",
                        "limits: 5",
                    }),
                    3, 9, "limits", "wrong type: expected a mapping, got \"5\"");
  require_one_error(doc({
                        "listeners: [{name: main, port: 8080, pool: old}]",
                        "pools:",
                        "  - name: old",
                        "    members: [{address: '127.0.0.1:1'}]",
                        "    health_check: {enabled: maybe}",
                    }),
                    5, 29, "pools[0].health_check.enabled", "expected true or false");
}

TEST_CASE("missing required key is reported where its mapping starts") {
  require_one_error(doc({
                        "listeners:",
                        "  - name: main",
                        "    pool: old",
                        "pools:",
                        "  - name: old",
                        "    members:",
                        "      - address: 127.0.0.1:9001",
                    }),
                    2, 5, "listeners[0].port", "missing required key");
  require_one_error(doc({
                        "listeners: [{name: main, port: 8080, pool: old}]",
                        "pools:",
                        "  - name: old",
                        "    members:",
                        "      - weight: 3",
                    }),
                    5, 9, "pools[0].members[0].address", "missing required key");
}

TEST_CASE("empty document reports both required top-level keys") {
  LoadResult result = load_config_string("", "e.yaml");
  REQUIRE(result.errors.size() == 2);
  CHECK(format(result.errors[0]) == "e.yaml:1:1: listeners: missing required key");
  CHECK(format(result.errors[1]) == "e.yaml:1:1: pools: missing required key");
}

TEST_CASE("empty lists are errors") {
  require_one_error(doc({
                        "listeners: []",
                        "pools: [{name: old, members: [{address: '127.0.0.1:1'}]}]",
                    }),
                    1, 12, "listeners", "must not be empty (expected at least one listener)");
  require_one_error(doc({
                        "listeners: [{name: main, port: 8080, pool: old}]",
                        "pools:",
                        "  - name: old",
                        "    members: []",
                    }),
                    4, 14, "pools[0].members", "must not be empty");
}

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

TEST_CASE("ranges") {
  auto with_port = [](const char* port_line) {
    return doc({
        "listeners:",
        "  - name: main",
        port_line,
        "    pool: old",
        "pools:",
        "  - name: old",
        "    members:",
        "      - address: 127.0.0.1:9001",
    });
  };
  require_one_error(with_port("    port: 65536"), 3, 11, "listeners[0].port",
                    "65536 is out of range (expected 0..65535)");
  require_one_error(with_port("    port: -1"), 3, 11, "listeners[0].port",
                    "-1 is out of range (expected 0..65535)");
  require_one_error(with_port("    port: 99999999999999999999999"), 3, 11, "listeners[0].port",
                    "is out of range (expected 0..65535)");
  require_one_error(doc({"workers: 257", "listeners: [{name: a, port: 1, pool: p}]",
                         "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]"}),
                    1, 10, "workers", "257 is out of range (expected 0..256)");
  require_one_error(doc({"log_level: verbose", "listeners: [{name: a, port: 1, pool: p}]",
                         "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]"}),
                    1, 12, "log_level",
                    "bad value \"verbose\" (expected one of: debug, info, warn, error)");
  require_one_error(doc({"listeners: [{name: a, port: 1, pool: p}]",
                         "pools: [{name: p, retries: 11, members: [{address: '127.0.0.1:1'}]}]"}),
                    2, 28, "pools[0].retries", "11 is out of range (expected 0..10)");
  require_one_error(doc({"listeners: [{name: a, port: 1, pool: p}]",
                         "pools: [{name: p, members: [{address: '127.0.0.1:1', weight: 0}]}]"}),
                    2, 62, "pools[0].members[0].weight", "0 is out of range (expected 1..256)");
  require_one_error(doc({"listeners: [{name: a, port: 1, pool: p, backlog: 0}]",
                         "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]"}),
                    1, 50, "listeners[0].backlog", "0 is out of range (expected >= 1)");
  require_one_error(doc({"listeners: [{name: a, port: 1, pool: p}]",
                         "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]",
                         "limits:", "  buffer_high_water: 1k"}),
                    4, 22, "limits.buffer_high_water", "\"1k\" is out of range (expected >= 4k)");
  require_one_error(doc({"listeners: [{name: a, port: 1, pool: p}]",
                         "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]",
                         "limits:", "  max_headers: 0"}),
                    4, 16, "limits.max_headers", "(expected 1..10000)");
  require_one_error(doc({"listeners: [{name: a, port: 1, pool: p, max_connections: -1}]",
                         "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]"}),
                    1, 58, "listeners[0].max_connections", "-1 is out of range (expected >= 0)");
  require_one_error(doc({"listeners: [{name: a, port: 1, pool: p}]",
                         "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]",
                         "limits:", "  underscores_in_headers: drop"}),
                    4, 27, "limits.underscores_in_headers", "");
  require_one_error(doc({"listeners: [{name: a, port: 1, pool: p}]",
                         "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]",
                         "access_log: {path: x, max_queue_bytes: 1k}"}),
                    3, 40, "access_log.max_queue_bytes", "(expected >= 64k)");
}

TEST_CASE("bad duration and bad size") {
  auto with_limit = [](const char* line) {
    return doc({
        "listeners: [{name: a, port: 1, pool: p}]",
        "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]",
        "limits:",
        line,
    });
  };
  {
    LoadResult result = load_config_string(with_limit("  client_header_timeout: 10 sec"), "x.yaml");
    REQUIRE(result.errors.size() == 1);
    CHECK(format(result.errors[0]) ==
          "x.yaml:4:26: limits.client_header_timeout: bad duration \"10 sec\" "
          "(expected e.g. 250ms, 2s, 1m)");
  }
  require_one_error(with_limit("  send_timeout: 1.5s"), 4, 17, "limits.send_timeout",
                    "bad duration \"1.5s\"");
  require_one_error(with_limit("  drain_timeout: 0s"), 4, 18, "limits.drain_timeout",
                    "\"0s\" is out of range (expected > 0)");
  require_one_error(with_limit("  drain_timeout: [1s]"), 4, 18, "limits.drain_timeout",
                    "wrong type: expected a duration");
  require_one_error(with_limit("  max_header_bytes: 16kb"), 4, 21, "limits.max_header_bytes",
                    "bad size \"16kb\" (expected e.g. 512, 16k, 1m, 1g)");
  require_one_error(with_limit("  max_body_bytes: -1"), 4, 19, "limits.max_body_bytes",
                    "bad size \"-1\"");
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
  require_one_error(with_member("      - address: 1.2.3:80"), 5, 18,
                    "pools[0].members[0].address", expected);
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

TEST_CASE("listener address must be an IP literal") {
  require_one_error(doc({"listeners:", "  - name: a", "    address: localhost", "    port: 1",
                         "    pool: p", "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]"}),
                    3, 14, "listeners[0].address", "bad IP address \"localhost\"");
}

TEST_CASE("names are single words") {
  require_one_error(doc({"listeners: [{name: 'my listener', port: 1, pool: p}]",
                         "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]"}),
                    1, 20, "listeners[0].name", "bad name \"my listener\"");
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

TEST_CASE("duplicate names are reported at the later occurrence") {
  require_one_error(doc({
                        "listeners:",
                        "  - {name: main, port: 8080, pool: old}",
                        "  - {name: main, port: 8081, pool: old}",
                        "pools: [{name: old, members: [{address: '127.0.0.1:1'}]}]",
                    }),
                    3, 12, "listeners[1].name",
                    "duplicate listener name \"main\" (first at line 2)");
  require_one_error(doc({
                        "listeners: [{name: main, port: 8080, pool: old}]",
                        "pools:",
                        "  - name: old",
                        "    members: [{address: '127.0.0.1:1'}]",
                        "  - name: old",
                        "    members: [{address: '127.0.0.1:2'}]",
                    }),
                    5, 11, "pools[1].name", "duplicate pool name \"old\" (first at line 3)");
}

TEST_CASE("duplicate listener address:port, except port 0") {
  require_one_error(doc({
                        "listeners:",
                        "  - {name: a, address: '::1', port: 8080, pool: p}",
                        "  - {name: b, address: '0:0::1', port: 8080, pool: p}",
                        "  - {name: c, address: '::1', port: 8081, pool: p}",
                        "  - {name: d, port: 0, pool: p}",
                        "  - {name: e, port: 0, pool: p}",
                        "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]",
                    }),
                    3, 40, "listeners[1].port",
                    "[::1]:8080 is already used by listeners[0] (first at line 2)");
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

TEST_CASE("max_uri_bytes must not exceed max_header_bytes") {
  require_one_error(doc({
                        "listeners: [{name: a, port: 1, pool: p}]",
                        "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]",
                        "limits:",
                        "  max_header_bytes: 4k",
                        "  max_uri_bytes: 5k",
                    }),
                    5, 18, "limits.max_uri_bytes",
                    "is 5120 bytes, more than limits.max_header_bytes (4096)");
  // With max_uri_bytes left at its default, the error points at the value that was written.
  require_one_error(doc({
                        "listeners: [{name: a, port: 1, pool: p}]",
                        "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]",
                        "limits:",
                        "  max_header_bytes: 4k",
                    }),
                    4, 21, "limits.max_header_bytes",
                    "less than limits.max_uri_bytes (default 8192)");
}

TEST_CASE("several errors are all reported, in document order") {
  std::string yaml = doc({
      "workers: many",                    // 1
      "listeners:",                       // 2
      "  - name: main",                   // 3
      "    port: 70000",                  // 4
      "    pool: nope",                   // 5
      "  - name: main",                   // 6
      "    port: 8081",                   // 7
      "    pool: old",                    // 8
      "    colour: red",                  // 9
      "pools:",                           // 10
      "  - name: old",                    // 11
      "    connect_timeout: soon",        // 12
      "    members:",                     // 13
      "      - address: 127.0.0.1:9001",  // 14
      "        weight: 1",                // 15
      "        weight: 2",                // 16
      "limits:",                          // 17
      "  max_header_bytes: lots",         // 18
  });
  LoadResult result = load_config_string(yaml, "m.yaml");
  std::vector<std::string> expected = {
      "m.yaml:1:10: workers: wrong type: expected an integer, got \"many\"",
      "m.yaml:4:11: listeners[0].port: 70000 is out of range (expected 0..65535)",
      "m.yaml:5:11: listeners[0].pool: unknown pool \"nope\" (expected one of: old)",
      "m.yaml:6:11: listeners[1].name: duplicate listener name \"main\" (first at line 3)",
      "m.yaml:9:5: listeners[1].colour: unknown key (expected one of: name, address, port, "
      "pool, backlog, max_connections, trusted_proxies, proxy_protocol, tls)",
      "m.yaml:12:22: pools[0].connect_timeout: bad duration \"soon\" (expected e.g. 250ms, 2s, "
      "1m)",
      "m.yaml:16:9: pools[0].members[0].weight: duplicate key (first at line 15)",
      "m.yaml:18:21: limits.max_header_bytes: bad size \"lots\" (expected e.g. 512, 16k, 1m, 1g)",
  };
  std::vector<std::string> got;
  for (const auto& e : result.errors) {
    got.push_back(format(e));
  }
  CHECK(got == expected);
}

TEST_CASE("a YAML syntax error is one error at its position") {
  require_one_error(doc({
                        "listeners: [{name: a, port: 1, pool: p}]",
                        "pools: [{name: p, members: [{address: '127.0.0.1:1'}]",
                        "limits: {}",
                    }),
                    3, 1, "", "YAML syntax error: end of map flow not found");
  require_one_error(doc({"listeners:", "\t- name: a"}), 2, 2, "", "YAML syntax error: ");
  require_one_error(doc({"a: &x 1", "b: *y"}), 2, 4, "", "YAML syntax error: ");
}

TEST_CASE("a second YAML document is an error") {
  require_one_error(doc({
                        "listeners: [{name: a, port: 1, pool: p}]",
                        "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]",
                        "---",
                        "workers: 1",
                    }),
                    3, 1, "", "a second YAML document (expected exactly one)");
}

TEST_CASE("very deep nesting is one located error, not yaml-cpp's \"bad file\"") {
  // yaml-cpp refuses ~500 nested collections with a position-less "bad file" exception.
  std::string flow = doc({"listeners: [{name: a, port: 1, pool: p}]", "pools: []"}) +
                     "x: " + std::string(3000, '[') + std::string(3000, ']') + "\n";
  LoadResult r = load_config_string(flow, "t.yaml");
  INFO(all(r));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].line == 3);
  CHECK(r.errors[0].col == 3 + 3000);  // the innermost '['
  // 3000 lists inside the mapping "x".
  CHECK_THAT(r.errors[0].message, Catch::Contains("YAML nested too deeply: 3001 levels"));
  CHECK_THAT(r.errors[0].message, !Catch::Contains("bad file"));

  // Block nesting: one more indented mapping per line; the deepest line is reported.
  std::string block;
  for (int i = 0; i < 1200; ++i) {
    block += std::string(static_cast<size_t>(i), ' ') + "k:\n";
  }
  block += std::string(1200, ' ') + "v: 1\n";
  LoadResult b = load_config_string(block, "t.yaml");
  INFO(all(b));
  REQUIRE(b.errors.size() == 1);
  CHECK(b.errors[0].line == 1201);
  CHECK_THAT(b.errors[0].message, Catch::Contains("YAML nested too deeply"));

  // A block scalar's text is not structure.
  std::string text = "a:\n  b: |\n    " + std::string(600, '[') + "\n" + flow;
  LoadResult t = load_config_string(text, "t.yaml");
  REQUIRE_FALSE(t.errors.empty());
  CHECK(t.errors[0].line == 6);
}

TEST_CASE("a document starting with ',' is a located error, not a hang in yaml-cpp") {
  // Regression (config_fuzz): yaml-cpp 0.7 never returns from these documents.
  require_one_error(",", 1, 1, "", "a document cannot start with ','");
  require_one_error("\n# comment\n  ,x\n", 3, 3, "", "a document cannot start with ','");
  require_one_error("!tag &anchor ,\n", 1, 14, "", "a document cannot start with ','");
  require_one_error("a: 1\n...\n,\n", 3, 1, "", "a document cannot start with ','");
  require_one_error("%YAML 1.2\n---\n&a\n  , b\n", 4, 3, "", "a document cannot start with ','");
  // A ',' anywhere else is yaml-cpp's to judge (and it does return).
  LoadResult r = load_config_string("a: 1\n, b\n", "t.yaml");
  REQUIRE(r.errors.size() == 1);
  CHECK_THAT(r.errors[0].message, Catch::Contains("YAML syntax error: end of map not found"));
  CHECK(load_config_string(doc({"listeners: [{name: a, port: 1, pool: p}]",
                                "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]"}),
                           "t.yaml")
            .ok());
}

TEST_CASE("values in errors are escaped and cut: one short printable line per error") {
  // A raw control byte (ESC) in a value is written as \x1b, never echoed.
  std::string esc = doc({"workers: \x1b[2Jx", "log_level: \x07"
                                              "bell"});
  LoadResult r = load_config_string(esc, "t.yaml");
  INFO(all(r));
  REQUIRE_FALSE(r.errors.empty());
  for (const auto& e : r.errors) {
    std::string line = format(e);
    for (char c : line) {
      CHECK((static_cast<unsigned char>(c) >= 0x20 && c != 0x7f));
    }
  }
  CHECK_THAT(all(r), Catch::Contains("\"\\x1b[2Jx\"") && Catch::Contains("\"\\x07bell\""));

  // A 1 MB bad value is cut: the error stays short and says how long the value was.
  std::string big(1 << 20, 'z');
  LoadResult b = load_config_string("log_level: " + big + "\n", "t.yaml");
  bool found = false;
  for (const auto& e : b.errors) {
    std::string line = format(e);
    CHECK(line.size() < 400);
    if (e.path == "log_level") {
      found = true;
      CHECK_THAT(line, Catch::Contains("\"" + std::string(80, 'z') + "\"... (1048576 bytes)"));
    }
  }
  CHECK(found);

  // The same for an unknown key (it becomes part of the key path; yaml-cpp takes implicit keys
  // of up to 1024 bytes) and an out-of-range integer.
  std::string key = std::string(1000, 'k') + "\x01";
  LoadResult k =
      load_config_string(key + ": 1\nworkers: " + std::string(5000, '9') + "\n", "t.yaml");
  INFO(all(k));
  REQUIRE(k.errors.size() >= 2);
  for (const auto& e : k.errors) {
    CHECK(format(e).size() < 600);
  }
  CHECK_THAT(all(k), Catch::Contains("(1001 bytes): unknown key"));
  CHECK_THAT(all(k), Catch::Contains("workers: \"99999") &&
                         Catch::Contains("(5000 bytes) is out of range"));

  // Valid UTF-8 passes through; bytes that are not UTF-8 are escaped.
  LoadResult u = load_config_string("log_level: caf\xc3\xa9\xff\n", "t.yaml");
  CHECK_THAT(all(u), Catch::Contains("\"caf\xc3\xa9\\xff\""));
}

TEST_CASE("an unreadable file is one error with line 0") {
  std::string path = SY_BINARY_DIR "/conf-test-no-such-file.yaml";
  std::remove(path.c_str());
  LoadResult result = load_config_file(path);
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].line == 0);
  CHECK(result.errors[0].path.empty());
  CHECK(format(result.errors[0]) == path + ": cannot read file: " + std::strerror(ENOENT));

  LoadResult dir = load_config_file(SY_SOURCE_DIR "/conf");
  REQUIRE(dir.errors.size() == 1);
  CHECK(dir.errors[0].line == 0);
  CHECK_THAT(dir.errors[0].message, Catch::Contains(std::strerror(EISDIR)));
}

TEST_CASE("errors from a file carry the file name") {
  std::string path = SY_SOURCE_DIR "/tests/fixtures/conf/bad_pool_ref.yaml";
  LoadResult result = load_config_file(path);
  INFO(all(result));
  REQUIRE(result.errors.size() == 2);
  CHECK(format(result.errors[0]) ==
        path + ":7:11: listeners[1].pool: unknown pool \"neww\" (expected one of: old, new)");
  CHECK(format(result.errors[1]) ==
        path + ":15:18: pools[1].members[0].address: port 0 in \"127.0.0.1:0\" is out of range "
               "(expected 1..65535)");
}

TEST_CASE("parse_duration") {
  struct Case {
    const char* text;
    long long ms;
  };
  const Case good[] = {
      {"0", 0},
      {"250", 250},
      {"250ms", 250},
      {"2s", 2000},
      {"1m", 60000},
      {"1h", 3600000},
      {"007s", 7000},
      {"0ms", 0},
      {"9223372036854775807", 9223372036854775807LL},  // INT64_MAX ms
      {"2562047788015h", 2562047788015LL * 3600000},   // the largest hour count that fits
  };
  for (const Case& c : good) {
    INFO(c.text);
    Millis out{-1};
    REQUIRE(parse_duration(c.text, &out));
    CHECK(out.count() == c.ms);
  }
  const char* bad[] = {
      "",
      "s",
      "ms",
      "-1s",
      "+1s",
      "1.5s",
      "1 s",
      " 1s",
      "1s ",
      "1S",
      "1d",
      "1us",
      "1sec",
      "1ms5",
      "0x10",
      "1e3",
      "9223372036854775808",
      "2562047788016h",
      "99999999999999999999999ms",
  };
  for (const char* text : bad) {
    INFO(text);
    Millis out{1234};
    CHECK_FALSE(parse_duration(text, &out));
    CHECK(out == Millis{1234});  // untouched on failure
  }
}

TEST_CASE("parse_size") {
  struct Case {
    const char* text;
    uint64_t bytes;
  };
  const Case good[] = {
      {"0", 0},
      {"512", 512},
      {"16k", 16384},
      {"16K", 16384},
      {"1m", 1048576},
      {"1M", 1048576},
      {"1g", 1073741824},
      {"1G", 1073741824},
      {"18446744073709551615", 18446744073709551615ull},
      {"17179869183g", 17179869183ull << 30},  // the largest g count that fits
  };
  for (const Case& c : good) {
    INFO(c.text);
    uint64_t out = 7;
    REQUIRE(parse_size(c.text, &out));
    CHECK(out == c.bytes);
  }
  const char* bad[] = {
      "",
      "k",
      "-1",
      "+1",
      "1.5k",
      "16 k",
      " 16k",
      "16k ",
      "16kb",
      "16KiB",
      "1t",
      "1b",
      "0x10",
      "18446744073709551616",
      "17179869184g",
  };
  for (const char* text : bad) {
    INFO(text);
    uint64_t out = 7;
    CHECK_FALSE(parse_size(text, &out));
    CHECK(out == 7);
  }
}

// ---------------------------------------------------------------------------------------------
// database and routing sections

namespace {

std::string routed(const char* routing_and_db) {
  return std::string("listeners:\n  - {name: main, port: 0, pool: old}\n"
                     "pools:\n  - name: old\n    members: [{address: \"127.0.0.1:9\"}]\n"
                     "  - name: new\n    members: [{address: \"127.0.0.1:10\"}]\n") +
         routing_and_db;
}

}  // namespace

TEST_CASE("database and routing sections load with their defaults") {
  LoadResult r = load_config_string(
      routed("database:\n"
             "  dsns:\n"
             "    - {host: 127.0.0.1, port: 3307, user: sy, password: pw, database: switchyard}\n"
             "    - {user: sy, database: switchyard, socket: /tmp/m.sock}\n"
             "routing:\n"
             "  role: new\n"
             "  serve_pools: [new]\n"
             "  keys:\n"
             "    - {type: host_regex, pattern: '^(?<context>[0-9]+)\\.t\\.example$'}\n"
             "    - {type: header, name: X-Context}\n"
             "    - {type: path_segment, index: 1}\n"
             "    - {type: login_form, name: name}\n"),
      "t.yaml");
  INFO(all(r));
  REQUIRE(r.errors.empty());
  const Config& c = r.config;
  CHECK(c.database.enabled);
  CHECK(c.database.dsns.size() == 2);
  CHECK(c.database.dsns[0].port == 3307);
  CHECK(c.database.dsns[1].port == 3306);
  CHECK(c.database.profile == Profile::Own);
  CHECK(c.database.refresh_interval == Millis(250));
  CHECK(c.routing.enabled);
  CHECK(c.routing.role == "new");
  CHECK(c.routing.keys.size() == 4);
  CHECK(c.routing.keys[0].type == KeyType::HostRegex);
  CHECK(c.routing.keys[2].index == 1);
  CHECK(c.routing.hold.max_requests == 1000);
  CHECK(c.routing.moved_action == "redirect");
}

TEST_CASE("routing errors are reported at their keys") {
  const char* db = "database:\n  dsns: [{user: sy, database: d}]\n";
  // routed() puts the section at line 8; a mapping's position is its first value's.
  require_one_error(routed("routing:\n  role: old\n  serve_pools: [old]\n"
                           "  keys: [{type: header, name: X}]\n"),
                    9, 3, "routing", "needs a database section");
  require_one_error(routed((std::string(db) + "routing:\n  role: old\n  serve_pools: [old, gone]\n"
                                              "  keys: [{type: header, name: X}]\n")
                               .c_str()),
                    12, 22, "routing.serve_pools[1]", "unknown pool \"gone\"");
  require_one_error(
      routed((std::string(db) + "routing:\n  role: old\n  serve_pools: [old]\n"
                                "  keys:\n    - {type: host_regex, pattern: 'x(.*)'}\n")
                 .c_str()),
      14, 35, "routing.keys[0].pattern", "(?<context>...)");
  require_one_error(routed((std::string(db) + "routing:\n  role: old\n  serve_pools: [old]\n"
                                              "  keys:\n    - {type: cookie}\n")
                               .c_str()),
                    14, 7, "routing.keys[0]", "needs a name");
  require_one_error(routed((std::string(db) + "routing:\n  role: sideways\n  serve_pools: [old]\n"
                                              "  keys: [{type: header, name: X}]\n")
                               .c_str()),
                    11, 9, "routing.role", "bad value \"sideways\"");
  require_one_error(
      routed("database:\n  dsns: [{user: sy, database: d}]\n  contexts_sql: SELECT 1\n"), 10, 17,
      "database.contexts_sql", "only used with profile: sql");
  require_one_error(routed("database:\n  dsns: [{user: sy, database: d}]\n"
                           "  servers: [{name: a, pool: nope}]\n"),
                    10, 29, "database.servers[0].pool", "unknown pool \"nope\"");
}

TEST_CASE("profile ox: state database, OX options and error envelope") {
  LoadResult r = load_config_string(
      routed("database:\n"
             "  dsns: [{user: ox, database: configdb}]\n"
             "  profile: ox\n"
             "  state_database: switchyard\n"
             "  ox: {maintenance_reason: 42, default_context: dflt, checksum_interval: 30s}\n"
             "routing:\n"
             "  role: old\n"
             "  serve_pools: [old]\n"
             "  keys: [{type: login_form, name: name}]\n"
             "  errors: {envelope: ox, status: native}\n"),
      "t.yaml");
  INFO(all(r));
  REQUIRE(r.errors.empty());
  const Config& c = r.config;
  CHECK(c.database.profile == Profile::Ox);
  CHECK(c.database.state_database == "switchyard");
  CHECK(c.database.ox.maintenance_reason == 42);
  CHECK(c.database.ox.default_context == "dflt");
  CHECK(c.database.ox.checksum_interval == Millis(30000));
  CHECK(c.routing.errors.envelope == "ox");
  CHECK(c.routing.errors.status == 0);

  // Defaults: OX's reason and mapping; errors by profile (resolved by the binary).
  r = load_config_string(
      routed("database:\n  dsns: [{user: ox, database: configdb}]\n  profile: ox\n"
             "  state_dsns: [{host: 10.0.0.9, user: sy, database: state}]\n"),
      "t.yaml");
  INFO(all(r));
  REQUIRE(r.errors.empty());
  CHECK(r.config.database.ox.maintenance_reason == 1431655765);
  CHECK(r.config.database.ox.default_context == "defaultcontext");
  CHECK(r.config.database.state_dsns.size() == 1);
  CHECK(r.config.routing.errors.envelope.empty());
  CHECK(r.config.routing.errors.status == -1);
}

TEST_CASE("profile ox and state store mistakes are reported at their keys") {
  // Line 8 is the first line after routed()'s pools.
  require_one_error(routed("database:\n  dsns: [{user: ox, database: configdb}]\n"
                           "  profile: ox\n"),
                    9, 3, "database", "state_database");
  require_one_error(routed("database:\n  dsns: [{user: ox, database: configdb}]\n"
                           "  profile: ox\n  state_database: configdb\n"),
                    11, 19, "database.state_database", "is the directory database itself");
  require_one_error(routed("database:\n  dsns: [{user: ox, database: configdb}]\n"
                           "  profile: ox\n  state_database: s\n"
                           "  state_dsns: [{user: sy, database: s}]\n"),
                    12, 15, "database.state_dsns", "not both");
  require_one_error(routed("database:\n  dsns: [{user: sy, database: d}]\n"
                           "  ox: {maintenance_reason: 5}\n"),
                    10, 7, "database.ox", "only used with profile: ox");
  require_one_error(routed("database:\n  dsns: [{user: sy, database: d}]\n  profile: sql\n"
                           "  servers_sql: SELECT 1, 'a'\n"),
                    9, 3, "database", "profile sql needs contexts_sql");
  require_one_error(routed("database:\n  dsns: [{user: ox, database: c}]\n  profile: ox\n"
                           "  state_database: s\n  ox: {maintenance_reason: 0}\n"),
                    12, 28, "database.ox.maintenance_reason", "out of range");
  const char* db = "database:\n  dsns: [{user: sy, database: d}]\n";
  require_one_error(routed((std::string(db) + "routing:\n  role: old\n  serve_pools: [old]\n"
                                              "  keys: [{type: header, name: X}]\n"
                                              "  errors: {envelope: soap}\n")
                               .c_str()),
                    14, 22, "routing.errors.envelope", "bad value \"soap\"");
  require_one_error(routed((std::string(db) + "routing:\n  role: old\n  serve_pools: [old]\n"
                                              "  keys: [{type: header, name: X}]\n"
                                              "  errors: {status: 99}\n")
                               .c_str()),
                    14, 20, "routing.errors.status", "out of range");
}

// --- admin section ---------------------------------------------------------------------------

namespace {

std::string with_admin(std::initializer_list<const char*> admin_lines) {
  std::string out = "listeners: [{name: main, port: 8080, pool: old}]\n"            // 1
                    "pools: [{name: old, members: [{address: '127.0.0.1:1'}]}]\n";  // 2
  for (const char* line : admin_lines) {
    out += line;
    out += '\n';
  }
  return out;
}

}  // namespace

TEST_CASE("admin section: defaults and every key") {
  LoadResult none = load_config_string(with_admin({}), "t.yaml");
  REQUIRE(none.ok());
  CHECK_FALSE(none.config.admin.enabled);

  LoadResult minimal = load_config_string(with_admin({"admin:", "  socket: {path: /run/a.sock}"}));
  INFO(all(minimal));
  REQUIRE(minimal.ok());
  const Admin& m = minimal.config.admin;
  CHECK(m.enabled);
  CHECK(m.socket.enabled);
  CHECK(m.socket.path == "/run/a.sock");
  CHECK(m.socket.mode == 0600);
  CHECK(m.socket.level == AdminLevel::Admin);
  CHECK(m.socket.max_connections == 16);
  CHECK(m.tcp.max_connections == 16);
  CHECK_FALSE(m.tcp.enabled);
  CHECK(m.drain_timeout == Millis(30000));
  CHECK(m.live_within == Millis(10000));
  CHECK(m.update_tasks.command_timeout == Millis(600000));

  LoadResult full = load_config_string(with_admin({
      "admin:",
      "  socket: {path: /run/a.sock, mode: \"0660\", level: read-only, max_connections: 2}",
      "  tcp: {address: \"::1\", port: 9999, token_file: /etc/sy/token, level: admin,",
      "        max_connections: 300}",
      "  event_hook: /usr/local/bin/hook",
      "  drain_timeout: 5s",
      "  live_within: 3s",
      "  update_tasks: {sql_dir: /srv/sql, command: \"/bin/up {schema}\", command_timeout: 1m}",
  }));
  INFO(all(full));
  REQUIRE(full.ok());
  const Admin& a = full.config.admin;
  CHECK(a.socket.mode == 0660);
  CHECK(a.socket.level == AdminLevel::ReadOnly);
  CHECK(a.socket.max_connections == 2);
  CHECK(a.tcp.max_connections == 300);
  CHECK(a.tcp.enabled);
  CHECK(a.tcp.address == "::1");
  CHECK(a.tcp.port == 9999);
  CHECK(a.tcp.token_file == "/etc/sy/token");
  CHECK(a.tcp.level == AdminLevel::Admin);
  CHECK(a.event_hook == "/usr/local/bin/hook");
  CHECK(a.drain_timeout == Millis(5000));
  CHECK(a.live_within == Millis(3000));
  CHECK(a.update_tasks.sql_dir == "/srv/sql");
  CHECK(a.update_tasks.command == "/bin/up {schema}");
  CHECK(a.update_tasks.command_timeout == Millis(60000));
}

TEST_CASE("listeners: trusted_proxies and proxy_protocol") {
  LoadResult r =
      load_config_string(doc({
                             "listeners:",
                             "  - name: main",
                             "    port: 8080",
                             "    pool: old",
                             "    trusted_proxies: [10.0.0.0/8, \"fd00::/8\", 192.168.1.7]",
                             "    proxy_protocol: true",
                             "pools:",
                             "  - name: old",
                             "    members: [{address: 127.0.0.1:9001}]",
                         }),
                         "t.yaml");
  INFO(all(r));
  REQUIRE(r.ok());
  const Listener& l = r.config.listeners[0];
  REQUIRE(l.trusted_proxies.size() == 3);
  CHECK(l.trusted_proxies[0].text == "10.0.0.0/8");
  CHECK(l.trusted_proxies[0].contains(*sy::parse_ip("10.9.8.7")));
  CHECK(l.trusted_proxies[2].contains(*sy::parse_ip("192.168.1.7")));
  CHECK(l.proxy_protocol);
  // Each bad entry is an error at its element.
  require_one_error(doc({"listeners:", "  - name: main", "    port: 8080", "    pool: old",
                         "    trusted_proxies: [10.0.0.0/8, 10.0.0.1/8]", "pools:", "  - name: old",
                         "    members: [{address: 127.0.0.1:9001}]"}),
                    5, 35, "listeners[0].trusted_proxies[1]",
                    "bad address block \"10.0.0.1/8\": host bits set");
  // A PROXY header believed from anybody would let any client claim any address.
  require_one_error(doc({"listeners:", "  - name: main", "    port: 8080", "    pool: old",
                         "    proxy_protocol: true", "pools:", "  - name: old",
                         "    members: [{address: 127.0.0.1:9001}]"}),
                    5, 21, "listeners[0].proxy_protocol", "proxy_protocol needs trusted_proxies");
}

TEST_CASE("a NUL byte is a located error, not a hang in yaml-cpp") {
  // Found by the config fuzzer in make test: "\0," never returned from yaml-cpp.
  LoadResult r = load_config_string(std::string("\0,", 2), "t.yaml");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].line == 1);
  CHECK(r.errors[0].col == 1);
  CHECK_THAT(r.errors[0].message, Catch::Contains("NUL byte"));
  std::string text = "workers: 1\nlog_level: in";
  text += '\0';
  text += "fo\n";
  LoadResult later = load_config_string(text, "t.yaml");
  REQUIRE(later.errors.size() == 1);
  CHECK(later.errors[0].line == 2);
  CHECK(later.errors[0].col == 14);
}

TEST_CASE("YAML that yaml-cpp cannot read past is a located error, not endless documents") {
  // Found by the config fuzzer in CI: after "!-(*" yaml-cpp returned an empty document at the
  // ',' again and again, and LoadAll collected them until the process ran out of memory.
  LoadResult r = load_config_string("!-(*,", "t.yaml");
  INFO(all(r));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].line == 1);
  CHECK(r.errors[0].col == 5);
  CHECK_THAT(r.errors[0].message, Catch::Contains("cannot read past this point"));
  // After a valid first document it is the second document, reported without a hang.
  LoadResult later = load_config_string("workers: 1\n---\n!-(*,\n", "t.yaml");
  INFO(all(later));
  REQUIRE(later.errors.size() == 1);
  CHECK(later.errors[0].line == 2);
  CHECK_THAT(later.errors[0].message, Catch::Contains("a second YAML document"));
}

TEST_CASE("admin section: errors are located") {
  require_one_error(with_admin({"admin:", "  socket: {path: /a, mode: \"0800\"}"}), 4, 28,
                    "admin.socket.mode", "bad mode \"0800\"");
  require_one_error(with_admin({"admin:", "  socket: {path: /a, mode: 600}"}), 4, 28,
                    "admin.socket.mode", "expected an octal mode in quotes");
  // Found by the config fuzzer: a long run of non-octal digits overflowed the accumulated
  // value (UBSan: signed integer overflow) before the length check rejected it.
  const std::string long_mode = "  socket: {path: /a, mode: \"" + std::string(200, '9') + "\"}";
  require_one_error(with_admin({"admin:", long_mode.c_str()}), 4, 28, "admin.socket.mode",
                    "bad mode");
  require_one_error(with_admin({"admin:", "  socket: {path: /a, level: root}"}), 4, 29,
                    "admin.socket.level", "expected one of: admin, read-only");
  require_one_error(with_admin({"admin:", "  socket: {mode: \"0600\"}"}), 4, 11,
                    "admin.socket.path", "missing");
  require_one_error(with_admin({"admin:", "  tcp: {address: 10.0.0.1, port: 1, token_file: t}"}), 4,
                    18, "admin.tcp.address", "not a loopback address");
  require_one_error(with_admin({"admin:", "  tcp: {port: 1}"}), 4, 8, "admin.tcp.token_file",
                    "missing");
  require_one_error(with_admin({"admin:", "  socket: {path: /a}", "  socket: {path: /b}"}), 5, 3,
                    "admin.socket", "duplicate");
  require_one_error(with_admin({"admin:", "  socket: {path: /a}", "  drain_timeout: soon"}), 5, 18,
                    "admin.drain_timeout", "bad duration");
  require_one_error(with_admin({"admin:", "  socket: {path: /a}", "  driver_lease: 500ms"}), 5,
                    17, "admin.driver_lease", "must be at least 1s");
  require_one_error(with_admin({"admin:", "  socket: {path: /a}", "  sockt: 1"}), 5, 3,
                    "admin.sockt", "unknown key");
  require_one_error(with_admin({"admin:", "  socket: {path: /a, max_connections: 0}"}), 4, 39,
                    "admin.socket.max_connections", "out of range (expected 1..10000)");
  require_one_error(with_admin({"admin:", "  live_within: 2s"}), 4, 3, "admin",
                    "needs a socket or a tcp listener");
}
