#pragma once
// A bare MariaDB C API session for bulk reads: the directory's full load streams millions of
// rows, and Connector/C++'s per-row ResultSet machinery (a virtual call, validity checks and a
// std::string per column) cost more client CPU than the server spent producing them
// (docs/decisions.md 71, bench/RESULTS.md). Rows arrive as the C API's raw column pointers,
// valid during one visitor call. Everything else talks to the database through store/db.h.
//
// Errors are values in db.h's form (Errc::Database, "MySQL error <n> (<sqlstate>): <text>",
// source Upstream). Blocking: loader-side threads only (STYLE rule 3); one thread at a time per
// session.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "store/db.h"

struct st_mysql;

namespace sy::store {

// One row of a streamed result: column |i| (0-based) as the server sent it (text protocol);
// null() = SQL NULL.
class RawRow {
 public:
  RawRow(char** cols, const unsigned long* lens) : cols_(cols), lens_(lens) {}
  bool null(unsigned i) const { return cols_[i] == nullptr; }
  std::string_view text(unsigned i) const {
    return cols_[i] == nullptr ? std::string_view() : std::string_view(cols_[i], lens_[i]);
  }

 private:
  char** cols_;
  const unsigned long* lens_;
};

// Called per row; false = stop reading (the session is then cancelled: not reusable).
using RawVisitor = std::function<bool(const RawRow&)>;

class BulkSession {
 public:
  // Connects to |dsn| (the same options as Db::connect: utf8mb4, time_zone '+00:00', the
  // timeouts) and returns the session; the error names the DSN.
  static Result<std::unique_ptr<BulkSession>> connect(const Dsn& dsn,
                                                      std::chrono::milliseconds connect_timeout,
                                                      std::chrono::seconds io_timeout);
  ~BulkSession();
  BulkSession(const BulkSession&) = delete;
  BulkSession& operator=(const BulkSession&) = delete;

  // Fixed SQL text that returns no rows (SET, START TRANSACTION, COMMIT).
  Result<Unit> exec(std::string_view sql);
  // Runs fixed SQL text and streams its rows (mysql_use_result: nothing is buffered) through
  // |visit|. A result that is not |columns| wide is an error before the first row. Returns the
  // number of rows visited. A visitor that returns false ends the read at once (the rest of the
  // result is not drained: the session is closed, every later call fails) and the result is an
  // Errc::Unavailable error "stopped"; the caller reports its own reason.
  Result<uint64_t> stream(std::string_view sql, unsigned columns, const RawVisitor& visit);

  const Dsn& dsn() const { return dsn_; }

 private:
  BulkSession(Dsn dsn, st_mysql* mysql) : dsn_(std::move(dsn)), mysql_(mysql) {}
  Error error(std::string_view what) const;

  Dsn dsn_;
  st_mysql* mysql_;
};

}  // namespace sy::store
