// store/db.h against the real private MariaDB (tests/scripts/mariadb.sh; `make test` starts
// it). Connection failover, error text, typed binding and reading, streaming, transactions,
// and what a dead session looks like. Every test case works in a database of its own.

#include "store/db.h"

#include <catch.hpp>

#include "unit/test_db.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

using namespace sy::store;
using namespace std::chrono_literals;

namespace {

using sy::test::count;
using sy::test::env_dsn;
using sy::test::must_connect;
using sy::test::TestDb;

}  // namespace

TEST_CASE("Dsn labels show where, never the password") {
  Dsn tcp;
  tcp.host = "db.example";
  tcp.port = 3307;
  tcp.user = "sy";
  tcp.password = "hunter2";
  tcp.database = "switchyard";
  CHECK(tcp.label() == "sy@tcp(db.example:3307)/switchyard");
  Dsn unix_socket = tcp;
  unix_socket.socket = "/run/mysqld.sock";
  CHECK(unix_socket.label() == "sy@unix(/run/mysqld.sock)/switchyard");
}

TEST_CASE("connect fails over to the next DSN when the first is down") {
  Dsn good = env_dsn();
  Dsn bad = good;
  bad.port = 1;  // nothing listens on port 1
  auto db = Db::connect({bad, good}, 2s);
  REQUIRE(db.ok());
  CHECK((*db)->dsn().port == good.port);
  CHECK((*db)->alive());
}

TEST_CASE("a failed connect names every DSN and its MySQL error") {
  Dsn good = env_dsn();
  Dsn refused = good;
  refused.port = 1;
  Dsn wrong_password = good;
  wrong_password.password = "not-the-password";
  Dsn no_database = good;
  no_database.database = "sy_no_such_database";
  auto db = Db::connect({refused, wrong_password, no_database}, 2s);
  REQUIRE_FALSE(db.ok());
  const std::string& msg = db.error().message;
  INFO(msg);
  CHECK(db.error().code == sy::Errc::Database);
  CHECK(msg.find("no database reachable") != std::string::npos);
  CHECK(msg.find("[1] " + refused.label() + ": MySQL error 200") != std::string::npos);
  CHECK(msg.find("[2] " + wrong_password.label() + ": MySQL error 1045") != std::string::npos);
  CHECK(msg.find("[3] " + no_database.label() + ": MySQL error 1049") != std::string::npos);
  CHECK(msg.find("not-the-password") == std::string::npos);
}

TEST_CASE("connect with no DSN is an argument error") {
  auto db = Db::connect({}, 1s);
  REQUIRE_FALSE(db.ok());
  CHECK(db.error().code == sy::Errc::InvalidArgument);
}

TEST_CASE("connect through the unix socket") {
  const char* socket = std::getenv("SY_TEST_MYSQL_SOCKET");
  if (socket == nullptr || *socket == '\0') {
    FAIL("SY_TEST_MYSQL_SOCKET is not set (tests/scripts/mariadb.sh env prints it)");
  }
  Dsn d = env_dsn();
  d.socket = socket;
  d.host = "unused.invalid";
  auto db = Db::connect({d}, 2s);
  REQUIRE(db.ok());
  CHECK(count(**db, "SELECT 42") == 42);
}

TEST_CASE("prepared statements bind and read every type") {
  TestDb t;
  Db& db = *t.db;
  REQUIRE(db.exec("CREATE TABLE t (id INT UNSIGNED PRIMARY KEY, i INT, big BIGINT,"
                  " ubig BIGINT UNSIGNED, s VARCHAR(64), flag BOOL, maybe INT NULL)")
              .ok());
  auto ins = db.prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)");
  REQUIRE(ins.ok());
  auto n = ins->bind(uint32_t{4000000000u})
               .bind(int32_t{-7})
               .bind(int64_t{-9000000000})
               .bind(uint64_t{18000000000000000000ull})
               .bind("it's \"quoted\" \xC3\xA4 \xF0\x9F\x9A\x80")
               .bind(int32_t{1})
               .bind_null()
               .exec();
  REQUIRE(n.ok());
  CHECK(*n == 1);
  // The same statement again, with new values: the parameter position rewinds after a run.
  n = ins->bind(uint32_t{1})
          .bind(0)
          .bind(int64_t{0})
          .bind(uint64_t{0})
          .bind("")
          .bind(0)
          .bind(5)
          .exec();
  REQUIRE(n.ok());

  auto sel = db.prepare("SELECT id, i, big, ubig, s, flag, maybe FROM t WHERE id = ?");
  REQUIRE(sel.ok());
  int rows = 0;
  auto r = sel->bind(uint32_t{4000000000u}).query([&](const Row& row) {
    ++rows;
    CHECK(row.columns() == 7);
    CHECK(row.u32(1) == 4000000000u);
    CHECK(row.i32(2) == -7);
    CHECK(row.i64(3) == -9000000000);
    CHECK(row.u64(4) == 18000000000000000000ull);
    CHECK(row.str(5) == "it's \"quoted\" \xC3\xA4 \xF0\x9F\x9A\x80");
    CHECK(row.boolean(6));
    CHECK(row.is_null(7));
    CHECK(row.i32(7) == 0);
    CHECK_FALSE(row.is_null(1));
  });
  REQUIRE(r.ok());
  CHECK(*r == 1);
  CHECK(rows == 1);
}

TEST_CASE("errors come back as values with the MySQL code") {
  TestDb t;
  Db& db = *t.db;

  auto syntax = db.exec("SELEKT 1");
  REQUIRE_FALSE(syntax.ok());
  CHECK(syntax.error().code == sy::Errc::Database);
  CHECK(syntax.error().message.find("MySQL error 1064") != std::string::npos);
  CHECK(syntax.error().message.find("SELEKT 1") != std::string::npos);

  auto missing = db.query("SELECT * FROM no_such_table", [](const Row&) {});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("MySQL error 1146") != std::string::npos);

  auto bad_prepare = db.prepare("SELECT * FROM no_such_table WHERE id = ?");
  REQUIRE_FALSE(bad_prepare.ok());
  CHECK(bad_prepare.error().message.find("1146") != std::string::npos);

  REQUIRE(db.exec("CREATE TABLE t (id INT PRIMARY KEY)").ok());
  auto ins = db.prepare("INSERT INTO t VALUES (?)");
  REQUIRE(ins.ok());
  REQUIRE(ins->bind(1).exec().ok());
  auto dup = ins->bind(1).exec();
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().message.find("MySQL error 1062 (23000)") != std::string::npos);

  // Binding past the last '?' is reported by the run, and the statement stays usable.
  auto over = ins->bind(2).bind(3).exec();
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().message.find("binding parameter 2") != std::string::npos);
  REQUIRE(ins->bind(4).exec().ok());

  // A bad column number in a visitor stops the query with an error.
  auto bad_column = db.query("SELECT id FROM t", [](const Row& row) { (void)row.u32(2); });
  REQUIRE_FALSE(bad_column.ok());
  CHECK(bad_column.error().message.find("column 2 out of range") != std::string::npos);

  // Rows where none are expected: exec() on Db drops them, Stmt::exec() refuses to run.
  REQUIRE(db.exec("SELECT id FROM t").ok());
  auto sel = db.prepare("SELECT id FROM t WHERE id > ?");
  REQUIRE(sel.ok());
  auto refused = sel->bind(0).exec();
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == sy::Errc::InvalidArgument);
  CHECK(refused.error().message.find("run it with query()") != std::string::npos);
  auto no_rows = ins->bind(9).query([](const Row&) {});
  REQUIRE_FALSE(no_rows.ok());
  CHECK(no_rows.error().code == sy::Errc::InvalidArgument);

  // The session survives all of the above.
  CHECK(count(db, "SELECT COUNT(*) FROM t") == 2);
}

TEST_CASE("query streams large results without buffering them") {
  TestDb t;
  uint64_t sum = 0;
  auto r =
      t.db->query("SELECT seq FROM seq_1_to_200000", [&](const Row& row) { sum += row.u64(1); });
  REQUIRE(r.ok());
  CHECK(*r == 200000);
  CHECK(sum == 200000ull * 200001ull / 2);
  // The connection is usable right after, also after a visitor that failed half way.
  auto stop = t.db->query("SELECT seq FROM seq_1_to_100000", [&](const Row& row) {
    if (row.u64(1) == 10) {
      (void)row.str(9);
    }
  });
  REQUIRE_FALSE(stop.ok());
  CHECK(count(*t.db, "SELECT 7") == 7);
}

TEST_CASE("transactions commit, roll back, and roll back when dropped") {
  TestDb t;
  Db& db = *t.db;
  REQUIRE(db.exec("CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB").ok());
  {
    auto txn = db.begin();
    REQUIRE(txn.ok());
    REQUIRE(db.exec("INSERT INTO t VALUES (1)").ok());
    REQUIRE(txn->commit().ok());
    CHECK_FALSE(txn->commit().ok());  // finished
  }
  {
    auto txn = db.begin();
    REQUIRE(txn.ok());
    REQUIRE(db.exec("INSERT INTO t VALUES (2)").ok());
    REQUIRE(txn->rollback().ok());
  }
  {
    auto txn = db.begin();
    REQUIRE(txn.ok());
    REQUIRE(db.exec("INSERT INTO t VALUES (3)").ok());
  }  // dropped: rolled back
  CHECK(count(db, "SELECT COUNT(*) FROM t") == 1);
  CHECK(count(db, "SELECT MAX(id) FROM t") == 1);
}

TEST_CASE("a snapshot transaction does not see later commits and is read-only") {
  TestDb t;
  Db& db = *t.db;
  REQUIRE(db.exec("CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB").ok());
  REQUIRE(db.exec("INSERT INTO t VALUES (1)").ok());
  auto other = must_connect(t.dsn);

  auto snap = db.begin(TxnMode::Snapshot);
  REQUIRE(snap.ok());
  REQUIRE(other->exec("INSERT INTO t VALUES (2)").ok());
  CHECK(count(db, "SELECT COUNT(*) FROM t") == 1);
  auto write = db.exec("INSERT INTO t VALUES (3)");
  REQUIRE_FALSE(write.ok());
  CHECK(write.error().message.find("1792") != std::string::npos);  // read-only transaction
  REQUIRE(snap->commit().ok());
  CHECK(count(db, "SELECT COUNT(*) FROM t") == 2);
}

TEST_CASE("a killed session is not alive and its calls fail cleanly") {
  TestDb t;
  Db& db = *t.db;
  REQUIRE(db.alive());
  uint64_t id = count(db, "SELECT CONNECTION_ID()");
  auto other = must_connect(t.dsn);
  auto kill = other->prepare("KILL CONNECTION ?");
  REQUIRE(kill.ok());
  REQUIRE(kill->bind(id).exec().ok());
  CHECK_FALSE(db.alive());
  auto r = db.exec("SELECT 1");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == sy::Errc::Database);
}

TEST_CASE("a lock wait timeout is a conflict, and the whole transaction runs again, once") {
  TestDb t;
  REQUIRE(t.db->exec("CREATE TABLE conflict_t (id INT PRIMARY KEY, v INT NOT NULL)").ok());
  REQUIRE(t.db->exec("INSERT INTO conflict_t VALUES (1, 0)").ok());
  auto holder = must_connect(t.dsn);
  REQUIRE(holder->exec("START TRANSACTION").ok());
  REQUIRE(holder->exec("SELECT v FROM conflict_t WHERE id = 1 FOR UPDATE").ok());
  REQUIRE(t.db->exec("SET SESSION innodb_lock_wait_timeout = 1").ok());

  int tries = 0;
  std::string first_error;
  auto r = with_conflict_retries([&]() -> sy::Result<sy::Unit> {
    if (++tries == 2) {
      REQUIRE(holder->exec("COMMIT").ok());  // the other writer finishes between the tries
    }
    auto txn = t.db->begin();
    if (!txn) {
      return txn.error();
    }
    if (auto u = t.db->exec("UPDATE conflict_t SET v = v + 1 WHERE id = 1"); !u) {
      first_error = u.error().message;
      return u.error();
    }
    return txn->commit();
  });
  REQUIRE(r.ok());
  CHECK(tries == 2);
  CHECK(first_error.find("MySQL error 1205 ") != std::string::npos);
  CHECK(count(*t.db, "SELECT v FROM conflict_t") == 1);

  // Anything else is not retried; a conflict that persists is retried a bounded number of times.
  tries = 0;
  auto bad = with_conflict_retries([&]() -> sy::Result<sy::Unit> {
    ++tries;
    return t.db->exec("SELECT no_such_column FROM conflict_t");
  });
  CHECK_FALSE(bad.ok());
  CHECK(tries == 1);
  tries = 0;
  auto stuck = with_conflict_retries([&]() -> sy::Result<sy::Unit> {
    ++tries;
    return sy::make_error(sy::Errc::Database, "COMMIT on x: MySQL error 1213 (40001): Deadlock");
  });
  CHECK_FALSE(stuck.ok());
  CHECK(is_conflict(stuck.error()));
  CHECK(tries == kConflictTries);
}

TEST_CASE("a lost session is told apart from a failed statement") {
  auto db_err = [](const std::string& m) { return sy::make_error(sy::Errc::Database, m); };
  // The server went away (killed, restarted), the connection broke, or it cannot serve here.
  CHECK(is_session_lost(db_err("query 'START TRANSACTION' on x: MySQL error 2006 (HY000): "
                               "Server has gone away")));
  CHECK(is_session_lost(db_err("reading sy_cluster: query on x: MySQL error 2013 (HY000): Lost "
                               "connection to server during query")));
  CHECK(is_session_lost(db_err("on x: MySQL error 4031 (HY000): The client was disconnected")));
  CHECK(is_session_lost(db_err("on x: MySQL error 1047 (08S01): WSREP has not yet prepared "
                               "node for application use")));
  CHECK(is_session_lost(db_err("on x: MySQL error 1290 (HY000): --read-only")));
  // A statement the server refused, a conflict, a refused connect or another kind of error:
  // not a lost session.
  CHECK_FALSE(is_session_lost(db_err("on x: MySQL error 1054 (42S22): Unknown column")));
  CHECK_FALSE(is_session_lost(db_err("COMMIT on x: MySQL error 1213 (40001): Deadlock")));
  CHECK_FALSE(is_session_lost(db_err("no database reachable: [1] x: MySQL error 2002 (HY000): "
                                     "Can't connect")));
  CHECK_FALSE(is_session_lost(sy::make_error(sy::Errc::Unavailable, "MySQL error 2006 ")));
  CHECK_FALSE(is_session_lost(db_err("MySQL error 20061 (HY000): not one")));
}

TEST_CASE("a server is fit for a role by read_only and its Galera state") {
  NodeHealth plain;  // no Galera provider, writable
  CHECK(unfit_reason(plain, DsnRole::Writer).empty());
  CHECK(unfit_reason(plain, DsnRole::Reader).empty());
  NodeHealth replica = plain;
  replica.read_only = true;
  CHECK(unfit_reason(replica, DsnRole::Writer).find("read_only is ON") != std::string::npos);
  CHECK(unfit_reason(replica, DsnRole::Reader).empty());  // a replica is for reading
  NodeHealth synced{false, true, "ON", 4};
  CHECK(unfit_reason(synced, DsnRole::Writer).empty());
  NodeHealth desynced{false, true, "ON", 2};
  CHECK(unfit_reason(desynced, DsnRole::Reader).find("wsrep_local_state is 2") !=
        std::string::npos);
  NodeHealth non_primary{false, true, "OFF", 0};
  CHECK(unfit_reason(non_primary, DsnRole::Reader).find("wsrep_ready is OFF") !=
        std::string::npos);
  NodeHealth ro_galera{true, true, "ON", 4};
  CHECK(!unfit_reason(ro_galera, DsnRole::Writer).empty());
  CHECK(unfit_reason(ro_galera, DsnRole::Reader).empty());
}

TEST_CASE("1047 and 1290 are wrong-node errors, others are not") {
  auto e = [](const char* text) { return sy::make_error(sy::Errc::Database, text); };
  CHECK(is_wrong_node(e("query 'x' on a: MySQL error 1047 (08S01): WSREP has not yet prepared")));
  CHECK(is_wrong_node(e("query 'x' on a: MySQL error 1290 (HY000): --read-only option")));
  CHECK_FALSE(is_wrong_node(e("query 'x' on a: MySQL error 1213 (40001): Deadlock")));
  CHECK_FALSE(is_wrong_node(sy::make_error(sy::Errc::Internal, "MySQL error 1047 ")));
}

TEST_CASE("a writable private server is connected as a writer, passing nothing over") {
  TestDb t;
  auto db = must_connect(t.dsn);
  CHECK(db->role() == DsnRole::Writer);
  CHECK(db->passed_over().empty());
  CHECK(db->health_problem().empty());
  Dsn dead = t.dsn;
  dead.port = 1;
  auto two = Db::connect({dead, t.dsn}, 1s, 5s, DsnRole::Reader);
  REQUIRE(two.ok());
  CHECK((*two)->role() == DsnRole::Reader);
  REQUIRE((*two)->passed_over().size() == 1);
  CHECK((*two)->passed_over()[0].find(dead.label()) == 0);
}
