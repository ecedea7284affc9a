#pragma once
// The database unit tests' fixture: a fresh database on the project's private MariaDB
// (SY_TEST_MYSQL_* from `tests/scripts/mariadb.sh env`; `make test` exports them), dropped at
// the end of the test. A missing environment is a test failure that says how to fix it.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>

#include <catch.hpp>

#include "routing/db.h"

namespace sy::test {

inline const char* env_or_fail(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    FAIL(name << " is not set. These tests need the private MariaDB: run\n"
                 "  tests/scripts/mariadb.sh start && eval \"$(tests/scripts/mariadb.sh env)\" &&\n"
                 "  export SY_TEST_MYSQL_HOST SY_TEST_MYSQL_PORT SY_TEST_MYSQL_USER "
                 "SY_TEST_MYSQL_PASSWORD SY_TEST_MYSQL_SOCKET\n"
                 "or `make test`, which does this for you.");
  }
  return v;
}

inline sy::routing::Dsn env_dsn() {
  sy::routing::Dsn d;
  const char* host = std::getenv("SY_TEST_MYSQL_HOST");
  d.host = host != nullptr && *host != '\0' ? host : "127.0.0.1";
  d.port = std::atoi(env_or_fail("SY_TEST_MYSQL_PORT"));
  d.user = env_or_fail("SY_TEST_MYSQL_USER");
  d.password = env_or_fail("SY_TEST_MYSQL_PASSWORD");
  return d;
}

inline std::unique_ptr<sy::routing::Db> must_connect(const sy::routing::Dsn& d) {
  auto db = sy::routing::Db::connect({d}, std::chrono::seconds(5));
  if (!db) {
    FAIL("cannot connect to the test database: " << db.error().message);
  }
  return std::move(db.value());
}

// A fresh database sy_test_<pid>_<n>, dropped again at the end of the test.
struct TestDb {
  sy::routing::Dsn dsn;
  std::string name;
  std::unique_ptr<sy::routing::Db> db;

  TestDb() {
    static std::atomic<int> counter{0};
    dsn = env_dsn();
    name = "sy_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
    auto admin = must_connect(dsn);
    REQUIRE(admin->exec("DROP DATABASE IF EXISTS " + name).ok());
    REQUIRE(admin->exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4").ok());
    dsn.database = name;
    db = must_connect(dsn);
  }
  ~TestDb() {
    db.reset();
    sy::routing::Dsn d = dsn;
    d.database.clear();
    if (auto admin = sy::routing::Db::connect({d}, std::chrono::seconds(5))) {
      (void)(*admin)->exec("DROP DATABASE IF EXISTS " + name);
    }
  }
};

// The single number |sql| selects (COUNT(*) and the like).
inline uint64_t count(sy::routing::Db& db, const std::string& sql) {
  uint64_t n = 0;
  auto r = db.query(sql, [&](const sy::routing::Row& row) { n = row.u64(1); });
  INFO(sql);
  REQUIRE(r.ok());
  return n;
}

}  // namespace sy::test
