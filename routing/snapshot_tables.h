#pragma once
// The storage behind RoutingSnapshot (routing/snapshot.h): tables that a new snapshot shares
// with the one it was made from, so that apply() copies only what a delta touches.
//
// Contexts are split into 2^b shards by a hash of (id / 64), so 64 consecutive ids (a schema's
// tenants are usually created together) land in the same shard. Each shard is its own small
// open-addressing table (ContextTable). The shards sit in a two-level array of shared pointers:
//
//   ContextIndex::shards_ (ShardArray<ContextTable>, one per snapshot)
//     groups_ / views_: [ g0 | g1 | ... | g(G-1) ]    G = 2^(b - b/2) pointers, copied per apply
//                         |
//                         v  Group (shared by every snapshot that did not change it)
//                       views:  [ {slots, capacity} | ... ]   K = 2^(b/2), 16 B each
//                       shards: [ shared_ptr        | ... ]   owners, never read by lookups
//                                  |
//                                  v
//                       ContextTable: [ {id=7 ...} | {0} | {id=70 ...} | ... ]  ~1,000 contexts
//
// A lookup reads views_[g] (1 KiB at 10M: L1), the group's view (16 B; 256 KiB of them at 10M:
// L2 or L3) and one slot: one more cache line than a single flat table, never a lock or an
// allocation. apply() copies the G group pointers, each group it touches (K views and owners)
// and each shard it touches; everything else is shared. At 10M contexts b = 14: a one-row
// delta copies 128 pointers, one group (128 + 128) and one ~15 KB shard of ~610 contexts
// instead of a 256 MiB table. Memory math and measurements: docs/decisions.md 34.
//
// Sharing changes who frees what: a shard is freed when the last snapshot holding it is freed.
// Snapshots are only ever freed by their owner, the publisher, on the loader thread
// (routing/publisher.h): a worker holds snapshots, never shards, so its unpin cannot free one.
//
// Logins use the same ShardArray over LoginIndex shards (by a hash of the login); schemas are
// chunks of 256 rows plus a name index, shared the same way (SchemaTable).
//
// Editing protocol (loader thread, on a snapshot not yet published): copy a table (cheap), call
// its editing methods (each copies a part the first time this edit touches it), then
// end_edit(). A published snapshot's tables are never edited again.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "routing/directory_rows.h"

namespace sy::routing {

// What a worker needs to know about one context; lives in a context table slot.
struct ContextInfo {
  ContextId id = 0;     // 0 = empty table slot (never returned by find_context)
  uint32_t schema = 0;  // index into the snapshot's schemas; always < schema_count()
  ServerId server = 0;  // the context's own server; 0 = the schema's server
  bool enabled = true;  // false = tenant disabled (403-class answer)
  bool operator==(const ContextInfo&) const = default;
};

namespace detail {

// Allocations >= 2 MiB are 2 MiB-aligned and marked for transparent huge pages (Linux
// MADV_HUGEPAGE; a no-op elsewhere or when THP is off). Why: on our VMs every fresh 4 KiB page
// costs ~11 us to fault in; with huge pages a 32 MiB table built in ~3 ms instead of ~90 ms.
// Smaller blocks (every shard of a sharded table) use operator new. Every block is counted in
// table_bytes_live().
void* large_allocate(size_t bytes);
void large_deallocate(void* p, size_t bytes);
size_t large_allocation_size(size_t bytes);  // what large_allocate really reserves

// Bytes held right now by every table block of every snapshot in the process (a shard shared
// by ten snapshots counts once). Any thread; a relaxed load. Tests use it to see what apply()
// copied and which thread freed it.
size_t table_bytes_live();

// One block holding the slots of every shard a build sizes at once (ContextIndex::presize):
// 2 MiB-aligned, THP-hinted and populated by one madvise(MADV_POPULATE_WRITE), because on our
// VMs faulting memory in page by page costs 10-30 us per 4 KiB page (a second or more for the
// ~250 MiB of 10M contexts) and a populate call a small fraction of that. Shards take slices;
// a slice given back while the slab lives returns its whole pages to the kernel
// (MADV_DONTNEED), so a slab whose shards deltas replaced one by one does not keep them
// resident; the slab itself is freed with its last slice. take() is for the building thread;
// release() may run on any thread.
class Slab {
 public:
  explicit Slab(size_t bytes);
  ~Slab();
  Slab(const Slab&) = delete;
  Slab& operator=(const Slab&) = delete;

  // |bytes| from the slab, 64-byte aligned; nullptr when it does not fit.
  void* take(size_t bytes);
  bool holds(const void* p) const { return p >= base_ && p < base_ + size_; }
  // Gives back a slice take() returned.
  void release(void* p, size_t bytes);

 private:
  char* base_;
  size_t size_;  // bytes reserved (a multiple of 2 MiB)
  size_t used_ = 0;
  std::atomic<size_t> released_{0};
};

// The allocator of context table slots: from a Slab when it has one and room, else from
// large_allocate(). A copy of a table (what apply() makes of a shard it changes) always goes to
// the heap: the slab belongs to one build.
template <class T>
struct TableAllocator {
  using value_type = T;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;
  using propagate_on_container_copy_assignment = std::false_type;

  TableAllocator() = default;
  explicit TableAllocator(std::shared_ptr<Slab> s) : slab(std::move(s)) {}
  template <class U>
  TableAllocator(const TableAllocator<U>& o) : slab(o.slab) {}  // NOLINT
  TableAllocator select_on_container_copy_construction() const { return {}; }

  T* allocate(size_t n) {
    if (slab != nullptr) {
      if (void* p = slab->take(n * sizeof(T))) {
        return static_cast<T*>(p);
      }
    }
    return static_cast<T*>(large_allocate(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) {
    if (slab != nullptr && slab->holds(p)) {
      slab->release(p, n * sizeof(T));
    } else {
      large_deallocate(p, n * sizeof(T));
    }
  }
  template <class U>
  bool operator==(const TableAllocator<U>& o) const {
    return slab == o.slab;
  }

  std::shared_ptr<Slab> slab;  // null = heap only
};

// Open-addressing table of ContextInfo keyed by id: one shard of a ContextIndex (and usable on
// its own). 0 marks an empty slot (0 is never a valid id). Linear probing over any capacity
// (the home slot is a Fibonacci hash scaled to the capacity, so tables are sized to their
// contents, not to a power of two), load <= 0.7, backward-shift deletion (no tombstones).
// Not thread-safe for writers; a published snapshot only reads it.
class ContextTable {
 public:
  // Where a lookup looks: the slots and their number. What ShardArray keeps per shard.
  struct View {
    const ContextInfo* slots;  // |capacity| slots
    uint32_t capacity;         // >= kMinCapacity
  };

  using Allocator = TableAllocator<ContextInfo>;

  // Sized so that |expected| entries sit at load ~0.65 (and at least 16 slots); the slots come
  // from |alloc| (a build's Slab), a later rehash from the heap.
  explicit ContextTable(size_t expected = 0, Allocator alloc = Allocator());
  // The number of slots ContextTable(|expected|) allocates.
  static size_t capacity_for(size_t expected);

  // The entry for |id| in the table |v| shows; nullptr = absent (also for id 0).
  static const ContextInfo* find(View v, ContextId id) {
    if (id == 0) {
      return nullptr;
    }
    for (size_t i = home(id, v.capacity);;) {
      const ContextInfo& slot = v.slots[i];
      if (slot.id == id) {
        return &slot;
      }
      if (slot.id == 0) {
        return nullptr;
      }
      if (++i == v.capacity) {
        i = 0;
      }
    }
  }
  const ContextInfo* find(ContextId id) const { return find(view(), id); }
  View view() const { return {slots_.data(), static_cast<uint32_t>(slots_.size())}; }

  enum class Upsert { Unchanged, Updated, Inserted };
  // Inserts or overwrites |info| (info.id must not be 0); grows past load 0.7.
  Upsert upsert(const ContextInfo& info);
  // Removes |id|; false when absent.
  bool erase(ContextId id);
  // Rehashes to load ~0.65 when erasures left it below 0.25 (memory goes back).
  void shrink_if_sparse();
  // Calls |f|(const ContextInfo&) for every entry, in slot order.
  template <class F>
  void for_each(F&& f) const {
    for (const ContextInfo& e : slots_) {
      if (e.id != 0) {
        f(e);
      }
    }
  }

  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }
  size_t memory_bytes() const;

  // The slot where the probe for |id| starts in a table of |capacity| slots.
  static size_t home(ContextId id, size_t capacity) {
    // Fibonacci hashing spreads sequential ids; the multiply-shift maps the 32-bit hash onto
    // [0, capacity) without a division.
    const uint64_t h = (uint64_t{id} * 0x9E3779B97F4A7C15ull) >> 32;
    return static_cast<size_t>((h * capacity) >> 32);
  }

 private:
  void rehash(size_t capacity);

  std::vector<ContextInfo, Allocator> slots_;  // >= 16
  size_t size_ = 0;                            // occupied slots
};

// login string -> context id, one shard of LoginShards (and usable on its own). All login
// bytes sit in one arena; the probe table holds entry numbers, so a login costs its bytes +
// 16 B entry + ~6 B of table. With fold_case set (before the first upsert) logins are stored
// lower-cased (ASCII) and found whatever their ASCII case, without allocating.
class LoginIndex {
 public:
  using View = const LoginIndex*;  // what ShardArray keeps per shard

  explicit LoginIndex(bool fold_case = false) : fold_case_(fold_case) {}
  // Room for |logins| logins of |bytes| bytes in all, taken from |alloc| (a build's Slab).
  LoginIndex(bool fold_case, size_t logins, size_t bytes, TableAllocator<char> alloc);
  // What LoginIndex(fold, |logins|, |bytes|, ...) asks its allocator for, in all.
  static size_t reserved_bytes(size_t logins, size_t bytes);
  bool fold_case() const { return fold_case_; }
  View view() const { return this; }

  // The hash find() and the shard choice use: FNV-1a, over lower-cased bytes when |fold|.
  static uint32_t hash(std::string_view login, bool fold);
  std::optional<ContextId> find(std::string_view login) const {
    return find(login, hash(login, fold_case_));
  }
  // |h| = hash(login, fold_case()).
  std::optional<ContextId> find(std::string_view login, uint32_t h) const;
  // Inserts or overwrites; false = the arena is full (4 GiB of logins), nothing changed.
  bool upsert(std::string_view login, ContextId context) {
    return upsert(login, context, hash(login, fold_case_));
  }
  // |h| = hash(login, fold_case()).
  bool upsert(std::string_view login, ContextId context, uint32_t h);
  // Copies every entry of |from| whose login (as stored: lower-cased when folding) |drop| says
  // false for.
  template <class Drop>
  void copy_from(const LoginIndex& from, Drop&& drop) {
    for (const Entry& e : from.entries_) {
      std::string_view login = from.view(e);
      if (!drop(login)) {
        upsert(login, e.context);  // cannot fail: |from| held it
      }
    }
  }
  size_t size() const { return entries_.size(); }
  size_t memory_bytes() const;

 private:
  struct Entry {
    uint32_t offset;    // into bytes_
    uint32_t length;    // bytes
    ContextId context;  // never 0
    uint32_t hash;      // hash(login) (cheap reject while probing)
  };
  using Bytes = std::basic_string<char, std::char_traits<char>, TableAllocator<char>>;
  static size_t slot_capacity_for(size_t logins);  // power of two, load <= 0.7
  std::string_view view(const Entry& e) const { return {bytes_.data() + e.offset, e.length}; }
  size_t find_slot(std::string_view login, uint32_t hash) const;  // slot with it, or empty one
  void rehash(size_t capacity);

  Bytes bytes_;                                            // every login, back to back
  std::vector<Entry, TableAllocator<Entry>> entries_;      // insertion order
  std::vector<uint32_t, TableAllocator<uint32_t>> slots_;  // entry number + 1; 0 = empty;
                                                           // power of two or empty
  bool fold_case_ = false;  // logins stored lower-cased, compared ignoring ASCII case
};

// splitmix64's finaliser: every output bit depends on every input bit. Login shards are chosen
// by its top bits, so the choice stays independent of the hash's low bits, which pick the slot
// inside the shard.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Lets a string-keyed map be probed with a string_view (C++20 heterogeneous lookup).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Rough per-node cost of a heap node (std::shared_ptr control block, map node): the malloc
// header plus a pointer.
inline constexpr size_t kNodeOverhead = 2 * sizeof(void*);

// 2^bits shards of |Shard| in a two-level array of shared pointers (see the drawing at the
// top). Shard must be copyable and have `View view() const`. Copying a ShardArray copies the
// G group pointers only; the copy then edits with modify()/replace(), which copy a group and a
// shard the first time this edit touches them, and end_edit() ends the edit.
template <class Shard>
class ShardArray {
 public:
  using View = typename Shard::View;

  // 2^|bits| shards, every one a copy-free reference to |empty|.
  explicit ShardArray(unsigned bits = 0, Shard empty = Shard())
      : bits_(bits), slot_bits_(bits / 2), slot_mask_((size_t{1} << (bits / 2)) - 1) {
    auto shared_empty = std::make_shared<Shard>(std::move(empty));
    auto group = std::make_shared<Group>();
    group->views.assign(size_t{1} << slot_bits_, shared_empty->view());
    group->shards.assign(size_t{1} << slot_bits_, shared_empty);
    groups_.assign(size_t{1} << (bits_ - slot_bits_), group);
    views_.assign(groups_.size(), group->views.data());
  }
  // A copy shares everything and owns nothing yet (the start of an edit).
  ShardArray(const ShardArray& other)
      : bits_(other.bits_), slot_bits_(other.slot_bits_), slot_mask_(other.slot_mask_),
        groups_(other.groups_), views_(other.views_) {}
  ShardArray& operator=(const ShardArray& other) {
    if (this != &other) {
      *this = ShardArray(other);
    }
    return *this;
  }
  ShardArray(ShardArray&&) noexcept = default;
  ShardArray& operator=(ShardArray&&) noexcept = default;

  unsigned bits() const { return bits_; }
  size_t size() const { return size_t{1} << bits_; }
  // The group shard |i| belongs to (its view sits in that group's array).
  size_t group_of(size_t i) const { return i >> slot_bits_; }
  View view(size_t i) const { return views_[i >> slot_bits_][i & slot_mask_]; }
  // True when shard |i| is this edit's own (modify() will not copy it).
  bool owns(size_t i) const { return !own_shard_.empty() && own_shard_[i]; }
  const Shard& shard(size_t i) const { return *groups_[i >> slot_bits_]->shards[i & slot_mask_]; }

  // Calls |f|(Shard&) on shard |i| after making it this array's own (copying it, and its
  // group, the first time in this edit); refreshes its view afterwards.
  template <class F>
  void modify(size_t i, F&& f) {
    Group& g = own_group(i);
    std::shared_ptr<Shard>& shard = g.shards[i & slot_mask_];
    if (!own_shard_[i]) {
      shard = std::make_shared<Shard>(*shard);
      own_shard_[i] = true;
    }
    f(*shard);
    g.views[i & slot_mask_] = shard->view();
  }
  // Replaces shard |i| with |shard| (no copy of the old one).
  void replace(size_t i, Shard&& shard) {
    Group& g = own_group(i);
    g.shards[i & slot_mask_] = std::make_shared<Shard>(std::move(shard));
    g.views[i & slot_mask_] = g.shards[i & slot_mask_]->view();
    own_shard_[i] = true;
  }
  // Calls |f|(Shard&) on every shard this edit made its own, then ends the edit.
  template <class F>
  void end_edit(F&& f) {
    for (size_t i = 0; i < own_shard_.size(); ++i) {
      if (own_shard_[i]) {
        Group& g = *groups_[i >> slot_bits_];
        f(*g.shards[i & slot_mask_]);
        g.views[i & slot_mask_] = g.shards[i & slot_mask_]->view();
      }
    }
    own_group_.clear();
    own_group_.shrink_to_fit();
    own_shard_.clear();
    own_shard_.shrink_to_fit();
  }
  void end_edit() {
    end_edit([](Shard&) {});
  }

  // Heap bytes of the groups and shards this array refers to (shared ones included).
  template <class ShardBytes>
  size_t memory_bytes(ShardBytes&& shard_bytes) const {
    size_t n = groups_.capacity() * sizeof(groups_[0]) + views_.capacity() * sizeof(View*);
    for (const auto& g : groups_) {
      n += kNodeOverhead + sizeof(Group) + g->views.capacity() * sizeof(View) +
           g->shards.capacity() * sizeof(g->shards[0]);
      for (const auto& shard : g->shards) {
        n += kNodeOverhead + sizeof(Shard) + shard_bytes(*shard);
      }
    }
    return n;
  }

 private:
  // K shards: the views lookups read, densely, and the owning pointers beside them.
  struct Group {
    std::vector<View> views;                     // views[k] == shards[k]->view()
    std::vector<std::shared_ptr<Shard>> shards;  // never null; shared unless this edit's own
  };

  Group& own_group(size_t i) {
    if (own_shard_.empty()) {
      own_group_.assign(groups_.size(), false);
      own_shard_.assign(size(), false);
    }
    const size_t g = i >> slot_bits_;
    if (!own_group_[g]) {
      groups_[g] = std::make_shared<Group>(*groups_[g]);
      views_[g] = groups_[g]->views.data();
      own_group_[g] = true;
    }
    return *groups_[g];
  }

  unsigned bits_;
  unsigned slot_bits_;  // log2 of the shards per group
  size_t slot_mask_;
  std::vector<std::shared_ptr<Group>> groups_;
  std::vector<View*> views_;  // groups_[g]->views.data(): a lookup reads two arrays, no more
  // While editing: the groups and shards this array alone holds (empty when not editing).
  std::vector<bool> own_group_;
  std::vector<bool> own_shard_;
};

// All contexts of a snapshot: ContextTable shards by (id / 64) (see the drawing at the top).
class ContextIndex {
 public:
  static constexpr size_t kShardTarget = 1024;  // contexts per shard when sized
  static constexpr unsigned kMaxBits = 16;      // at most 65,536 shards

  // Sized for about |expected| contexts: 2^b shards of ~kShardTarget, all empty.
  explicit ContextIndex(size_t expected = 0);

  const ContextInfo* find(ContextId id) const {
    return ContextTable::find(shards_.view(shard_of(id)), id);
  }

  // Editing (see the top). Build: presize(), then upsert() every row.
  // |counts|[i] = how many contexts shard i (shard_of) will receive; each gets its final size.
  void presize(const std::vector<uint32_t>& counts);
  // Inserts or overwrites |info| (id != 0); false = it was already there, unchanged (nothing
  // is copied).
  bool upsert(const ContextInfo& info);
  // Build on several threads: after presize() every shard that receives rows is this edit's
  // own, so upserts into shards of different groups touch disjoint memory. upsert_presized()
  // is upsert() for that case without the shared row count; each thread counts its inserts
  // and the caller adds them with add_inserted() once the threads are joined.
  bool upsert_presized(const ContextInfo& info);
  void add_inserted(size_t n) { size_ += n; }
  size_t group_of(ContextId id) const { return shards_.group_of(shard_of(id)); }
  // Removes |id|; false when absent (nothing is copied).
  bool erase(ContextId id);
  // Starts loading the cache line find(|id|) will read first. A build that calls it a few
  // rows ahead keeps several of those misses in flight instead of taking them one by one.
  void prefetch(ContextId id) const {
    const ContextTable::View v = shards_.view(shard_of(id));
    __builtin_prefetch(v.slots + ContextTable::home(id, v.capacity));
  }
  // Ends the edit. Shrinks sparse shards; re-shards the whole index (O(contexts), once per 8x
  // growth) when deltas grew it to more than 8 times kShardTarget per shard.
  void end_edit();

  size_t shard_of(ContextId id) const {
    return static_cast<size_t>(((uint64_t{id >> kBlockBits} * kShardMul) >> shift_) & mask_);
  }
  size_t shard_count() const { return shards_.size(); }
  const ContextTable& shard(size_t i) const { return shards_.shard(i); }
  size_t size() const { return size_; }
  size_t memory_bytes() const;

 private:
  static constexpr unsigned kBlockBits = 6;  // 64 consecutive ids share a shard
  // Not the Fibonacci constant the tables probe with: with one multiplier, the top bits that
  // pick the shard would also fix the top bits of the home slot inside it, crowding each
  // shard's keys into a few runs (seen: 6x slower lookups at 10M). Any other odd constant with
  // well-mixed bits decorrelates the two (measured: probe lengths as for random keys).
  static constexpr uint64_t kShardMul = 0xD6E8FEB86659FD93ull;
  static unsigned bits_for(size_t contexts);

  ShardArray<ContextTable> shards_;
  unsigned shift_;  // 64 - bits (63 for one shard, masked to 0)
  size_t mask_;     // shard count - 1
  size_t size_ = 0;
};

// All logins of a snapshot: LoginIndex shards by login hash.
class LoginShards {
 public:
  static constexpr size_t kShardTarget = 1024;  // logins per shard when sized
  static constexpr unsigned kMaxBits = 16;

  explicit LoginShards(size_t expected = 0, bool fold_case = false);

  std::optional<ContextId> find(std::string_view login) const {
    const uint32_t h = LoginIndex::hash(login, fold_case_);
    return shards_.view(shard_of(h))->find(login, h);
  }
  size_t size() const { return size_; }

  // Build: every login of |rows| (counted per shard first, so each shard is allocated once,
  // from one Slab when that pays). Rows with context 0 or that do not fit are skipped and
  // counted in |rejected|; a duplicate login: the last row wins.
  void build(const std::vector<LoginRow>& rows, size_t* rejected);
  // One login; false = its shard's arena is full, nothing changed.
  bool upsert(std::string_view login, ContextId context);
  // Delta: rebuilds each touched shard without the changed logins, then adds |upserts| that
  // are not in |removed| (a login both upserted and removed is gone). Rows with context 0 or
  // that do not fit are skipped and counted in |rejected|.
  void apply(const std::vector<LoginRow>& upserts, const std::vector<std::string>& removed,
             size_t* rejected);
  void end_edit() { shards_.end_edit(); }
  size_t memory_bytes() const;

 private:
  static unsigned bits_for(size_t logins);
  size_t shard_of(uint32_t hash) const {
    return static_cast<size_t>((mix64(hash) >> shift_) & mask_);
  }

  ShardArray<LoginIndex> shards_;
  bool fold_case_;
  unsigned shift_;
  size_t mask_;
  size_t size_ = 0;
};

// Schema rows by index in chunks of 256 shared between snapshots, plus the name index (shared
// until an edit adds a name). Indexes are positions and never move.
class SchemaTable {
 public:
  SchemaTable() = default;
  // A copy shares every chunk and the name map and owns nothing yet (the start of an edit).
  SchemaTable(const SchemaTable& other)
      : chunks_(other.chunks_), by_name_(other.by_name_), size_(other.size_) {}
  SchemaTable& operator=(const SchemaTable& other) {
    if (this != &other) {
      *this = SchemaTable(other);
    }
    return *this;
  }
  SchemaTable(SchemaTable&&) noexcept = default;
  SchemaTable& operator=(SchemaTable&&) noexcept = default;

  size_t size() const { return size_; }
  // |index| < size().
  const SchemaRow& operator[](size_t index) const {
    return chunks_[index >> kChunkBits]->rows[index & kChunkMask];
  }
  // The first index with this name.
  std::optional<uint32_t> find(std::string_view name) const;

  // Editing (see the top). Appends |row| and indexes its name (a duplicate name keeps the
  // first index); returns its index.
  uint32_t append(SchemaRow row);
  // Replaces row |index| (copying its chunk on first touch) unless it is equal already.
  void set(uint32_t index, const SchemaRow& row);
  void end_edit();
  size_t memory_bytes() const;

 private:
  static constexpr unsigned kChunkBits = 8;
  static constexpr size_t kChunkMask = (size_t{1} << kChunkBits) - 1;
  struct Chunk {
    std::array<SchemaRow, size_t{1} << kChunkBits> rows;
  };
  using NameMap = std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>>;

  std::vector<std::shared_ptr<Chunk>> chunks_;
  std::shared_ptr<NameMap> by_name_ = std::make_shared<NameMap>();
  size_t size_ = 0;
  // While editing: chunks and the name map this table alone holds.
  std::vector<bool> own_chunk_;
  bool own_names_ = false;
};

}  // namespace detail
}  // namespace sy::routing
