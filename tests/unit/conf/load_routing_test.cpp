// conf/load.h: the database and routing sections (and profile ox): defaults, every key, errors
// at their keys.

#include "conf/load.h"
#include "unit/conf/load_helpers.h"

#include <catch.hpp>

#include <string>

using namespace sy::conf;
using namespace sy::conf::test;

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
  CHECK(c.database.stale_after == Millis(10000));
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

TEST_CASE("database.stale_after loads and must be longer than refresh_interval") {
  LoadResult r = load_config_string(
      routed("database:\n  dsns: [{user: sy, database: d}]\n  stale_after: 3s\n"), "t.yaml");
  INFO(all(r));
  REQUIRE(r.errors.empty());
  CHECK(r.config.database.stale_after == Millis(3000));
  // Line 8 is the first line after routed()'s pools.
  require_one_error(routed("database:\n  dsns: [{user: sy, database: d}]\n"
                           "  refresh_interval: 1s\n  stale_after: 500ms\n"),
                    11, 16, "database.stale_after", "must be longer than refresh_interval");
  // The default bound is checked against a long refresh too, at the key that was set.
  require_one_error(routed("database:\n  dsns: [{user: sy, database: d}]\n"
                           "  refresh_interval: 20s\n"),
                    10, 21, "database.refresh_interval", "stale_after (10000 ms)");
  require_one_error(routed("database:\n  dsns: [{user: sy, database: d}]\n  stale_after: 0s\n"), 10,
                    16, "database.stale_after", "out of range");
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
