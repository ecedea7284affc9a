// admin/directory.h on the own profile: register/list/find servers, schemas and contexts;
// enable/disable and move return the change seq of their write as their version; the one-way
// door. And the pure helpers: version_less, schema_less.

#include "admin/directory.h"

#include <algorithm>

#include <catch.hpp>

#include "admin/update_tasks.h"
#include "store/directory_reader.h"
#include "unit/admin/admin_fixture.h"

using namespace sy::admin;
using namespace sy::store;
using sy::test::count;
using sy::test::run_sql;
using sy::test::seed_directory;
using sy::test::TestDb;

namespace {

// The own directory over |t|'s database, kept for the test.
struct Own {
  TestDb t;
  std::unique_ptr<Directory> dir = make_own_directory(*t.db);
  uint64_t version() { return *dir->current_version(); }
};

}  // namespace

TEST_CASE("version_less compares dotted versions numerically, part by part") {
  CHECK(version_less("7.10.6", "8.0.0"));
  CHECK(version_less("7.9", "7.10"));
  CHECK_FALSE(version_less("7.10", "7.9"));
  CHECK_FALSE(version_less("8.0", "8.0.0"));  // a missing part counts as 0
  CHECK_FALSE(version_less("8.0.0", "8.0"));
  CHECK(version_less("8.0", "8.0.1"));
  CHECK_FALSE(version_less("8.0.0", "8.0.0"));
  CHECK(version_less("8.0.0-a", "8.0.0-b"));  // non-numeric part: text
  CHECK(version_less("9", "10"));
  CHECK(version_less("007", "8"));
  CHECK(version_less("99999999999999999999", "100000000000000000000"));
}

TEST_CASE("schema_less orders numbers in names as numbers, as OX orders its schemas") {
  std::vector<std::string> names{"oxdatabase_100",
                                 "oxdatabase_44",
                                 "oxdatabase_5",
                                 "oxdatabase_10",
                                 "oxdatabase_3",
                                 "oxdatabase_81",
                                 "a",
                                 "oxdatabase_05",
                                 "oxdatabase",
                                 "oxdb_2_10",
                                 "oxdb_2_9",
                                 "Oxdatabase_1"};
  std::sort(names.begin(), names.end(), schema_less);
  CHECK(names == std::vector<std::string>{"Oxdatabase_1", "a", "oxdatabase", "oxdatabase_3",
                                          "oxdatabase_5", "oxdatabase_05", "oxdatabase_10",
                                          "oxdatabase_44", "oxdatabase_81", "oxdatabase_100",
                                          "oxdb_2_9", "oxdb_2_10"});
  CHECK_FALSE(schema_less("s_7", "s_7"));
  CHECK(schema_less("s_99999999999999999999", "s_100000000000000000000"));  // any length
  CHECK(schema_less("s1a", "s1b"));
  CHECK(schema_less("s9", "s10x"));
}

TEST_CASE("register_server: new, then Refuse / Continue / Abort on an existing name") {
  Own o;
  TestDb& t = o.t;
  Directory& dir = *o.dir;
  seed_directory(*t.db, {});
  const uint64_t before = o.version();

  auto reg = dir.register_server(ServerInfo{0, "app-next", "next", "9.0", "http://next"},
                                 IfExists::Refuse);
  REQUIRE(reg.ok());
  CHECK(reg->server.id == 3);  // next free id
  CHECK_FALSE(reg->existed);
  CHECK(reg->version > before);
  CHECK(reg->version == o.version());

  auto refused =
      dir.register_server(ServerInfo{0, "app-new", "other", "9.9", ""}, IfExists::Refuse);
  REQUIRE_FALSE(refused.ok());
  CHECK(std::string(refused.error().tag) == "exists");
  CHECK(refused.error().message.find("app-new") != std::string::npos);

  auto aborted = dir.register_server(ServerInfo{0, "app-new", "other", "9.9", ""}, IfExists::Abort);
  REQUIRE_FALSE(aborted.ok());
  CHECK(std::string(aborted.error().tag) == "aborted");

  const uint64_t seq = o.version();
  auto cont =
      dir.register_server(ServerInfo{0, "app-new", "other", "8.0.0", ""}, IfExists::Continue);
  REQUIRE(cont.ok());
  CHECK(cont->existed);
  CHECK(cont->server.id == 2);
  CHECK(cont->server.pool == "new");  // the stored row, not the request
  CHECK(cont->warning.find("pool is 'new', not 'other'") != std::string::npos);
  CHECK(cont->version == 0);
  CHECK(o.version() == seq);  // nothing written

  auto taken = dir.register_server(ServerInfo{2, "app-x", "x", "1", ""}, IfExists::Refuse);
  REQUIRE_FALSE(taken.ok());
  CHECK(std::string(taken.error().tag) == "exists");
  auto empty = dir.register_server(ServerInfo{}, IfExists::Refuse);
  REQUIRE_FALSE(empty.ok());
  CHECK(std::string(empty.error().tag) == "invalid-argument");

  auto all = dir.list_servers();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK(all->at(2).name == "app-next");
  CHECK(dir.find_server("2")->name == "app-new");
  CHECK(dir.find_server("app-next")->id == 3);
  auto missing = dir.find_server("nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(std::string(missing.error().tag) == "not-found");
}

TEST_CASE("schemas and contexts are listed with their servers and update state") {
  Own o;
  TestDb& t = o.t;
  Directory& dir = *o.dir;
  seed_directory(*t.db, {"s_a", "s_b", "s_10", "s_9"});
  run_sql(*t.db, "INSERT INTO sy_logins (login, context_id) VALUES ('bob@a', 11), ('al@a', 11)");
  run_sql(*t.db, "INSERT INTO sy_update_tasks (schema_name, task, status, error) VALUES"
                 " ('s_b', '001.sql', 'ok', NULL), ('s_b', '002.sql', 'failed', 'boom')");
  auto all = dir.list_schemas();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 4);
  REQUIRE(merge_update_states(*t.db, &all.value()).ok());
  CHECK(all->at(0).name == "s_9");  // schema order: numbers as numbers
  CHECK(all->at(1).name == "s_10");
  CHECK(all->at(2).name == "s_a");
  CHECK(all->at(2).server_name == "app-old");
  CHECK(all->at(2).contexts == 2);
  CHECK(all->at(2).update_status.empty());
  CHECK(all->at(3).update_status == "failed");
  CHECK(all->at(3).update_error == "boom");
  auto one = dir.find_schema("s_b");
  REQUIRE(one.ok());
  std::vector<SchemaInfo> just{*one};
  REQUIRE(merge_update_states(*t.db, &just).ok());
  CHECK(just[0].update_status == "failed");
  CHECK(std::string(dir.find_schema("zz").error().tag) == "not-found");

  auto c = dir.find_context(11);
  REQUIRE(c.ok());
  CHECK(c->schema == "s_a");
  CHECK(c->server_id == 1);
  CHECK(c->server_name == "app-old");
  CHECK(c->logins == std::vector<std::string>{"al@a", "bob@a"});
  CHECK(std::string(dir.find_context(999).error().tag) == "not-found");
}

TEST_CASE("set_schema_enabled returns the seq of its write as its version") {
  Own o;
  TestDb& t = o.t;
  Directory& dir = *o.dir;
  seed_directory(*t.db, {"s_a", "s_b"});
  auto off = dir.set_schema_enabled("s_a", false);
  REQUIRE(off.ok());
  CHECK(off->changed);
  CHECK(off->version > 0);
  CHECK(off->version == o.version());
  CHECK(count(*t.db, "SELECT COUNT(*) FROM sy_changes WHERE kind = 'schema' AND key_text = 's_a'"
                     " AND seq = " +
                         std::to_string(off->version)) == 1);
  CHECK_FALSE(dir.find_schema("s_a")->enabled);
  auto again = dir.set_schema_enabled("s_a", false);
  CHECK_FALSE(again->changed);
  CHECK(again->version == off->version);  // the version of now: nothing newer to wait for
  auto on = dir.set_schema_enabled("s_a", true);
  REQUIRE(on.ok());
  CHECK(on->version > off->version);
  auto missing = dir.set_schema_enabled("nope", true);
  REQUIRE_FALSE(missing.ok());
  CHECK(std::string(missing.error().tag) == "not-found");
}

TEST_CASE("mark_schema_failed: disabled with the mark, logged, read as Failed; disable and enable "
          "clear it") {
  Own o;
  TestDb& t = o.t;
  Directory& dir = *o.dir;
  seed_directory(*t.db, {"s_a", "s_b"});
  OwnProfileReader reader;
  const uint64_t before = o.version();
  auto mark = dir.mark_schema_failed("s_a");
  REQUIRE(mark.ok());
  CHECK(mark->changed);
  CHECK(mark->version > before);  // the loaders see it through the change log
  CHECK_FALSE(dir.find_schema("s_a")->enabled);
  auto full = reader.full_load(*t.db);
  REQUIRE(full.ok());
  CHECK(full->schemas[0].name == "s_a");
  CHECK(full->schemas[0].state == sy::routing::SchemaState::Failed);
  CHECK(full->schemas[1].state == sy::routing::SchemaState::Enabled);
  CHECK_FALSE(dir.mark_schema_failed("s_a")->changed);
  // The next run's disable clears the mark (held again, not failed), and logs that too.
  auto off = dir.set_schema_enabled("s_a", false);
  REQUIRE(off.ok());
  CHECK(off->changed);
  auto delta = reader.changes_since(*t.db, mark->version);
  REQUIRE(delta.ok());
  REQUIRE(delta->schemas.size() == 1);
  CHECK(delta->schemas[0].state == sy::routing::SchemaState::Disabled);
  REQUIRE(dir.mark_schema_failed("s_a").ok());
  REQUIRE(dir.set_schema_enabled("s_a", true).ok());
  CHECK(count(*t.db, "SELECT COUNT(*) FROM sy_schemas WHERE failed") == 0);
}

TEST_CASE("move_schema: forward and sideways allowed, back to a lower version refused") {
  Own o;
  TestDb& t = o.t;
  Directory& dir = *o.dir;
  seed_directory(*t.db, {"s_a", "s_b"});
  run_sql(*t.db, "INSERT INTO sy_servers (id, name, pool, version) VALUES (3, 'app-new2', 'new2',"
                 " '8.0')");
  auto moved = dir.move_schema("s_a", 2);
  REQUIRE(moved.ok());
  CHECK(moved->changed);
  CHECK(moved->version == o.version());
  CHECK(dir.find_schema("s_a")->server_id == 2);
  // The context override (context 11 pinned to server 1) is cleared with the move.
  CHECK(count(*t.db, "SELECT COUNT(*) FROM sy_contexts WHERE server_id IS NOT NULL") == 0);
  CHECK(dir.find_context(11)->server_id == 2);

  CHECK_FALSE(dir.move_schema("s_a", 2)->changed);  // already there

  auto back = dir.move_schema("s_a", 1);
  REQUIRE_FALSE(back.ok());
  CHECK(std::string(back.error().tag) == "one-way-door");
  CHECK(back.error().message.find("7.10.6") != std::string::npos);
  CHECK(dir.find_schema("s_a")->server_id == 2);

  auto equal = dir.move_schema("s_a", 3);  // 8.0 == 8.0.0
  REQUIRE(equal.ok());
  CHECK(equal->version > moved->version);

  CHECK(std::string(dir.move_schema("s_b", 42).error().tag) == "not-found");
  CHECK(std::string(dir.move_schema("zz", 2).error().tag) == "not-found");
}
