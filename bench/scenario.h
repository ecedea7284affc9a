#pragma once
// Bench scenarios: YAML -> validated, normalised JSON for bench/run (STYLE rule 9: every error
// located as file:line:col: key.path: what is wrong; unknown and duplicate keys are errors).
//
// A scenario has four parts (bench/README.md documents each key; bench/scenarios/ has examples):
//   topology  tenants, schemas, rows per schema, pools (version, members, latency), Switchyard
//             instances (role, pools served, workers), where the load enters
//   load      open loop at a rate or closed loop at a concurrency, protocol, TLS, tenant
//             distribution and where the tenant goes in the request, 307 following
//   timeline  admin actions at offsets: one row of kActions each (the action type table)
//   peers     what else runs the same scenario for the report: haproxy (the migration done with
//             plain SQL behind HAProxy), wrk and h2load (the same steady load from other tools)
//
// The parser only checks and normalises: durations become milliseconds, defaults are filled
// in, so bench/run (Python) reads one plain JSON document and never parses YAML itself.
//
// Thread: any; blocking (reads a file). Never throws.

#include <string>
#include <string_view>
#include <vector>

#include "conf/load.h"

namespace sy::bench {

using ScenarioError = conf::ConfigError;

struct ScenarioResult {
  std::string json;                   // the normalised scenario; valid when errors is empty
  std::vector<ScenarioError> errors;  // every problem found, in document order
  bool ok() const { return errors.empty(); }
};

ScenarioResult parse_scenario_file(const std::string& path);
ScenarioResult parse_scenario_string(std::string_view yaml, const std::string& file_label);

// One row of the action type table: an action's name, what it does and its parameters. A new
// timeline action (e.g. a Switchyard binary swap) is one row here and one handler in bench/run.
struct ActionParam {
  std::string_view key;
  std::string_view kind;  // "duration" | "int" | "string" | "bool"
  bool required;
  std::string_view default_json;  // JSON text used when absent ("" = omitted)
  std::string_view help;
};
struct ActionType {
  std::string_view name;
  std::string_view help;
  std::vector<ActionParam> params;
};
const std::vector<ActionType>& action_types();

}  // namespace sy::bench
