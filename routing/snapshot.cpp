#include "routing/snapshot.h"

#include "common/ascii.h"

#include <sys/mman.h>

#include <bit>
#include <cassert>
#include <cstdlib>
#include <limits>
#include <new>
#include <unordered_set>
#include <utility>

namespace sy::routing {

namespace {

constexpr size_t kMinCapacity = 16;

// Smallest power of two >= kMinCapacity that keeps |n| entries at load <= 0.7.
size_t capacity_for(size_t n) {
  size_t cap = kMinCapacity;
  while (n * 10 > cap * 7) {
    cap *= 2;
  }
  return cap;
}

// Heap bytes of a std::string: libstdc++ keeps up to 15 chars inline.
size_t string_heap(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; }

// Rough per-node cost of a std::unordered_map node: the malloc header plus the "next" pointer.
constexpr size_t kNodeOverhead = 2 * sizeof(void*);

}  // namespace

namespace detail {

// ---- LargePageAllocator ------------------------------------------------------------------------

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}  // namespace

size_t large_allocation_size(size_t bytes) {
  return bytes < kHugePage ? bytes : (bytes + kHugePage - 1) / kHugePage * kHugePage;
}

void* large_allocate(size_t bytes) {
  if (bytes < kHugePage) {
    return ::operator new(bytes);
  }
  size_t rounded = large_allocation_size(bytes);
  void* p = std::aligned_alloc(kHugePage, rounded);
  if (p == nullptr) {
    throw std::bad_alloc();  // as operator new would; the loader catches it
  }
#ifdef MADV_HUGEPAGE
  (void)madvise(p, rounded, MADV_HUGEPAGE);  // a hint: failure only costs speed
#endif
  return p;
}

void large_deallocate(void* p, size_t bytes) {
  if (bytes < kHugePage) {
    ::operator delete(p);
  } else {
    std::free(p);
  }
}

// ---- ContextTable ------------------------------------------------------------------------------

ContextTable::ContextTable(size_t expected) { rehash(capacity_for(expected)); }

void ContextTable::rehash(size_t capacity) {
  decltype(slots_) old;
  old.swap(slots_);
  slots_.assign(capacity, ContextInfo{0, 0, 0, false});
  mask_ = capacity - 1;
  shift_ = 64 - static_cast<unsigned>(std::countr_zero(capacity));
  size_ = 0;
  for (const ContextInfo& e : old) {
    if (e.id != 0) {
      upsert(e);
    }
  }
}

void ContextTable::upsert(const ContextInfo& info) {
  // Look first, grow second: a delta that only updates existing contexts must not double a
  // table that sits just under the load limit.
  assert(info.id != 0);
  size_t i = home(info.id);
  for (; slots_[i].id != 0; i = (i + 1) & mask_) {
    if (slots_[i].id == info.id) {
      slots_[i] = info;
      return;
    }
  }
  // Not present; grow first if this insert would pass load 0.7 (then find the new empty slot).
  if ((size_ + 1) * 10 > slots_.size() * 7) {
    rehash(slots_.size() * 2);
    for (i = home(info.id); slots_[i].id != 0; i = (i + 1) & mask_) {
    }
  }
  slots_[i] = info;
  ++size_;
}

bool ContextTable::erase(ContextId id) {
  if (id == 0) {
    return false;
  }
  size_t hole = home(id);
  for (; slots_[hole].id != id; hole = (hole + 1) & mask_) {
    if (slots_[hole].id == 0) {
      return false;
    }
  }
  // Backward shift: pull later members of the probe run into the hole unless their home lies
  // cyclically in (hole, j], in which case moving them would put them before their home.
  for (size_t j = (hole + 1) & mask_; slots_[j].id != 0; j = (j + 1) & mask_) {
    size_t k = home(slots_[j].id);
    bool stays = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
    if (!stays) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole].id = 0;
  --size_;
  return true;
}

// ---- LoginIndex --------------------------------------------------------------------------------

namespace {

// FNV-1a over the bytes, lower-cased when |fold|: the same hash for every ASCII case.
uint32_t login_hash(std::string_view s, bool fold) {
  uint32_t h = 2166136261u;
  for (char c : s) {
    h = (h ^ static_cast<unsigned char>(fold ? ascii_lower(c) : c)) * 16777619u;
  }
  return h;
}

}  // namespace

size_t LoginIndex::find_slot(std::string_view login, uint32_t hash) const {
  size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    uint32_t s = slots_[i];
    if (s == 0) {
      return i;
    }
    const Entry& e = entries_[s - 1];
    if (e.hash == hash && (fold_case_ ? iequals(view(e), login) : view(e) == login)) {
      return i;
    }
  }
}

std::optional<ContextId> LoginIndex::find(std::string_view login) const {
  if (slots_.empty()) {
    return std::nullopt;
  }
  uint32_t s = slots_[find_slot(login, login_hash(login, fold_case_))];
  if (s == 0) {
    return std::nullopt;
  }
  return entries_[s - 1].context;
}

bool LoginIndex::upsert(std::string_view login, ContextId context) {
  if (slots_.empty()) {
    rehash(kMinCapacity);
  }
  uint32_t hash = login_hash(login, fold_case_);
  size_t i = find_slot(login, hash);
  if (slots_[i] != 0) {
    entries_[slots_[i] - 1].context = context;
    return true;
  }
  constexpr size_t kMax = std::numeric_limits<uint32_t>::max();
  if (bytes_.size() + login.size() > kMax || entries_.size() + 1 >= kMax) {
    return false;  // offsets and entry numbers are 32-bit
  }
  if ((entries_.size() + 1) * 10 > slots_.size() * 7) {
    rehash(slots_.size() * 2);
    i = find_slot(login, hash);
  }
  entries_.push_back(Entry{static_cast<uint32_t>(bytes_.size()),
                           static_cast<uint32_t>(login.size()), context, hash});
  if (fold_case_) {
    for (char c : login) {
      bytes_ += ascii_lower(c);
    }
  } else {
    bytes_.append(login);
  }
  slots_[i] = static_cast<uint32_t>(entries_.size());
  return true;
}

void LoginIndex::rehash(size_t capacity) {
  slots_.assign(capacity, 0);
  size_t mask = capacity - 1;
  for (size_t n = 0; n < entries_.size(); ++n) {
    size_t i = entries_[n].hash & mask;
    while (slots_[i] != 0) {
      i = (i + 1) & mask;
    }
    slots_[i] = static_cast<uint32_t>(n + 1);
  }
}

size_t LoginIndex::memory_bytes() const {
  return string_heap(bytes_) + entries_.capacity() * sizeof(Entry) +
         slots_.capacity() * sizeof(uint32_t);
}

}  // namespace detail

// ---- RoutingSnapshot ---------------------------------------------------------------------------

namespace {

// Linear: an instance configures a handful of pools, and this runs per server row, not per
// request (the result is cached in server_pool_).
int pool_index(const std::vector<std::string>& pools, const std::string& name) {
  if (name.empty()) {
    return -1;
  }
  for (size_t i = 0; i < pools.size(); ++i) {
    if (pools[i] == name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace

void RoutingSnapshot::upsert_server(ServerRow row) {
  if (row.id == 0) {
    ++rejected_rows_;
    return;
  }
  int pool = pool_index(pool_names_, row.pool);
  auto it = server_index_.find(row.id);
  if (it != server_index_.end()) {
    servers_[it->second] = std::move(row);
    server_pool_[it->second] = pool;
    return;
  }
  server_index_.emplace(row.id, static_cast<uint32_t>(servers_.size()));
  servers_.push_back(std::move(row));
  server_pool_.push_back(pool);
}

void RoutingSnapshot::remove_server(ServerId id) {
  auto it = server_index_.find(id);
  if (it == server_index_.end()) {
    return;
  }
  size_t pos = it->second;
  servers_.erase(servers_.begin() + static_cast<std::ptrdiff_t>(pos));
  server_pool_.erase(server_pool_.begin() + static_cast<std::ptrdiff_t>(pos));
  server_index_.erase(it);
  for (auto& [sid, index] : server_index_) {
    if (index > pos) {
      --index;
    }
  }
}

uint32_t RoutingSnapshot::add_schema(SchemaRow row) {
  auto index = static_cast<uint32_t>(schemas_.size());
  schema_by_name_.emplace(row.name, index);  // a duplicate name keeps the first index
  schemas_.push_back(std::move(row));
  return index;
}

std::shared_ptr<const RoutingSnapshot>
RoutingSnapshot::build(DirectoryData data, const SnapshotInput& in, uint64_t generation) {
  // The constructor is private, so no make_shared; the separate control block is negligible.
  std::shared_ptr<RoutingSnapshot> s(new RoutingSnapshot());
  s->pool_names_ = in.pool_names;
  s->generation_ = generation;
  s->change_seq_ = data.change_seq;

  s->servers_.reserve(data.servers.size());
  for (ServerRow& row : data.servers) {
    s->upsert_server(std::move(row));
  }
  s->schemas_.reserve(data.schemas.size());
  for (SchemaRow& row : data.schemas) {
    s->add_schema(std::move(row));
  }

  s->logins_.set_fold_case(in.fold_login_case);
  s->contexts_ = detail::ContextTable(data.contexts.size());
  for (const ContextRow& row : data.contexts) {
    if (row.id == 0 || row.schema_index >= s->schemas_.size()) {
      ++s->rejected_rows_;
      continue;
    }
    s->contexts_.upsert(ContextInfo{row.id, row.schema_index, row.server_id, row.enabled});
  }

  // A login naming an unknown context is kept: decide() answers CTX-0003 for it, which tells an
  // operator more than a silently missing login (CTX-0002) would.
  for (const LoginRow& row : data.logins) {
    if (row.context_id == 0 || !s->logins_.upsert(row.login, row.context_id)) {
      ++s->rejected_rows_;
    }
  }
  return s;
}

std::shared_ptr<const RoutingSnapshot> RoutingSnapshot::apply(const DirectoryDelta& d,
                                                              uint64_t generation) const {
  // Copy, then edit the copy: this snapshot may be pinned by requests on every worker. A full
  // copy (a few ms at 1M contexts with huge pages) is simpler and faster to read than a
  // persistent/shared structure, and deltas arrive at most once per refresh interval.
  std::shared_ptr<RoutingSnapshot> s(new RoutingSnapshot(*this));
  s->generation_ = generation;
  s->change_seq_ = d.to_seq;
  s->rejected_rows_ = 0;

  for (const ServerRow& row : d.servers) {
    s->upsert_server(row);
  }
  for (const SchemaRow& row : d.schemas) {
    if (auto index = s->schema_index(row.name)) {
      s->schemas_[*index] = row;
    } else {
      s->add_schema(row);
    }
  }

  // Delta-local schema index -> snapshot schema index; unknown names become enabled schemas
  // without a server (the contexts carry theirs, or a later delta brings the schema row).
  std::vector<uint32_t> local_to_index;
  auto resolve = [&](const std::string& name) {
    if (auto index = s->schema_index(name)) {
      local_to_index.push_back(*index);
    } else {
      local_to_index.push_back(s->add_schema(SchemaRow{name, SchemaState::Enabled, 0}));
    }
  };
  if (!d.schema_names.empty()) {
    for (const std::string& name : d.schema_names) {
      resolve(name);
    }
  } else {
    for (const SchemaRow& row : d.schemas) {
      resolve(row.name);
    }
  }

  for (const ContextRow& row : d.contexts) {
    if (row.id == 0 || row.schema_index >= local_to_index.size()) {
      ++s->rejected_rows_;
      continue;
    }
    s->contexts_.upsert(
        ContextInfo{row.id, local_to_index[row.schema_index], row.server_id, row.enabled});
  }
  // Removals after upserts: a row both upserted and removed in one delta is gone.
  for (ContextId id : d.removed_contexts) {
    s->contexts_.erase(id);
  }
  for (ServerId id : d.removed_servers) {
    s->remove_server(id);  // its contexts now get CTX-0010 (unknown server)
  }
  for (const std::string& name : d.removed_schemas) {
    // The index must survive: contexts and held requests refer to it. The name stays, with the
    // defaults a schema known only by name gets (enabled, no server).
    if (auto index = s->schema_index(name)) {
      s->schemas_[*index] = SchemaRow{name, SchemaState::Enabled, 0};
    }
  }

  if (!d.logins.empty() || !d.removed_logins.empty()) {
    // The arena cannot erase in place; rebuild it without the changed logins, then add the
    // upserts. A login both upserted and removed is gone, as for contexts.
    // Keys as the index stores them (lower-cased when it folds case).
    auto key = [fold = logins_.fold_case()](std::string_view login) {
      std::string k(login);
      if (fold) {
        for (char& c : k) {
          c = ascii_lower(c);
        }
      }
      return k;
    };
    std::unordered_set<std::string> removed;
    for (const std::string& login : d.removed_logins) {
      removed.insert(key(login));
    }
    std::unordered_set<std::string> changed = removed;
    for (const LoginRow& row : d.logins) {
      changed.insert(key(row.login));
    }
    detail::LoginIndex logins;
    logins.copy_from(
        logins_, [&](std::string_view login) { return changed.count(std::string(login)) != 0; });
    for (const LoginRow& row : d.logins) {
      if (removed.count(key(row.login)) != 0) {
        continue;
      }
      if (row.context_id == 0 || !logins.upsert(row.login, row.context_id)) {
        ++s->rejected_rows_;
      }
    }
    s->logins_ = std::move(logins);
  }
  return s;
}

const SchemaRow& RoutingSnapshot::schema(uint32_t index) const {
  assert(index < schemas_.size());
  return schemas_[index];
}

std::optional<uint32_t> RoutingSnapshot::schema_index(std::string_view name) const {
  auto it = schema_by_name_.find(name);
  if (it == schema_by_name_.end()) {
    return std::nullopt;
  }
  return it->second;
}

const ServerRow* RoutingSnapshot::server(ServerId id) const {
  auto it = server_index_.find(id);
  return it == server_index_.end() ? nullptr : &servers_[it->second];
}

int RoutingSnapshot::pool_of_server(ServerId id) const {
  auto it = server_index_.find(id);
  return it == server_index_.end() ? -1 : server_pool_[it->second];
}

size_t RoutingSnapshot::memory_bytes() const {
  size_t n = sizeof(*this);
  n += pool_names_.capacity() * sizeof(std::string);
  for (const std::string& p : pool_names_) {
    n += string_heap(p);
  }
  n += servers_.capacity() * sizeof(ServerRow);
  for (const ServerRow& r : servers_) {
    n += string_heap(r.name) + string_heap(r.pool) + string_heap(r.version) +
         string_heap(r.redirect_url);
  }
  n += server_pool_.capacity() * sizeof(int);
  n += server_index_.bucket_count() * sizeof(void*) +
       server_index_.size() * (sizeof(std::pair<const ServerId, uint32_t>) + kNodeOverhead);
  n += schemas_.capacity() * sizeof(SchemaRow);
  for (const SchemaRow& r : schemas_) {
    n += string_heap(r.name);
  }
  // Name map nodes: key copy + value + cached hash.
  n += schema_by_name_.bucket_count() * sizeof(void*);
  for (const auto& [name, index] : schema_by_name_) {
    n += sizeof(std::pair<const std::string, uint32_t>) + sizeof(size_t) + kNodeOverhead +
         string_heap(name);
  }
  n += contexts_.memory_bytes();
  n += logins_.memory_bytes();
  return n;
}

}  // namespace sy::routing
