#pragma once
// Shared set-up of the database tests above the session: statements and results that must work,
// one value read back, a migrated TestDb (OwnDb), and a migrated TestDb with a small own-profile directory (two servers, N schemas
// on server 1, a few contexts).

#include <string>
#include <vector>

#include <catch.hpp>

#include "store/db_migrate.h"
#include "unit/test_db.h"

namespace sy::test {

// A TestDb with the own-profile tables (migrated to the latest version).
struct OwnDb : TestDb {
  OwnDb() {
    auto r = sy::store::migrate(*db);
    if (!r) {
      FAIL("migrate: " << r.error().message);
    }
  }
};

// The value of |r|, or the test fails with its error.
template <class T>
T must(sy::Result<T> r) {
  if (!r) {
    FAIL(r.error().message);
  }
  return std::move(r.value());
}

inline void run_sql(sy::store::Db& db, const std::string& sql) {
  auto r = db.exec(sql);
  INFO(sql);
  if (!r) {
    FAIL(r.error().message);
  }
}

// The single string |sql| selects.
inline std::string text(sy::store::Db& db, const std::string& sql) {
  std::string s;
  auto r = db.query(sql, [&](const sy::store::Row& row) { s = row.str(1); });
  INFO(sql);
  REQUIRE(r.ok());
  return s;
}

// server 1 "app-old" 7.10.6 (pool old), server 2 "app-new" 8.0.0 (pool new); |schemas| on 1,
// each with two contexts (ids 10*k+1, 10*k+2); context 11 has a server override.
inline void seed_directory(sy::store::Db& db, const std::vector<std::string>& schemas) {
  REQUIRE(sy::store::migrate(db).ok());
  run_sql(db, "INSERT INTO sy_servers (id, name, pool, version, redirect_url) VALUES"
              " (1, 'app-old', 'old', '7.10.6', 'http://old'),"
              " (2, 'app-new', 'new', '8.0.0', 'http://new')");
  int k = 1;
  for (const std::string& s : schemas) {
    run_sql(db,
            "INSERT INTO sy_schemas (name, state, server_id) VALUES ('" + s + "', 'enabled', 1)");
    run_sql(db, "INSERT INTO sy_contexts (id, schema_name, enabled, server_id) VALUES (" +
                    std::to_string(10 * k + 1) + ", '" + s + "', 1, " + (k == 1 ? "1" : "NULL") +
                    "), (" + std::to_string(10 * k + 2) + ", '" + s + "', 1, NULL)");
    ++k;
  }
}

}  // namespace sy::test
