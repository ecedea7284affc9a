#pragma once
// A parallel read of sy_contexts for the own profile's full load (store/directory_reader.h,
// docs/decisions.md 71): the table's id span is cut into key ranges (pages) that |sessions|
// threads, each with a BulkSession and a consistent snapshot of its own, take in turn and read
// in primary key order. Start it after the caller's own snapshot began (then every helper sees
// at least what the caller sees), do the caller's other reads, then finish().
//
// Threads: start() and finish() on the loader thread; the helpers are joined by finish() or by
// the destructor (which stops them first: a helper checks the stop flag per row and cuts its
// connection instead of draining the rest of a result). The first error of any helper stops
// the others and is what finish() returns; the caller retries the whole load as for any other
// database error.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "routing/directory_rows.h"
#include "store/db.h"

namespace sy::store {

struct ContextScanOptions {
  int sessions = 2;           // helper threads and connections
  int pages_per_session = 8;  // key ranges per helper: the work is shared as they finish
  bool galera = false;        // SET wsrep_sync_wait = 1 before the snapshot
  // The SELECT of one column that names the server (own profile: "server_id <n>" or "galera
  // cluster <uuid>") and what the caller's session read from it: a helper that reaches another
  // server behind the same DSN fails instead of reading it.
  std::string identity_sql;
  std::string identity;
};

// Schema name -> index in DirectoryData::schemas; string_view lookups (no allocation per row).
struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};
using SchemaNames = std::unordered_map<std::string, uint32_t, NameHash, std::equal_to<>>;

class ContextScan {
 public:
  // Reads ids |lo|..|hi| (inclusive) of sy_contexts from |dsn|; |known| maps the schema names
  // the caller already has (it must outlive the scan).
  ContextScan(Dsn dsn, ContextScanOptions options, uint64_t lo, uint64_t hi,
              const SchemaNames* known);
  ~ContextScan();
  ContextScan(const ContextScan&) = delete;
  ContextScan& operator=(const ContextScan&) = delete;

  void start();
  // Joins the helpers and appends every row, in id order, to |out|; a schema name the caller
  // did not know is resolved through |resolve| (which appends a synthesised schema).
  Result<Unit> finish(const std::function<uint32_t(const std::string&)>& resolve,
                      std::vector<routing::ContextRow>* out);

  size_t pages() const { return pages_.size(); }

 private:
  struct Page {
    uint64_t lo = 0, hi = 0;
    std::vector<routing::ContextRow> rows;
    // Names not in |known|: a row's schema_index kLocal + i means new_names[i].
    std::vector<std::string> new_names;
  };
  static constexpr uint32_t kLocal = 0x80000000u;
  static constexpr uint64_t kReserveCap = uint64_t{1} << 22;  // rows reserved per page, at most

  void helper();
  Result<Unit> read_page(class BulkSession& s, Page& page);
  void fail(Error e);
  void join();

  Dsn dsn_;
  ContextScanOptions opt_;
  const SchemaNames* known_;
  std::vector<Page> pages_;
  std::atomic<size_t> next_page_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::optional<Error> error_;  // the first failure (mu_)
  std::vector<std::thread> threads_;
};

}  // namespace sy::store
