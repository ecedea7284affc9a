#include "routing/snapshot_tables.h"

#include "common/ascii.h"

#include <sys/mman.h>

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <limits>
#include <map>
#include <new>
#include <unordered_set>
#include <utility>

namespace sy::routing::detail {

namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kMinCapacity = 16;

std::atomic<size_t> g_live_bytes{0};

bool over_max_load(size_t entries, size_t capacity) { return entries * 10 > capacity * 7; }

// Smallest b <= max_bits with n <= target << b.
unsigned bits_for_count(size_t n, size_t target, unsigned max_bits) {
  unsigned b = 0;
  while (b < max_bits && n > (target << b)) {
    ++b;
  }
  return b;
}

unsigned shift_for(unsigned bits) { return bits == 0 ? 63 : 64 - bits; }

}  // namespace

// ---- large_allocate ----------------------------------------------------------------------------

size_t large_allocation_size(size_t bytes) {
  return bytes < kHugePage ? bytes : (bytes + kHugePage - 1) / kHugePage * kHugePage;
}

void* large_allocate(size_t bytes) {
  g_live_bytes.fetch_add(large_allocation_size(bytes), std::memory_order_relaxed);
  if (bytes < kHugePage) {
    return ::operator new(bytes);
  }
  size_t rounded = large_allocation_size(bytes);
  void* p = std::aligned_alloc(kHugePage, rounded);
  if (p == nullptr) {
    g_live_bytes.fetch_sub(rounded, std::memory_order_relaxed);
    throw std::bad_alloc();  // as operator new would; the loader catches it
  }
#ifdef MADV_HUGEPAGE
  (void)madvise(p, rounded, MADV_HUGEPAGE);  // a hint: failure only costs speed
#endif
  return p;
}

void large_deallocate(void* p, size_t bytes) {
  g_live_bytes.fetch_sub(large_allocation_size(bytes), std::memory_order_relaxed);
  if (bytes < kHugePage) {
    ::operator delete(p);
  } else {
    std::free(p);
  }
}

size_t table_bytes_live() { return g_live_bytes.load(std::memory_order_relaxed); }

// ---- Slab --------------------------------------------------------------------------------------

namespace {
constexpr size_t kSliceAlign = 64;  // a cache line: slices never share one
constexpr uintptr_t kPage = 4096;
}  // namespace

Slab::Slab(size_t bytes) : size_((bytes + kHugePage - 1) / kHugePage * kHugePage) {
  base_ = static_cast<char*>(std::aligned_alloc(kHugePage, size_));
  if (base_ == nullptr) {
    throw std::bad_alloc();
  }
  g_live_bytes.fetch_add(size_, std::memory_order_relaxed);
#ifdef MADV_HUGEPAGE
  (void)madvise(base_, size_, MADV_HUGEPAGE);  // hints: failure only costs speed
#endif
#ifdef MADV_POPULATE_WRITE
  (void)madvise(base_, size_, MADV_POPULATE_WRITE);
#endif
}

Slab::~Slab() {
  g_live_bytes.fetch_sub(size_ - released_.load(std::memory_order_relaxed),
                         std::memory_order_relaxed);
  std::free(base_);
}

void* Slab::take(size_t bytes) {
  const size_t at = (used_ + kSliceAlign - 1) / kSliceAlign * kSliceAlign;
  if (at + bytes > size_) {
    return nullptr;
  }
  used_ = at + bytes;
  return base_ + at;
}

void Slab::release(void* p, size_t bytes) {
  released_.fetch_add(bytes, std::memory_order_relaxed);
  g_live_bytes.fetch_sub(bytes, std::memory_order_relaxed);
  // Only the pages wholly inside the slice: its neighbours may still be in use.
  const auto begin = (reinterpret_cast<uintptr_t>(p) + kPage - 1) & ~(kPage - 1);
  const auto end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kPage - 1);
  if (end > begin) {
    (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
  }
}

// ---- ContextTable ------------------------------------------------------------------------------

size_t ContextTable::capacity_for(size_t n) { return std::max(kMinCapacity, (n * 20 + 12) / 13); }

ContextTable::ContextTable(size_t expected, Allocator alloc)
    : slots_(capacity_for(expected), ContextInfo{0, 0, 0, false}, std::move(alloc)) {}

void ContextTable::rehash(size_t capacity) {
  decltype(slots_) old;
  old.swap(slots_);
  slots_.assign(capacity, ContextInfo{0, 0, 0, false});
  size_ = 0;
  for (const ContextInfo& e : old) {
    if (e.id != 0) {
      upsert(e);
    }
  }
}

void ContextTable::shrink_if_sparse() {
  if (slots_.size() > kMinCapacity && size_ * 4 < slots_.size() &&
      capacity_for(size_) < slots_.size()) {
    rehash(capacity_for(size_));
  }
}

ContextTable::Upsert ContextTable::upsert(const ContextInfo& info) {
  // Look first, grow second: a delta that only updates existing contexts must not grow a
  // table that sits just under the load limit.
  assert(info.id != 0);
  const size_t cap = slots_.size();
  size_t i = home(info.id, cap);
  for (; slots_[i].id != 0; i = i + 1 == cap ? 0 : i + 1) {
    if (slots_[i].id == info.id) {
      if (slots_[i] == info) {
        return Upsert::Unchanged;
      }
      slots_[i] = info;
      return Upsert::Updated;
    }
  }
  if (over_max_load(size_ + 1, cap)) {
    // Grow by a quarter beyond the target load, so a run of inserts rehashes rarely.
    rehash(capacity_for(size_ + 1 + (size_ + 1) / 4));
    return upsert(info);
  }
  slots_[i] = info;
  ++size_;
  return Upsert::Inserted;
}

bool ContextTable::erase(ContextId id) {
  if (id == 0) {
    return false;
  }
  const size_t cap = slots_.size();
  auto next = [cap](size_t i) { return i + 1 == cap ? 0 : i + 1; };
  size_t hole = home(id, cap);
  for (; slots_[hole].id != id; hole = next(hole)) {
    if (slots_[hole].id == 0) {
      return false;
    }
  }
  // Backward shift: pull later members of the probe run into the hole unless their home lies
  // cyclically in (hole, j], in which case moving them would put them before their home.
  for (size_t j = next(hole); slots_[j].id != 0; j = next(j)) {
    size_t k = home(slots_[j].id, cap);
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

size_t ContextTable::memory_bytes() const {
  return large_allocation_size(slots_.capacity() * sizeof(ContextInfo));
}

// ---- LoginIndex --------------------------------------------------------------------------------

uint32_t LoginIndex::hash(std::string_view s, bool fold) {
  uint32_t h = 2166136261u;
  for (char c : s) {
    h = (h ^ static_cast<unsigned char>(fold ? ascii_lower(c) : c)) * 16777619u;
  }
  return h;
}

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

std::optional<ContextId> LoginIndex::find(std::string_view login, uint32_t h) const {
  if (slots_.empty()) {
    return std::nullopt;
  }
  uint32_t s = slots_[find_slot(login, h)];
  if (s == 0) {
    return std::nullopt;
  }
  return entries_[s - 1].context;
}

size_t LoginIndex::slot_capacity_for(size_t logins) {
  size_t cap = kMinCapacity;
  while (over_max_load(logins, cap)) {
    cap *= 2;
  }
  return cap;
}

size_t LoginIndex::reserved_bytes(size_t logins, size_t bytes) {
  return bytes + 1 + logins * sizeof(Entry) + slot_capacity_for(logins) * sizeof(uint32_t);
}

LoginIndex::LoginIndex(bool fold_case, size_t logins, size_t bytes, TableAllocator<char> alloc)
    : bytes_(alloc), entries_(alloc), slots_(alloc), fold_case_(fold_case) {
  bytes_.reserve(bytes);
  entries_.reserve(logins);
  slots_.assign(slot_capacity_for(logins), 0);
}

bool LoginIndex::upsert(std::string_view login, ContextId context, uint32_t h) {
  if (slots_.empty()) {
    rehash(kMinCapacity);
  }
  size_t i = find_slot(login, h);
  if (slots_[i] != 0) {
    entries_[slots_[i] - 1].context = context;
    return true;
  }
  constexpr size_t kMax = std::numeric_limits<uint32_t>::max();
  if (bytes_.size() + login.size() > kMax || entries_.size() + 1 >= kMax) {
    return false;  // offsets and entry numbers are 32-bit
  }
  if (over_max_load(entries_.size() + 1, slots_.size())) {
    rehash(slots_.size() * 2);
    i = find_slot(login, h);
  }
  entries_.push_back(
      Entry{static_cast<uint32_t>(bytes_.size()), static_cast<uint32_t>(login.size()), context, h});
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
  const size_t arena = bytes_.capacity() > 15 ? large_allocation_size(bytes_.capacity() + 1) : 0;
  return arena + large_allocation_size(entries_.capacity() * sizeof(Entry)) +
         large_allocation_size(slots_.capacity() * sizeof(uint32_t));
}

// ---- ContextIndex ------------------------------------------------------------------------------

unsigned ContextIndex::bits_for(size_t contexts) {
  return bits_for_count(contexts, kShardTarget, kMaxBits);
}

ContextIndex::ContextIndex(size_t expected)
    : shards_(bits_for(expected)), shift_(shift_for(shards_.bits())), mask_(shards_.size() - 1) {}

void ContextIndex::presize(const std::vector<uint32_t>& counts) {
  assert(counts.size() == shards_.size());
  // One slab for all of them when it pays (a full load of some size), else the heap.
  size_t bytes = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] != 0) {
      bytes +=
          ContextTable::capacity_for(shards_.shard(i).size() + counts[i]) * sizeof(ContextInfo) +
          64;
    }
  }
  ContextTable::Allocator alloc;
  if (bytes >= kHugePage) {
    alloc = ContextTable::Allocator(std::make_shared<Slab>(bytes));
  }
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] != 0) {
      const ContextTable& old = shards_.shard(i);
      ContextTable t(old.size() + counts[i], alloc);
      old.for_each([&](const ContextInfo& e) { t.upsert(e); });
      shards_.replace(i, std::move(t));
    }
  }
}

bool ContextIndex::upsert(const ContextInfo& info) {
  const size_t s = shard_of(info.id);
  if (!shards_.owns(s)) {
    // Look before copying: a row equal to what the shard holds must not copy it.
    const ContextInfo* old = ContextTable::find(shards_.view(s), info.id);
    if (old != nullptr && *old == info) {
      return false;
    }
  }
  auto r = ContextTable::Upsert::Unchanged;
  shards_.modify(s, [&](ContextTable& t) { r = t.upsert(info); });
  size_ += r == ContextTable::Upsert::Inserted;
  return r != ContextTable::Upsert::Unchanged;
}

bool ContextIndex::upsert_presized(const ContextInfo& info) {
  const size_t s = shard_of(info.id);
  assert(shards_.owns(s));
  auto r = ContextTable::Upsert::Unchanged;
  shards_.modify(s, [&](ContextTable& t) { r = t.upsert(info); });
  return r == ContextTable::Upsert::Inserted;
}

bool ContextIndex::erase(ContextId id) {
  const size_t s = shard_of(id);
  if (ContextTable::find(shards_.view(s), id) == nullptr) {
    return false;
  }
  --size_;
  shards_.modify(s, [&](ContextTable& t) { t.erase(id); });
  return true;
}

void ContextIndex::end_edit() {
  shards_.end_edit([](ContextTable& t) { t.shrink_if_sparse(); });
  if (shards_.bits() < kMaxBits && size_ > (kShardTarget * 8) << shards_.bits()) {
    // Grown by deltas far past what the shard count was chosen for (e.g. a directory that
    // started empty): one rebuild now keeps every later delta as cheap as after a full load.
    ContextIndex bigger(size_);
    std::vector<uint32_t> counts(bigger.shard_count(), 0);
    for (size_t i = 0; i < shard_count(); ++i) {
      shard(i).for_each([&](const ContextInfo& e) { ++counts[bigger.shard_of(e.id)]; });
    }
    bigger.presize(counts);
    for (size_t i = 0; i < shard_count(); ++i) {
      shard(i).for_each([&](const ContextInfo& e) { bigger.upsert(e); });
    }
    bigger.shards_.end_edit();
    *this = std::move(bigger);
  }
}

size_t ContextIndex::memory_bytes() const {
  return shards_.memory_bytes([](const ContextTable& t) { return t.memory_bytes(); });
}

// ---- LoginShards -------------------------------------------------------------------------------

unsigned LoginShards::bits_for(size_t logins) {
  return bits_for_count(logins, kShardTarget, kMaxBits);
}

LoginShards::LoginShards(size_t expected, bool fold_case)
    : shards_(bits_for(expected), LoginIndex(fold_case)), fold_case_(fold_case),
      shift_(shift_for(shards_.bits())), mask_(shards_.size() - 1) {}

void LoginShards::build(const std::vector<LoginRow>& rows, size_t* rejected) {
  std::vector<uint32_t> count(shards_.size(), 0);
  std::vector<size_t> bytes(shards_.size(), 0);
  for (const LoginRow& row : rows) {
    if (row.context_id != 0) {
      const size_t s = shard_of(LoginIndex::hash(row.login, fold_case_));
      ++count[s];
      bytes[s] += row.login.size();
    }
  }
  size_t total = 0;
  for (size_t s = 0; s < count.size(); ++s) {
    if (count[s] != 0) {
      total += LoginIndex::reserved_bytes(count[s], bytes[s]) + 3 * 64;
    }
  }
  TableAllocator<char> alloc;
  if (total >= kHugePage) {
    alloc = TableAllocator<char>(std::make_shared<Slab>(total));
  }
  for (size_t s = 0; s < count.size(); ++s) {
    if (count[s] != 0) {
      shards_.replace(s, LoginIndex(fold_case_, count[s], bytes[s], alloc));
    }
  }
  for (const LoginRow& row : rows) {
    if (row.context_id == 0 || !upsert(row.login, row.context_id)) {
      ++*rejected;
    }
  }
}

bool LoginShards::upsert(std::string_view login, ContextId context) {
  const uint32_t h = LoginIndex::hash(login, fold_case_);
  const size_t s = shard_of(h);
  const LoginIndex* shard = shards_.view(s);
  if (!shards_.owns(s) && shard->find(login, h) == std::optional<ContextId>(context)) {
    return true;  // already so: nothing to copy
  }
  const size_t before = shard->size();
  bool ok = false;
  size_t after = before;
  shards_.modify(s, [&](LoginIndex& l) {
    ok = l.upsert(login, context, h);
    after = l.size();
  });
  size_ += after - before;
  return ok;
}

void LoginShards::apply(const std::vector<LoginRow>& upserts,
                        const std::vector<std::string>& removed, size_t* rejected) {
  // Keys as the shards store them (lower-cased when folding), grouped by shard.
  auto key = [this](std::string_view login) {
    std::string k(login);
    if (fold_case_) {
      for (char& c : k) {
        c = ascii_lower(c);
      }
    }
    return k;
  };
  std::unordered_set<std::string> gone;  // removed logins
  std::unordered_set<std::string> changed;
  std::map<size_t, std::vector<const LoginRow*>> touched;  // shard -> upserts that stay
  for (const std::string& login : removed) {
    std::string k = key(login);
    touched[shard_of(LoginIndex::hash(k, false))];
    changed.insert(k);
    gone.insert(std::move(k));
  }
  for (const LoginRow& row : upserts) {
    std::string k = key(row.login);
    auto& rows = touched[shard_of(LoginIndex::hash(k, false))];
    if (gone.count(k) == 0) {
      rows.push_back(&row);
    }
    changed.insert(std::move(k));
  }
  for (auto& [s, rows] : touched) {
    const LoginIndex& old = shards_.shard(s);
    LoginIndex next(fold_case_);
    next.copy_from(old,
                   [&](std::string_view login) { return changed.count(std::string(login)) != 0; });
    for (const LoginRow* row : rows) {
      if (row->context_id == 0 || !next.upsert(row->login, row->context_id)) {
        ++*rejected;
      }
    }
    size_ = size_ - old.size() + next.size();
    shards_.replace(s, std::move(next));
  }
}

size_t LoginShards::memory_bytes() const {
  return shards_.memory_bytes([](const LoginIndex& l) { return l.memory_bytes(); });
}

// ---- SchemaTable -------------------------------------------------------------------------------

std::optional<uint32_t> SchemaTable::find(std::string_view name) const {
  auto it = by_name_->find(name);
  if (it == by_name_->end()) {
    return std::nullopt;
  }
  return it->second;
}

uint32_t SchemaTable::append(SchemaRow row) {
  const auto index = static_cast<uint32_t>(size_);
  if (!own_names_) {
    by_name_ = std::make_shared<NameMap>(*by_name_);
    own_names_ = true;
  }
  by_name_->emplace(row.name, index);  // a duplicate name keeps the first index
  if ((index & kChunkMask) == 0) {
    chunks_.push_back(std::make_shared<Chunk>());
    own_chunk_.resize(chunks_.size(), false);
    own_chunk_.back() = true;
  }
  ++size_;
  set(index, row);
  return index;
}

void SchemaTable::set(uint32_t index, const SchemaRow& row) {
  assert(index < size_);
  const SchemaRow& old = (*this)[index];
  if (old.name == row.name && old.state == row.state && old.server_id == row.server_id) {
    return;
  }
  const size_t c = index >> kChunkBits;
  own_chunk_.resize(chunks_.size(), false);
  if (!own_chunk_[c]) {
    chunks_[c] = std::make_shared<Chunk>(*chunks_[c]);
    own_chunk_[c] = true;
  }
  chunks_[c]->rows[index & kChunkMask] = row;
}

void SchemaTable::end_edit() {
  own_chunk_.clear();
  own_chunk_.shrink_to_fit();
  own_names_ = false;
}

size_t SchemaTable::memory_bytes() const {
  auto heap = [](const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; };
  size_t n = chunks_.capacity() * sizeof(chunks_[0]);
  for (const auto& c : chunks_) {
    n += kNodeOverhead + sizeof(Chunk);
    for (const SchemaRow& r : c->rows) {
      n += heap(r.name);
    }
  }
  // Name map nodes: key copy + value + cached hash.
  n += kNodeOverhead + by_name_->bucket_count() * sizeof(void*);
  for (const auto& [name, index] : *by_name_) {
    n += sizeof(std::pair<const std::string, uint32_t>) + sizeof(size_t) + kNodeOverhead +
         heap(name);
  }
  return n;
}

}  // namespace sy::routing::detail
