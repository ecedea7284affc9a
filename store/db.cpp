// Connector/C++ 1.1 behind a Result-returning interface. Every entry point that reaches the
// driver runs inside a try block here: the driver reports everything, from a refused connection
// to a bad column index, by throwing sql::SQLException (STYLE rule 8 keeps those out of the
// rest of the code).

#include "store/db.h"

#include <cppconn/connection.h>
#include <cppconn/driver.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/resultset_metadata.h>
#include <cppconn/statement.h>

#include <algorithm>
#include <exception>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

namespace sy::store {

namespace {

// The driver singleton is created on first use, which is not thread-safe in Connector/C++ 1.1.
sql::Driver* driver() {
  static std::once_flag once;
  static sql::Driver* instance = nullptr;
  std::call_once(once, [] { instance = get_driver_instance(); });
  return instance;
}

// The client library wants mysql_thread_init()/mysql_thread_end() around each thread's use.
struct ThreadRegistration {
  sql::Driver* driver = nullptr;
  ~ThreadRegistration() {
    if (driver != nullptr) {
      driver->threadEnd();
    }
  }
};

void register_thread(sql::Driver* d) {
  thread_local ThreadRegistration reg;
  if (reg.driver == nullptr) {
    d->threadInit();
    reg.driver = d;
  }
}

// SQL text for an error message: whitespace collapsed, at most ~100 characters.
std::string sql_excerpt(std::string_view sql) {
  std::string out;
  bool space = false;
  for (char c : sql) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) {
      out += ' ';
      space = false;
    }
    out += c;
    if (out.size() >= 100) {
      out += "...";
      break;
    }
  }
  return out;
}

std::string describe(const sql::SQLException& e) {
  std::string out = "MySQL error " + std::to_string(e.getErrorCode());
  const std::string& state = e.getSQLState();
  if (!state.empty()) {
    out += " (" + state + ")";
  }
  out += ": ";
  out += e.what();
  return out;
}

Error db_error(const Dsn& dsn, std::string_view what, const sql::SQLException& e) {
  return make_error(Errc::Database, std::string(what) + " on " + dsn.label() + ": " + describe(e),
                    ErrorSource::Upstream);
}

Error other_error(const Dsn& dsn, std::string_view what, const char* reason) {
  return make_error(Errc::Database, std::string(what) + " on " + dsn.label() + ": " + reason,
                    ErrorSource::Upstream);
}

std::string query_what(std::string_view sql) { return "query '" + sql_excerpt(sql) + "'"; }

// read_only, wsrep_on, wsrep_ready, wsrep_local_state. The wsrep status variables exist only
// with a Galera provider loaded ("" and -1 without); GLOBAL_STATUS answers on a non-primary
// node, where a query on a table fails with 1047.
constexpr const char* kHealthQuery =
    "SELECT @@GLOBAL.read_only, COALESCE(@@GLOBAL.wsrep_on, 0),"
    " COALESCE((SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS"
    " WHERE VARIABLE_NAME = 'wsrep_ready'), ''),"
    " COALESCE((SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS"
    " WHERE VARIABLE_NAME = 'wsrep_local_state'), -1)";

// Throws what the driver throws.
NodeHealth read_health(sql::Statement& st) {
  NodeHealth health;
  std::unique_ptr<sql::ResultSet> rs(st.executeQuery(kHealthQuery));
  if (rs->next()) {
    health = NodeHealth{rs->getInt(1) != 0, rs->getInt(2) != 0, rs->getString(3).asStdString(),
                        rs->getInt(4)};
  }
  return health;
}

}  // namespace

std::string unfit_reason(const NodeHealth& h, DsnRole role) {
  if (h.wsrep_on) {
    if (h.wsrep_ready != "ON") {
      return "wsrep_ready is " + (h.wsrep_ready.empty() ? std::string("unknown") : h.wsrep_ready) +
             " (a Galera node outside the primary component)";
    }
    if (h.wsrep_local_state != 4) {
      return "wsrep_local_state is " + std::to_string(h.wsrep_local_state) +
             ", not 4 (Synced): a joiner, donor or desynced Galera node";
    }
  }
  if (h.read_only && role == DsnRole::Writer) {
    return "read_only is ON (a replica; this session writes)";
  }
  return {};
}

namespace {

}  // namespace

// ---- Dsn ------------------------------------------------------------------------------------

std::string Dsn::label() const {
  std::string out = user + "@";
  if (!socket.empty()) {
    out += "unix(" + socket + ")";
  } else {
    out += "tcp(" + host + ":" + std::to_string(port) + ")";
  }
  out += "/" + database;
  return out;
}

// ---- Row ------------------------------------------------------------------------------------

void Row::fail(std::string message) const {
  if (!failed_) {
    failed_ = true;
    error_ = std::move(message);
  }
}

namespace {

// Calls |get| unless the column is out of range or the driver throws; then marks |row| failed
// and returns |zero|.
template <class T, class Get>
T guarded(const Row& row, unsigned col, T zero, Get get, void (*fail)(const Row&, std::string)) {
  if (col < 1 || col > row.columns()) {
    fail(row, "column " + std::to_string(col) + " out of range (the result has " +
                  std::to_string(row.columns()) + " columns)");
    return zero;
  }
  try {
    return get();
  } catch (const sql::SQLException& e) {
    fail(row, "reading column " + std::to_string(col) + ": " + describe(e));
  } catch (const std::exception& e) {
    fail(row, "reading column " + std::to_string(col) + ": " + e.what());
  }
  return zero;
}

}  // namespace

// guarded() needs Row::fail, which is private; this trampoline is the one way in.
#define SY_ROW_GET(T, zero, expr)                                                                  \
  guarded<T>(                                                                                      \
      *this, col, zero, [&]() -> T { return expr; },                                               \
      [](const Row& r, std::string m) { r.fail(std::move(m)); })

bool Row::is_null(unsigned col) const { return SY_ROW_GET(bool, true, rs_->isNull(col)); }
bool Row::boolean(unsigned col) const { return SY_ROW_GET(bool, false, rs_->getInt64(col) != 0); }
int32_t Row::i32(unsigned col) const { return SY_ROW_GET(int32_t, 0, rs_->getInt(col)); }
uint32_t Row::u32(unsigned col) const { return SY_ROW_GET(uint32_t, 0, rs_->getUInt(col)); }
int64_t Row::i64(unsigned col) const { return SY_ROW_GET(int64_t, 0, rs_->getInt64(col)); }
uint64_t Row::u64(unsigned col) const { return SY_ROW_GET(uint64_t, 0, rs_->getUInt64(col)); }
std::string Row::str(unsigned col) const {
  return SY_ROW_GET(std::string, std::string(), ([&] {
                      sql::SQLString s = rs_->getString(col);
                      return std::move(*s.operator->());  // take the buffer, no copy
                    }()));
}
void Row::str_into(unsigned col, std::string& out) const {
  bool ok = SY_ROW_GET(bool, false, ([&] {
                         sql::SQLString s = rs_->getString(col);
                         out.assign(s.asStdString());
                         return true;
                       }()));
  if (!ok) {
    out.clear();
  }
}

#undef SY_ROW_GET

// Throws what the driver throws; the callers catch.
Result<uint64_t> Db::visit_rows(sql::ResultSet& rs, const RowVisitor& visit, const Dsn& dsn,
                                std::string_view sql) {
  const unsigned columns = rs.getMetaData()->getColumnCount();
  Row row(&rs, columns);
  uint64_t n = 0;
  while (rs.next()) {
    visit(row);
    if (row.failed_) {
      return make_error(Errc::Database, query_what(sql) + " on " + dsn.label() + ": " + row.error_,
                        ErrorSource::Upstream);
    }
    ++n;
  }
  return n;
}

// ---- Stmt -----------------------------------------------------------------------------------

Stmt::Stmt(Db* db, std::unique_ptr<sql::PreparedStatement> ps, std::string sql, bool returns_rows)
    : db_(db), ps_(std::move(ps)), sql_(std::move(sql)), returns_rows_(returns_rows) {}

Stmt::Stmt(Stmt&& other) noexcept = default;
Stmt& Stmt::operator=(Stmt&& other) noexcept = default;
Stmt::~Stmt() = default;

Stmt& Stmt::record_bind_error(std::string message) {
  if (bind_error_.empty()) {
    bind_error_ = "binding parameter " + std::to_string(next_) + ": " + message;
  }
  ++next_;
  return *this;
}

void Stmt::rewind() {
  next_ = 1;
  bind_error_.clear();
}

// Each bind sets parameter |next_| and advances; a driver exception is remembered for the run.
#define SY_BIND(call)                                                                              \
  do {                                                                                             \
    try {                                                                                          \
      call;                                                                                        \
    } catch (const sql::SQLException& e) {                                                         \
      return record_bind_error(describe(e));                                                       \
    } catch (const std::exception& e) {                                                            \
      return record_bind_error(e.what());                                                          \
    }                                                                                              \
    ++next_;                                                                                       \
    return *this;                                                                                  \
  } while (0)

Stmt& Stmt::bind(int32_t value) { SY_BIND(ps_->setInt(next_, value)); }
Stmt& Stmt::bind(uint32_t value) { SY_BIND(ps_->setUInt(next_, value)); }
Stmt& Stmt::bind(int64_t value) { SY_BIND(ps_->setInt64(next_, value)); }
Stmt& Stmt::bind(uint64_t value) { SY_BIND(ps_->setUInt64(next_, value)); }
Stmt& Stmt::bind(std::string_view value) {
  SY_BIND(ps_->setString(next_, sql::SQLString(value.data(), value.size())));
}
Stmt& Stmt::bind_null() { SY_BIND(ps_->setNull(next_, 0)); }

#undef SY_BIND

Result<uint64_t> Stmt::exec() {
  if (!bind_error_.empty()) {
    Error e = make_error(Errc::Database, query_what(sql_) + ": " + bind_error_);
    rewind();
    return e;
  }
  rewind();
  if (returns_rows_) {
    // Running it would leave its rows unread and the session out of sync.
    return make_error(Errc::InvalidArgument,
                      query_what(sql_) + ": returns rows; run it with query(), not exec()");
  }
  try {
    int affected = ps_->executeUpdate();
    return static_cast<uint64_t>(affected < 0 ? 0 : affected);
  } catch (const sql::SQLException& e) {
    return db_error(db_->dsn_, query_what(sql_), e);
  } catch (const std::exception& e) {
    return other_error(db_->dsn_, query_what(sql_), e.what());
  }
}

Result<uint64_t> Stmt::query(const RowVisitor& visit) {
  if (!bind_error_.empty()) {
    Error e = make_error(Errc::Database, query_what(sql_) + ": " + bind_error_);
    rewind();
    return e;
  }
  rewind();
  if (!returns_rows_) {
    return make_error(Errc::InvalidArgument,
                      query_what(sql_) + ": returns no rows; run it with exec(), not query()");
  }
  try {
    std::unique_ptr<sql::ResultSet> rs(ps_->executeQuery());
    return Db::visit_rows(*rs, visit, db_->dsn_, sql_);
  } catch (const sql::SQLException& e) {
    return db_error(db_->dsn_, query_what(sql_), e);
  } catch (const std::exception& e) {
    return other_error(db_->dsn_, query_what(sql_), e.what());
  } catch (...) {
    return other_error(db_->dsn_, query_what(sql_), "unknown exception");
  }
}

// ---- Transaction ----------------------------------------------------------------------------

Transaction::~Transaction() {
  if (db_ != nullptr) {
    (void)rollback();
  }
}

Result<Unit> Transaction::commit() {
  if (db_ == nullptr) {
    return make_error(Errc::Internal, "commit: transaction already finished");
  }
  Db* db = std::exchange(db_, nullptr);
  return db->exec("COMMIT");
}

Result<Unit> Transaction::rollback() {
  if (db_ == nullptr) {
    return make_error(Errc::Internal, "rollback: transaction already finished");
  }
  Db* db = std::exchange(db_, nullptr);
  return db->exec("ROLLBACK");
}

// ---- Db -------------------------------------------------------------------------------------

Db::Db(Dsn dsn, std::unique_ptr<sql::Connection> conn, DsnRole role,
       std::vector<std::string> passed_over)
    : dsn_(std::move(dsn)), conn_(std::move(conn)), role_(role),
      passed_over_(std::move(passed_over)) {}

Db::~Db() {
  cache_.clear();  // statements first, while their connection is open
  if (conn_) {
    try {
      conn_->close();
    } catch (...) {
      // Closing a dead connection may throw; the session is gone either way.
    }
  }
}

Result<std::unique_ptr<Db>> Db::connect(const std::vector<Dsn>& dsns,
                                        std::chrono::milliseconds connect_timeout,
                                        std::chrono::seconds io_timeout, DsnRole role) {
  if (dsns.empty()) {
    return make_error(Errc::InvalidArgument, "no database DSN given");
  }
  // The client library counts whole seconds; round up so that 1500 ms does not become 1 s.
  const int connect_s =
      static_cast<int>(std::max<int64_t>(1, (connect_timeout.count() + 999) / 1000));
  const int io_s = static_cast<int>(io_timeout.count());

  std::string failures;
  std::vector<std::string> passed_over;
  auto pass_over = [&](size_t i, const Dsn& d, const std::string& reason) {
    failures += (failures.empty() ? "" : "; ") + std::string("[") + std::to_string(i + 1) + "] " +
                d.label() + ": " + reason;
    passed_over.push_back(d.label() + ": " + reason);
  };
  for (size_t i = 0; i < dsns.size(); ++i) {
    const Dsn& d = dsns[i];
    try {
      sql::Driver* drv = driver();
      register_thread(drv);
      sql::ConnectOptionsMap opts;
      if (!d.socket.empty()) {
        opts["hostName"] = sql::SQLString("localhost");
        opts["socket"] = sql::SQLString(d.socket);
      } else {
        opts["hostName"] = sql::SQLString(d.host);
        opts["port"] = d.port;
      }
      opts["userName"] = sql::SQLString(d.user);
      opts["password"] = sql::SQLString(d.password);
      if (!d.database.empty()) {
        opts["schema"] = sql::SQLString(d.database);
      }
      opts["OPT_CONNECT_TIMEOUT"] = connect_s;
      if (io_s > 0) {
        opts["OPT_READ_TIMEOUT"] = io_s;
        opts["OPT_WRITE_TIMEOUT"] = io_s;
      }
      opts["OPT_RECONNECT"] = false;
      opts["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
      std::unique_ptr<sql::Connection> conn(drv->connect(opts));
      std::unique_ptr<sql::Statement> st(conn->createStatement());
      st->execute("SET SESSION time_zone = '+00:00'");
      NodeHealth health = read_health(*st);
      if (std::string why = unfit_reason(health, role); !why.empty()) {
        try {
          conn->close();
        } catch (...) {
        }
        pass_over(i, d, why);
        continue;
      }
      if (health.wsrep_on && role == DsnRole::Writer) {
        st->execute("SET SESSION wsrep_sync_wait = 1");
      }
      st.reset();
      return std::unique_ptr<Db>(new Db(d, std::move(conn), role, std::move(passed_over)));
    } catch (const sql::SQLException& e) {
      pass_over(i, d, describe(e));
    } catch (const std::exception& e) {
      pass_over(i, d, e.what());
    }
  }
  return make_error(Errc::Database, "no database reachable: " + failures, ErrorSource::Upstream);
}

Result<Unit> Db::exec(const std::string& sql) {
  try {
    std::unique_ptr<sql::Statement> st(conn_->createStatement());
    if (st->execute(sql)) {
      // It returned rows after all: read and drop them, or the session is out of sync.
      std::unique_ptr<sql::ResultSet> rs(st->getResultSet());
    }
    return ok_result();
  } catch (const sql::SQLException& e) {
    return db_error(dsn_, query_what(sql), e);
  } catch (const std::exception& e) {
    return other_error(dsn_, query_what(sql), e.what());
  }
}

Result<uint64_t> Db::query(const std::string& sql, const RowVisitor& visit) {
  try {
    std::unique_ptr<sql::Statement> st(conn_->createStatement());
    // Forward-only = mysql_use_result(): rows stream from the server, nothing is buffered.
    st->setResultSetType(sql::ResultSet::TYPE_FORWARD_ONLY);
    std::unique_ptr<sql::ResultSet> rs(st->executeQuery(sql));
    return visit_rows(*rs, visit, dsn_, sql);
  } catch (const sql::SQLException& e) {
    return db_error(dsn_, query_what(sql), e);
  } catch (const std::exception& e) {
    return other_error(dsn_, query_what(sql), e.what());
  } catch (...) {
    return other_error(dsn_, query_what(sql), "unknown exception");
  }
}

Result<Stmt> Db::prepare(const std::string& sql) {
  try {
    std::unique_ptr<sql::PreparedStatement> ps(conn_->prepareStatement(sql));
    // The metadata of a prepared statement is local (no round trip); it is owned by |ps|.
    const bool returns_rows = ps->getMetaData()->getColumnCount() > 0;
    return Stmt(this, std::move(ps), sql, returns_rows);
  } catch (const sql::SQLException& e) {
    return db_error(dsn_, "preparing '" + sql_excerpt(sql) + "'", e);
  } catch (const std::exception& e) {
    return other_error(dsn_, "preparing '" + sql_excerpt(sql) + "'", e.what());
  }
}

Result<Stmt*> Db::cached(std::string_view sql) {
  auto it = cache_.find(std::string(sql));
  if (it != cache_.end()) {
    return it->second.get();
  }
  if (cache_.size() >= kMaxCached) {
    cache_.clear();  // SQL built from data would otherwise grow the server's statement count
  }
  auto stmt = prepare(std::string(sql));
  if (!stmt) {
    return stmt.error();
  }
  auto owned = std::make_unique<Stmt>(std::move(stmt.value()));
  Stmt* out = owned.get();
  cache_.emplace(std::string(sql), std::move(owned));
  return out;
}

Result<Transaction> Db::begin(TxnMode mode) {
  if (mode == TxnMode::Snapshot) {
    // WITH CONSISTENT SNAPSHOT only means something under REPEATABLE READ; the SET applies to
    // the next transaction only, whatever the session default is.
    if (auto r = exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"); !r) {
      return r.error();
    }
    if (auto r = exec("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); !r) {
      return r.error();
    }
  } else if (auto r = exec("START TRANSACTION"); !r) {
    return r.error();
  }
  return Transaction(this);
}

std::string Db::health_problem() {
  try {
    std::unique_ptr<sql::Statement> st(conn_->createStatement());
    return unfit_reason(read_health(*st), role_);
  } catch (const sql::SQLException& e) {
    return "health check: " + describe(e);
  } catch (const std::exception& e) {
    return std::string("health check: ") + e.what();
  }
}

bool Db::alive() {
  try {
    return conn_ && !conn_->isClosed() && conn_->isValid();
  } catch (...) {
    return false;
  }
}

bool is_wrong_node(const Error& e) {
  return e.code == Errc::Database && (e.message.find("MySQL error 1047 ") != std::string::npos ||
                                      e.message.find("MySQL error 1290 ") != std::string::npos);
}

bool is_session_lost(const Error& e) {
  if (e.code != Errc::Database) {
    return false;
  }
  for (const char* code : {"MySQL error 2006 ", "MySQL error 2013 ", "MySQL error 2055 ",
                           "MySQL error 4031 "}) {
    if (e.message.find(code) != std::string::npos) {
      return true;
    }
  }
  return is_wrong_node(e);
}

bool is_conflict(const Error& e) {
  return e.code == Errc::Database && (e.message.find("MySQL error 1213 ") != std::string::npos ||
                                      e.message.find("MySQL error 1205 ") != std::string::npos);
}

void conflict_pause(int n) {
  thread_local std::minstd_rand jitter{std::random_device{}()};
  const int base_us = 1000 * std::min(50, 1 << std::min(n - 1, 6));
  std::uniform_int_distribution<int> pick(base_us / 2, base_us + base_us / 2);
  std::this_thread::sleep_for(std::chrono::microseconds(pick(jitter)));
}

}  // namespace sy::store
