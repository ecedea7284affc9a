// admin/stores.h: the directory and the state database kept apart, by profile.

#include "admin/stores.h"

#include <catch.hpp>

#include "admin/db_migrate.h"
#include "admin/instances.h"
#include "unit/ox_fixture.h"
#include "unit/test_db.h"

using namespace sy::admin;
using sy::test::count;
using sy::test::TestDb;

TEST_CASE("stores: profile own with a state database of its own") {
  TestDb dir;
  TestDb state;
  REQUIRE(migrate(*dir.db, MigrateScope::Directory).ok());
  REQUIRE(migrate(*state.db, MigrateScope::State).ok());
  StoreOptions o;
  o.profile = sy::conf::Profile::Own;
  o.dsns = {dir.dsn};
  o.state_dsns = {state.dsn};
  Stores stores(o);
  CHECK(stores.has_state());
  auto d = stores.directory();
  REQUIRE(d.ok());
  CHECK(std::string((*d)->profile()) == "own");
  REQUIRE((*d)->register_server(ServerInfo{0, "app", "old", "1", ""}, IfExists::Refuse).ok());
  auto st = stores.state();
  REQUIRE(st.ok());
  REQUIRE(write_heartbeat(**st, InstanceBeat{"i-1", "old", "1", 1, {}, 0}).ok());
  CHECK(count(*dir.db, "SELECT COUNT(*) FROM sy_servers") == 1);
  CHECK(count(*state.db, "SELECT COUNT(*) FROM sy_instances") == 1);
  CHECK(count(*dir.db, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema ="
                       " DATABASE() AND table_name = 'sy_instances'") == 0);
  // After reset() the sessions are made again.
  stores.reset();
  REQUIRE(stores.directory().ok());
}

TEST_CASE("stores: profile ox needs a state database, profile sql is read-only") {
  TestDb configdb;
  sy::test::load_ox_configdb(*configdb.db);
  StoreOptions ox;
  ox.profile = sy::conf::Profile::Ox;
  ox.dsns = {configdb.dsn};
  Stores no_state(ox);
  CHECK_FALSE(no_state.has_state());
  auto d = no_state.directory();
  REQUIRE_FALSE(d.ok());
  CHECK(std::string(d.error().tag) == "database");
  CHECK_THAT(d.error().message, Catch::Contains("state_database"));

  TestDb state;
  REQUIRE(migrate(*state.db, MigrateScope::State).ok());
  ox.state_dsns = {state.dsn};
  Stores stores(ox);
  auto dir = stores.directory();
  REQUIRE(dir.ok());
  CHECK(std::string((*dir)->profile()) == "ox");
  CHECK((*dir)->list_schemas()->size() == 4);

  StoreOptions sql;
  sql.profile = sy::conf::Profile::Sql;
  sql.dsns = {configdb.dsn};
  Stores read_only(sql);
  CHECK(std::string(read_only.directory().error().tag) == "read-only");
  CHECK(std::string(read_only.state().error().tag) == "database");
}
