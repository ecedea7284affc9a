// Scenario YAML -> normalised JSON. A schema of Field tables drives one generic walker
// (mapping()), like conf/load.cpp; the timeline's fields come from the action type table.

#include "bench/scenario.h"

#include "admin/protocol.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace sy::bench {

namespace {

enum class Kind { Int, Number, Duration, String, Bool, Choice, Map, List, StringList };

struct Field {
  std::string_view key;
  Kind kind;
  bool required = false;
  std::string_view def = "";                // JSON text when absent; "" = left out
  const std::vector<Field>* sub = nullptr;  // Map, List (of mappings)
  std::vector<std::string_view> choices = {};
  double min = 0;
  double max = 1e15;
};

// ---- the schema ---------------------------------------------------------------------------

const std::vector<Field> kPool = {
    {"name", Kind::String, true},
    {"version", Kind::String, true},
    {"members", Kind::Int, false, "1", nullptr, {}, 1, 64},
    {"latency", Kind::Duration, false, "0"},  // emulated application time per request
    {"server_id", Kind::Int, false, "", nullptr, {}, 1, 1000000},
};

const std::vector<Field> kInstance = {
    {"name", Kind::String, true},
    {"role", Kind::Choice, true, "", nullptr, {"old", "new"}},
    {"serve", Kind::String, true},  // the pool this instance serves
    {"workers", Kind::Int, false, "1", nullptr, {}, 1, 64},
};

const std::vector<Field> kHold = {
    {"max_requests", Kind::Int, false, "100000", nullptr, {}, 0, 10000000},
    {"max_wait", Kind::Duration, false, "60000"},
};

const std::vector<Field> kTopology = {
    {"tenants", Kind::Int, true, "", nullptr, {}, 1, 100000000},
    {"schemas", Kind::Int, true, "", nullptr, {}, 1, 100000},
    {"schema_rows", Kind::Int, false, "0", nullptr, {}, 0, 100000000},  // rows per schema table
    {"moved_schemas", Kind::Int, false, "0", nullptr, {}, 0, 100000},   // already on the new server
    {"logins", Kind::Bool, false, "false"},  // seed the login table user@<id> -> id
    // own: Switchyard's tables; ox: an OX configdb (tests/tools/ox_configdb.py) with
    // database.profile ox and a state database of its own (bench/README.md)
    {"profile", Kind::Choice, false, "\"own\"", nullptr, {"own", "ox"}},
    {"backend", Kind::Choice, false, "\"app\"", nullptr, {"app", "nginx"}},
    {"pools", Kind::List, true, "", &kPool},
    {"instances", Kind::List, true, "", &kInstance},
    {"entry", Kind::String, true},  // the instance the load is sent to
    {"hold", Kind::Map, false, "{}", &kHold},
};

const std::vector<Field> kTenants = {
    {"distribution", Kind::Choice, false, "\"uniform\"", nullptr, {"uniform", "zipf"}},
    {"s", Kind::Number, false, "1.0", nullptr, {}, 0.01, 10},
};

const std::vector<Field> kLoad = {
    {"mode", Kind::Choice, true, "", nullptr, {"open", "closed"}},
    {"rate", Kind::Number, false, "0", nullptr, {}, 0, 10000000},  // open loop: requests/s
    {"connections", Kind::Int, false, "16", nullptr, {}, 1, 100000},
    {"threads", Kind::Int, false, "1", nullptr, {}, 1, 256},
    {"protocol", Kind::Choice, false, "\"h1\"", nullptr, {"h1", "h2"}},
    {"streams", Kind::Int, false, "10", nullptr, {}, 1, 1000},  // h2: per connection
    {"tls", Kind::Bool, false, "false"},
    {"tenants", Kind::Map, false, "{}", &kTenants},
    {"tenant_in",
     Kind::Choice,
     false,
     "\"header\"",
     nullptr,
     {"header", "cookie", "host", "login"}},
    {"follow_redirects", Kind::Bool, false, "true"},
    {"timeout", Kind::Duration, false, "30000"},
    {"path", Kind::String, false, "\"/app\""},
    {"warmup", Kind::Duration, false, "1000"},
    // Pin the load generator (and wrk/h2load) to the last CPU, everything else to the others,
    // so the client and the proxy do not take each other's core.
    {"pin", Kind::Bool, false, "false"},
};

const std::vector<Field> kPeer = {
    {"kind", Kind::Choice, true, "", nullptr, {"haproxy", "wrk", "h2load"}},
    // wrk / h2load: interleaved rounds of the tool and switchyard-bench (closed loop, the same
    // connections), medians reported.
    {"rounds", Kind::Int, false, "3", nullptr, {}, 1, 50},
    {"round_duration", Kind::Duration, false, "5000"},
};

// ---- the action type table ----------------------------------------------------------------

const std::vector<ActionType> kActions = {
    {"upgrade",
     "walk the cluster to RUNNING_UPGRADE_TASKS and run `upgrade schemata` to the new pool's "
     "server through switchyardctl (peer haproxy: disable, move, task, enable with plain SQL)",
     {{"task_time", "duration", false, "0", "each schema's update task sleeps this long"},
      {"server", "string", false, "\"\"", "target pool (default: the pool of role new)"}}},
    {"db_stop",
     "stop the MariaDB server, start it again after |duration|",
     {{"duration", "duration", true, "", "how long the database stays down"}}},
    {"drain",
     "`pool member drain POOL MEMBER` and wait until it holds no connection",
     {{"pool", "string", true, "", "pool name"},
      {"member", "int", true, "", "member index in the pool, from 0"},
      {"stop", "bool", false, "false", "then stop the member's backend process"}}},
    {"ready",
     "`pool member ready POOL MEMBER` (restarts the backend if drain stopped it)",
     {{"pool", "string", true, "", "pool name"},
      {"member", "int", true, "", "member index in the pool, from 0"}}},
    {"swap",
     "hitless binary swap of a Switchyard instance (`switchyardctl upgrade binary`): wait until "
     "the successor serves and the old process has drained and exited; the load's failures "
     "during it are the result (peer haproxy: nothing happens)",
     {{"instance", "string", false, "\"\"", "instance name (default: the entry instance)"},
      {"times", "int", false, "1", "swaps one after the other"}}},
};

// ---- JSON output --------------------------------------------------------------------------

std::string json_string(std::string_view s) { return "\"" + admin::json_escape(s) + "\""; }

std::string number_json(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<long long>(v));
  }
  std::ostringstream os;
  os.precision(12);
  os << v;
  return os.str();
}

// ---- the walker ---------------------------------------------------------------------------

class Parser {
 public:
  Parser(std::string file, std::vector<ScenarioError>* errors)
      : file_(std::move(file)), errors_(errors) {}

  void error(const YAML::Node& node, const std::string& path, const std::string& msg) {
    conf::Mark m = mark(node);
    errors_->push_back(ScenarioError{file_, m.line, m.col, path, msg});
  }
  static conf::Mark mark(const YAML::Node& node) {
    YAML::Mark m = node.Mark();
    if (m.is_null()) {
      return conf::Mark{};
    }
    return conf::Mark{m.line + 1, m.column + 1};
  }
  static std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }
  static std::string describe(const YAML::Node& n) {
    if (n.IsMap())
      return "a mapping";
    if (n.IsSequence())
      return "a list";
    if (n.IsScalar())
      return "\"" + n.Scalar() + "\"";
    return "nothing";
  }

  // Decodes one value; "" on error (already reported).
  std::string value(const YAML::Node& n, const Field& f, const std::string& path) {
    auto scalar = [&](const char* expected) -> bool {
      if (!n.IsScalar()) {
        error(n, path, std::string("expected ") + expected + ", got " + describe(n));
        return false;
      }
      return true;
    };
    switch (f.kind) {
    case Kind::Int:
    case Kind::Number: {
      if (!scalar(f.kind == Kind::Int ? "an integer" : "a number"))
        return "";
      const std::string& s = n.Scalar();
      double v = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      bool whole = ec == std::errc() && p == s.data() + s.size();
      if (!whole || (f.kind == Kind::Int && std::floor(v) != v)) {
        error(n, path,
              "expected " + std::string(f.kind == Kind::Int ? "an integer" : "a number") +
                  ", got \"" + s + "\"");
        return "";
      }
      if (v < f.min || v > f.max) {
        error(n, path,
              "out of range: " + s + " (expected " + number_json(f.min) + ".." +
                  number_json(f.max) + ")");
        return "";
      }
      return number_json(v);
    }
    case Kind::Duration: {
      if (!scalar("a duration"))
        return "";
      conf::Millis ms{};
      if (!conf::parse_duration(n.Scalar(), &ms)) {
        error(n, path, "bad duration \"" + n.Scalar() + "\" (expected e.g. 250ms, 2s, 1m, 1h)");
        return "";
      }
      return std::to_string(ms.count());
    }
    case Kind::String:
      if (!scalar("a string"))
        return "";
      if (n.Scalar().empty()) {
        error(n, path, "must not be empty");
        return "";
      }
      return json_string(n.Scalar());
    case Kind::Bool: {
      if (!scalar("true or false"))
        return "";
      const std::string& s = n.Scalar();
      if (s == "true" || s == "yes" || s == "on")
        return "true";
      if (s == "false" || s == "no" || s == "off")
        return "false";
      error(n, path, "expected true or false, got \"" + s + "\"");
      return "";
    }
    case Kind::Choice: {
      if (!scalar("a word"))
        return "";
      for (auto c : f.choices) {
        if (n.Scalar() == c)
          return json_string(c);
      }
      std::string list;
      for (auto c : f.choices)
        list += (list.empty() ? "" : ", ") + std::string(c);
      error(n, path, "unknown value \"" + n.Scalar() + "\" (expected one of: " + list + ")");
      return "";
    }
    case Kind::Map: return mapping(n, path, *f.sub);
    case Kind::List:
    case Kind::StringList: {
      if (!n.IsSequence()) {
        error(n, path, "expected a list, got " + describe(n));
        return "";
      }
      std::string out = "[";
      bool ok = true;
      for (size_t i = 0; i < n.size(); ++i) {
        std::string item_path = path + "[" + std::to_string(i) + "]";
        std::string item;
        if (f.kind == Kind::List) {
          item = mapping(n[i], item_path, *f.sub);
        } else {
          Field s{"", Kind::String};
          item = value(n[i], s, item_path);
        }
        ok = ok && !item.empty();
        out += (i ? "," : "") + item;
      }
      return ok ? out + "]" : "";
    }
    }
    return "";
  }

  // Walks a mapping against |fields| (+ |extra|, the chosen action's parameters).
  std::string mapping(const YAML::Node& n, const std::string& path,
                      const std::vector<Field>& fields, const std::vector<Field>* extra = nullptr) {
    if (!n.IsMap()) {
      error(n, path, "expected a mapping, got " + describe(n));
      return "";
    }
    std::map<std::string, std::string, std::less<>> got;
    std::set<std::string, std::less<>> seen;
    bool ok = true;
    auto find = [&](std::string_view key) -> const Field* {
      for (const auto* table : {&fields, extra}) {
        if (table == nullptr)
          continue;
        for (const auto& f : *table) {
          if (f.key == key)
            return &f;
        }
      }
      return nullptr;
    };
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string key = it->first.Scalar();
      std::string kpath = join(path, key);
      if (path.empty() && key == "timeline") {
        continue;  // the document's timeline is decoded by timeline()
      }
      if (!seen.insert(key).second) {
        error(it->first, kpath, "duplicate key");
        ok = false;
        continue;
      }
      const Field* f = find(key);
      if (f == nullptr) {
        std::string known;
        for (const auto* table : {&fields, extra}) {
          if (table == nullptr)
            continue;
          for (const auto& k : *table)
            known += (known.empty() ? "" : ", ") + std::string(k.key);
        }
        error(it->first, kpath, "unknown key (expected one of: " + known + ")");
        ok = false;
        continue;
      }
      std::string v = value(it->second, *f, kpath);
      if (v.empty()) {
        ok = false;
        continue;
      }
      got[key] = v;
    }
    std::string out = "{";
    bool first = true;
    for (const auto* table : {&fields, extra}) {
      if (table == nullptr)
        continue;
      for (const auto& f : *table) {
        auto g = got.find(f.key);
        std::string v;
        if (g != got.end()) {
          v = g->second;
        } else if (seen.count(f.key) != 0) {
          continue;  // present but bad: already reported
        } else if (f.required) {
          error(n, join(path, f.key), "missing (required)");
          ok = false;
          continue;
        } else if (!f.def.empty()) {
          v = f.def;
          if (f.kind == Kind::Map && v == "{}") {
            v = mapping(YAML::Load("{}"), join(path, f.key), *f.sub);
          }
        } else {
          continue;
        }
        out += (first ? "" : ",") + json_string(f.key) + ":" + v;
        first = false;
      }
    }
    return ok ? out + "}" : "";
  }

  std::string timeline(const YAML::Node& n, const std::string& path) {
    if (!n.IsSequence()) {
      error(n, path, "expected a list of actions, got " + describe(n));
      return "";
    }
    static const std::vector<Field> kBase = {
        {"at", Kind::Duration, true},
        {"action", Kind::String, true},
    };
    std::string out = "[";
    bool ok = true;
    for (size_t i = 0; i < n.size(); ++i) {
      std::string ipath = path + "[" + std::to_string(i) + "]";
      const YAML::Node& item = n[i];
      const ActionType* type = nullptr;
      if (item.IsMap() && item["action"] && item["action"].IsScalar()) {
        for (const auto& a : kActions) {
          if (a.name == item["action"].Scalar())
            type = &a;
        }
        if (type == nullptr) {
          std::string known;
          for (const auto& a : kActions)
            known += (known.empty() ? "" : ", ") + std::string(a.name);
          error(item["action"], ipath + ".action",
                "unknown action \"" + item["action"].Scalar() + "\" (expected one of: " + known +
                    ")");
          ok = false;
          continue;
        }
      }
      std::vector<Field> params;
      if (type != nullptr) {
        for (const auto& p : type->params) {
          Kind k = p.kind == "duration" ? Kind::Duration
                   : p.kind == "int"    ? Kind::Int
                   : p.kind == "bool"   ? Kind::Bool
                                        : Kind::String;
          params.push_back(Field{p.key, k, p.required, p.default_json});
        }
      }
      std::string v = mapping(item, ipath, kBase, &params);
      ok = ok && !v.empty();
      out += (i ? "," : "") + v;
    }
    return ok ? out + "]" : "";
  }

  std::string document(const YAML::Node& root) {
    static const std::vector<Field> kTopLevel = {
        {"name", Kind::String, true},
        {"description", Kind::String, false, "\"\""},
        {"duration", Kind::Duration, true},
        {"topology", Kind::Map, true, "", &kTopology},
        {"load", Kind::Map, true, "", &kLoad},
        {"timeline", Kind::List, false, "[]"},  // decoded by timeline()
        {"peers", Kind::List, false, "[]", &kPeer},
    };
    if (!root.IsMap()) {
      error(root, "",
            "expected a mapping with name, duration, topology, load (got " + describe(root) + ")");
      return "";
    }
    // timeline is special: its rows take their fields from the action type table.
    const YAML::Node tl = root["timeline"];
    static const std::vector<Field> kWithoutTimeline = [] {
      std::vector<Field> v;
      for (const auto& f : kTopLevel) {
        if (f.key != "timeline")
          v.push_back(f);
      }
      return v;
    }();
    std::string head = mapping(root, "", kWithoutTimeline);
    std::string tl_json = tl ? timeline(tl, "timeline") : "[]";
    if (head.empty() || tl_json.empty()) {
      return "";
    }
    validate(root);
    if (!errors_->empty()) {
      return "";
    }
    head.pop_back();  // '}'
    return head + ",\"timeline\":" + tl_json + "}";
  }

  // Pass 2: checks across fields, on a document pass 1 accepted (so every value parses).
  void validate(const YAML::Node& root) {
    const YAML::Node topo = root["topology"];
    const YAML::Node load = root["load"];
    std::set<std::string> pools;
    std::map<std::string, int> members;
    const bool ox = topo["profile"] && topo["profile"].Scalar() == "ox";
    for (const auto& p : topo["pools"]) {
      std::string name = p["name"].Scalar();
      if (!pools.insert(name).second)
        error(p["name"], "topology.pools", "duplicate pool \"" + name + "\"");
      if (ox && p["server_id"]) {
        error(p["server_id"], "topology.pools.server_id",
              "profile ox takes server ids from configdb_sequence (pools in order); leave it out");
      }
      members[name] = p["members"] ? p["members"].as<int>() : 1;
    }
    std::set<std::string> instances;
    std::set<std::string> roles;
    for (const auto& i : topo["instances"]) {
      std::string name = i["name"].Scalar();
      if (!instances.insert(name).second) {
        error(i["name"], "topology.instances", "duplicate instance \"" + name + "\"");
      }
      roles.insert(i["role"].Scalar());
      if (pools.count(i["serve"].Scalar()) == 0) {
        error(i["serve"], "topology.instances.serve", "no pool \"" + i["serve"].Scalar() + "\"");
      }
    }
    if (instances.count(topo["entry"].Scalar()) == 0) {
      error(topo["entry"], "topology.entry", "no instance \"" + topo["entry"].Scalar() + "\"");
    }
    if (topo["tenants"].as<long long>() < topo["schemas"].as<long long>()) {
      error(topo["tenants"], "topology.tenants", "fewer tenants than schemas");
    }
    if (topo["moved_schemas"] &&
        topo["moved_schemas"].as<long long>() > topo["schemas"].as<long long>()) {
      error(topo["moved_schemas"], "topology.moved_schemas", "more than topology.schemas");
    }
    if (load["mode"].Scalar() == "open" && (!load["rate"] || load["rate"].as<double>() <= 0)) {
      error(load["mode"], "load.rate", "open loop needs a rate > 0 (requests/s)");
    }
    // On profile ox every context is a login mapping already (createcontext maps the cid).
    if (load["tenant_in"] && load["tenant_in"].Scalar() == "login" && !ox &&
        !(topo["logins"] && topo["logins"].as<bool>())) {
      error(load["tenant_in"], "load.tenant_in",
            "login needs topology.logins: true (or profile ox)");
    }
    conf::Millis duration{};
    conf::parse_duration(root["duration"].Scalar(), &duration);
    bool upgrade = false;
    const YAML::Node tl = root["timeline"];
    for (size_t i = 0; tl && i < tl.size(); ++i) {
      std::string path = "timeline[" + std::to_string(i) + "]";
      conf::Millis at{};
      conf::parse_duration(tl[i]["at"].Scalar(), &at);
      if (at >= duration)
        error(tl[i]["at"], path + ".at", "at or after the end of the run (duration)");
      std::string action = tl[i]["action"].Scalar();
      upgrade = upgrade || action == "upgrade";
      if (action == "upgrade" && roles.count("new") == 0) {
        error(tl[i], path, "upgrade needs an instance with role new");
      }
      if (action == "drain" || action == "ready") {
        std::string pool = tl[i]["pool"].Scalar();
        if (pools.count(pool) == 0) {
          error(tl[i]["pool"], path + ".pool", "no pool \"" + pool + "\"");
        } else if (tl[i]["member"].as<int>() < 0 || tl[i]["member"].as<int>() >= members[pool]) {
          error(tl[i]["member"], path + ".member",
                "no member " + tl[i]["member"].Scalar() + " in pool " + pool + " (it has " +
                    std::to_string(members[pool]) + ")");
        }
      }
    }
    for (const auto& p : root["peers"]) {
      std::string kind = p["kind"].Scalar();
      if (kind == "haproxy" && !upgrade) {
        error(p["kind"], "peers.kind", "haproxy replays an upgrade action; the timeline has none");
      }
      if (kind == "wrk" && load["protocol"] && load["protocol"].Scalar() == "h2") {
        error(p["kind"], "peers.kind", "wrk speaks HTTP/1.1 only (load.protocol is h2)");
      }
      if (kind == "h2load" && !(load["protocol"] && load["protocol"].Scalar() == "h2")) {
        error(p["kind"], "peers.kind", "h2load compares the h2 load (set load.protocol: h2)");
      }
    }
  }

 private:
  std::string file_;
  std::vector<ScenarioError>* errors_;
};

}  // namespace

const std::vector<ActionType>& action_types() { return kActions; }

ScenarioResult parse_scenario_string(std::string_view yaml, const std::string& file_label) {
  ScenarioResult r;
  YAML::Node root;
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(std::string(yaml));
    if (docs.size() > 1) {
      YAML::Mark m = docs[1].Mark();
      r.errors.push_back({file_label, m.line + 1, m.column + 1, "",
                          "a second YAML document (expected exactly one)"});
      return r;
    }
    if (!docs.empty())
      root = docs.front();
  } catch (const YAML::Exception& e) {
    r.errors.push_back({file_label, e.mark.is_null() ? 0 : e.mark.line + 1,
                        e.mark.is_null() ? 0 : e.mark.column + 1, "",
                        "YAML syntax error: " + e.msg});
    return r;
  }
  try {
    Parser p(file_label, &r.errors);
    r.json = p.document(root);
  } catch (const std::exception& e) {
    r.errors.push_back({file_label, 0, 0, "", std::string("internal error: ") + e.what()});
  }
  std::stable_sort(r.errors.begin(), r.errors.end(), [](const auto& a, const auto& b) {
    return a.line != b.line ? a.line < b.line : a.col < b.col;
  });
  return r;
}

ScenarioResult parse_scenario_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    ScenarioResult r;
    r.errors.push_back({path, 0, 0, "", "cannot read file"});
    return r;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_scenario_string(ss.str(), path);
}

}  // namespace sy::bench
