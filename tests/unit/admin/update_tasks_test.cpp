// admin/update_tasks.h: statement splitting, argv building, task listing, and real runs: SQL
// files in the schema's own database and an external command, each applied once per schema,
// failures recorded with their reason, a hanging command killed at its timeout.

#include "admin/update_tasks.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <catch.hpp>

#include "unit/admin/admin_fixture.h"

using namespace sy::admin;
using sy::test::count;
using sy::test::run_sql;
using sy::test::TestDb;
using sy::test::text;
namespace fs = std::filesystem;

namespace {

using V = std::vector<std::string>;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "sy_tasks_XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(path / name) << content;
    return (path / name).string();
  }
};

// The schema's own database (update tasks run in it), dropped with the fixture's.
struct SchemaDb {
  TestDb& t;
  std::string name;
  SchemaDb(TestDb& test, const std::string& suffix) : t(test), name(test.name + suffix) {
    run_sql(*t.db, "CREATE DATABASE " + name);
  }
  ~SchemaDb() { (void)t.db->exec("DROP DATABASE IF EXISTS " + name); }
};

std::string task_status(sy::routing::Db& db, const std::string& schema, const std::string& task) {
  return text(db, "SELECT CONCAT(status, '|', COALESCE(error, '')) FROM sy_update_tasks WHERE"
                  " schema_name = '" +
                      schema + "' AND task = '" + task + "'");
}

}  // namespace

TEST_CASE("split_sql_statements splits at semicolons outside quotes and comments") {
  CHECK(split_sql_statements("CREATE TABLE a (x INT); INSERT INTO a VALUES (1);") ==
        V{"CREATE TABLE a (x INT)", "INSERT INTO a VALUES (1)"});
  CHECK(split_sql_statements("SELECT 1") == V{"SELECT 1"});  // no final ';'
  CHECK(split_sql_statements(" ;; ;\n") == V{});
  CHECK(split_sql_statements("") == V{});
  CHECK(split_sql_statements("SELECT 'a;b'; SELECT \"c;d\"; SELECT `e;f` FROM t") ==
        V{"SELECT 'a;b'", "SELECT \"c;d\"", "SELECT `e;f` FROM t"});
  CHECK(split_sql_statements("SELECT 'it\\'s;'; SELECT 'x''y;z'") ==
        V{"SELECT 'it\\'s;'", "SELECT 'x''y;z'"});
  CHECK(split_sql_statements("SELECT 1 -- a; comment\n; SELECT 2 # b; too\n;") ==
        V{"SELECT 1 -- a; comment", "SELECT 2 # b; too"});
  CHECK(split_sql_statements("SELECT /* ; */ 1; /* only a comment; */ ; -- and this;\n") ==
        V{"SELECT /* ; */ 1"});
  CHECK(split_sql_statements("/*!40101 SET NAMES utf8 */;") == V{"/*!40101 SET NAMES utf8 */"});
  CHECK(split_sql_statements("SELECT 5--3;") == V{"SELECT 5--3"});  // "--" needs a space
  CHECK(split_sql_statements("SELECT 'unterminated; x") == V{"SELECT 'unterminated; x"});
}

TEST_CASE("command_argv substitutes {schema} and splits on runs of spaces") {
  CHECK(command_argv("/usr/bin/run  --db={schema}   x{schema}y {schema}", "oxdb_1") ==
        V{"/usr/bin/run", "--db=oxdb_1", "xoxdb_1y", "oxdb_1"});
  CHECK(command_argv("   ", "s") == V{});
  CHECK(command_argv("a", "s") == V{"a"});
  CHECK(command_argv("{schema}{schema}", "ab") == V{"abab"});
}

TEST_CASE("list_tasks: SQL files in name order, then the command") {
  TempDir dir;
  dir.write("010_b.sql", "");
  dir.write("002_a.sql", "");
  dir.write("notes.txt", "");
  fs::create_directory(dir.path / "sub.sql");
  UpdateTaskConfig cfg;
  cfg.sql_dir = dir.path.string();
  cfg.command = "  /bin/echo {schema}";
  auto tasks = list_tasks(cfg);
  REQUIRE(tasks.ok());
  CHECK(*tasks == V{"002_a.sql", "010_b.sql", "command:/bin/echo"});
  cfg.sql_dir = (dir.path / "missing").string();
  auto bad = list_tasks(cfg);
  REQUIRE_FALSE(bad.ok());
  CHECK(std::string(bad.error().tag) == "invalid-argument");
  CHECK(list_tasks(UpdateTaskConfig{})->empty());
}

TEST_CASE("update tasks run once per schema: a second run skips what succeeded") {
  TestDb t;
  REQUIRE(migrate(*t.db).ok());
  SchemaDb schema(t, "_s1");
  TempDir dir;
  dir.write("001_create.sql", "CREATE TABLE upgraded (id INT PRIMARY KEY, note VARCHAR(20));\n"
                              "-- a comment; with a semicolon\n"
                              "INSERT INTO upgraded VALUES (1, 'a;b');\n");
  const std::string log = (dir.path / "runs").string();
  const std::string script = dir.write("count.sh", "echo \"$1\" >> " + log + "\necho done $1\n");
  UpdateTaskConfig cfg;
  cfg.sql_dir = dir.path.string();
  cfg.command = "/bin/sh " + script + " {schema}";
  std::vector<std::string> seen;
  auto first = run_update_tasks(*t.db, {t.dsn}, schema.name, cfg, [&](const TaskResult& r) {
    seen.push_back(r.task + "=" + r.status);
  });
  if (!first) {
    FAIL(first.error().message);
  }
  CHECK(seen == V{"001_create.sql=ok", "command:/bin/sh=ok"});
  CHECK(count(*t.db, "SELECT COUNT(*) FROM " + schema.name + ".upgraded") == 1);
  CHECK(text(*t.db, "SELECT note FROM " + schema.name + ".upgraded") == "a;b");
  CHECK(task_status(*t.db, schema.name, "001_create.sql") == "ok|");
  CHECK(text(*t.db, "SELECT output FROM sy_update_tasks WHERE task = 'command:/bin/sh'") ==
        "done " + schema.name + "\n");
  CHECK(count(*t.db, "SELECT COUNT(*) FROM sy_update_tasks WHERE finished_at >= started_at") == 2);

  auto second = run_update_tasks(*t.db, {t.dsn}, schema.name, cfg, {});
  REQUIRE(second.ok());
  REQUIRE(second->size() == 2);
  CHECK(second->at(0).status == "skipped");
  CHECK(second->at(1).status == "skipped");
  std::ifstream in(log);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(all == schema.name + "\n");  // the command ran once
}

TEST_CASE("a failing SQL task stops the tasks and is recorded failed with the reason") {
  TestDb t;
  REQUIRE(migrate(*t.db).ok());
  SchemaDb schema(t, "_s2");
  TempDir dir;
  dir.write("001_ok.sql", "CREATE TABLE fine (id INT);");
  dir.write("002_bad.sql", "INSERT INTO fine VALUES (1); SELECT * FROM no_such_table;");
  dir.write("003_never.sql", "CREATE TABLE never (id INT);");
  UpdateTaskConfig cfg;
  cfg.sql_dir = dir.path.string();
  auto r = run_update_tasks(*t.db, {t.dsn}, schema.name, cfg, {});
  REQUIRE_FALSE(r.ok());
  CHECK(std::string(r.error().tag) == "update-failed");
  CHECK(r.error().message.find("002_bad.sql") != std::string::npos);
  CHECK(r.error().message.find(schema.name) != std::string::npos);
  CHECK(r.error().message.find("no_such_table") != std::string::npos);
  const std::string bad = task_status(*t.db, schema.name, "002_bad.sql");
  CHECK(bad.rfind("failed|statement 2 of 2", 0) == 0);
  CHECK(bad.find("no_such_table") != std::string::npos);
  CHECK(task_status(*t.db, schema.name, "001_ok.sql") == "ok|");
  CHECK(count(*t.db, "SELECT COUNT(*) FROM sy_update_tasks WHERE task = '003_never.sql'") == 0);

  // Fixed: the failed task runs again, the ok one does not.
  dir.write("002_bad.sql", "INSERT INTO fine VALUES (2);");
  auto again = run_update_tasks(*t.db, {t.dsn}, schema.name, cfg, {});
  REQUIRE(again.ok());
  CHECK(again->at(0).status == "skipped");
  CHECK(again->at(1).status == "ok");
  CHECK(again->at(2).status == "ok");
  CHECK(count(*t.db, "SELECT COUNT(*) FROM " + schema.name + ".fine") == 2);
}

TEST_CASE("a failing command is recorded with its exit status and output") {
  TestDb t;
  REQUIRE(migrate(*t.db).ok());
  TempDir dir;
  const std::string script = dir.write("fail.sh", "echo \"cannot upgrade $1\" >&2\nexit 3\n");
  UpdateTaskConfig cfg;
  cfg.command = "/bin/sh " + script + " {schema}";
  auto r = run_update_tasks(*t.db, {t.dsn}, "s_x", cfg, {});
  REQUIRE_FALSE(r.ok());
  CHECK(std::string(r.error().tag) == "update-failed");
  CHECK(r.error().message.find("exit status 3") != std::string::npos);
  const std::string st = task_status(*t.db, "s_x", "command:/bin/sh");
  CHECK(st.rfind("failed|exit status 3", 0) == 0);
  CHECK(st.find("cannot upgrade s_x") != std::string::npos);

  cfg.command = "/no/such/binary";
  auto missing = run_update_tasks(*t.db, {t.dsn}, "s_x", cfg, {});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("cannot run") != std::string::npos);
}

TEST_CASE("a command past its timeout is terminated, one ignoring SIGTERM killed") {
  TestDb t;
  REQUIRE(migrate(*t.db).ok());
  TempDir dir;
  UpdateTaskConfig cfg;
  cfg.command_timeout = std::chrono::milliseconds(200);
  cfg.command = "/bin/sleep 30";
  auto start = std::chrono::steady_clock::now();
  auto r = run_update_tasks(*t.db, {t.dsn}, "s_t", cfg, {});
  REQUIRE_FALSE(r.ok());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  CHECK(task_status(*t.db, "s_t", "command:/bin/sleep").rfind("failed|timed out after 200 ms", 0) ==
        0);

  const std::string stubborn = dir.write("stubborn.sh", "trap '' TERM\necho started\nsleep 30\n");
  cfg.command = "/bin/sh " + stubborn;
  start = std::chrono::steady_clock::now();
  auto k = run_update_tasks(*t.db, {t.dsn}, "s_t", cfg, {});
  REQUIRE_FALSE(k.ok());
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= std::chrono::milliseconds(2000));  // SIGKILL only 2 s after SIGTERM
  CHECK(took < std::chrono::seconds(4));
  const std::string st = task_status(*t.db, "s_t", "command:/bin/sh");
  CHECK(st.find("killed by signal 9") != std::string::npos);
  CHECK(st.find("started") != std::string::npos);
}
