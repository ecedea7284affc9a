// admin/directory_ops.h: register/list/find servers, schemas and contexts; enable/disable and
// move return the change seq of their write; the one-way door; version_less.

#include "admin/directory_ops.h"

#include <catch.hpp>

#include "unit/admin/admin_fixture.h"

using namespace sy::admin;
using sy::test::count;
using sy::test::run_sql;
using sy::test::seed_directory;
using sy::test::TestDb;

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

TEST_CASE("register_server: new, then Refuse / Continue / Abort on an existing name") {
  TestDb t;
  seed_directory(*t.db, {});
  const uint64_t before = *current_change_seq(*t.db);

  auto reg = register_server(*t.db, ServerInfo{0, "app-next", "next", "9.0", "http://next"},
                             IfExists::Refuse);
  REQUIRE(reg.ok());
  CHECK(reg->server.id == 3);  // next free id
  CHECK_FALSE(reg->existed);
  CHECK(reg->change_seq > before);
  CHECK(reg->change_seq == *current_change_seq(*t.db));

  auto refused = register_server(*t.db, ServerInfo{0, "app-new", "other", "9.9", ""},
                                 IfExists::Refuse);
  REQUIRE_FALSE(refused.ok());
  CHECK(std::string(refused.error().tag) == "exists");
  CHECK(refused.error().message.find("app-new") != std::string::npos);

  auto aborted = register_server(*t.db, ServerInfo{0, "app-new", "other", "9.9", ""},
                                 IfExists::Abort);
  REQUIRE_FALSE(aborted.ok());
  CHECK(std::string(aborted.error().tag) == "aborted");

  const uint64_t seq = *current_change_seq(*t.db);
  auto cont = register_server(*t.db, ServerInfo{0, "app-new", "other", "8.0.0", ""},
                              IfExists::Continue);
  REQUIRE(cont.ok());
  CHECK(cont->existed);
  CHECK(cont->server.id == 2);
  CHECK(cont->server.pool == "new");  // the stored row, not the request
  CHECK(cont->warning.find("pool is 'new', not 'other'") != std::string::npos);
  CHECK(cont->change_seq == 0);
  CHECK(*current_change_seq(*t.db) == seq);  // nothing written

  auto taken = register_server(*t.db, ServerInfo{2, "app-x", "x", "1", ""}, IfExists::Refuse);
  REQUIRE_FALSE(taken.ok());
  CHECK(std::string(taken.error().tag) == "exists");
  auto empty = register_server(*t.db, ServerInfo{}, IfExists::Refuse);
  REQUIRE_FALSE(empty.ok());
  CHECK(std::string(empty.error().tag) == "invalid-argument");

  auto all = list_servers(*t.db);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK(all->at(2).name == "app-next");
  CHECK(find_server(*t.db, "2")->name == "app-new");
  CHECK(find_server(*t.db, "app-next")->id == 3);
  auto missing = find_server(*t.db, "nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(std::string(missing.error().tag) == "not-found");
}

TEST_CASE("schemas and contexts are listed with their servers and update state") {
  TestDb t;
  seed_directory(*t.db, {"s_a", "s_b"});
  run_sql(*t.db, "INSERT INTO sy_logins (login, context_id) VALUES ('bob@a', 11), ('al@a', 11)");
  run_sql(*t.db,
          "INSERT INTO sy_update_tasks (schema_name, task, status, error) VALUES"
          " ('s_b', '001.sql', 'ok', NULL), ('s_b', '002.sql', 'failed', 'boom')");
  auto all = list_schemas(*t.db);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK(all->at(0).name == "s_a");
  CHECK(all->at(0).server_name == "app-old");
  CHECK(all->at(0).contexts == 2);
  CHECK(all->at(0).update_status.empty());
  CHECK(all->at(1).update_status == "failed");
  CHECK(all->at(1).update_error == "boom");
  auto one = find_schema(*t.db, "s_b");
  REQUIRE(one.ok());
  CHECK(one->update_status == "failed");
  CHECK(std::string(find_schema(*t.db, "zz").error().tag) == "not-found");

  auto c = find_context(*t.db, 11);
  REQUIRE(c.ok());
  CHECK(c->schema == "s_a");
  CHECK(c->server_id == 1);
  CHECK(c->server_name == "app-old");
  CHECK(c->logins == std::vector<std::string>{"al@a", "bob@a"});
  CHECK(std::string(find_context(*t.db, 999).error().tag) == "not-found");
}

TEST_CASE("set_schema_enabled returns the seq of its write, 0 when nothing changed") {
  TestDb t;
  seed_directory(*t.db, {"s_a", "s_b"});
  auto off = set_schema_enabled(*t.db, "s_a", false);
  REQUIRE(off.ok());
  CHECK(*off > 0);
  CHECK(*off == *current_change_seq(*t.db));
  CHECK(count(*t.db, "SELECT COUNT(*) FROM sy_changes WHERE kind = 'schema' AND key_text = 's_a'"
                     " AND seq = " + std::to_string(*off)) == 1);
  CHECK_FALSE(find_schema(*t.db, "s_a")->enabled);
  CHECK(*set_schema_enabled(*t.db, "s_a", false) == 0);
  auto on = set_schema_enabled(*t.db, "s_a", true);
  REQUIRE(on.ok());
  CHECK(*on > *off);
  auto missing = set_schema_enabled(*t.db, "nope", true);
  REQUIRE_FALSE(missing.ok());
  CHECK(std::string(missing.error().tag) == "not-found");
}

TEST_CASE("move_schema: forward and sideways allowed, back to a lower version refused") {
  TestDb t;
  seed_directory(*t.db, {"s_a", "s_b"});
  run_sql(*t.db, "INSERT INTO sy_servers (id, name, pool, version) VALUES (3, 'app-new2', 'new2',"
                 " '8.0')");
  auto moved = move_schema(*t.db, "s_a", 2);
  REQUIRE(moved.ok());
  CHECK(*moved == *current_change_seq(*t.db));
  CHECK(find_schema(*t.db, "s_a")->server_id == 2);
  // The context override (context 11 pinned to server 1) is cleared with the move.
  CHECK(count(*t.db, "SELECT COUNT(*) FROM sy_contexts WHERE server_id IS NOT NULL") == 0);
  CHECK(find_context(*t.db, 11)->server_id == 2);

  CHECK(*move_schema(*t.db, "s_a", 2) == 0);  // already there

  auto back = move_schema(*t.db, "s_a", 1);
  REQUIRE_FALSE(back.ok());
  CHECK(std::string(back.error().tag) == "one-way-door");
  CHECK(back.error().message.find("7.10.6") != std::string::npos);
  CHECK(find_schema(*t.db, "s_a")->server_id == 2);

  auto equal = move_schema(*t.db, "s_a", 3);  // 8.0 == 8.0.0
  REQUIRE(equal.ok());
  CHECK(*equal > *moved);

  CHECK(std::string(move_schema(*t.db, "s_b", 42).error().tag) == "not-found");
  CHECK(std::string(move_schema(*t.db, "zz", 2).error().tag) == "not-found");
}
