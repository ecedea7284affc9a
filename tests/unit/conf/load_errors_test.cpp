// conf/load.h: how errors read: all of them in document order, YAML the parser rejects (syntax,
// a second document, deep nesting, a leading ',', NUL bytes), values escaped and cut, the file
// named in each error.

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
