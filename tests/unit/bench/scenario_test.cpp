// bench/scenario.h: scenario YAML -> normalised JSON; every error located at file:line:col.

#include "bench/scenario.h"

#include <catch.hpp>

#include <filesystem>
#include <string>

using namespace sy::bench;

namespace {

const std::string kGood = "name: small\n"                                                    // 1
                          "duration: 10s\n"                                                  // 2
                          "topology:\n"                                                      // 3
                          "  tenants: 1000\n"                                                // 4
                          "  schemas: 4\n"                                                   // 5
                          "  pools:\n"                                                       // 6
                          "    - {name: old, version: '7.10', members: 2, latency: 2ms}\n"   // 7
                          "    - {name: new, version: '8.0'}\n"                              // 8
                          "  instances:\n"                                                   // 9
                          "    - {name: sy-old, role: old, serve: old}\n"                    // 10
                          "    - {name: sy-new, role: new, serve: new, workers: 2}\n"        // 11
                          "  entry: sy-old\n"                                                // 12
                          "load:\n"                                                          // 13
                          "  mode: open\n"                                                   // 14
                          "  rate: 500\n"                                                    // 15
                          "  tenants: {distribution: zipf, s: 1.1}\n"                        // 16
                          "timeline:\n"                                                      // 17
                          "  - {at: 2s, action: upgrade, task_time: 500ms}\n"                // 18
                          "  - {at: 5s, action: drain, pool: old, member: 1, stop: true}\n"  // 19
                          "peers: [{kind: haproxy}]\n";                                      // 20

std::string first_error(const ScenarioResult& r) {
  REQUIRE_FALSE(r.ok());
  return sy::conf::format(r.errors.front());
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("a good scenario becomes JSON with defaults filled in and durations in ms") {
  ScenarioResult r = parse_scenario_string(kGood, "s.yaml");
  INFO((r.errors.empty() ? "" : sy::conf::format(r.errors.front())));
  REQUIRE(r.ok());
  const std::string& j = r.json;
  CHECK(j.find("\"duration\":10000") != std::string::npos);
  CHECK(j.find("\"latency\":2") != std::string::npos);
  CHECK(j.find("{\"name\":\"new\",\"version\":\"8.0\",\"members\":1,\"latency\":0}") !=
        std::string::npos);
  CHECK(j.find("\"workers\":2") != std::string::npos);
  CHECK(j.find("\"protocol\":\"h1\"") != std::string::npos);  // default
  CHECK(j.find("\"distribution\":\"zipf\",\"s\":1.1") != std::string::npos);
  CHECK(j.find("\"hold\":{\"max_requests\":100000,\"max_wait\":60000}") != std::string::npos);
  CHECK(j.find("{\"at\":2000,\"action\":\"upgrade\",\"task_time\":500,\"server\":\"\"}") !=
        std::string::npos);
  CHECK(j.find("{\"at\":5000,\"action\":\"drain\",\"pool\":\"old\",\"member\":1,\"stop\":true}") !=
        std::string::npos);
  CHECK(j.find("\"peers\":[{\"kind\":\"haproxy\",\"rounds\":3,\"round_duration\":5000}]") !=
        std::string::npos);
}

TEST_CASE("bad YAML is one syntax error at its line and column") {
  ScenarioResult r = parse_scenario_string("name: x\nload: {mode: open\n", "bad.yaml");
  REQUIRE(r.errors.size() == 1);
  std::string e = first_error(r);
  CHECK(e.rfind("bad.yaml:", 0) == 0);
  CHECK(e.find("YAML syntax error") != std::string::npos);
  CHECK(r.errors.front().line >= 2);
}

TEST_CASE("an unknown key is reported where it is written, with the keys allowed there") {
  ScenarioResult r =
      parse_scenario_string(replace(kGood, "  rate: 500\n", "  rat: 500\n"), "s.yaml");
  std::string e = first_error(r);
  CHECK(e.find("s.yaml:15:3: load.rat: unknown key (expected one of: mode, rate,") == 0);
}

TEST_CASE("an unknown action names the known ones") {
  ScenarioResult r =
      parse_scenario_string(replace(kGood, "action: upgrade", "action: upgrad"), "s.yaml");
  CHECK(first_error(r) ==
        "s.yaml:18:22: timeline[0].action: unknown action \"upgrad\" (expected one of: upgrade, "
        "db_stop, drain, ready, swap)");
}

TEST_CASE("an action's parameters come from the action type table") {
  ScenarioResult r = parse_scenario_string(
      replace(kGood, "action: upgrade, task_time: 500ms", "action: db_stop"), "s.yaml");
  CHECK(first_error(r) == "s.yaml:18:5: timeline[0].duration: missing (required)");
  // swap: both parameters optional, defaults filled in; a bad type is located.
  const std::string drain = "action: drain, pool: old, member: 1, stop: true";
  r = parse_scenario_string(replace(kGood, drain, "action: swap"), "s.yaml");
  REQUIRE(r.ok());
  CHECK(r.json.find(R"("action":"swap","instance":"","times":1)") != std::string::npos);
  r = parse_scenario_string(replace(kGood, drain, "action: swap, times: many"), "s.yaml");
  CHECK(first_error(r).find("s.yaml:19:") == 0);
  CHECK(first_error(r).find("timeline[1].times") != std::string::npos);
  r = parse_scenario_string(replace(kGood, "task_time: 500ms", "pool: old"), "s.yaml");
  CHECK(first_error(r).find("s.yaml:18:31: timeline[0].pool: unknown key (expected one of: at, "
                            "action, task_time, server)") == 0);
}

TEST_CASE("wrong types and ranges are located") {
  CHECK(first_error(parse_scenario_string(replace(kGood, "rate: 500", "rate: fast"), "s.yaml")) ==
        "s.yaml:15:9: load.rate: expected a number, got \"fast\"");
  CHECK(first_error(
            parse_scenario_string(replace(kGood, "duration: 10s", "duration: 10 s"), "s.yaml")) ==
        "s.yaml:2:11: duration: bad duration \"10 s\" (expected e.g. 250ms, 2s, 1m, 1h)");
  CHECK(first_error(parse_scenario_string(replace(kGood, "mode: open", "mode: half"), "s.yaml")) ==
        "s.yaml:14:9: load.mode: unknown value \"half\" (expected one of: open, closed)");
  CHECK(first_error(parse_scenario_string(replace(kGood, "members: 2", "members: 0"), "s.yaml")) ==
        "s.yaml:7:45: topology.pools[0].members: out of range: 0 (expected 1..64)");
}

TEST_CASE("duplicate keys are errors") {
  ScenarioResult r = parse_scenario_string(
      replace(kGood, "  rate: 500\n", "  rate: 500\n  rate: 600\n"), "s.yaml");
  CHECK(first_error(r) == "s.yaml:16:3: load.rate: duplicate key");
}

TEST_CASE("cross-field mistakes are located too") {
  CHECK(first_error(
            parse_scenario_string(replace(kGood, "entry: sy-old", "entry: nobody"), "s.yaml")) ==
        "s.yaml:12:10: topology.entry: no instance \"nobody\"");
  CHECK(first_error(parse_scenario_string(replace(kGood, "member: 1,", "member: 2,"), "s.yaml")) ==
        "s.yaml:19:48: timeline[1].member: no member 2 in pool old (it has 2)");
  CHECK(first_error(parse_scenario_string(replace(kGood, "at: 5s", "at: 10s"), "s.yaml")) ==
        "s.yaml:19:10: timeline[1].at: at or after the end of the run (duration)");
  CHECK(first_error(parse_scenario_string(replace(kGood, "rate: 500", "rate: 0"), "s.yaml")) ==
        "s.yaml:14:9: load.rate: open loop needs a rate > 0 (requests/s)");
  CHECK(first_error(
            parse_scenario_string(replace(kGood, "serve: new,", "serve: newer,"), "s.yaml")) ==
        "s.yaml:11:40: topology.instances.serve: no pool \"newer\"");
}

TEST_CASE("profile ox: server ids come from configdb_sequence, every context is a login") {
  std::string ox = replace(kGood, "  pools:\n", "  profile: ox\n  pools:\n");
  ScenarioResult r = parse_scenario_string(
      replace(ox, "  tenants: {", "  tenant_in: login\n  tenants: {"), "s.yaml");
  INFO((r.errors.empty() ? "" : sy::conf::format(r.errors.front())));
  REQUIRE(r.ok());
  CHECK(r.json.find("\"profile\":\"ox\"") != std::string::npos);
  CHECK(parse_scenario_string(kGood, "s.yaml").json.find("\"profile\":\"own\"") !=
        std::string::npos);
  CHECK(first_error(parse_scenario_string(
            replace(ox, "name: new, version: '8.0'", "name: new, version: '8.0', server_id: 9"),
            "s.yaml")) ==
        "s.yaml:9:46: topology.pools.server_id: profile ox takes server ids from configdb_sequence "
        "(pools in order); leave it out");
  CHECK(first_error(parse_scenario_string(
            replace(kGood, "  tenants: {", "  tenant_in: login\n  tenants: {"), "s.yaml")) ==
        "s.yaml:16:14: load.tenant_in: login needs topology.logins: true (or profile ox)");
  CHECK(
      first_error(parse_scenario_string(replace(ox, "profile: ox", "profile: configdb"), "s.yaml"))
          .find("topology.profile") != std::string::npos);
}

TEST_CASE("a missing file is one error without a position") {
  ScenarioResult r = parse_scenario_file("/nonexistent/x.yaml");
  CHECK(first_error(r) == "/nonexistent/x.yaml: cannot read file");
}

TEST_CASE("every shipped scenario parses") {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(SY_SOURCE_DIR "/bench/scenarios")) {
    if (entry.path().extension() != ".yaml")
      continue;
    ScenarioResult r = parse_scenario_file(entry.path().string());
    INFO(entry.path().string() << ": " << (r.ok() ? "" : sy::conf::format(r.errors.front())));
    CHECK(r.ok());
    ++n;
  }
  CHECK(n >= 6);
}
