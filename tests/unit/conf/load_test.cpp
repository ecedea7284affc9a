// conf/load.h: the example loads, defaults apply, every value form is decoded, and the errors
// of the document's shape (unknown, duplicate, missing keys, wrong types, ranges, durations,
// sizes, names) are reported at their exact file:line:col and key path. The other sections
// and how errors read are in load_*_test.cpp.

#include "conf/load.h"
#include "unit/conf/load_helpers.h"

#include <catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

using namespace sy::conf;
using namespace sy::conf::test;

namespace {

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

TEST_CASE("names are single words") {
  require_one_error(doc({"listeners: [{name: 'my listener', port: 1, pool: p}]",
                         "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]"}),
                    1, 20, "listeners[0].name", "bad name \"my listener\"");
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
