#pragma once
// Running a statement with values, in one call: the helper every caller above the session uses
// instead of prepare -> bind -> run -> check.
//
//   auto n = exec(db, "UPDATE sy_upgrade_runs SET status = ? WHERE id = ?", "done", run_id);
//   auto run = query_one(db, "SELECT id, status FROM sy_upgrade_runs WHERE id = ?",
//                        [](const Row& r) { return RunRow{r.u64(1), r.str(2)}; }, run_id);
//   auto all = query_all(db, "SELECT ... ORDER BY id DESC LIMIT ?", read_run, int64_t{20});
//   auto seq = query_value<uint64_t>(db, "SELECT COALESCE(MAX(seq), 0) FROM sy_changes");
//   auto n = query_each(db, "SELECT ... WHERE run_id = ?", visitor, run_id);  // streamed
//
// Parameters bind in order (int32/uint32/int64/uint64, strings, kNull, std::optional<T>). Every
// statement is the session's cached one (Db::cached): prepared on first use, then reused, so a
// loop or a long run prepares each statement once.
//
// Errors are the session's (Errc::Database, source Upstream, the statement and the server in the
// message); the admin's typed row functions add their context with db_error (store/db_error.h).
//
// run() below is the single place every statement passes through: a check of the session's DSN
// role (primary / replica) goes there. Deadlocks and lock wait timeouts are retried per whole
// transaction, not per statement (a deadlock rolls the transaction back): see
// with_conflict_retries in store/db.h.
// Loader, admin and upgrade threads only (every call blocks on the network).

#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/result.h"
#include "store/db.h"

namespace sy::store {

// Binds SQL NULL.
struct Null {};
inline constexpr Null kNull{};

namespace detail {

inline void bind_one(Stmt& s, Null) { s.bind_null(); }
inline void bind_one(Stmt& s, int32_t v) { s.bind(v); }
inline void bind_one(Stmt& s, uint32_t v) { s.bind(v); }
inline void bind_one(Stmt& s, int64_t v) { s.bind(v); }
inline void bind_one(Stmt& s, uint64_t v) { s.bind(v); }
inline void bind_one(Stmt& s, std::string_view v) { s.bind(v); }
inline void bind_one(Stmt& s, const char* v) { s.bind(v); }
inline void bind_one(Stmt& s, const std::string& v) { s.bind(v); }
template <class T>
void bind_one(Stmt& s, const std::optional<T>& v) {
  if (v) {
    bind_one(s, *v);
  } else {
    s.bind_null();
  }
}

// Takes the session's statement for |sql|, binds |args| and calls |go|(stmt). The one place
// every statement passes through (see the top of this file).
template <class Go, class... Args>
auto run(Db& db, std::string_view sql, Go&& go, const Args&... args)
    -> decltype(go(std::declval<Stmt&>())) {
  auto stmt = db.cached(sql);
  if (!stmt) {
    return stmt.error();
  }
  (bind_one(**stmt, args), ...);
  return go(**stmt);
}

}  // namespace detail

// Runs a statement that returns no rows; the number of rows it changed.
template <class... Args>
Result<uint64_t> exec(Db& db, std::string_view sql, const Args&... args) {
  return detail::run(
      db, sql, [](Stmt& s) { return s.exec(); }, args...);
}

// Runs a query and calls |visit| for every row (streamed; see RowVisitor); the row count.
template <class... Args>
Result<uint64_t> query_each(Db& db, std::string_view sql, const RowVisitor& visit,
                            const Args&... args) {
  return detail::run(
      db, sql, [&](Stmt& s) { return s.query(visit); }, args...);
}

// Every row, each turned into a value by |read|(const Row&).
template <class Read, class... Args>
auto query_all(Db& db, std::string_view sql, Read&& read, const Args&... args)
    -> Result<std::vector<std::invoke_result_t<Read&, const Row&>>> {
  std::vector<std::invoke_result_t<Read&, const Row&>> out;
  auto r = query_each(
      db, sql, [&](const Row& row) { out.push_back(read(row)); }, args...);
  if (!r) {
    return r.error();
  }
  return out;
}

// The first row turned into a value by |read|, or nullopt when there is none (further rows are
// read and dropped: add LIMIT 1 when there may be many).
template <class Read, class... Args>
auto query_one(Db& db, std::string_view sql, Read&& read, const Args&... args)
    -> Result<std::optional<std::invoke_result_t<Read&, const Row&>>> {
  std::optional<std::invoke_result_t<Read&, const Row&>> out;
  auto r = query_each(
      db, sql,
      [&](const Row& row) {
        if (!out) {
          out.emplace(read(row));
        }
      },
      args...);
  if (!r) {
    return r.error();
  }
  return out;
}

// Column 1 of the first row as T (bool, int32_t, uint32_t, int64_t, uint64_t, std::string), or
// T{} when there is no row.
template <class T, class... Args>
Result<T> query_value(Db& db, std::string_view sql, const Args&... args) {
  auto r = query_one(
      db, sql,
      [](const Row& row) -> T {
        if constexpr (std::is_same_v<T, bool>) {
          return row.boolean(1);
        } else if constexpr (std::is_same_v<T, int32_t>) {
          return row.i32(1);
        } else if constexpr (std::is_same_v<T, uint32_t>) {
          return row.u32(1);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          return row.i64(1);
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          return row.u64(1);
        } else {
          return row.str(1);
        }
      },
      args...);
  if (!r) {
    return r.error();
  }
  return r->value_or(T{});
}

// |r| as Result<Unit> (for exec() whose row count does not matter).
inline Result<Unit> done(const Result<uint64_t>& r) {
  if (!r) {
    return r.error();
  }
  return ok_result();
}

}  // namespace sy::store
