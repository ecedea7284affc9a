// store/context_scan.h and the own profile's parallel full load against the real private
// MariaDB: every row exactly once across page borders and sparse ids, the same result as the
// serial read, a change committed between the loader's snapshot and the helpers' delivered by
// changes_since() (decision 71), and helper errors returned as values with the helpers joined.

#include "store/context_scan.h"

#include <catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "store/db_migrate.h"
#include "store/directory_loader.h"
#include "store/directory_reader.h"
#include "unit/store/rows_text.h"
#include "unit/store/store_fixture.h"
#include "unit/test_db.h"

using namespace sy::store;
using namespace std::chrono_literals;

namespace {

using sy::test::contexts_of;
using sy::test::must_connect;
using sy::test::TestDb;
using sy::test::OwnDb;
using sy::test::must;
using sy::test::run_sql;

OwnProfileOptions parallel(int sessions, int pages) {
  OwnProfileOptions o;
  o.load_sessions = sessions;
  o.pages_per_session = pages;
  o.parallel_min_span = 0;  // even a small table
  o.settle = 0ms;
  o.settle_pending = 0ms;
  return o;
}

OwnProfileOptions serial() {
  OwnProfileOptions o = parallel(0, 1);
  return o;
}

// Dense ids 1..300, sparse ones far apart up to the largest id, several schemas (one without a
// sy_schemas row), NULL and set server ids, enabled and not.
void seed_spread(Db& db) {
  run_sql(db, "INSERT INTO sy_servers (id, name, pool, version) VALUES (1, 'a', 'old', '1'),"
          " (2, 'b', 'new', '2')");
  run_sql(db, "INSERT INTO sy_schemas (name, state, server_id) VALUES ('s1', 'enabled', 1),"
          " ('s2', 'disabled', 2), ('s3', 'enabled', 1)");
  run_sql(db, "INSERT INTO sy_contexts (id, schema_name, enabled, server_id) SELECT seq,"
          " CONCAT('s', seq % 3 + 1), seq % 7 <> 0, IF(seq % 5 = 0, 2, NULL) FROM seq_1_to_300");
  run_sql(db, "INSERT INTO sy_contexts (id, schema_name, enabled, server_id) VALUES"
          " (5000, 's1', 1, NULL), (5001, 'orphan', 0, 1), (70000, 's2', 1, 2),"
          " (2147483648, 'orphan', 1, NULL), (4294967295, 's3', 1, 4294967295)");
}

}  // namespace

TEST_CASE("context scan: pages cover the id span without overlap") {
  SchemaNames none;
  ContextScan scan(sy::test::env_dsn(), ContextScanOptions{2, 4, false, "", ""}, 1, 300, &none);
  CHECK(scan.pages() == 8);
  ContextScan one(sy::test::env_dsn(), ContextScanOptions{3, 8, false, "", ""}, 7, 7, &none);
  CHECK(one.pages() == 1);
  ContextScan top(sy::test::env_dsn(), ContextScanOptions{2, 8, false, "", ""}, 1, 4294967295u,
                  &none);
  CHECK(top.pages() == 16);
}

TEST_CASE("own profile: a parallel full load reads every row once, in id order, as the serial") {
  OwnDb t;
  seed_spread(*t.db);
  OwnProfileReader one_by_one(serial());
  DirectoryData want = must(one_by_one.full_load(*t.db));
  REQUIRE(want.contexts.size() == 305);

  for (auto [sessions, pages] : {std::pair{1, 1}, {2, 8}, {3, 7}}) {
    INFO(sessions << " sessions, " << pages << " pages each");
    OwnProfileReader reader(parallel(sessions, pages));
    DirectoryData got = must(reader.full_load(*t.db));
    REQUIRE(got.contexts.size() == want.contexts.size());  // no row twice, none missing
    CHECK(contexts_of(got) == contexts_of(want));
    for (size_t i = 1; i < got.contexts.size(); ++i) {
      REQUIRE(got.contexts[i - 1].id < got.contexts[i].id);
    }
    REQUIRE(got.schemas.size() == 4);  // s1, s2, s3 and the synthesised orphan
    CHECK(got.schemas[3].name == "orphan");
    CHECK(got.schemas[3].server_id == 0);
    CHECK(got.change_seq == want.change_seq);
    CHECK(hash_directory(got) == hash_directory(want));
  }
}

TEST_CASE("own profile: a change racing a parallel full load is delivered once by changes_since") {
  OwnDb t;
  REQUIRE(seed_own_profile(*t.db, 3000, 6, 2).ok());
  auto writer = must_connect(t.dsn);
  OwnProfileOptions opt = parallel(2, 4);
  // Committed after the loader's snapshot began, before the helpers begin theirs: the helpers
  // see these rows, the change position does not include them.
  opt.before_parallel_read = [&] {
    run_sql(*writer, "UPDATE sy_contexts SET enabled = 0, server_id = 2 WHERE id IN (1, 750, 3000)");
    run_sql(*writer, "DELETE FROM sy_contexts WHERE id IN (2, 1500)");
    run_sql(*writer, "INSERT INTO sy_contexts (id, schema_name) VALUES (1500, 'schema_9'),"
                 " (9000, 'schema_1')");  // 9000: beyond the span the load reads
    run_sql(*writer, "UPDATE sy_contexts SET id = 9001 WHERE id = 2999");
  };
  OwnProfileReader reader(opt);
  DirectoryData d = must(reader.full_load(*t.db));
  opt.before_parallel_read = nullptr;

  // The load holds the helpers' (newer) rows; the change log is past its position.
  std::map<ContextId, std::string> model = contexts_of(d);
  CHECK(model.count(2) == 0);
  CHECK(model.at(1500).starts_with("schema_9/"));
  CHECK(model.count(9000) == 0);
  CHECK(model.at(750).ends_with("/2/off"));

  // Following the log from the load's position converges on the database, delivering the
  // racing changes again (idempotent upserts and removals).
  uint64_t seq = d.change_seq;
  size_t delivered = 0;
  for (int round = 0; round < 10; ++round) {
    DirectoryDelta delta = must(reader.changes_since(*t.db, seq));
    for (const auto& [id, text] : contexts_of(delta)) {
      model[id] = text;
      ++delivered;
    }
    for (ContextId id : delta.removed_contexts) {
      model.erase(id);
      ++delivered;
    }
    seq = delta.to_seq;
    if (delta.empty()) {
      break;
    }
  }
  // Upserted: 1, 750, 3000 (updated), 1500 (deleted, inserted again), 9000 (inserted), 9001;
  // removed: 2 and 2999 (renumbered to 9001).
  CHECK(delivered == 8);
  OwnProfileReader fresh(serial());
  DirectoryData now = must(fresh.full_load(*t.db));
  CHECK(model == contexts_of(now));
  CHECK(seq == now.change_seq);
  // Nothing is delivered twice afterwards.
  CHECK(must(reader.changes_since(*t.db, seq)).empty());
}

TEST_CASE("context scan: a helper's error is returned as a value and every helper is joined") {
  OwnDb t;
  seed_spread(*t.db);
  SchemaNames known{{"s1", 0}};
  auto resolve = [](const std::string&) { return 0u; };

  SECTION("another server behind the DSN (identity differs)") {
    ContextScan scan(t.dsn,
                     ContextScanOptions{2, 4, false, "SELECT 'server_id 4242'", "server_id 7"}, 1,
                     300, &known);
    scan.start();
    std::vector<ContextRow> rows;
    auto r = scan.finish(resolve, &rows);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("reached server_id 4242, not the loader's server_id 7") !=
          std::string::npos);
    CHECK(rows.empty());
  }
  SECTION("a database the helpers cannot open") {
    Dsn bad = t.dsn;
    bad.database = "sy_no_such_database";
    ContextScan scan(bad, ContextScanOptions{2, 4, false, "SELECT 'x'", "x"}, 1, 300, &known);
    scan.start();
    std::vector<ContextRow> rows;
    auto r = scan.finish(resolve, &rows);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == sy::Errc::Database);
    CHECK(r.error().message.find("MySQL error 1049") != std::string::npos);
  }
  SECTION("a scan dropped while its helpers read stops and joins them") {
    auto scan = std::make_unique<ContextScan>(
        t.dsn, ContextScanOptions{2, 64, false, "SELECT 'x'", "x"}, 1, 4294967295u, &known);
    scan->start();
    scan.reset();  // returns only once both helpers are gone
    SUCCEED();
  }
}
