// admin/directory.h on the ox profile, against the real private MariaDB: OX's tables in one
// database (tests/unit/ox_fixture.h), Switchyard's state in another. Every write must leave
// exactly the rows OX's own tool would leave, and bump the directory epoch.

#include "admin/directory.h"

#include <catch.hpp>

#include <string>
#include <vector>

#include "store/db_migrate.h"
#include "store/directory_ox.h"
#include "unit/admin/admin_fixture.h"
#include "unit/ox_fixture.h"

using namespace sy::admin;
using namespace sy::store;
using sy::test::count;
using sy::test::run_sql;
using sy::test::TestDb;
using sy::test::text;

namespace {

struct Ox {
  TestDb configdb;
  TestDb state;
  std::unique_ptr<Directory> dir;

  Ox() {
    sy::test::load_ox_configdb(*configdb.db);
    REQUIRE(migrate(*state.db, MigrateScope::State).ok());
    OxDirectoryOptions o;
    o.overrides.push_back({"oxserver-1", "old", "7.10.6", ""});
    dir = make_ox_directory(*configdb.db, *state.db, o);
  }
  uint64_t epoch() { return *sy::store::read_directory_epoch(*state.db); }
  // "cid:enabled:reason" of every context, in cid order.
  std::string contexts() {
    std::string out;
    auto r =
        configdb.db->query("SELECT cid, enabled, COALESCE(reason_id, 0) FROM context ORDER BY cid",
                           [&](const sy::store::Row& row) {
                             out += std::to_string(row.u32(1)) + ":" + std::to_string(row.u32(2)) +
                                    ":" + std::to_string(row.u32(3)) + " ";
                           });
    REQUIRE(r.ok());
    return out;
  }
};

}  // namespace

TEST_CASE("ox directory: schemas as listdatabaseschema lists them, in numeric order") {
  Ox ox;
  run_sql(*ox.configdb.db, "INSERT INTO contexts_per_dbschema VALUES (4, 'oxdatabase_44', 0, 0),"
                           " (4, 'oxdatabase_10', 0, 0)");
  auto all = ox.dir->list_schemas();
  REQUIRE(all.ok());
  std::vector<std::string> names;
  for (const SchemaInfo& s : *all) {
    names.push_back(s.name);
  }
  CHECK(names == std::vector<std::string>{"oxdatabase_5", "oxdatabase_6", "oxdatabase_7",
                                          "oxdatabase_8", "oxdatabase_10", "oxdatabase_44"});
  CHECK(all->at(0).contexts == 2);
  CHECK(all->at(0).server_id == 1);
  CHECK(all->at(0).server_name == "oxserver-1");
  CHECK(all->at(0).enabled);
  CHECK(all->at(3).contexts == 0);  // empty: listed, no server
  CHECK(all->at(3).server_id == 0);
  CHECK(on_server(all->at(3), 2));
  CHECK(std::string(ox.dir->find_schema("oxdatabase_9").error().tag) == "not-found");

  auto c = ox.dir->find_context(10);
  REQUIRE(c.ok());
  CHECK_FALSE(c->enabled);  // disabled for reason 7
  CHECK(c->reason_id == 7);
  CHECK(c->schema == "oxdatabase_6");
  CHECK(c->server_name == "oxserver-1");
  CHECK(c->logins == std::vector<std::string>{"10", "disabled.example.com"});
}

TEST_CASE("ox directory: disable and enable write OX's statements, other reasons stay") {
  Ox ox;
  const uint64_t e0 = ox.epoch();
  auto off = ox.dir->set_schema_enabled("oxdatabase_6", false);
  REQUIRE(off.ok());
  CHECK(off->changed);
  CHECK(off->version == e0 + 1);
  CHECK(ox.epoch() == e0 + 1);
  // Context 3 gets OX's maintenance reason; 10 keeps its own (7).
  CHECK(ox.contexts() == "1:1:0 2:1:0 3:0:1431655765 10:0:7 20:1:0 ");
  CHECK_FALSE(ox.dir->find_schema("oxdatabase_6")->enabled);
  CHECK(ox.dir->find_context(3)->enabled);  // held, not a disabled tenant
  CHECK_FALSE(ox.dir->find_context(3)->schema_enabled);

  auto again = ox.dir->set_schema_enabled("oxdatabase_6", false);
  CHECK_FALSE(again->changed);
  CHECK(again->version == e0 + 2);  // an epoch anyway: waiting for it proves the state is seen

  auto on = ox.dir->set_schema_enabled("oxdatabase_6", true);
  REQUIRE(on.ok());
  CHECK(on->changed);
  CHECK(ox.contexts() == "1:1:0 2:1:0 3:1:0 10:0:7 20:1:0 ");  // 10 stays disabled

  // OX's precondition: one write pool per schema.
  run_sql(*ox.configdb.db, "UPDATE context_server2db_pool SET write_db_pool_id = 4 WHERE cid = 2");
  auto two_pools = ox.dir->set_schema_enabled("oxdatabase_5", false);
  REQUIRE_FALSE(two_pools.ok());
  CHECK_THAT(two_pools.error().message, Catch::Contains("Multiple write pool IDs"));
  CHECK(std::string(ox.dir->set_schema_enabled("nope", false).error().tag) == "not-found");
}

TEST_CASE("ox directory: changeserver needs a disabled schema and obeys the one-way door") {
  Ox ox;
  REQUIRE(
      sy::store::write_server_meta(*ox.state.db, {"oxserver-2", "new", "8.0", "http://n"}).ok());
  auto enabled = ox.dir->move_schema("oxdatabase_5", 2);
  REQUIRE_FALSE(enabled.ok());
  CHECK(std::string(enabled.error().tag) == "not-disabled");
  REQUIRE(ox.dir->set_schema_enabled("oxdatabase_5", false).ok());
  const uint64_t e = ox.epoch();
  auto moved = ox.dir->move_schema("oxdatabase_5", 2);
  REQUIRE(moved.ok());
  CHECK(moved->changed);
  CHECK(moved->version == e + 1);
  CHECK(count(*ox.configdb.db,
              "SELECT COUNT(*) FROM context_server2db_pool WHERE db_schema = 'oxdatabase_5'"
              " AND server_id = 2") == 2);
  // Back from 8.0 to 7.10.6: refused.
  auto back = ox.dir->move_schema("oxdatabase_5", 1);
  REQUIRE_FALSE(back.ok());
  CHECK(std::string(back.error().tag) == "one-way-door");
  // An empty schema has nothing to move (OX's changeserver refuses it): nothing is written.
  auto empty = ox.dir->move_schema("oxdatabase_8", 1);
  REQUIRE(empty.ok());
  CHECK_FALSE(empty->changed);
  CHECK(std::string(ox.dir->move_schema("oxdatabase_6", 99).error().tag) == "not-found");
}

TEST_CASE("ox directory: register server takes its id from configdb_sequence, as registerserver") {
  Ox ox;
  auto reg = ox.dir->register_server(ServerInfo{0, "oxserver-8", "new", "8.0", "http://new"},
                                     IfExists::Refuse);
  REQUIRE(reg.ok());
  CHECK(reg->server.id == 21);  // configdb_sequence was 20
  CHECK(text(*ox.configdb.db, "SELECT CAST(id AS CHAR) FROM configdb_sequence") == "21");
  CHECK(text(*ox.configdb.db, "SELECT name FROM server WHERE server_id = 21") == "oxserver-8");
  CHECK(count(*ox.configdb.db, "SELECT COUNT(*) FROM server") == 3);
  // What OX's table cannot hold is in the state database, and listed with the server.
  auto s = ox.dir->find_server("oxserver-8");
  REQUIRE(s.ok());
  CHECK(s->pool == "new");
  CHECK(s->version == "8.0");
  CHECK(ox.dir->find_server("oxserver-1")->pool == "old");  // from the YAML overrides

  CHECK(
      std::string(ox.dir->register_server(ServerInfo{0, "oxserver-8", "", "", ""}, IfExists::Refuse)
                      .error()
                      .tag) == "exists");
  CHECK(
      std::string(ox.dir->register_server(ServerInfo{5, "oxserver-9", "", "", ""},
                                          IfExists::Refuse)
                      .error()
                      .tag) == "invalid-argument");  // ids are OX's sequence's
  // A server OX's registerserver made: --continue records its pool, version and URL.
  run_sql(*ox.configdb.db, "UPDATE configdb_sequence SET id=LAST_INSERT_ID(id+1)");
  run_sql(*ox.configdb.db, "INSERT INTO server VALUES (LAST_INSERT_ID(), 'oxserver-9')");
  auto adopted = ox.dir->register_server(ServerInfo{0, "oxserver-9", "new", "8.0", "http://9"},
                                         IfExists::Continue);
  REQUIRE(adopted.ok());
  CHECK(adopted->existed);
  CHECK(adopted->server.id == 22);
  CHECK(ox.dir->find_server("oxserver-9")->pool == "new");

  // Nothing of Switchyard's ever lands in the configdb.
  CHECK(count(*ox.configdb.db,
              "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()"
              " AND table_name LIKE 'sy\\_%'") == 0);
}

namespace {

// Makes the next |n| writes of |event| (UPDATE or INSERT) on |table| fail with MySQL error
// 1213, as a deadlock or a Galera certification conflict does: a trigger that counts down in a
// non-transactional table (the failed statement's rollback does not undo the count).
void fail_next(sy::store::Db& db, const std::string& table, const std::string& event, int n) {
  run_sql(db, "CREATE TABLE IF NOT EXISTS fail_left (n INT NOT NULL) ENGINE=Aria");
  run_sql(db, "DELETE FROM fail_left");
  run_sql(db, "INSERT INTO fail_left VALUES (" + std::to_string(n) + ")");
  run_sql(db, "CREATE TRIGGER fail_" + table + " BEFORE " + event + " ON " + table +
                  " FOR EACH ROW BEGIN IF (SELECT n FROM fail_left) > 0 THEN"
                  " UPDATE fail_left SET n = n - 1; SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO ="
                  " 1213, MESSAGE_TEXT = 'Deadlock found when trying to get lock (injected)';"
                  " END IF; END");
}

uint64_t fails_left(sy::store::Db& db) { return count(db, "SELECT n FROM fail_left"); }

}  // namespace

TEST_CASE("ox directory: writes that meet a deadlock run again, like the own profile's") {
  Ox ox;
  REQUIRE(
      sy::store::write_server_meta(*ox.state.db, {"oxserver-2", "new", "8.0", "http://n"}).ok());
  sy::store::Db& configdb = *ox.configdb.db;

  SECTION("disable: OX's autocommit UPDATE of context") {
    fail_next(configdb, "context", "UPDATE", 2);
    auto off = ox.dir->set_schema_enabled("oxdatabase_5", false);
    REQUIRE(off.ok());
    CHECK(fails_left(configdb) == 0);  // failed twice, ran a third time
    CHECK(off->changed);
    CHECK_FALSE(ox.dir->find_schema("oxdatabase_5")->enabled);
  }

  SECTION("changeserver: the transaction on context_server2db_pool") {
    REQUIRE(ox.dir->set_schema_enabled("oxdatabase_5", false).ok());
    fail_next(configdb, "context_server2db_pool", "UPDATE", 1);
    auto moved = ox.dir->move_schema("oxdatabase_5", 2);
    REQUIRE(moved.ok());
    CHECK(fails_left(configdb) == 0);
    CHECK(moved->changed);
    CHECK(count(configdb,
                "SELECT COUNT(*) FROM context_server2db_pool WHERE db_schema = 'oxdatabase_5'"
                " AND server_id = 2") == 2);
  }

  SECTION("registerserver: the transaction on configdb_sequence and server") {
    const uint64_t seq = count(configdb, "SELECT id FROM configdb_sequence");
    fail_next(configdb, "server", "INSERT", 1);
    auto reg = ox.dir->register_server(ServerInfo{0, "oxserver-9", "new", "8.0", "http://n"},
                                       IfExists::Refuse);
    REQUIRE(reg.ok());
    CHECK(fails_left(configdb) == 0);
    // The failed try's sequence step was rolled back with it: one id taken, not two.
    CHECK(reg->server.id == seq + 1);
    CHECK(ox.dir->find_server("oxserver-9")->id == reg->server.id);
  }

  SECTION("a conflict that persists ends after a bounded number of tries, as an error") {
    fail_next(configdb, "context", "UPDATE", 100);
    auto off = ox.dir->set_schema_enabled("oxdatabase_5", false);
    REQUIRE_FALSE(off.ok());
    CHECK_THAT(off.error().message, Catch::Contains("1213"));
    CHECK(fails_left(configdb) == 100 - kConflictTries);  // every try, then the error
  }
}
