// routing/directory_ox.h against the real private MariaDB: OX's tables (tests/unit/ox_fixture.h)
// in one database, Switchyard's state tables in another. The writes below are the statements
// OX's own tools run (disableschema, enableschema, changeserver, disablecontext, createcontext).
//
// The 1M-context measurement is hidden from ctest; run it with
//   build/tests/unit_routing_directory_ox_test '[bench]'

#include "store/directory_ox.h"

#include <catch.hpp>

#include <chrono>
#include <map>
#include <string>

#include "store/db_migrate.h"
#include "unit/ox_fixture.h"
#include "unit/store/rows_text.h"
#include "unit/store/store_fixture.h"
#include "unit/test_db.h"

using namespace sy::store;
using namespace std::chrono_literals;

namespace {

using sy::test::contexts_of;
using sy::test::TestDb;
using sy::test::must;
using sy::test::run_sql;

// OX's disableschema / enableschema / changeserver, as OX's storage classes write them.
void ox_disable_schema(Db& db, const std::string& schema) {
  run_sql(db, "UPDATE context SET enabled = 0, reason_id = 1431655765 WHERE cid IN (SELECT cid FROM"
          " context_server2db_pool WHERE db_schema = '" +
              schema + "') AND enabled = 1");
}
void ox_enable_schema(Db& db, const std::string& schema) {
  run_sql(db, "UPDATE context SET enabled = 1, reason_id = NULL WHERE cid IN (SELECT cid FROM"
          " context_server2db_pool WHERE db_schema = '" +
              schema + "') AND enabled = 0 AND reason_id = 1431655765");
}
void ox_change_server(Db& db, int server, const std::string& schema) {
  run_sql(db, "UPDATE context_server2db_pool SET server_id=" + std::to_string(server) +
              " WHERE db_schema='" + schema + "'");
}

// The configdb with the fixture and a migrated state database, and a reader on both.
struct Ox {
  TestDb configdb;
  TestDb state;
  OxProfileReader reader;

  explicit Ox(std::chrono::milliseconds checksum_interval = 1h, bool seed = true)
      : reader(OxProfileOptions{kOxMaintenanceReason, checksum_interval}) {
    if (seed) {
      sy::test::load_ox_configdb(*configdb.db);
    } else {
      sy::test::load_ox_tables(*configdb.db);
    }
    auto m = sy::store::migrate(*state.db, sy::store::MigrateScope::State);
    if (!m) {
      FAIL(m.error().message);
    }
    reader.set_state(state.db.get());
  }
};

std::string schema_state(const DirectoryData& d, const std::string& name) {
  for (const SchemaRow& s : d.schemas) {
    if (s.name == name) {
      return s.state == SchemaState::Enabled ? "enabled" : "disabled";
    }
  }
  return "missing";
}

}  // namespace

TEST_CASE("ox profile: a full load reads OX's tables with OX's semantics") {
  Ox ox;
  REQUIRE(
      write_server_meta(*ox.state.db, {"oxserver-2", "new", "8.0", "https://new.example"}).ok());
  REQUIRE(bump_directory_epoch(*ox.state.db).ok());
  REQUIRE(bump_directory_epoch(*ox.state.db).ok());
  ox_disable_schema(*ox.configdb.db, "oxdatabase_6");
  DirectoryData d = must(ox.reader.full_load(*ox.configdb.db));
  CHECK(ox.reader.incremental());
  CHECK(d.change_seq == 2);  // the epoch

  REQUIRE(d.servers.size() == 2);
  CHECK(d.servers[0].name == "oxserver-1");
  CHECK(d.servers[0].pool.empty());
  CHECK(d.servers[1].pool == "new");
  CHECK(d.servers[1].version == "8.0");
  CHECK(d.servers[1].redirect_url == "https://new.example");

  // Every schema OX lists, the empty one too; server ids live on the contexts.
  CHECK(schema_state(d, "oxdatabase_5") == "enabled");
  CHECK(schema_state(d, "oxdatabase_6") == "disabled");  // OX's reason: held
  CHECK(schema_state(d, "oxdatabase_7") == "enabled");
  CHECK(schema_state(d, "oxdatabase_8") == "enabled");
  CHECK(d.schemas.size() == 4);
  for (const SchemaRow& s : d.schemas) {
    CHECK(s.server_id == 0);
  }
  // Context 3 carries the maintenance reason: not a disabled tenant. Context 10 was disabled
  // for another reason (7) and stays a disabled tenant.
  CHECK(contexts_of(d) == std::map<ContextId, std::string>{{1, "oxdatabase_5/1/on"},
                                                           {2, "oxdatabase_5/1/on"},
                                                           {3, "oxdatabase_6/1/on"},
                                                           {10, "oxdatabase_6/1/off"},
                                                           {20, "oxdatabase_7/2/on"}});
  CHECK(d.logins.size() == 11);
}

TEST_CASE("ox profile: OX's schema statements arrive within one probe as schema deltas") {
  Ox ox;
  DirectoryData d = must(ox.reader.full_load(*ox.configdb.db));
  Db& cdb = *ox.configdb.db;

  // Nothing changed: an empty delta at the same epoch.
  DirectoryDelta delta = must(ox.reader.changes_since(cdb, d.change_seq));
  CHECK(delta.empty());
  CHECK(delta.to_seq == d.change_seq);

  ox_disable_schema(cdb, "oxdatabase_5");
  delta = must(ox.reader.changes_since(cdb, 0));
  REQUIRE(delta.schemas.size() == 1);
  CHECK(delta.schemas[0].name == "oxdatabase_5");
  CHECK(delta.schemas[0].state == SchemaState::Disabled);
  CHECK(contexts_of(delta) ==
        std::map<ContextId, std::string>{{1, "oxdatabase_5/1/on"}, {2, "oxdatabase_5/1/on"}});

  ox_change_server(cdb, 2, "oxdatabase_5");
  ox_enable_schema(cdb, "oxdatabase_5");
  delta = must(ox.reader.changes_since(cdb, 0));
  REQUIRE(delta.schemas.size() == 1);
  CHECK(delta.schemas[0].state == SchemaState::Enabled);
  CHECK(contexts_of(delta) ==
        std::map<ContextId, std::string>{{1, "oxdatabase_5/2/on"}, {2, "oxdatabase_5/2/on"}});

  // enableschema never enables a context disabled for another reason.
  ox_disable_schema(cdb, "oxdatabase_6");
  ox_enable_schema(cdb, "oxdatabase_6");
  delta = must(ox.reader.changes_since(cdb, 0));
  CHECK(delta.empty());  // the sentinel (3) went there and back between two probes
  ox_disable_schema(cdb, "oxdatabase_6");
  delta = must(ox.reader.changes_since(cdb, 0));
  CHECK(contexts_of(delta) ==
        std::map<ContextId, std::string>{{3, "oxdatabase_6/1/on"}, {10, "oxdatabase_6/1/off"}});
  CHECK(delta.schemas.at(0).state == SchemaState::Disabled);

  // Switchyard's own writes bump the epoch: the delta carries it even when nothing else moved.
  uint64_t e = must(bump_directory_epoch(*ox.state.db));
  delta = must(ox.reader.changes_since(cdb, 0));
  CHECK(delta.empty());
  CHECK(delta.to_seq == e);
  // A caller that lost track (another seq) is told to load everything.
  auto stale = ox.reader.changes_since(cdb, 0);
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().code == sy::Errc::NotFound);
}

TEST_CASE("ox profile: added contexts, servers and server metadata need a full load") {
  Ox ox;
  Db& cdb = *ox.configdb.db;
  must(ox.reader.full_load(cdb));
  // createcontext: the context, its pool row, its logins, the counts.
  run_sql(cdb, "INSERT INTO context (cid, name, enabled) VALUES (21, 'new.example.com', 1)");
  run_sql(cdb, "INSERT INTO context_server2db_pool VALUES (2, 21, 4, 4, 'oxdatabase_8')");
  run_sql(cdb, "UPDATE contexts_per_dbschema SET count = count + 1 WHERE schemaname = 'oxdatabase_8'");
  auto r = ox.reader.changes_since(cdb, 0);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == sy::Errc::NotFound);
  DirectoryData d = must(ox.reader.full_load(cdb));
  CHECK(contexts_of(d)[21] == "oxdatabase_8/2/on");

  // registerserver: a sequence id and a server row.
  run_sql(cdb, "UPDATE configdb_sequence SET id = LAST_INSERT_ID(id + 1)");
  run_sql(cdb, "INSERT INTO server (server_id, name) VALUES (LAST_INSERT_ID(), 'oxserver-3')");
  CHECK(ox.reader.changes_since(cdb, 0).error().code == sy::Errc::NotFound);
  must(ox.reader.full_load(cdb));

  REQUIRE(write_server_meta(*ox.state.db, {"oxserver-3", "new", "8.0", ""}).ok());
  CHECK(ox.reader.changes_since(cdb, 0).error().code == sy::Errc::NotFound);
  d = must(ox.reader.full_load(cdb));
  CHECK(d.servers.back().pool == "new");
}

TEST_CASE("ox profile: single-context and login changes are found by the checksums") {
  SECTION("with checksums every probe") {
    Ox ox(0ms);
    Db& cdb = *ox.configdb.db;
    must(ox.reader.full_load(cdb));
    // disablecontext of context 2 (not its schema's sentinel, which is 1).
    run_sql(cdb, "UPDATE context SET enabled = 0, reason_id = 7 WHERE cid = 2");
    DirectoryDelta delta = must(ox.reader.changes_since(cdb, 0));
    CHECK(contexts_of(delta) ==
          std::map<ContextId, std::string>{{1, "oxdatabase_5/1/on"}, {2, "oxdatabase_5/1/off"}});
    CHECK(must(ox.reader.changes_since(cdb, 0)).empty());
    // changecontext -L: a new login mapping.
    run_sql(cdb, "INSERT INTO login2context VALUES (2, 'acme.test')");
    auto r = ox.reader.changes_since(cdb, 0);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == sy::Errc::NotFound);
  }
  SECTION("with checksums seldom, a sentinel change still arrives and a quiet one waits") {
    Ox ox(1h);
    Db& cdb = *ox.configdb.db;
    must(ox.reader.full_load(cdb));
    run_sql(cdb, "UPDATE context SET enabled = 0, reason_id = 7 WHERE cid = 2");
    CHECK(must(ox.reader.changes_since(cdb, 0)).empty());  // until the next checksum
    ox_disable_schema(cdb, "oxdatabase_5");
    DirectoryDelta delta = must(ox.reader.changes_since(cdb, 0));
    CHECK(contexts_of(delta) ==
          std::map<ContextId, std::string>{{1, "oxdatabase_5/1/on"}, {2, "oxdatabase_5/1/off"}});
  }
}

TEST_CASE("ox profile: without a state database the epoch is 0 and nothing is written") {
  TestDb configdb;
  sy::test::load_ox_configdb(*configdb.db);
  OxProfileReader reader;
  DirectoryData d = must(reader.full_load(*configdb.db));
  CHECK(d.change_seq == 0);
  CHECK(sy::test::count(*configdb.db,
                        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema ="
                        " DATABASE() AND table_name LIKE 'sy\\_%'") == 0);
}

// ---- measurement (hidden; run with '[bench]') ------------------------------------------------

TEST_CASE("bench: ox profile probes at 1,000,000 contexts over 1,000 schemas", "[.][bench]") {
  Ox ox(0ms, false);
  Db& cdb = *ox.configdb.db;
  auto t0 = std::chrono::steady_clock::now();
  run_sql(cdb, "INSERT INTO server VALUES (1, 'oxserver-1')");
  run_sql(cdb, "INSERT INTO contexts_per_dbschema SELECT 3, CONCAT('oxdatabase_', seq), 1000, 0"
           " FROM seq_1_to_1000");
  run_sql(cdb, "INSERT INTO context (cid, name, enabled, filestore_id, filestore_name, quota_max)"
           " SELECT seq, CONCAT('ctx', seq, '.example.com'), 1, 2, CONCAT(seq, '_ctx_store'),"
           " 1024 FROM seq_1_to_1000000");
  run_sql(cdb, "INSERT INTO context_server2db_pool SELECT 1, seq, 3, 3,"
           " CONCAT('oxdatabase_', 1 + (seq - 1) DIV 1000) FROM seq_1_to_1000000");
  run_sql(cdb, "INSERT INTO login2context SELECT seq, CONCAT('ctx', seq, '.example.com')"
           " FROM seq_1_to_1000000");
  auto seeded = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
  };
  auto l0 = std::chrono::steady_clock::now();
  DirectoryData d = must(ox.reader.full_load(cdb));
  auto l1 = std::chrono::steady_clock::now();
  REQUIRE(d.contexts.size() == 1000000);
  WARN("seeding " << ms(t0, seeded) << " ms; full load incl. baselines " << ms(l0, l1) << " ms");
  // Tier 1 + tier 2 (checksum_interval 0), nothing changed.
  for (int i = 0; i < 3; ++i) {
    auto p0 = std::chrono::steady_clock::now();
    CHECK(must(ox.reader.changes_since(cdb, 0)).empty());
    WARN("probe with checksums: " << ms(p0, std::chrono::steady_clock::now()) << " ms");
  }
  // Tier 1 only.
  OxProfileReader tier1(OxProfileOptions{kOxMaintenanceReason, 1h});
  tier1.set_state(ox.state.db.get());
  must(tier1.full_load(cdb));
  for (int i = 0; i < 3; ++i) {
    auto p0 = std::chrono::steady_clock::now();
    CHECK(must(tier1.changes_since(cdb, 0)).empty());
    WARN("probe without checksums: " << ms(p0, std::chrono::steady_clock::now()) << " ms");
  }
  // One schema disabled by OX: found by tier 1, read again by the db_schema index.
  ox_disable_schema(cdb, "oxdatabase_500");
  auto p0 = std::chrono::steady_clock::now();
  DirectoryDelta delta = must(tier1.changes_since(cdb, 0));
  WARN("probe + schema delta: " << ms(p0, std::chrono::steady_clock::now()) << " ms");
  CHECK(delta.contexts.size() == 1000);
}
