// Values from the environment (${VAR}) and from files (password_file) through conf/load.h:
// substituted in every file before the merge, located errors, and no secret in any message.

#include "conf/load.h"
#include "unit/conf/load_helpers.h"

#include <catch.hpp>

#include <cstdlib>
#include <string>

using namespace sy::conf;
using namespace sy::conf::test;

namespace {

// Sets an environment variable for the scope of one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

const char kBase[] = "listeners:\n"                                          // 1
                     "  - name: main\n"                                      // 2
                     "    port: ${SY_T_PORT}\n"                              // 3
                     "    pool: ${SY_T_POOL:-old}\n"                         // 4
                     "pools:\n"                                              // 5
                     "  - name: old\n"                                       // 6
                     "    members:\n"                                        // 7
                     "      - address: \"${SY_T_HOST:-127.0.0.1}:9001\"\n";  // 8

constexpr char kSecret[] = "s3cr3t-Pa55-zz9";

// No error message of |r| contains |secret|.
void require_no_secret(const LoadResult& r, const std::string& secret) {
  for (const auto& e : r.errors) {
    INFO(format(e));
    CHECK(format(e).find(secret) == std::string::npos);
  }
}

}  // namespace

TEST_CASE("${VAR} and ${VAR:-default} in values; a plain scalar may become an integer") {
  ScopedEnv port("SY_T_PORT", "8088");
  ScopedEnv host("SY_T_HOST", "10.1.2.3");
  LoadResult r = load_config_string(kBase, "t.yaml");
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.config.listeners[0].port == 8088);
  CHECK(r.config.listeners[0].pool == "old");
  CHECK(r.config.pools[0].members[0].address == "10.1.2.3:9001");
}

TEST_CASE("a quoted ${VAR} stays a string, as any quoted scalar") {
  ScopedEnv port("SY_T_PORT", "8088");
  std::string yaml = kBase;
  yaml.replace(yaml.find("${SY_T_PORT}"), 12, "\"${SY_T_PORT}\"");
  require_one_error(yaml, 3, 11, "listeners[0].port",
                    "expected an integer, got the string \"8088\"");
}

TEST_CASE("an unset variable is a located error naming it; nothing is decoded then") {
  LoadResult r = load_config_string(kBase, "t.yaml");
  INFO(all(r));
  REQUIRE(r.errors.size() == 1);  // not also "port: expected an integer"
  CHECK(format(r.errors[0]) ==
        "t.yaml:3:11: listeners[0].port: environment variable SY_T_PORT is not set (expected it "
        "set, or ${SY_T_PORT:-default})");
}

TEST_CASE("keys are not substituted") {
  ScopedEnv port("SY_T_PORT", "1");
  require_one_error(std::string(kBase) + "${SY_T_PORT}: 1\n", 9, 1, "${SY_T_PORT}", "unknown key");
}

TEST_CASE("overlays are substituted too, and their errors name the overlay") {
  ScopedEnv port("SY_T_PORT", "8088");
  ScopedEnv workers("SY_T_WORKERS", "3");
  TempDir dir;
  std::string main =
      dir.write("sy.yaml", std::string("include_dir: ${SY_T_DIR:-conf.d}\n") + kBase);
  dir.write("conf.d/10.yaml", "workers: ${SY_T_WORKERS}\n");
  std::string bad = dir.write("conf.d/20.yaml", "log_level: ${SY_T_UNSET}\n");
  LoadResult r = load_config_file(main);
  INFO(all(r));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].file == bad);
  CHECK(r.errors[0].line == 1);
  CHECK(r.errors[0].col == 12);
  CHECK(r.errors[0].path == "log_level");

  std::filesystem::remove(bad);
  r = load_config_file(main);
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.config.workers == 3);
}

TEST_CASE("password_file: the file's one line, relative to the main file's directory") {
  TempDir dir;
  dir.write("secrets/db", std::string(kSecret) + "\n");
  std::string yaml = std::string(kBase) +
                     "database:\n"
                     "  dsns:\n"
                     "    - {user: sy, database: d, password_file: secrets/db}\n"
                     "    - {user: sy, database: d, password_file: " +
                     dir.path() +
                     "/secrets/db}\n"
                     "    - {user: sy, database: d, password: inline}\n";
  ScopedEnv port("SY_T_PORT", "1");
  LoadResult r = load_config_file(dir.write("sy.yaml", yaml));
  INFO(all(r));
  REQUIRE(r.ok());
  REQUIRE(r.config.database.dsns.size() == 3);
  CHECK(r.config.database.dsns[0].password == kSecret);
  CHECK(r.config.database.dsns[1].password == kSecret);
  CHECK(r.config.database.dsns[2].password == "inline");
}

TEST_CASE("password_file errors name the file, never its content") {
  TempDir dir;
  dir.write("empty", "");
  dir.write("two-lines", std::string(kSecret) + "\nsecond-line-zz9\n");
  dir.write("crlf", std::string(kSecret) + "\r\n");
  std::string yaml = std::string(kBase) +
                     "database:\n"                                                        // 9
                     "  dsns:\n"                                                          // 10
                     "    - {user: sy, database: d, password_file: missing}\n"            // 11
                     "    - {user: sy, database: d, password_file: empty}\n"              // 12
                     "    - {user: sy, database: d, password_file: two-lines}\n"          // 13
                     "    - {user: sy, database: d, password_file: \"\"}\n"               // 14
                     "    - {user: sy, database: d, password: x, password_file: crlf}\n"  // 15
                     "    - {user: sy, database: d, password_file: /dev/zero}\n";         // 16
  ScopedEnv port("SY_T_PORT", "1");
  std::string main = dir.write("sy.yaml", yaml);
  LoadResult r = load_config_file(main);
  INFO(all(r));
  REQUIRE(r.errors.size() == 6);
  CHECK(format(r.errors[0]) == main + ":11:46: database.dsns[0].password_file: cannot read \"" +
                                   dir.path() + "/missing\": No such file or directory");
  CHECK_THAT(format(r.errors[1]), Catch::Contains(":12:46: database.dsns[1].password_file: \"" +
                                                  dir.path() + "/empty\" is empty"));
  CHECK_THAT(format(r.errors[2]),
             Catch::Contains(":13:46: database.dsns[2].password_file: \"" + dir.path() +
                             "/two-lines\" has more than one line"));
  CHECK_THAT(format(r.errors[3]),
             Catch::Contains(":14:46: database.dsns[3].password_file: wrong type"));
  CHECK_THAT(format(r.errors[4]),
             Catch::Contains(":15:59: database.dsns[4].password_file: password is set too"));
  CHECK_THAT(
      format(r.errors[5]),
      Catch::Contains(":16:46: database.dsns[5].password_file: \"/dev/zero\" is larger than 64k"));
  require_no_secret(r, kSecret);
  require_no_secret(r, "second-line-zz9");

  // The state database's DSNs have the same two forms.
  r = load_config_file(dir.write(
      "state.yaml", std::string(kBase) +
                        "database:\n"
                        "  dsns: [{user: sy, database: d}]\n"
                        "  state_dsns:\n"
                        "    - {user: sy, database: s, password_file: crlf}\n"
                        "    - {user: sy, database: s, password: x, password_file: crlf}\n"));
  INFO(all(r));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].path == "database.state_dsns[1].password_file");
  CHECK_THAT(r.errors[0].message, Catch::Contains("password is set too"));
}

TEST_CASE("a secret from the environment never shows in an error") {
  ScopedEnv secret("SY_T_SECRET", kSecret);
  ScopedEnv port("SY_T_PORT", "1");
  // The secret lands in password (never echoed) next to errors in other keys of the same DSN.
  std::string yaml =
      std::string(kBase) +
      "database:\n"
      "  dsns:\n"
      "    - {user: sy, database: \"bad name!\", port: 0, password: \"${SY_T_SECRET}\","
      " password_file: /nonexistent/x}\n";
  LoadResult r = load_config_string(yaml, "t.yaml");
  INFO(all(r));
  REQUIRE(r.errors.size() == 4);
  require_no_secret(r, kSecret);
}
