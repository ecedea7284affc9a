// admin/member_store.h: runtime member state is upserted and read back.

#include "store/member_store.h"

#include <catch.hpp>

#include "store/db_migrate.h"
#include "unit/test_db.h"

using namespace sy::store;
using sy::store::migrate;
using sy::test::TestDb;

TEST_CASE("member admin words round-trip") {
  for (MemberAdmin m : {MemberAdmin::Ready, MemberAdmin::Drain, MemberAdmin::Maintenance}) {
    MemberAdmin back = MemberAdmin::Ready;
    REQUIRE(parse_member_admin(to_string(m), &back));
    CHECK(back == m);
  }
  MemberAdmin out = MemberAdmin::Drain;
  CHECK_FALSE(parse_member_admin("DRAIN", &out));
  CHECK(out == MemberAdmin::Drain);
}

TEST_CASE("member state is stored, replaced and loaded in order") {
  TestDb t;
  REQUIRE(migrate(*t.db).ok());
  CHECK(load_member_states(*t.db)->empty());
  REQUIRE(store_member_state(*t.db, {"old", "127.0.0.1:9002", MemberAdmin::Drain, 0, 0}).ok());
  REQUIRE(store_member_state(*t.db, {"old", "127.0.0.1:9001", MemberAdmin::Ready, 5, 0}).ok());
  REQUIRE(
      store_member_state(*t.db, {"new", "127.0.0.1:9101", MemberAdmin::Maintenance, 0, 0}).ok());
  REQUIRE(store_member_state(*t.db, {"old", "127.0.0.1:9002", MemberAdmin::Ready, 3, 0}).ok());
  auto all = load_member_states(*t.db);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK(all->at(0).pool == "new");
  CHECK(all->at(0).admin == MemberAdmin::Maintenance);
  CHECK(all->at(1).member == "127.0.0.1:9001");
  CHECK(all->at(1).weight == 5);
  CHECK(all->at(2).member == "127.0.0.1:9002");
  CHECK(all->at(2).admin == MemberAdmin::Ready);
  CHECK(all->at(2).weight == 3);
  CHECK(all->at(2).updated_unix_ms > 1600000000000LL);

  auto bad = store_member_state(*t.db, {"old", "", MemberAdmin::Ready, 0, 0});
  REQUIRE_FALSE(bad.ok());
  CHECK(std::string(bad.error().tag) == "invalid-argument");
  CHECK_FALSE(store_member_state(*t.db, {"old", "x:1", MemberAdmin::Ready, -1, 0}).ok());
}

TEST_CASE("runtime pool members are upserted, tombstoned and loaded in order") {
  TestDb t;
  REQUIRE(migrate(*t.db).ok());
  CHECK(load_pool_members(*t.db)->empty());
  REQUIRE(store_pool_member(*t.db, {"new", "127.0.0.1:9102", 2, "", false, 0}).ok());
  REQUIRE(store_pool_member(*t.db, {"new", "127.0.0.1:9101", 1, "app.example", false, 0}).ok());
  REQUIRE(store_pool_member(*t.db, {"new", "127.0.0.1:9102", 5, "", true, 0}).ok());
  auto all = load_pool_members(*t.db);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK(all->at(0).member == "127.0.0.1:9101");
  CHECK(all->at(0).tls_name == "app.example");
  CHECK_FALSE(all->at(0).removed);
  CHECK(all->at(1).member == "127.0.0.1:9102");
  CHECK(all->at(1).weight == 5);
  CHECK(all->at(1).removed);
  CHECK(all->at(1).updated_unix_ms > 1600000000000LL);

  auto bad = store_pool_member(*t.db, {"new", "127.0.0.1:1", 0, "", false, 0});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("not in 1..256") != std::string::npos);
  CHECK_FALSE(store_pool_member(*t.db, {"", "127.0.0.1:1", 1, "", false, 0}).ok());
}
