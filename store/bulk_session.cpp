// The MariaDB C API beneath Connector/C++, used directly for bulk reads (store/bulk_session.h).

#include "store/bulk_session.h"

#include <mysql.h>

#include <mutex>

namespace sy::store {

namespace {

// mysql_library_init() is not thread-safe; the first session of the process runs it.
void library_init() {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

// mysql_thread_init()/mysql_thread_end() around each thread's use of the library.
struct ThreadRegistration {
  ThreadRegistration() { mysql_thread_init(); }
  ~ThreadRegistration() { mysql_thread_end(); }
};

void register_thread() { thread_local ThreadRegistration reg; }

std::string describe(MYSQL* m) {
  std::string out = "MySQL error " + std::to_string(mysql_errno(m));
  const char* state = mysql_sqlstate(m);
  if (state != nullptr && *state != '\0') {
    out += " (" + std::string(state) + ")";
  }
  return out + ": " + mysql_error(m);
}

}  // namespace

Error BulkSession::error(std::string_view what) const {
  return make_error(Errc::Database, std::string(what) + " on " + dsn_.label() + ": " +
                                        describe(mysql_),
                    ErrorSource::Upstream);
}

Result<std::unique_ptr<BulkSession>> BulkSession::connect(const Dsn& dsn,
                                                          std::chrono::milliseconds connect_timeout,
                                                          std::chrono::seconds io_timeout) {
  library_init();
  register_thread();
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) {
    return make_error(Errc::Unavailable, "mysql_init: out of memory");
  }
  // The client library counts whole seconds; round up as Db::connect does.
  unsigned connect_s = static_cast<unsigned>((connect_timeout.count() + 999) / 1000);
  connect_s = connect_s == 0 ? 1 : connect_s;
  const auto io_s = static_cast<unsigned>(io_timeout.count());
  mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s);
  if (io_s > 0) {
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &io_s);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &io_s);
  }
  mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  const bool via_socket = !dsn.socket.empty();
  std::unique_ptr<BulkSession> s(new BulkSession(dsn, m));
  if (mysql_real_connect(m, via_socket ? "localhost" : dsn.host.c_str(), dsn.user.c_str(),
                         dsn.password.c_str(), dsn.database.empty() ? nullptr : dsn.database.c_str(),
                         via_socket ? 0 : static_cast<unsigned>(dsn.port),
                         via_socket ? dsn.socket.c_str() : nullptr, 0) == nullptr) {
    return s->error("connect");
  }
  if (auto r = s->exec("SET SESSION time_zone = '+00:00'"); !r) {
    return r.error();
  }
  return s;
}

BulkSession::~BulkSession() { mysql_close(mysql_); }

Result<Unit> BulkSession::exec(std::string_view sql) {
  register_thread();
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) {
    return error("query '" + std::string(sql) + "'");
  }
  // A statement that returned rows after all: read and drop them.
  if (MYSQL_RES* res = mysql_store_result(mysql_); res != nullptr) {
    mysql_free_result(res);
  } else if (mysql_field_count(mysql_) != 0) {
    return error("query '" + std::string(sql) + "'");
  }
  return ok_result();
}

Result<uint64_t> BulkSession::stream(std::string_view sql, unsigned columns,
                                     const RawVisitor& visit) {
  register_thread();
  const std::string what = "query '" + std::string(sql.substr(0, 100)) + "'";
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) {
    return error(what);
  }
  MYSQL_RES* res = mysql_use_result(mysql_);
  if (res == nullptr) {
    return mysql_field_count(mysql_) == 0
               ? make_error(Errc::InvalidArgument, what + ": returns no rows")
               : error(what);
  }
  auto close = [&](bool drain) {
    if (!drain) {
      // The unread rest of a result would be read to its end by mysql_free_result(): cut the
      // connection first, so stopping is immediate (the session is dead afterwards).
      mariadb_cancel(mysql_);
    }
    mysql_free_result(res);
  };
  if (mysql_num_fields(res) != columns) {
    const unsigned got = mysql_num_fields(res);
    close(false);
    return make_error(Errc::Database,
                      what + " on " + dsn_.label() + ": returned " + std::to_string(got) +
                          " columns, expected " + std::to_string(columns),
                      ErrorSource::Upstream);
  }
  uint64_t n = 0;
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    if (!visit(RawRow(row, mysql_fetch_lengths(res)))) {
      close(false);
      return make_error(Errc::Unavailable, what + ": stopped");
    }
    ++n;
  }
  // NULL from mysql_fetch_row is the end of the rows or an error mid-stream.
  if (mysql_errno(mysql_) != 0) {
    Error e = error(what);
    close(false);
    return e;
  }
  close(true);
  return n;
}

}  // namespace sy::store
