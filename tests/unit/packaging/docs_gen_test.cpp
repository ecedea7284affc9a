// packaging/docs_gen.h: the config reference is read from the commented examples and is
// complete against the loader; the command sections and completion cover the whole table.

#include "packaging/docs_gen.h"

#include <catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

using namespace sy::packaging;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<ExampleFile> real_examples() {
  std::vector<ExampleFile> files;
  for (const char* name : {"switchyard.yaml", "tls.yaml", "routing.yaml", "configdb.yaml"}) {
    files.push_back({name, slurp(std::string(SY_SOURCE_DIR "/conf/examples/") + name)});
  }
  return files;
}

const KeyDoc* find(const ConfigReference& r, const std::string& path) {
  for (const auto& k : r.keys) {
    if (k.path == path) {
      return &k;
    }
  }
  return nullptr;
}

}  // namespace

TEST_CASE("roff escaping") {
  CHECK(roff_escape("--json") == "\\-\\-json");
  CHECK(roff_escape("a\\b") == "a\\eb");
  CHECK(roff_escape(".hidden") == "\\&.hidden");
  CHECK(roff_escape("'q") == "\\&'q");
  CHECK(roff_escape("plain") == "plain");
}

TEST_CASE("commented-out keys are uncommented, prose is not") {
  CHECK(uncomment_keys("#admin:\n#  socket:\n") == "admin:\n  socket:\n");
  CHECK(uncomment_keys("  # servers_sql: \"SELECT 1\"\n") == "  servers_sql: \"SELECT 1\"\n");
  CHECK(uncomment_keys("    # - name: x\n") == "    - name: x\n");
  CHECK(uncomment_keys("# Durations: 250ms\n# note that x\n#   openssl req -x\n") ==
        "# Durations: 250ms\n# note that x\n#   openssl req -x\n");
  CHECK(uncomment_keys("key: 1  # comment: here\n") == "key: 1  # comment: here\n");
  // A comment continued on the next lines stays a comment, even where it reads "key: ...".
  CHECK(uncomment_keys("a: 1    # about a,\n        # see: also b\n") ==
        "a: 1    # about a,\n        # see: also b\n");
  CHECK(uncomment_keys("  # b: 2    # about b,\n            # more\n            # c: 3\n") ==
        "  b: 2    # about b,\n            # more\n            # c: 3\n");
}

TEST_CASE("keys, comments, continuations, section texts and example values") {
  ConfigReference r = read_config_reference(
      {{"a.yaml", "# Intro of the file.\n"
                  "\n"
                  "# The workers.\n"
                  "# Two lines.\n"
                  "workers: 2\n"
                  "pools:\n"
                  "  - name: old            # the name\n"
                  "    members: [{address: \"1.2.3.4:80\", weight: 2}]  # flow items\n"
                  "    tls:\n"
                  "      ca: \"a#b.pem\"     # PEM bundle,\n"
                  "                        # continued\n"
                  "      # cert: c.pem     # client cert\n"},
       {"b.yaml", "pools:\n  - name: new\n    version: \"8\"  # label\n"}});
  REQUIRE(r.errors.empty());
  const KeyDoc* workers = find(r, "workers");
  REQUIRE(workers != nullptr);
  CHECK(workers->description == "The workers. Two lines.");
  CHECK(workers->examples == std::vector<std::string>{"2"});
  REQUIRE(find(r, "pools[].name") != nullptr);
  CHECK(find(r, "pools[].name")->description == "the name");
  CHECK(find(r, "pools[].name")->examples == std::vector<std::string>{"old", "new"});
  CHECK(find(r, "pools[].members")->description == "flow items");
  REQUIRE(find(r, "pools[].members[].address") != nullptr);
  CHECK(find(r, "pools[].members[].address")->description.empty());
  CHECK(find(r, "pools[].tls")->mapping);
  CHECK(find(r, "pools[].tls.ca")->description == "PEM bundle, continued");
  CHECK(find(r, "pools[].tls.ca")->examples == std::vector<std::string>{"a#b.pem"});
  CHECK(find(r, "pools[].tls.cert")->description == "client cert");
  CHECK(find(r, "pools[].version")->description == "label");

  std::string roff = render_config_keys(r);
  CHECK(roff.find(".SS pools\n") != std::string::npos);
  CHECK(roff.find("\\fBpools[].members[].address\\fR (e.g. \\fI1.2.3.4:80\\fR)\nSee "
                  "pools[].members.\n") != std::string::npos);
  // One section per top-level key even when a later file adds to it.
  CHECK(roff.find(".SS pools") == roff.rfind(".SS pools"));
}

TEST_CASE("a broken example is an error with its name") {
  ConfigReference r = read_config_reference({{"bad.yaml", "a: [1\n"}});
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].rfind("bad.yaml: ", 0) == 0);
}

TEST_CASE("the examples document exactly the keys the loader accepts") {
  auto files = real_examples();
  ConfigReference r = read_config_reference(files);
  auto problems = check_config_reference(files, r);
  std::string all;
  for (const auto& p : problems) {
    all += p + "\n";
  }
  INFO(all);
  CHECK(problems.empty());
  CHECK(find(r, "include_dir") != nullptr);
  CHECK(find(r, "database.dsns[].password_file") != nullptr);
}

TEST_CASE("the completeness check names missing and bogus keys") {
  std::vector<ExampleFile> files = {
      {"t.yaml", "listeners: [{name: m, port: 0, pool: p, colour: red}]\n"
                 "pools: [{name: p, members: [{address: \"127.0.0.1:1\"}]}]\n"}};
  auto problems = check_config_reference(files, read_config_reference(files));
  auto has = [&](const std::string& text) {
    for (const auto& p : problems) {
      if (p.find(text) != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  CHECK(has("listeners[].colour: in an example but not accepted by the loader"));
  CHECK(has("listeners[].backlog: accepted by the loader but in no example"));
  CHECK(has("workers: accepted by the loader but in no example"));
  CHECK(has("pools[].health_check: accepted by the loader but in no example"));
}

TEST_CASE("switchyardctl(1) and the completion cover every command of the table") {
  const auto& table = sy::admin::command_table();
  std::string roff = render_commands(table);
  std::string completion = render_bash_completion(table);
  for (const auto& c : table) {
    std::string name;
    for (const auto& w : c.words) {
      name += (name.empty() ? "" : " ") + w;
    }
    INFO(name);
    CHECK(roff.find("\\fB" + roff_escape(name) + "\\fR") != std::string::npos);
    CHECK(completion.find("\"" + name + " \"*) flags=\"") != std::string::npos);
    for (const auto& f : c.flags) {
      CHECK(roff.find(roff_escape(f.name)) != std::string::npos);
    }
  }
  CHECK(completion.find("complete -F _switchyardctl switchyardctl") != std::string::npos);
}

TEST_CASE("templates are filled") {
  CHECK(fill_template("v@VERSION@ @X@ @VERSION@", {{"VERSION", "1.0"}, {"X", "@VERSION@"}}) ==
        "v1.0 @VERSION@ 1.0");
}
