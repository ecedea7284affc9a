// conf/overlay.h through conf/load.h: include_dir overlays merge over the main file in name
// order (mappings key by key, listeners/pools/database.servers by name, the rest replaced), and
// every error names the file, line and column where the value was written.

#include "conf/load.h"
#include "unit/conf/load_helpers.h"

#include <catch.hpp>

#include <string>

using namespace sy::conf;
using namespace sy::conf::test;

namespace {

const char kMain[] = "include_dir: conf.d\n"              // 1
                     "log_level: info\n"                  // 2
                     "workers: 1\n"                       // 3
                     "listeners:\n"                       // 4
                     "  - name: main\n"                   // 5
                     "    port: 8080\n"                   // 6
                     "    pool: old\n"                    // 7
                     "pools:\n"                           // 8
                     "  - name: old\n"                    // 9
                     "    members:\n"                     // 10
                     "      - address: 127.0.0.1:9001\n"  // 11
                     "      - address: 127.0.0.1:9002\n"  // 12
                     "    health_check:\n"                // 13
                     "      interval: 5s\n"               // 14
                     "      path: /health\n";             // 15

// The one error of |r| in |file| at |line|:|col| on |path|, its message containing |part|.
void require_error(const LoadResult& r, const std::string& file, int line, int col,
                   const std::string& path, const std::string& part) {
  INFO(all(r));
  bool found = false;
  for (const auto& e : r.errors) {
    if (e.file == file && e.line == line && e.col == col && e.path == path &&
        e.message.find(part) != std::string::npos) {
      found = true;
    }
  }
  CHECK(found);
}

}  // namespace

TEST_CASE("without include_dir only the main file is read") {
  TempDir dir;
  std::string main = dir.write("sy.yaml", std::string(kMain).substr(sizeof "include_dir: conf.d"));
  dir.write("conf.d/10-x.yaml", "log_level: debug\n");  // not named by the main file: ignored
  LoadResult r = load_config_file(main);
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.config.log_level == "info");
  CHECK(r.config.include_dir.empty());
  CHECK(r.config.files == std::vector<std::string>{main});
}

TEST_CASE("overlays merge in name order: mappings by key, named lists by name, the rest replaced") {
  TempDir dir;
  std::string main = dir.write("sy.yaml", kMain);
  std::string site = dir.write("conf.d/10-site.yaml",
                               "log_level: debug\n"                             // 1
                               "listeners:\n"                                   // 2
                               "  - name: main\n"                               // 3
                               "    port: 9090\n"                               // 4
                               "  - name: extra\n"                              // 5
                               "    port: 9091\n"                               // 6
                               "    pool: new\n"                                // 7
                               "pools:\n"                                       // 8
                               "  - name: old\n"                                // 9
                               "    members:\n"                                 // 10
                               "      - address: 10.0.0.1:80\n"                 // 11
                               "    health_check:\n"                            // 12
                               "      path: /ready\n"                           // 13
                               "  - name: new\n"                                // 14
                               "    members: [{address: \"10.0.0.2:80\"}]\n");  // 15
  std::string later = dir.write("conf.d/20-later.yaml", "log_level: warn\n");
  std::string empty = dir.write("conf.d/30-empty.yaml", "");
  dir.write("conf.d/.hidden.yaml", "{{ not yaml");
  dir.write("conf.d/README", "{{ not yaml either");
  dir.write("conf.d/40-backup.yaml~", "workers: x\n");
  dir.write("conf.d/50-disabled.yaml.dpkg-old", "workers: x\n");

  LoadResult r = load_config_file(main);
  INFO(all(r));
  REQUIRE(r.ok());
  const Config& c = r.config;
  CHECK(c.files == std::vector<std::string>{main, site, later, empty});
  CHECK(c.include_dir == "conf.d");
  CHECK(c.log_level == "warn");  // the last file wins
  CHECK(c.workers == 1);         // set only in the main file: kept

  REQUIRE(c.listeners.size() == 2);
  CHECK(c.listeners[0].name == "main");
  CHECK(c.listeners[0].port == 9090);   // merged by name: the overlay's port
  CHECK(c.listeners[0].pool == "old");  // the main file's pool
  CHECK(c.listeners[0].mark.file == 0);
  CHECK(c.listeners[0].mark.line == 5);
  CHECK(c.listeners[1].name == "extra");  // a new name is appended
  CHECK(c.listeners[1].mark.file == 1);
  CHECK(c.listeners[1].mark.line == 5);

  REQUIRE(c.pools.size() == 2);
  const Pool& old = c.pools[0];
  REQUIRE(old.members.size() == 1);  // an unnamed list is replaced whole
  CHECK(old.members[0].address == "10.0.0.1:80");
  CHECK(old.members[0].mark.file == 1);
  CHECK(old.members[0].mark.line == 11);
  CHECK(old.health_check.path == "/ready");          // a mapping merges key by key:
  CHECK(old.health_check.interval == Millis(5000));  // the main file's interval stays
  CHECK(c.pools[1].name == "new");
}

TEST_CASE("a relative include_dir is relative to the main file's directory; absolute works too") {
  TempDir dir;
  std::string main = dir.write("etc/sy.yaml", kMain);
  dir.write("etc/conf.d/10.yaml", "workers: 3\n");
  LoadResult r = load_config_file(main);
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.config.workers == 3);

  std::string text = kMain;
  text.replace(0, std::string("include_dir: conf.d").size(),
               "include_dir: " + dir.path() + "/other");
  dir.write("other/10.yaml", "workers: 4\n");
  r = load_config_file(dir.write("etc/abs.yaml", text));
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.config.workers == 4);
}

TEST_CASE("names sort byte-wise: 10-x comes before 9-x") {
  TempDir dir;
  std::string main = dir.write("sy.yaml", kMain);
  dir.write("conf.d/9-x.yaml", "workers: 9\n");
  dir.write("conf.d/10-x.yaml", "workers: 10\n");
  LoadResult r = load_config_file(main);
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.config.workers == 9);
}

TEST_CASE("errors name the file that holds the value, main file first, each in line order") {
  TempDir dir;
  std::string text = kMain;
  text.replace(text.find("workers: 1"), 10, "workers: 999");
  std::string main = dir.write("sy.yaml", text);
  std::string bad = dir.write("conf.d/10-bad.yaml",
                              "listeners:\n"         // 1
                              "  - name: main\n"     // 2
                              "    port: 70000\n"    // 3
                              "    colour: blue\n"   // 4
                              "  - name: other\n"    // 5
                              "    port: 8081\n"     // 6
                              "pools:\n"             // 7
                              "  - name: old\n"      // 8
                              "    retries: 99\n");  // 9
  LoadResult r = load_config_file(main);
  INFO(all(r));
  REQUIRE(r.errors.size() == 5);
  CHECK(r.errors[0].file == main);
  require_error(r, main, 3, 10, "workers", "out of range");
  require_error(r, bad, 3, 11, "listeners[0].port", "out of range");
  require_error(r, bad, 4, 5, "listeners[0].colour", "unknown key");
  require_error(r, bad, 5, 5, "listeners[1].pool", "missing required key");
  require_error(r, bad, 9, 14, "pools[0].retries", "out of range");
  CHECK(format(r.errors[1]) ==
        bad + ":3:11: listeners[0].port: 70000 is out of range (expected 0..65535)");
}

TEST_CASE("cross-file conflicts say where the first value is") {
  TempDir dir;
  std::string main = dir.write("sy.yaml", kMain);
  std::string extra = dir.write("conf.d/10.yaml",
                                "listeners:\n"                                 // 1
                                "  - name: again\n"                            // 2
                                "    port: 8080\n"                             // 3
                                "    pool: nowhere\n"                          // 4
                                "pools:\n"                                     // 5
                                "  - name: x\n"                                // 6
                                "    members: [{address: \"127.0.0.1:1\"}]\n"  // 7
                                "  - name: x\n"                                // 8
                                "    members: [{address: \"127.0.0.1:2\"}]\n"  // 9
                                "  - name: old\n"                              // 10
                                "    retries: 1\n"                             // 11
                                "  - name: old\n"                              // 12
                                "    retries: 2\n");                           // 13
  LoadResult r = load_config_file(main);
  INFO(all(r));
  require_error(r, extra, 3, 11, "listeners[1].port",
                "127.0.0.1:8080 is already used by listeners[0] (first at " + main + ":5)");
  require_error(r, extra, 4, 11, "listeners[1].pool", "unknown pool \"nowhere\"");
  // A name twice in one file is a duplicate, not a merge: both stay and pass 2 reports them.
  require_error(r, extra, 8, 11, "pools[2].name", "duplicate pool name \"x\" (first at line 6)");
  require_error(r, extra, 12, 11, "pools[3].name",
                "duplicate pool name \"old\" (first at " + main + ":9)");
  // The second "old" also lacks members: it was appended as a pool of its own.
  require_error(r, extra, 12, 5, "pools[3].members", "missing required key");
  CHECK(r.errors.size() == 5);
}

TEST_CASE("a value of another type replaces, and is reported in the overlay") {
  TempDir dir;
  std::string main = dir.write("sy.yaml", kMain);
  std::string o = dir.write("conf.d/10.yaml",
                            "pools:\n"                   // 1
                            "  - name: old\n"            // 2
                            "    health_check: off\n");  // 3
  LoadResult r = load_config_file(main);
  INFO(all(r));
  REQUIRE(r.errors.size() == 1);
  require_error(r, o, 3, 19, "pools[0].health_check", "wrong type: expected a mapping");
}

TEST_CASE("lists that are not named merge by replacing the whole list") {
  TempDir dir;
  std::string main =
      dir.write("sy.yaml", std::string(kMain) + "database:\n"
                                                "  dsns: [{user: u, database: d, host: 10.0.0.1},"
                                                " {user: u, database: d, host: 10.0.0.2}]\n"
                                                "  servers:\n"
                                                "    - {name: a, version: \"1\"}\n"
                                                "    - {name: b, version: \"2\"}\n"
                                                "routing:\n"
                                                "  role: old\n"
                                                "  serve_pools: [old]\n"
                                                "  keys:\n"
                                                "    - {type: header, name: X-Ctx}\n"
                                                "    - {type: cookie, name: ctx}\n");
  dir.write("conf.d/10.yaml", "database:\n"
                              "  dsns: [{user: v, database: e, host: 10.0.0.3}]\n"
                              "  servers: [{name: b, version: \"3\"}, {name: c}]\n"
                              "routing:\n"
                              "  keys: [{type: header, name: X-Ctx, index: 1}]\n");
  LoadResult r = load_config_file(main);
  INFO(all(r));
  REQUIRE(r.ok());
  const Config& c = r.config;
  REQUIRE(c.database.dsns.size() == 1);
  CHECK(c.database.dsns[0].host == "10.0.0.3");
  REQUIRE(c.database.servers.size() == 3);  // database.servers merges by name
  CHECK(c.database.servers[1].name == "b");
  CHECK(c.database.servers[1].version == "3");
  CHECK(c.database.servers[2].name == "c");
  REQUIRE(c.routing.keys.size() == 1);  // key rules are ordered: replaced, never merged
  CHECK(c.routing.keys[0].index == 1);
  CHECK(c.routing.role == "old");
}

TEST_CASE("stage 0 errors: include_dir in an overlay, duplicate keys, bad files, syntax") {
  TempDir dir;
  std::string main = dir.write("sy.yaml", kMain);
  std::string a = dir.write("conf.d/10-a.yaml",
                            "include_dir: more\n"  // 1
                            "workers: 2\n"         // 2
                            "workers: 3\n");       // 3
  std::string b = dir.write("conf.d/20-b.yaml", "- just\n- a list\n");
  std::string c = dir.write("conf.d/30-c.yaml", "workers: [1\n");
  std::string d = dir.write("conf.d/40-d.yaml", "a: 1\n---\nb: 2\n");
  std::filesystem::create_directories(dir.path() + "/conf.d/50-dir.yaml");
  LoadResult r = load_config_file(main);
  INFO(all(r));
  require_error(r, a, 1, 1, "include_dir", "only read from the main file");
  require_error(r, a, 3, 1, "workers", "duplicate key (first at line 2)");
  require_error(r, b, 1, 1, "", "an overlay must be a mapping");
  require_error(r, c, 2, 1, "", "YAML syntax error");
  require_error(r, d, 2, 1, "", "a second YAML document");  // at its "---"
  require_error(r, dir.path() + "/conf.d/50-dir.yaml", 0, 0, "", "not a regular file");
  CHECK(r.errors.size() == 6);  // stage 0 errors stop the passes: no echo errors
}

TEST_CASE("a missing include_dir is an error at the key; an empty one too") {
  TempDir dir;
  std::string main = dir.write("sy.yaml", kMain);  // no conf.d directory
  LoadResult r = load_config_file(main);
  INFO(all(r));
  REQUIRE(r.errors.size() == 1);
  require_error(r, main, 1, 14, "include_dir",
                "cannot read directory \"" + dir.path() + "/conf.d\": No such file or directory");

  std::string text = kMain;
  text.replace(0, std::string("include_dir: conf.d").size(), "include_dir: \"\"");
  r = load_config_file(dir.write("empty.yaml", text));
  INFO(all(r));
  REQUIRE(r.errors.size() == 1);
  require_error(r, dir.path() + "/empty.yaml", 1, 14, "include_dir", "must not be empty");
}

TEST_CASE("an overlay may supply what the main file lacks; required keys are checked merged") {
  TempDir dir;
  std::string main = dir.write("sy.yaml", "include_dir: site\nlog_level: warn\n");
  dir.write("site/10-listeners.yaml", "listeners: [{name: main, port: 0, pool: app}]\n");
  dir.write("site/20-pools.yaml", "pools: [{name: app, members: [{address: \"127.0.0.1:1\"}]}]\n");
  LoadResult r = load_config_file(main);
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.config.listeners[0].pool == "app");

  TempDir empty;
  std::string lonely = empty.write("sy.yaml", "include_dir: site\n");
  empty.write("site/README", "nothing here\n");
  r = load_config_file(lonely);
  INFO(all(r));
  REQUIRE(r.errors.size() == 2);
  require_error(r, lonely, 1, 1, "listeners", "missing required key");
  require_error(r, lonely, 1, 1, "pools", "missing required key");
}
