// The own profile's parallel sy_contexts read (store/context_scan.h).

#include "store/context_scan.h"

#include <algorithm>
#include <charconv>
#include <mutex>

#include "store/bulk_session.h"

namespace sy::store {

namespace {

template <class T>
bool parse_uint(std::string_view text, T* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

ContextScan::ContextScan(Dsn dsn, ContextScanOptions options, uint64_t lo, uint64_t hi,
                         const SchemaNames* known)
    : dsn_(std::move(dsn)), opt_(std::move(options)), known_(known) {
  opt_.sessions = std::max(1, opt_.sessions);
  const uint64_t want = static_cast<uint64_t>(opt_.sessions) *
                        static_cast<uint64_t>(std::max(1, opt_.pages_per_session));
  const uint64_t span = hi - lo + 1;  // ids are 32-bit: no overflow
  const uint64_t width = (span + want - 1) / want;
  for (uint64_t first = lo; first <= hi; first += width) {
    Page p;
    p.lo = first;
    p.hi = std::min(hi, first + width - 1);
    pages_.push_back(std::move(p));
  }
}

ContextScan::~ContextScan() {
  stop_ = true;
  join();
}

void ContextScan::start() {
  for (int i = 0; i < opt_.sessions; ++i) {
    threads_.emplace_back([this] { helper(); });
  }
}

void ContextScan::join() {
  for (std::thread& t : threads_) {
    t.join();
  }
  threads_.clear();
}

void ContextScan::fail(Error e) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!error_) {
    error_ = std::move(e);
  }
  stop_ = true;
}

void ContextScan::helper() {
  auto s = BulkSession::connect(dsn_, std::chrono::seconds(5), std::chrono::seconds(120));
  if (!s) {
    fail(s.error());
    return;
  }
  BulkSession& session = **s;
  for (const char* sql :
       {"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
        opt_.galera ? "SET SESSION wsrep_sync_wait = 1" : nullptr,
        "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"}) {
    if (sql == nullptr) {
      continue;
    }
    if (auto r = session.exec(sql); !r) {
      fail(r.error());
      return;
    }
  }
  std::string identity;
  auto r = session.stream(opt_.identity_sql, 1, [&](const RawRow& row) {
    identity = std::string(row.text(0));
    return true;
  });
  if (!r) {
    fail(r.error());
    return;
  }
  if (identity != opt_.identity) {
    fail(make_error(Errc::Database,
                    "parallel directory read on " + dsn_.label() + " reached " + identity +
                        ", not the loader's " + opt_.identity,
                    ErrorSource::Upstream));
    return;
  }
  for (size_t i = next_page_++; i < pages_.size() && !stop_; i = next_page_++) {
    if (auto page = read_page(session, pages_[i]); !page) {
      fail(page.error());
      return;
    }
  }
}

Result<Unit> ContextScan::read_page(BulkSession& s, Page& page) {
  // Numbers this code computed, not values from outside: fixed text is safe here.
  const std::string sql = "SELECT id, schema_name, enabled, server_id FROM sy_contexts"
                          " WHERE id BETWEEN " +
                          std::to_string(page.lo) + " AND " + std::to_string(page.hi) +
                          " ORDER BY id";
  // Room for a dense page up front (ids are mostly dense): no regrowth copies while reading.
  // Reserving does not touch the memory, so a sparse page costs address space only.
  page.rows.reserve(std::min<uint64_t>(page.hi - page.lo + 1, kReserveCap));
  std::string last_name;
  uint32_t last_index = 0;
  bool have_last = false;
  std::string bad;
  auto n = s.stream(sql, 4, [&](const RawRow& row) {
    if (stop_.load(std::memory_order_relaxed)) {
      return false;
    }
    routing::ContextRow c;
    if (!parse_uint(row.text(0), &c.id) ||
        (!row.null(3) && !parse_uint(row.text(3), &c.server_id))) {
      bad = "a context row with id '" + std::string(row.text(0)) + "' and server_id '" +
            std::string(row.text(3)) + "' that are not 32-bit numbers";
      return false;
    }
    const std::string_view name = row.text(1);
    if (!have_last || name != last_name) {
      if (auto it = known_->find(name); it != known_->end()) {
        last_index = it->second;
      } else {
        last_index = kLocal + static_cast<uint32_t>(page.new_names.size());
        page.new_names.emplace_back(name);
      }
      last_name.assign(name);
      have_last = true;
    }
    c.schema_index = last_index;
    c.enabled = row.text(2) != "0";
    page.rows.push_back(c);
    return true;
  });
  if (!bad.empty()) {
    return make_error(Errc::Database, "sy_contexts on " + s.dsn().label() + ": " + bad,
                      ErrorSource::Upstream);
  }
  if (!n) {
    return n.error();
  }
  return ok_result();
}

Result<Unit> ContextScan::finish(const std::function<uint32_t(const std::string&)>& resolve,
                                 std::vector<routing::ContextRow>* out) {
  join();
  if (error_) {
    return *error_;
  }
  size_t total = out->size();
  for (const Page& p : pages_) {
    total += p.rows.size();
  }
  out->reserve(total);
  std::vector<uint32_t> global;
  for (Page& p : pages_) {
    global.clear();
    for (const std::string& name : p.new_names) {
      global.push_back(resolve(name));
    }
    const size_t at = out->size();
    out->insert(out->end(), p.rows.begin(), p.rows.end());  // one copy of the block
    if (!global.empty()) {
      for (auto it = out->begin() + static_cast<ptrdiff_t>(at); it != out->end(); ++it) {
        if (it->schema_index >= kLocal) {
          it->schema_index = global[it->schema_index - kLocal];
        }
      }
    }
    p.rows = {};  // give the page back now: the rows exist twice only page by page
  }
  return ok_result();
}

}  // namespace sy::store
