// store/directory_reader.h against the real private MariaDB: the own profile's full load and
// change following (including writers that commit out of sequence order, bulk moves, pruning),
// seeding, and the SQL profile with generic SELECTs (over the OX fixture's tables).
//
// The benchmark is hidden from ctest; run it with
//   build/tests/unit_routing_directory_reader_test '[bench]'

// The own-profile tables come from admin's migrations (tests/CMakeLists.txt links sy_admin).
#include "store/db_migrate.h"

#include "store/directory_reader.h"

#include <catch.hpp>

#include "unit/ox_fixture.h"
#include "unit/store/rows_text.h"
#include "unit/store/store_fixture.h"
#include "unit/test_db.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

using namespace sy::store;
using namespace std::chrono_literals;

namespace {

using sy::test::contexts_of;
using sy::test::count;
using sy::test::env_dsn;
using sy::test::must_connect;
using sy::test::TestDb;
using sy::test::OwnDb;
using sy::test::must;
using sy::test::run_sql;

uint64_t max_seq(Db& db) { return count(db, "SELECT COALESCE(MAX(seq), 0) FROM sy_changes"); }

std::map<std::string, ContextId> logins_of(const std::vector<LoginRow>& rows) {
  std::map<std::string, ContextId> out;
  for (const LoginRow& l : rows) {
    out[l.login] = l.context_id;
  }
  return out;
}

void seed_small(Db& db) {
  run_sql(db, "INSERT INTO sy_servers (id, name, pool, version, redirect_url) VALUES"
          " (1, 'ox-7.10', 'old', '7.10', 'https://new.example.com'),"
          " (2, 'ox-8.0', 'new', '8.0', '')");
  run_sql(db, "INSERT INTO sy_schemas (name, state, server_id) VALUES"
          " ('oxdb_1', 'enabled', 1), ('oxdb_2', 'disabled', 2)");
  run_sql(db, "INSERT INTO sy_contexts (id, schema_name, enabled, server_id) VALUES"
          " (10, 'oxdb_1', 1, NULL), (11, 'oxdb_1', 0, 0), (12, 'oxdb_2', 1, 1),"
          " (13, 'orphan', 1, NULL)");
  run_sql(db, "INSERT INTO sy_logins (login, context_id) VALUES"
          " ('a@example.com', 10), ('b@example.com', 12)");
}

// A generic directory over the OX tables, as an operator would write the SELECTs for a
// database Switchyard has no profile for.
SqlProfileQueries generic_queries() {
  return SqlProfileQueries{"SELECT server_id, name FROM server",
                           "SELECT c.cid, c.enabled, p.server_id, p.db_schema"
                           " FROM context c JOIN context_server2db_pool p ON p.cid = c.cid",
                           "SELECT login_info, cid FROM login2context", ""};
}

}  // namespace

// ---- own profile ----------------------------------------------------------------------------

TEST_CASE("own profile: full load reads all four tables and the change position") {
  OwnDb t;
  seed_small(*t.db);
  OwnProfileReader reader;
  CHECK(reader.incremental());
  DirectoryData d = must(reader.full_load(*t.db));

  REQUIRE(d.servers.size() == 2);
  CHECK(d.servers[0].id == 1);
  CHECK(d.servers[0].name == "ox-7.10");
  CHECK(d.servers[0].pool == "old");
  CHECK(d.servers[0].version == "7.10");
  CHECK(d.servers[0].redirect_url == "https://new.example.com");
  CHECK(d.servers[1].redirect_url.empty());

  // The two real schemas (by name), then the synthesised one for the orphan context.
  REQUIRE(d.schemas.size() == 3);
  CHECK(d.schemas[0].name == "oxdb_1");
  CHECK(d.schemas[0].state == SchemaState::Enabled);
  CHECK(d.schemas[0].server_id == 1);
  CHECK(d.schemas[1].name == "oxdb_2");
  CHECK(d.schemas[1].state == SchemaState::Disabled);
  CHECK(d.schemas[1].server_id == 2);
  CHECK(d.schemas[2].name == "orphan");
  CHECK(d.schemas[2].state == SchemaState::Enabled);
  CHECK(d.schemas[2].server_id == 0);

  CHECK(contexts_of(d) ==
        std::map<ContextId, std::string>{
            {10, "oxdb_1/0/on"}, {11, "oxdb_1/0/off"}, {12, "oxdb_2/1/on"}, {13, "orphan/0/on"}});
  CHECK(logins_of(d.logins) ==
        std::map<std::string, ContextId>{{"a@example.com", 10}, {"b@example.com", 12}});
  CHECK(d.change_seq == max_seq(*t.db));
  CHECK(d.change_seq == 10);  // 2 servers + 2 schemas + 4 contexts + 2 logins

  // Nothing happened since: the next delta is empty and stays put.
  DirectoryDelta none = must(reader.changes_since(*t.db, d.change_seq));
  CHECK(none.empty());
  CHECK(none.from_seq == d.change_seq);
  CHECK(none.to_seq == d.change_seq);
}

TEST_CASE("own profile: changes_since delivers inserts, updates and deletes") {
  OwnDb t;
  seed_small(*t.db);
  OwnProfileReader reader;
  DirectoryData d = must(reader.full_load(*t.db));

  run_sql(*t.db, "INSERT INTO sy_contexts (id, schema_name) VALUES (14, 'oxdb_2')");
  run_sql(*t.db, "UPDATE sy_contexts SET server_id = 2 WHERE id = 10");
  run_sql(*t.db, "UPDATE sy_contexts SET enabled = 1 WHERE id = 11");
  run_sql(*t.db, "DELETE FROM sy_contexts WHERE id = 12");
  run_sql(*t.db, "UPDATE sy_schemas SET state = 'disabled' WHERE name = 'oxdb_1'");
  run_sql(*t.db, "DELETE FROM sy_logins WHERE login = 'b@example.com'");
  run_sql(*t.db, "INSERT INTO sy_logins (login, context_id) VALUES ('c@example.com', 14)");
  run_sql(*t.db, "UPDATE sy_servers SET pool = 'newer' WHERE id = 2");
  // Changed twice, then back: delivered once, with its current value.
  run_sql(*t.db, "UPDATE sy_contexts SET enabled = 0 WHERE id = 13");
  run_sql(*t.db, "UPDATE sy_contexts SET enabled = 1 WHERE id = 13");

  DirectoryDelta delta = must(reader.changes_since(*t.db, d.change_seq));
  CHECK(delta.from_seq == d.change_seq);
  CHECK(delta.to_seq == max_seq(*t.db));
  CHECK(contexts_of(delta) ==
        std::map<ContextId, std::string>{
            {10, "oxdb_1/2/on"}, {11, "oxdb_1/0/on"}, {13, "orphan/0/on"}, {14, "oxdb_2/0/on"}});
  CHECK(delta.removed_contexts == std::vector<ContextId>{12});
  REQUIRE(delta.schemas.size() == 1);
  CHECK(delta.schemas[0].name == "oxdb_1");
  CHECK(delta.schemas[0].state == SchemaState::Disabled);
  CHECK(delta.schemas[0].server_id == 1);
  CHECK(logins_of(delta.logins) == std::map<std::string, ContextId>{{"c@example.com", 14}});
  CHECK(delta.removed_logins == std::vector<std::string>{"b@example.com"});
  REQUIRE(delta.servers.size() == 1);
  CHECK(delta.servers[0].id == 2);
  CHECK(delta.servers[0].pool == "newer");
  CHECK(delta.removed_servers.empty());
  CHECK(delta.removed_schemas.empty());

  // Continuing from to_seq: nothing new.
  DirectoryDelta again = must(reader.changes_since(*t.db, delta.to_seq));
  CHECK(again.empty());
  CHECK(again.to_seq == delta.to_seq);

  // A fresh reader asked for the same range delivers the same changes (no hidden state needed).
  OwnProfileReader fresh;
  DirectoryDelta same = must(fresh.changes_since(*t.db, d.change_seq));
  CHECK(contexts_of(same) == contexts_of(delta));
  CHECK(same.to_seq == delta.to_seq);
}

TEST_CASE("own profile: deleted servers and schemas are reported removed") {
  OwnDb t;
  seed_small(*t.db);
  OwnProfileReader reader;
  DirectoryData d = must(reader.full_load(*t.db));
  run_sql(*t.db, "DELETE FROM sy_servers WHERE id = 2");
  run_sql(*t.db, "DELETE FROM sy_schemas WHERE name = 'oxdb_2'");
  run_sql(*t.db, "UPDATE sy_schemas SET name = 'oxdb_9' WHERE name = 'oxdb_1'");
  DirectoryDelta delta = must(reader.changes_since(*t.db, d.change_seq));
  CHECK(delta.removed_servers == std::vector<ServerId>{2});
  CHECK(delta.removed_schemas == std::vector<std::string>{"oxdb_1", "oxdb_2"});
  REQUIRE(delta.schemas.size() == 1);
  CHECK(delta.schemas[0].name == "oxdb_9");
  CHECK(!delta.empty());
}

TEST_CASE("own profile: a bulk move of 20,000 contexts arrives as one delta") {
  OwnDb t;
  REQUIRE(seed_own_profile(*t.db, 40000, 2, 2).ok());
  OwnProfileReader reader;
  DirectoryData d = must(reader.full_load(*t.db));
  REQUIRE(d.contexts.size() == 40000);
  CHECK(d.change_seq == 0);  // seeding logs nothing

  run_sql(*t.db, "UPDATE sy_contexts SET server_id = 2 WHERE schema_name = 'schema_1'");
  CHECK(max_seq(*t.db) == 20000);

  auto t0 = std::chrono::steady_clock::now();
  DirectoryDelta delta = must(reader.changes_since(*t.db, d.change_seq));
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  WARN("changes_since for 20,000 changed contexts: " << ms << " ms");
  CHECK(ms < 3000);
  CHECK(delta.to_seq == 20000);
  REQUIRE(delta.contexts.size() == 20000);
  CHECK(delta.schema_names == std::vector<std::string>{"schema_1"});
  CHECK(std::all_of(delta.contexts.begin(), delta.contexts.end(), [](const ContextRow& c) {
    return c.server_id == 2 && c.schema_index == 0 && c.id >= 1 && c.id <= 20000;
  }));
  CHECK(delta.removed_contexts.empty());
}

TEST_CASE("own profile: max_changes splits a backlog over several calls") {
  OwnDb t;
  REQUIRE(seed_own_profile(*t.db, 2500, 1, 1).ok());
  OwnProfileOptions opt;
  opt.max_changes = 1000;
  OwnProfileReader reader(opt);
  DirectoryData d = must(reader.full_load(*t.db));
  run_sql(*t.db, "UPDATE sy_contexts SET enabled = 0");

  std::set<ContextId> seen;
  uint64_t seq = d.change_seq;
  std::vector<uint64_t> steps;
  for (int i = 0; i < 5; ++i) {
    DirectoryDelta delta = must(reader.changes_since(*t.db, seq));
    if (delta.empty()) {
      break;
    }
    for (const ContextRow& c : delta.contexts) {
      CHECK_FALSE(c.enabled);
      CHECK(seen.insert(c.id).second);  // each context exactly once
    }
    seq = delta.to_seq;
    steps.push_back(seq);
  }
  CHECK(steps == std::vector<uint64_t>{1000, 2000, 2500});
  CHECK(seen.size() == 2500);
}

TEST_CASE("own profile: a writer that commits after a later one is not missed") {
  OwnDb t;
  seed_small(*t.db);
  OwnProfileReader reader;
  DirectoryData d = must(reader.full_load(*t.db));
  const uint64_t start = d.change_seq;

  // |slow| takes sequence number start+1 but commits last.
  auto slow = must_connect(t.dsn);
  run_sql(*slow, "START TRANSACTION");
  run_sql(*slow, "INSERT INTO sy_contexts (id, schema_name) VALUES (100, 'oxdb_1')");
  run_sql(*t.db, "INSERT INTO sy_contexts (id, schema_name) VALUES (101, 'oxdb_1')");

  DirectoryDelta first = must(reader.changes_since(*t.db, start));
  CHECK(contexts_of(first) == std::map<ContextId, std::string>{{101, "oxdb_1/0/on"}});
  CHECK(first.to_seq == start);  // the gap at start+1 is young: do not move past it

  // Polling again before the commit delivers nothing twice.
  DirectoryDelta idle = must(reader.changes_since(*t.db, first.to_seq));
  CHECK(idle.empty());
  CHECK(idle.to_seq == start);

  run_sql(*slow, "COMMIT");
  DirectoryDelta second = must(reader.changes_since(*t.db, idle.to_seq));
  CHECK(contexts_of(second) == std::map<ContextId, std::string>{{100, "oxdb_1/0/on"}});
  CHECK(second.to_seq == start + 2);
}

TEST_CASE(
    "own profile: a gap is held while its writer is open, passed once settled or rolled back") {
  OwnDb t;
  seed_small(*t.db);
  auto other = must_connect(t.dsn);

  OwnProfileOptions patient_opt;
  patient_opt.settle = 30s;  // both longer than this test
  patient_opt.settle_pending = 30s;
  OwnProfileReader patient(patient_opt);
  OwnProfileOptions at_once_opt;
  at_once_opt.settle = 0ms;
  at_once_opt.settle_pending = 0ms;
  OwnProfileReader at_once(at_once_opt);
  DirectoryData d = must(patient.full_load(*t.db));
  DirectoryData d2 = must(at_once.full_load(*t.db));
  REQUIRE(d.change_seq == d2.change_seq);
  const uint64_t start = d.change_seq;

  run_sql(*other, "START TRANSACTION");
  run_sql(*other, "INSERT INTO sy_contexts (id, schema_name) VALUES (200, 'oxdb_1')");  // start+1
  run_sql(*t.db, "INSERT INTO sy_contexts (id, schema_name) VALUES (201, 'oxdb_1')");

  // The writer of start+1 is open: the gap may still fill.
  DirectoryDelta held = must(patient.changes_since(*t.db, start));
  CHECK(contexts_of(held) == std::map<ContextId, std::string>{{201, "oxdb_1/0/on"}});
  CHECK(held.to_seq == start);

  DirectoryDelta passed = must(at_once.changes_since(*t.db, start));
  CHECK(contexts_of(passed) == std::map<ContextId, std::string>{{201, "oxdb_1/0/on"}});
  CHECK(passed.to_seq == start + 2);

  // full_load() applies the same rule to where it says changes continue.
  OwnProfileReader later(patient_opt);
  DirectoryData d3 = must(later.full_load(*t.db));
  CHECK(d3.change_seq == start);
  DirectoryDelta after_load = must(later.changes_since(*t.db, d3.change_seq));
  CHECK(after_load.empty());  // 201 is in the load already

  // Rolled back: start+1 is never used, and no reader waits for it (issue 17 item 5).
  run_sql(*other, "ROLLBACK");
  DirectoryDelta rolled_back = must(patient.changes_since(*t.db, held.to_seq));
  CHECK(rolled_back.to_seq == start + 2);
  CHECK(contexts_of(rolled_back).empty());  // 201 was delivered already
  OwnProfileReader fresh(patient_opt);
  CHECK(must(fresh.full_load(*t.db)).change_seq == start + 2);
}

TEST_CASE("own profile: a pruned change log makes changes_since ask for a full load") {
  OwnDb t;
  seed_small(*t.db);
  run_sql(*t.db, "UPDATE sy_changes SET at = NOW(6) - INTERVAL 1 DAY");
  run_sql(*t.db, "INSERT INTO sy_contexts (id, schema_name) VALUES (300, 'oxdb_1')");
  const uint64_t newest = max_seq(*t.db);

  auto too_short = prune_changes(*t.db, 10s);
  REQUIRE_FALSE(too_short.ok());
  CHECK(too_short.error().code == sy::Errc::InvalidArgument);

  auto pruned = prune_changes(*t.db, 3600s);
  REQUIRE(pruned.ok());
  CHECK(*pruned == newest - 1);
  CHECK(count(*t.db, "SELECT COUNT(*) FROM sy_changes") == 1);
  CHECK(must(prune_changes(*t.db, 3600s)) == 0);  // nothing old left

  OwnProfileReader reader;
  auto stale = reader.changes_since(*t.db, 3);
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().code == sy::Errc::NotFound);
  CHECK(stale.error().message.find("full reload") != std::string::npos);

  DirectoryData d = must(reader.full_load(*t.db));
  CHECK(d.change_seq == newest);
  CHECK(must(reader.changes_since(*t.db, d.change_seq)).empty());
  // From just below the newest row is still covered.
  DirectoryDelta tail = must(reader.changes_since(*t.db, newest - 1));
  CHECK(contexts_of(tail) == std::map<ContextId, std::string>{{300, "oxdb_1/0/on"}});
}

TEST_CASE("own profile: a change sequence that goes backwards asks for a full load") {
  OwnDb t;
  seed_small(*t.db);
  OwnProfileReader reader;
  DirectoryData d = must(reader.full_load(*t.db));
  const uint64_t applied = d.change_seq;
  REQUIRE(applied > 2);
  // A promoted replica that lagged two changes behind: its log ends below what was applied,
  // and the next change there reuses a number this reader has seen already.
  run_sql(*t.db, "DELETE FROM sy_changes WHERE seq > " + std::to_string(applied - 2));
  auto back = reader.changes_since(*t.db, applied);
  REQUIRE_FALSE(back.ok());
  CHECK(back.error().code == sy::Errc::NotFound);  // the loader's "full load" answer
  CHECK(back.error().message.find("went backwards (newest " + std::to_string(applied - 2) +
                                  ", applied " + std::to_string(applied) + ")") !=
        std::string::npos);
  // The full load starts over where that database is.
  DirectoryData again = must(reader.full_load(*t.db));
  CHECK(again.change_seq == applied - 2);
  CHECK(must(reader.changes_since(*t.db, again.change_seq)).empty());
}

TEST_CASE("own profile: reading tables that do not exist is a database error") {
  TestDb t;  // not migrated
  OwnProfileReader reader;
  auto d = reader.full_load(*t.db);
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().code == sy::Errc::Database);
  CHECK(d.error().message.find("1146") != std::string::npos);
  auto delta = reader.changes_since(*t.db, 0);
  REQUIRE_FALSE(delta.ok());
}

TEST_CASE("seed_own_profile fills the tables without logging changes") {
  OwnDb t;
  REQUIRE(seed_own_profile(*t.db, 10001, 10, 3, 2).ok());
  CHECK(count(*t.db, "SELECT COUNT(*) FROM sy_changes") == 0);
  CHECK(count(*t.db, "SELECT COUNT(*) FROM sy_logins") == 20002);

  OwnProfileReader reader;
  DirectoryData d = must(reader.full_load(*t.db));
  CHECK(d.servers.size() == 3);
  CHECK(d.servers[2].pool == "pool-3");
  REQUIRE(d.schemas.size() == 10);
  CHECK(d.contexts.size() == 10001);
  CHECK(d.logins.size() == 20002);
  std::map<std::string, int> per_schema;
  for (const ContextRow& c : d.contexts) {
    ++per_schema[d.schemas.at(c.schema_index).name];
  }
  CHECK(per_schema.size() == 10);
  CHECK(per_schema["schema_1"] >= 1000);
  CHECK(per_schema["schema_10"] >= 1000);
  auto logins = logins_of(d.logins);
  CHECK(logins["ctx1"] == 1);
  CHECK(logins["ctx10001-1"] == 10001);

  // The session logs changes again afterwards.
  run_sql(*t.db, "UPDATE sy_contexts SET enabled = 0 WHERE id = 1");
  CHECK(count(*t.db, "SELECT COUNT(*) FROM sy_changes") == 1);
  CHECK_FALSE(seed_own_profile(*t.db, 1, 0, 1).ok());
}

// ---- SQL profile (generic SELECTs, here over the OX fixture's tables) --------------------------

TEST_CASE("sql profile: the configured queries read the tables") {
  TestDb t;
  sy::test::load_ox_configdb(*t.db);
  SqlProfileReader reader(generic_queries(),
                          {{"oxserver-1", "old", "7.10.6", "https://new.example.com"},
                           {"oxserver-2", "new", "", ""},
                           {"not-in-configdb", "ghost", "", ""}});
  CHECK_FALSE(reader.incremental());
  DirectoryData d = must(reader.full_load(*t.db));
  CHECK(d.change_seq == 0);

  REQUIRE(d.servers.size() == 2);
  std::map<ServerId, ServerRow> servers;
  for (const ServerRow& s : d.servers) {
    servers[s.id] = s;
  }
  CHECK(servers[1].name == "oxserver-1");
  CHECK(servers[1].pool == "old");
  CHECK(servers[1].version == "7.10.6");
  CHECK(servers[1].redirect_url == "https://new.example.com");
  CHECK(servers[2].name == "oxserver-2");
  CHECK(servers[2].pool == "new");
  CHECK(servers[2].version.empty());

  // No schemas query: every schema seen in contexts, enabled, server from its contexts.
  REQUIRE(d.schemas.size() == 3);
  for (const SchemaRow& s : d.schemas) {
    CHECK(s.state == SchemaState::Enabled);
    CHECK(s.server_id == 0);
  }
  CHECK(contexts_of(d) == std::map<ContextId, std::string>{{1, "oxdatabase_5/1/on"},
                                                           {2, "oxdatabase_5/1/on"},
                                                           {3, "oxdatabase_6/1/on"},
                                                           {10, "oxdatabase_6/1/off"},
                                                           {20, "oxdatabase_7/2/on"}});
  auto logins = logins_of(d.logins);
  CHECK(logins.size() == 11);
  CHECK(logins["acme.example.com"] == 2);
  CHECK(logins["20"] == 20);
  CHECK(logins["Initech.Test"] == 20);

  auto delta = reader.changes_since(*t.db, 0);
  REQUIRE_FALSE(delta.ok());
  CHECK(delta.error().code == sy::Errc::InvalidArgument);
}

TEST_CASE("sql profile: custom queries with pools, schema states and no logins") {
  TestDb t;
  sy::test::load_ox_configdb(*t.db);
  SqlProfileQueries q = generic_queries();
  q.servers = "SELECT server_id, name, CONCAT('pool-', server_id), '7.10' FROM server";
  q.schemas = "SELECT 'oxdatabase_6', 0, 1 UNION ALL SELECT 'oxdatabase_9', 1, 2";
  q.logins.clear();
  SqlProfileReader reader(q, {{"oxserver-2", "", "8.0", ""}});
  DirectoryData d = must(reader.full_load(*t.db));

  std::map<ServerId, ServerRow> servers;
  for (const ServerRow& s : d.servers) {
    servers[s.id] = s;
  }
  CHECK(servers[1].pool == "pool-1");
  CHECK(servers[1].version == "7.10");
  CHECK(servers[2].pool == "pool-2");  // the override leaves an empty field alone
  CHECK(servers[2].version == "8.0");

  // The listed schemas first, in query order, then the ones only contexts name.
  REQUIRE(d.schemas.size() == 4);
  CHECK(d.schemas[0].name == "oxdatabase_6");
  CHECK(d.schemas[0].state == SchemaState::Disabled);
  CHECK(d.schemas[0].server_id == 1);
  CHECK(d.schemas[1].name == "oxdatabase_9");
  CHECK(d.schemas[1].state == SchemaState::Enabled);
  std::set<std::string> rest{d.schemas[2].name, d.schemas[3].name};
  CHECK(rest == std::set<std::string>{"oxdatabase_5", "oxdatabase_7"});
  CHECK(contexts_of(d)[3] == "oxdatabase_6/1/on");
  CHECK(d.logins.empty());
}

TEST_CASE("sql profile: a query with the wrong columns or a broken query fails clearly") {
  TestDb t;
  sy::test::load_ox_configdb(*t.db);
  {
    SqlProfileQueries q = generic_queries();
    q.contexts = "SELECT cid, enabled FROM context";
    auto d = SqlProfileReader(q).full_load(*t.db);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().code == sy::Errc::Config);
    CHECK(d.error().message ==
          "contexts query returns 2 columns; expected id, enabled, server_id, schema");
  }
  {
    SqlProfileQueries q = generic_queries();
    q.servers = "SELECT server_id FROM server";
    auto d = SqlProfileReader(q).full_load(*t.db);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().code == sy::Errc::Config);
  }
  {
    SqlProfileQueries q = generic_queries();
    q.logins = "SELECT login_info, cid FROM no_such_table";
    auto d = SqlProfileReader(q).full_load(*t.db);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().code == sy::Errc::Database);
    CHECK(d.error().message.find("no_such_table") != std::string::npos);
  }
  {
    SqlProfileQueries q;
    auto d = SqlProfileReader(q).full_load(*t.db);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().code == sy::Errc::Config);
  }
}

// ---- benchmark (hidden; run with '[bench]') -------------------------------------------------

TEST_CASE("bench: full load of 1,000,000 contexts over 1,000 schemas", "[.][bench]") {
  OwnDb t;
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(seed_own_profile(*t.db, 1000000, 1000, 100).ok());
  auto seeded = std::chrono::steady_clock::now();
  OwnProfileReader reader;
  for (int i = 0; i < 3; ++i) {
    auto l0 = std::chrono::steady_clock::now();
    DirectoryData d = must(reader.full_load(*t.db));
    auto l1 = std::chrono::steady_clock::now();
    REQUIRE(d.contexts.size() == 1000000);
    REQUIRE(d.schemas.size() == 1000);
    WARN("full_load #" << i + 1 << ": "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(l1 - l0).count()
                       << " ms");
    CHECK(l1 - l0 < 2s);
  }
  WARN("seeding: " << std::chrono::duration_cast<std::chrono::milliseconds>(seeded - t0).count()
                   << " ms");
}
