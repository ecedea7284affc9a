#pragma once
// A Connector/C++ session to the shared database (MariaDB/MySQL), for the loader and admin
// threads only: every call blocks on the network (STYLE rule 3). Nothing here throws: every
// sql::SQLException (and any other exception raised while talking to the server) is caught in
// db.cpp and returned as an Error with code Errc::Database whose message carries the MySQL error
// number, the SQLSTATE and the server's text, e.g.
//   "query 'SELECT ...' on switchyard@tcp(127.0.0.1:3306)/sy: MySQL error 1146 (42S02): ..."
//
// Threading: a Db (and every Stmt, Row and Transaction made from it) belongs to one thread at a
// time. Different threads use different Db objects.
//
// Typical use:
//   auto db = Db::connect({primary, replica}, std::chrono::seconds(2));
//   if (!db) { ... db.error().message lists why each DSN failed ... }
//   auto stmt = (*db)->prepare("SELECT id, name FROM sy_servers WHERE id > ?");
//   if (!stmt) { ... }
//   auto rows = stmt->bind(uint32_t{7}).query([&](const Row& r) { use(r.u32(1), r.str(2)); });
//
// SQL that carries values always goes through prepare() + bind(); exec() and query() on Db are
// for fixed SQL text only. Above the session, code runs statements with store/query.h.
//
// Error sources (common/result.h): what the server or the network did is ErrorSource::Upstream
// (the database is the loader's and the admin's upstream); a statement used the wrong way
// (exec() on a SELECT, a parameter that does not bind) is Internal.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace sql {
class Connection;
class PreparedStatement;
class ResultSet;
}  // namespace sql

namespace sy::store {

// Where to find a database server.
struct Dsn {
  std::string host = "127.0.0.1";  // used when |socket| is empty
  int port = 3306;                 // TCP port, used when |socket| is empty
  std::string user;
  std::string password;  // never printed
  std::string database;  // default schema of the session; "" = none
  std::string socket;    // unix socket path; non-empty = connect through it, not TCP

  // "user@tcp(host:port)/database" or "user@unix(/path)/database"; never the password.
  std::string label() const;

  bool operator==(const Dsn&) const = default;
};

// One row of a result set, handed to a visitor. Valid only during that visitor call.
// Columns are numbered from 1, as in SQL. A NULL reads as 0 / false / "" (check is_null() to
// tell them apart). A getter that fails (bad column number, lost connection) returns the same
// zero value and marks the row failed; the query then stops and returns that error.
class Row {
 public:
  Row(const Row&) = delete;
  Row& operator=(const Row&) = delete;

  unsigned columns() const { return columns_; }
  bool is_null(unsigned col) const;
  bool boolean(unsigned col) const;  // any non-zero number is true
  int32_t i32(unsigned col) const;
  uint32_t u32(unsigned col) const;
  int64_t i64(unsigned col) const;
  uint64_t u64(unsigned col) const;
  std::string str(unsigned col) const;
  // Assigns the column to |out|, reusing its capacity (no allocation for short values).
  void str_into(unsigned col, std::string& out) const;

 private:
  friend class Db;
  friend class Stmt;
  Row(sql::ResultSet* rs, unsigned columns) : rs_(rs), columns_(columns) {}
  void fail(std::string message) const;

  sql::ResultSet* rs_;
  unsigned columns_;
  mutable bool failed_ = false;
  mutable std::string error_;  // the first getter failure
};

// Called once per row, in result order. Must not run another query on the same Db (the result
// is streamed from the server while it is visited).
using RowVisitor = std::function<void(const Row&)>;

class Db;

// A server-side prepared statement. Parameters are bound in order of their '?' with bind();
// exec()/query() run it and rewind the parameter position, so the statement can be bound and
// run again. Binding errors are reported by the next exec()/query().
class Stmt {
 public:
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&& other) noexcept;
  ~Stmt();

  Stmt& bind(int32_t value);
  Stmt& bind(uint32_t value);
  Stmt& bind(int64_t value);
  Stmt& bind(uint64_t value);
  Stmt& bind(std::string_view value);
  Stmt& bind(const char* value) { return bind(std::string_view(value)); }
  Stmt& bind(const std::string& value) { return bind(std::string_view(value)); }
  Stmt& bind_null();

  // Runs a statement that returns no rows. Returns the number of affected rows. A statement
  // that returns rows is refused (InvalidArgument) without running.
  Result<uint64_t> exec();
  // Runs a query and calls |visit| for every row. Returns the number of rows visited. A
  // statement that returns no rows is refused (InvalidArgument) without running.
  Result<uint64_t> query(const RowVisitor& visit);

 private:
  friend class Db;
  Stmt(Db* db, std::unique_ptr<sql::PreparedStatement> ps, std::string sql, bool returns_rows);
  Stmt& record_bind_error(std::string message);
  void rewind();

  Db* db_ = nullptr;
  std::unique_ptr<sql::PreparedStatement> ps_;
  std::string sql_;            // for error messages
  unsigned next_ = 1;          // 1-based index of the next parameter to bind
  std::string bind_error_;     // first bind failure since the last run; "" = none
  bool returns_rows_ = false;  // a SELECT-like statement: query() only
};

// What a session is for; Db::connect checks the server against it (docs/decisions.md 62).
enum class DsnRole {
  Writer,  // admin, sequencer, heartbeats, migrations: read_only must be OFF
  Reader,  // the loader's directory reads: a replica (read_only ON) will do
};
// Both roles on a Galera node (wsrep_on): wsrep_ready ON and wsrep_local_state 4 (Synced); a
// donor, joiner or desynced node, or one outside the primary component, is passed over.

// What Db::connect reads from a server right after the handshake.
struct NodeHealth {
  bool read_only = false;
  bool wsrep_on = false;
  std::string wsrep_ready;     // "ON"/"OFF"; "" without a Galera provider
  int wsrep_local_state = -1;  // 4 = Synced; -1 without a Galera provider
};
// Why a server with |h| must not serve a |role| session; "" = it may. Pure.
std::string unfit_reason(const NodeHealth& h, DsnRole role);

// How a transaction reads.
enum class TxnMode {
  ReadWrite,  // START TRANSACTION
  Snapshot,   // REPEATABLE READ + START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY:
              // every read inside sees the database as of the start
};

// An open transaction. The destructor rolls back unless commit() or rollback() ran.
class Transaction {
 public:
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  Result<Unit> commit();
  Result<Unit> rollback();

 private:
  friend class Db;
  explicit Transaction(Db* db) : db_(db) {}
  Db* db_;  // nullptr once finished
};

class Db {
 public:
  // Tries |dsns| in order and returns a session to the first that accepts. |connect_timeout| is
  // the TCP/handshake limit per DSN (rounded up to whole seconds, the client library's unit);
  // |io_timeout| bounds each network read or write afterwards (0 = none). Auto-reconnect is
  // off: after a lost connection alive() is false and the caller connects again. The session
  // uses utf8mb4 and time_zone '+00:00'. On failure the error lists every DSN with its reason.
  // The caller owns the result. Loader/admin threads only.
  // Each session that opens is checked for |role| (DsnRole) before it is used: a server that
  // does not fit is closed and the next DSN tried; passed_over() says why for each. A Writer
  // session on Galera reads with wsrep_sync_wait = 1 (its reads see every write the cluster
  // committed before them: heartbeats written through other nodes).
  static Result<std::unique_ptr<Db>>
  connect(const std::vector<Dsn>& dsns, std::chrono::milliseconds connect_timeout,
          std::chrono::seconds io_timeout = std::chrono::seconds(120),
          DsnRole role = DsnRole::Writer);

  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // The DSN this session is connected to.
  const Dsn& dsn() const { return dsn_; }
  DsnRole role() const { return role_; }
  // "label: reason" for every DSN tried before this one (unreachable, refused, wrong role).
  const std::vector<std::string>& passed_over() const { return passed_over_; }

  // Runs fixed SQL text (DDL, SET, COMMIT, ...); rows it returns are read and dropped. No
  // parameters: anything that carries values goes through prepare().
  Result<Unit> exec(const std::string& sql);

  // Runs fixed SQL text and streams the result (rows are fetched from the server while they are
  // visited, so millions of rows cost no buffering). Returns the number of rows visited.
  Result<uint64_t> query(const std::string& sql, const RowVisitor& visit);

  // Prepares |sql| on the server. The Stmt must not outlive this Db.
  Result<Stmt> prepare(const std::string& sql);

  // The statement for |sql|, prepared on the first call and kept for the session (at most
  // kMaxCached statements; the oldest set is dropped beyond that). The pointer is valid until
  // the next cached() call. store/query.h runs every statement through here, so a statement
  // is prepared once per session, not once per use.
  Result<Stmt*> cached(std::string_view sql);
  static constexpr size_t kMaxCached = 128;

  // Starts a transaction; see TxnMode. The Transaction must not outlive this Db.
  Result<Transaction> begin(TxnMode mode = TxnMode::ReadWrite);

  // Pings the server. false = the session is unusable; connect() again.
  bool alive();
  // Reads the server's state again (one round trip): "" while it still fits role(), else why
  // not (turned read_only, desynced, left the primary component, or the session is dead);
  // then drop the session and connect() again.
  std::string health_problem();

 private:
  friend class Stmt;
  friend class Transaction;
  Db(Dsn dsn, std::unique_ptr<sql::Connection> conn, DsnRole role,
     std::vector<std::string> passed_over);
  // Calls |visit| for each row of |rs|; stops at the first failed Row getter.
  static Result<uint64_t> visit_rows(sql::ResultSet& rs, const RowVisitor& visit, const Dsn& dsn,
                                     std::string_view sql);

  Dsn dsn_;
  std::unique_ptr<sql::Connection> conn_;
  DsnRole role_ = DsnRole::Writer;
  std::vector<std::string> passed_over_;
  std::unordered_map<std::string, std::unique_ptr<Stmt>> cache_;  // by SQL text; see cached()
};

// "?,?,...,?" with |n| placeholders.
inline std::string placeholders(size_t n) {
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += i == 0 ? "?" : ",?";
  }
  return out;
}

// Runs "|select| WHERE |column| IN (?,...,?) |suffix|" over |keys| in chunks of |chunk| keys
// (a full chunk's statement is prepared once and reused), calling |visit| for every row found.
// |suffix| is e.g. " GROUP BY x". The first failure is returned. Loader/admin threads.
template <class Key>
Result<Unit> query_in_chunks(Db& db, const std::string& select, std::string_view column,
                             const std::vector<Key>& keys, const RowVisitor& visit,
                             std::string_view suffix = {}, size_t chunk = 1000) {
  std::optional<Stmt> full;
  for (size_t begin = 0; begin < keys.size(); begin += chunk) {
    const size_t n = std::min(chunk, keys.size() - begin);
    std::optional<Stmt> once;
    Stmt* stmt = nullptr;
    if (n == chunk && full) {
      stmt = &*full;
    } else {
      auto prepared = db.prepare(select + " WHERE " + std::string(column) + " IN (" +
                                 placeholders(n) + ")" + std::string(suffix));
      if (!prepared) {
        return prepared.error();
      }
      std::optional<Stmt>& slot = n == chunk ? full : once;
      slot.emplace(std::move(prepared.value()));
      stmt = &*slot;
    }
    for (size_t i = begin; i < begin + n; ++i) {
      stmt->bind(keys[i]);
    }
    if (auto r = stmt->query(visit); !r) {
      return r.error();
    }
  }
  return ok_result();
}

// A deadlock (MySQL error 1213; also how Galera reports a certification conflict, at COMMIT) or a
// lock wait timeout (1205): the server rolled the transaction back (1213) or the statement
// (1205), and running the whole transaction again may succeed. Read from the message db.cpp
// builds ("MySQL error <n> ..."), which every wrapping context keeps.
bool is_conflict(const Error& e);
// The server cannot serve this session where it is: 1047 (a Galera node not prepared: outside
// the primary component, or not synced) or 1290 (read_only: a replica). The session is to be
// dropped and the DSNs tried again (Db::connect passes such a server over).
bool is_wrong_node(const Error& e);
// The session is gone with its server or cannot be used there: 2006 (server has gone away),
// 2013 / 2055 (lost connection), 4031 (disconnected by the server), or is_wrong_node(). What
// the session was doing may or may not have committed; a caller that can redo its work from
// the database's record (the upgrade journal) connects again, to the next DSN that fits.
bool is_session_lost(const Error& e);
// The pause before retry |n| (1-based) of with_conflict_retries: 1, 2, 4 ... ms, at most 50,
// each drawn between half and one and a half of that, so that writers that lost to each other
// through different Galera nodes do not retry in step and collide again.
void conflict_pause(int n);

// How often with_conflict_retries runs an attempt that keeps conflicting: 8 tries, ~110 ms of
// pauses. Three instances toggling one row through three nodes on a loaded machine still lost
// 1 of 90 commands with 5 (15 ms; test_galera_upgrade_control.py).
inline constexpr int kConflictTries = 8;

// Runs |attempt| (a whole transaction, idempotent by construction) up to |tries| times while it
// fails with is_conflict(), with a short growing pause between tries (conflict_pause: a
// certification conflict clears as soon as the winner commits). The last error is returned as
// it is. Admin/upgrade threads only; never from inside a transaction (a conflict there has
// rolled back the whole transaction, not one statement).
template <class F>
auto with_conflict_retries(F&& attempt, int tries = kConflictTries) -> decltype(attempt()) {
  auto r = attempt();
  for (int i = 1; i < tries && !r && is_conflict(r.error()); ++i) {
    conflict_pause(i);
    r = attempt();
  }
  return r;
}

}  // namespace sy::store
