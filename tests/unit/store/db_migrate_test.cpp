// admin/db_migrate.h against the real private MariaDB: migrations apply once and are recorded,
// a second run changes nothing, and the triggers turn every kind of write into change rows.

#include "store/db_migrate.h"

#include <catch.hpp>

#include "unit/test_db.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using namespace sy::store;
using namespace std::chrono_literals;

namespace {

using sy::test::count;
using sy::test::env_dsn;
using sy::test::must_connect;
using sy::test::TestDb;

// The change log as "kind:key" strings, in sequence order.
std::vector<std::string> changes(Db& db) {
  std::vector<std::string> out;
  auto r = db.query("SELECT kind, key_text FROM sy_changes ORDER BY seq",
                    [&](const Row& row) { out.push_back(row.str(1) + ":" + row.str(2)); });
  REQUIRE(r.ok());
  return out;
}

void run(Db& db, const std::string& sql) {
  auto r = db.exec(sql);
  INFO(sql);
  if (!r) {
    FAIL(r.error().message);
  }
}

}  // namespace

TEST_CASE("migrate applies every migration once and records it") {
  TestDb t;
  auto first = migrate(*t.db);
  REQUIRE(first.ok());
  const auto known = known_migrations();
  REQUIRE(known.size() >= 3);
  CHECK(first->applied.size() == known.size());
  CHECK(first->skipped.empty());
  CHECK(first->unknown.empty());
  CHECK(first->version == latest_schema_version());
  CHECK(first->locked);
  for (size_t i = 0; i < known.size(); ++i) {
    CHECK(first->applied[i].version == static_cast<int>(i + 1));
    CHECK(first->applied[i].name == known[i].name);
  }

  std::vector<std::string> recorded;
  auto r = t.db->query("SELECT version, name, applied_at <= NOW(6) FROM sy_schema_version"
                       " ORDER BY version",
                       [&](const Row& row) {
                         CHECK(row.boolean(3));
                         recorded.push_back(std::to_string(row.i32(1)) + " " + row.str(2));
                       });
  REQUIRE(r.ok());
  REQUIRE(recorded.size() == known.size());
  CHECK(recorded[0] == "1 " + known[0].name);

  for (const char* table : {"sy_servers", "sy_schemas", "sy_contexts", "sy_logins", "sy_changes",
                            "sy_meta", "sy_instances"}) {
    INFO(table);
    CHECK(count(*t.db, std::string("SELECT COUNT(*) FROM information_schema.tables"
                                   " WHERE table_schema = DATABASE() AND engine = 'InnoDB'"
                                   " AND table_name = '") +
                           table + "'") == 1);
  }
  CHECK(count(*t.db, "SELECT COUNT(*) FROM information_schema.triggers"
                     " WHERE trigger_schema = DATABASE()") == 12);
}

TEST_CASE("a second migrate does nothing") {
  TestDb t;
  REQUIRE(migrate(*t.db).ok());
  run(*t.db, "INSERT INTO sy_schemas (name) VALUES ('keep_me')");
  auto second = migrate(*t.db);
  REQUIRE(second.ok());
  CHECK(second->applied.empty());
  CHECK(second->skipped.size() == known_migrations().size());
  CHECK(second->version == latest_schema_version());
  CHECK(count(*t.db, "SELECT COUNT(*) FROM sy_schema_version") == known_migrations().size());
  CHECK(count(*t.db, "SELECT COUNT(*) FROM sy_schemas") == 1);
}

TEST_CASE("migrate completes a half-applied database and reports versions it does not know") {
  TestDb t;
  // As if a run died inside migration 2: some of its objects exist, it is not recorded.
  REQUIRE(migrate(*t.db).ok());
  run(*t.db, "DELETE FROM sy_schema_version WHERE version >= 2");
  run(*t.db, "DROP TRIGGER sy_logins_ad");
  run(*t.db, "INSERT INTO sy_schema_version (version, name) VALUES (999, 'from the future')");
  auto r = migrate(*t.db);
  REQUIRE(r.ok());
  REQUIRE(r->applied.size() == known_migrations().size() - 1);
  CHECK(r->applied[0].version == 2);
  CHECK(r->unknown == std::vector<int>{999});
  CHECK(r->version == 999);
  CHECK(count(*t.db, "SELECT COUNT(*) FROM information_schema.triggers"
                     " WHERE trigger_schema = DATABASE()") == 12);
}

TEST_CASE("concurrent migrate runs apply each migration once") {
  TestDb t;
  std::vector<std::unique_ptr<Db>> sessions;
  for (int i = 0; i < 3; ++i) {
    sessions.push_back(must_connect(t.dsn));
  }
  std::vector<sy::Result<MigrateReport>> results(3, sy::make_error(sy::Errc::Internal, "not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] { results[i] = migrate(*sessions[i]); });
  }
  for (auto& th : threads) {
    th.join();
  }
  size_t applied = 0;
  for (auto& r : results) {
    REQUIRE(r.ok());
    applied += r->applied.size();
  }
  CHECK(applied == known_migrations().size());
}

TEST_CASE("migrate without a selected database is a clear error") {
  Dsn d = env_dsn();
  auto db = must_connect(d);
  auto r = migrate(*db);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("no database selected") != std::string::npos);
}

TEST_CASE("triggers log every real change of the four directory tables") {
  TestDb t;
  REQUIRE(migrate(*t.db).ok());
  Db& db = *t.db;

  run(db, "INSERT INTO sy_servers (id, name, pool) VALUES (1, 'old', 'pool-old'),"
          " (2, 'new', 'pool-new')");
  run(db, "INSERT INTO sy_schemas (name, server_id) VALUES ('oxdb_1', 1)");
  run(db, "INSERT INTO sy_contexts (id, schema_name) VALUES (10, 'oxdb_1'), (11, 'oxdb_1')");
  run(db, "INSERT INTO sy_logins (login, context_id) VALUES ('a@example.com', 10)");
  CHECK(changes(db) == std::vector<std::string>{"server:1", "server:2", "schema:oxdb_1",
                                                "context:10", "context:11", "login:a@example.com"});
  run(db, "DELETE FROM sy_changes");

  // Updates: a real change logs the key; rewriting the same values logs nothing.
  run(db, "UPDATE sy_servers SET pool = 'pool-old' WHERE id = 1");
  run(db, "UPDATE sy_contexts SET server_id = NULL WHERE id = 10");
  run(db, "UPDATE sy_schemas SET state = 'enabled'");
  CHECK(changes(db).empty());
  run(db, "UPDATE sy_servers SET redirect_url = 'https://new.example.com' WHERE id = 1");
  run(db, "UPDATE sy_schemas SET state = 'disabled' WHERE name = 'oxdb_1'");
  run(db, "UPDATE sy_contexts SET server_id = 2 WHERE schema_name = 'oxdb_1'");
  run(db, "UPDATE sy_contexts SET server_id = NULL WHERE id = 11");
  run(db, "UPDATE sy_logins SET context_id = 11");
  CHECK(changes(db) == std::vector<std::string>{"server:1", "schema:oxdb_1", "context:10",
                                                "context:11", "context:11", "login:a@example.com"});
  run(db, "DELETE FROM sy_changes");

  // A primary-key change logs the old and the new key.
  run(db, "UPDATE sy_contexts SET id = 12 WHERE id = 11");
  run(db, "UPDATE sy_logins SET login = 'b@example.com'");
  run(db, "UPDATE sy_schemas SET name = 'oxdb_2'");
  run(db, "UPDATE sy_servers SET id = 3 WHERE id = 2");
  CHECK(changes(db) == std::vector<std::string>{"context:11", "context:12", "login:a@example.com",
                                                "login:b@example.com", "schema:oxdb_1",
                                                "schema:oxdb_2", "server:2", "server:3"});
  run(db, "DELETE FROM sy_changes");

  // Deletes.
  run(db, "DELETE FROM sy_logins");
  run(db, "DELETE FROM sy_contexts WHERE id = 10");
  run(db, "DELETE FROM sy_schemas");
  run(db, "DELETE FROM sy_servers WHERE id = 1");
  CHECK(changes(db) ==
        std::vector<std::string>{"login:b@example.com", "context:10", "schema:oxdb_2", "server:1"});

  // Sequence numbers increase and every row is timestamped.
  CHECK(count(db, "SELECT COUNT(*) FROM sy_changes WHERE at > NOW(6) - INTERVAL 1 MINUTE") == 4);
}

TEST_CASE("@sy_skip_changes silences the triggers for that session only") {
  TestDb t;
  REQUIRE(migrate(*t.db).ok());
  auto other = must_connect(t.dsn);
  run(*t.db, "SET @sy_skip_changes = 1");
  run(*t.db, "INSERT INTO sy_contexts (id, schema_name) VALUES (1, 's')");
  run(*other, "INSERT INTO sy_contexts (id, schema_name) VALUES (2, 's')");
  run(*t.db, "SET @sy_skip_changes = NULL");
  run(*t.db, "UPDATE sy_contexts SET enabled = 0 WHERE id = 1");
  CHECK(changes(*t.db) == std::vector<std::string>{"context:2", "context:1"});
}

TEST_CASE("migrate by scope: the state tables alone, the directory tables alone") {
  TestDb state;
  auto s = migrate(*state.db, MigrateScope::State);
  REQUIRE(s.ok());
  CHECK(s->applied.size() == known_migrations(MigrateScope::State).size());
  auto tables = [](Db& db) {
    std::vector<std::string> out;
    auto r = db.query("SELECT table_name FROM information_schema.tables WHERE table_schema ="
                      " DATABASE()",
                      [&](const Row& row) { out.push_back(row.str(1)); });
    REQUIRE(r.ok());
    std::sort(out.begin(), out.end());
    return out;
  };
  CHECK(tables(*state.db) ==
        std::vector<std::string>{"sy_cluster", "sy_cluster_history", "sy_event_cursor", "sy_events",
                                 "sy_instances", "sy_member_state", "sy_meta", "sy_pool_members",
                                 "sy_pools", "sy_schema_version", "sy_server_meta",
                                 "sy_update_tasks", "sy_upgrade_driver", "sy_upgrade_journal",
                                 "sy_upgrade_runs"});
  // Running the state scope again changes nothing; the directory scope adds only its tables.
  CHECK(migrate(*state.db, MigrateScope::State)->applied.empty());
  TestDb dir;
  REQUIRE(migrate(*dir.db, MigrateScope::Directory).ok());
  CHECK(tables(*dir.db) == std::vector<std::string>{"sy_changes", "sy_contexts", "sy_logins",
                                                    "sy_meta", "sy_schema_version", "sy_schemas",
                                                    "sy_server_ids", "sy_servers"});
  CHECK(known_migrations(MigrateScope::Directory).size() +
            known_migrations(MigrateScope::State).size() ==
        known_migrations().size());
}

TEST_CASE("a migration refused for want of SUPER says what to do") {
  sy::Error e = sy::make_error(
      sy::Errc::Database,
      "query 'CREATE TRIGGER ...' on a: MySQL error 1419 (HY000): You do not have the SUPER "
      "privilege and binary logging is enabled");
  const std::string hint = sy::store::trigger_privilege_hint(e);
  CHECK(hint.find("log_bin_trust_function_creators") != std::string::npos);
  CHECK(hint.find("SUPER") != std::string::npos);
  CHECK(sy::store::trigger_privilege_hint(sy::make_error(sy::Errc::Database, "MySQL error 1146 "))
            .empty());
}
