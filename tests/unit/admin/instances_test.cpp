// admin/instances.h: heartbeats are upserted with the database clock, listed by liveness, and
// their in-flight counts survive the JSON round trip (or fail loudly when garbled).

#include "admin/instances.h"

#include "admin/db_migrate.h"

#include <catch.hpp>

#include "unit/test_db.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

using namespace sy::admin;
using namespace sy::routing;
using namespace std::chrono_literals;

namespace {

using sy::test::env_dsn;
using sy::test::must_connect;
using sy::test::TestDb;

void run(Db& db, const std::string& sql) {
  auto r = db.exec(sql);
  INFO(sql);
  if (!r) {
    FAIL(r.error().message);
  }
}

InstanceBeat beat(std::string id, int pid, InflightPerSchema inflight = {}) {
  return InstanceBeat{std::move(id), "proxy", "0.1.0", pid, std::move(inflight)};
}

}  // namespace

TEST_CASE("a heartbeat is inserted, then updated in place") {
  TestDb t;
  REQUIRE(migrate(*t.db).ok());
  REQUIRE(write_heartbeat(*t.db, beat("host-a:100", 100, {{"oxdb_1", 3}, {"oxdb_2", 0}})).ok());

  auto first = list_instances(*t.db, 60s);
  REQUIRE(first.ok());
  REQUIRE(first->size() == 1);
  const InstanceRow& a = first->front();
  CHECK(a.id == "host-a:100");
  CHECK(a.role == "proxy");
  CHECK(a.version == "0.1.0");
  CHECK(a.pid == 100);
  CHECK(a.inflight("oxdb_1") == 3);
  CHECK(a.inflight("oxdb_2") == 0);
  CHECK(a.inflight("oxdb_9") == 0);
  CHECK(a.heartbeat_age_ms >= 0);
  CHECK(a.heartbeat_age_ms < 60000);
  CHECK(a.started_at_us > 1600000000LL * 1000000);
  CHECK(a.started_at_us == a.heartbeat_at_us);

  // Pretend the beat is 10 s old, beat again: same row, new heartbeat, same start.
  run(*t.db, "UPDATE sy_instances SET heartbeat_at = heartbeat_at - INTERVAL 10 SECOND,"
             " started_at = started_at - INTERVAL 10 SECOND");
  InstanceBeat b = beat("host-a:100", 100, {{"oxdb_1", 0}});
  b.version = "0.2.0";
  REQUIRE(write_heartbeat(*t.db, b).ok());
  auto second = list_instances(*t.db, 60s);
  REQUIRE(second.ok());
  REQUIRE(second->size() == 1);
  const InstanceRow& a2 = second->front();
  CHECK(a2.version == "0.2.0");
  CHECK(a2.inflight_per_schema == InflightPerSchema{{"oxdb_1", 0}});
  CHECK(a2.started_at_us == a.started_at_us - 10000000);
  CHECK(a2.heartbeat_at_us >= a.heartbeat_at_us);

  // A new pid under the same id is a restart: started_at moves.
  REQUIRE(write_heartbeat(*t.db, beat("host-a:100", 200)).ok());
  auto third = list_instances(*t.db, 60s);
  REQUIRE(third.ok());
  REQUIRE(third->size() == 1);
  CHECK(third->front().pid == 200);
  CHECK(third->front().started_at_us > a2.started_at_us);
}

TEST_CASE("list_instances returns only live instances, by id") {
  TestDb t;
  REQUIRE(migrate(*t.db).ok());
  REQUIRE(write_heartbeat(*t.db, beat("c", 3)).ok());
  REQUIRE(write_heartbeat(*t.db, beat("a", 1)).ok());
  REQUIRE(write_heartbeat(*t.db, beat("b", 2)).ok());
  run(*t.db, "UPDATE sy_instances SET heartbeat_at = NOW(6) - INTERVAL 1 HOUR WHERE id = 'b'");

  auto live = list_instances(*t.db, 30s);
  REQUIRE(live.ok());
  REQUIRE(live->size() == 2);
  CHECK((*live)[0].id == "a");
  CHECK((*live)[1].id == "c");

  auto all = list_instances(*t.db, 7200s);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK((*all)[1].id == "b");
  CHECK((*all)[1].heartbeat_age_ms >= 3600000);

  REQUIRE(remove_instance(*t.db, "a").ok());
  REQUIRE(remove_instance(*t.db, "a").ok());  // gone already: fine
  auto after = list_instances(*t.db, 30s);
  REQUIRE(after.ok());
  REQUIRE(after->size() == 1);
  CHECK(after->front().id == "c");
}

TEST_CASE("a heartbeat needs an id") {
  TestDb t;
  REQUIRE(migrate(*t.db).ok());
  auto r = write_heartbeat(*t.db, beat("", 1));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == sy::Errc::InvalidArgument);
}

TEST_CASE("a garbled inflight_json fails the listing instead of reading as idle") {
  TestDb t;
  REQUIRE(migrate(*t.db).ok());
  REQUIRE(write_heartbeat(*t.db, beat("x", 1, {{"oxdb_1", 5}})).ok());
  run(*t.db, "UPDATE sy_instances SET inflight_json = '{\"oxdb_1\": -5}'");
  auto r = list_instances(*t.db, 60s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("instance 'x'") != std::string::npos);
}

TEST_CASE("in-flight counts round-trip through JSON, odd schema names included") {
  InflightPerSchema in{{"oxdb_1", 0},
                       {"quote\"back\\slash", 18446744073709551615ull},
                       {"tab\tnew\nline\x01", 7},
                       {"utf8 \xC3\xA4\xF0\x9F\x9A\x80", 1}};
  const std::string json = encode_inflight(in);
  CHECK(json.find('\n') == std::string::npos);
  auto out = decode_inflight(json);
  REQUIRE(out.ok());
  CHECK(*out == in);

  CHECK(encode_inflight({}) == "{}");
  auto spaced = decode_inflight(" { \"a\" : 1 , \"b\\u00e4\\ud83d\\ude80\":2 } ");
  REQUIRE(spaced.ok());
  CHECK(*spaced == InflightPerSchema{{"a", 1}, {"b\xC3\xA4\xF0\x9F\x9A\x80", 2}});

  for (const char* bad : {"", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1} x",
                          "{\"a\":1.5}", "{\"a\":\"1\"}", "{a:1}", "{\"\\ud800\":1}"}) {
    INFO(bad);
    CHECK_FALSE(decode_inflight(bad).ok());
  }
}

TEST_CASE("applied_seq is written with every beat and read back") {
  TestDb t;
  REQUIRE(migrate(*t.db).ok());
  InstanceBeat b = beat("host-s:1", 1);
  b.applied_seq = 41;
  REQUIRE(write_heartbeat(*t.db, b).ok());
  auto first = list_instances(*t.db, 60s);
  REQUIRE(first.ok());
  REQUIRE(first->size() == 1);
  CHECK(first->front().applied_seq == 41);
  b.applied_seq = uint64_t{1} << 62;  // the column is BIGINT UNSIGNED
  REQUIRE(write_heartbeat(*t.db, b).ok());
  CHECK(list_instances(*t.db, 60s)->front().applied_seq == uint64_t{1} << 62);
}
