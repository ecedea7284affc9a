#pragma once
// The immutable routing model every worker reads (STYLE rule 4, DESIGN decision 1).
//
// A RoutingSnapshot answers "where does context N live?" in O(1) without locks: the loader
// thread builds one (build() from a full read, apply() from an incremental delta), publishes it
// through SnapshotPublisher, and never touches it again. Every method is const and safe to call
// from any thread at the same time; nothing here does I/O or reads a clock.
//
// The contexts live in one flat open-addressing table keyed by context id (0 marks an empty
// slot, which is free because 0 is never a valid id). Linear probing, power-of-two capacity,
// Fibonacci hashing, load <= 0.7. A lookup touches one 16-byte slot, usually one cache line:
//
//   slots_: [ {id=7 s=3 srv=0 on} | {0} | {id=1024 s=0 srv=2 off} | {id=9 ...} | {0} | ... ]
//             ^ home(7)                    ^ home(1024)              ^ probed past home(9)=2
//
// At 1M contexts the table has 2^21 slots * 16 B = 32 MiB, about 34 bytes per context; a
// lookup costs one cache miss at worst (~85 ns dependent, ~10 ns pipelined on our VMs).
// Logins (fewer, variable length) use the same scheme over a single byte arena.
//
// Indexes are positions: a schema index is stable across apply() (new names are appended), not
// across build(); a pool index is the position in SnapshotInput::pool_names.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "routing/directory_rows.h"

namespace sy::routing {

// A pool by position (decide() and pool_of_server() use the bare int; this names it in APIs).
struct PoolRef {
  int index = -1;  // index into the instance's pool list; -1 = none
};

// How server rows map to this instance's pools (from the YAML; copied into every snapshot).
struct SnapshotInput {
  std::vector<std::string> pool_names;  // the instance's configured pools, index = pool index
  bool fold_login_case = false;         // true: logins compare ASCII case-insensitively (the ox
                                        // profile: login2context.login_info is utf8_unicode_ci)
};

// What a worker needs to know about one context; lives in the context table.
struct ContextInfo {
  ContextId id = 0;     // 0 = empty table slot (never returned by find_context)
  uint32_t schema = 0;  // index into the snapshot's schemas; always < schema_count()
  ServerId server = 0;  // the context's own server; 0 = the schema's server
  bool enabled = true;  // false = tenant disabled (403-class answer)
};

namespace detail {

// Allocations >= 2 MiB are 2 MiB-aligned and marked for transparent huge pages (Linux
// MADV_HUGEPAGE; a no-op elsewhere or when THP is off). Why: on our VMs every fresh 4 KiB page
// costs ~11 us to fault in, so a 32 MiB table took ~90 ms to build or copy; with huge pages it
// is ~3 ms, and a worker's lookup misses the TLB less often. Smaller blocks use operator new.
void* large_allocate(size_t bytes);
void large_deallocate(void* p, size_t bytes);
size_t large_allocation_size(size_t bytes);  // what large_allocate really reserves

template <class T>
struct LargePageAllocator {
  using value_type = T;
  LargePageAllocator() = default;
  template <class U>
  LargePageAllocator(const LargePageAllocator<U>&) {}  // NOLINT: rebind
  T* allocate(size_t n) { return static_cast<T*>(large_allocate(n * sizeof(T))); }
  void deallocate(T* p, size_t n) { large_deallocate(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const LargePageAllocator<U>&) const {
    return true;
  }
};

// Flat open-addressing table of ContextInfo keyed by id (see the drawing at the top).
// Not thread-safe for writers; a published snapshot only reads it.
class ContextTable {
 public:
  // Sized so that |expected| entries stay at load <= 0.7 without growing.
  explicit ContextTable(size_t expected = 0);

  const ContextInfo* find(ContextId id) const {
    if (id == 0) {
      return nullptr;
    }
    for (size_t i = home(id);; i = (i + 1) & mask_) {
      const ContextInfo& slot = slots_[i];
      if (slot.id == id) {
        return &slot;
      }
      if (slot.id == 0) {
        return nullptr;
      }
    }
  }
  // Inserts or overwrites |info| (info.id must not be 0); grows past load 0.7.
  void upsert(const ContextInfo& info);
  // Removes |id|; false when absent. Backward-shift deletion: no tombstones, lookups stay short.
  bool erase(ContextId id);

  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }
  size_t memory_bytes() const {
    return large_allocation_size(slots_.capacity() * sizeof(ContextInfo));
  }

 private:
  size_t home(ContextId id) const {
    // Fibonacci hashing: sequential ids spread over the whole table.
    return static_cast<size_t>((uint64_t{id} * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  void rehash(size_t capacity);

  std::vector<ContextInfo, LargePageAllocator<ContextInfo>> slots_;  // power of two, >= 16
  size_t mask_ = 0;                                                  // slots_.size() - 1
  unsigned shift_ = 64;                                              // 64 - log2(slots_.size())
  size_t size_ = 0;                                                  // occupied slots
};

// login string -> context id. All login bytes sit in one arena; the probe table holds entry
// numbers, so a login costs its bytes + 16 B entry + ~6 B of table. With fold_case set (before
// the first upsert) logins are stored lower-cased (ASCII) and found whatever their ASCII case,
// without allocating.
class LoginIndex {
 public:
  void set_fold_case(bool fold) { fold_case_ = fold; }
  bool fold_case() const { return fold_case_; }
  std::optional<ContextId> find(std::string_view login) const;
  // Inserts or overwrites; false = the arena is full (4 GiB of logins), nothing changed.
  bool upsert(std::string_view login, ContextId context);
  // Copies every entry of |from| whose login |drop| says false for.
  template <class Drop>
  void copy_from(const LoginIndex& from, Drop&& drop) {
    fold_case_ = from.fold_case_;
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
    uint32_t hash;      // low 32 bits of the string hash (cheap reject while probing)
  };
  std::string_view view(const Entry& e) const { return {bytes_.data() + e.offset, e.length}; }
  size_t find_slot(std::string_view login, uint32_t hash) const;  // slot with it, or empty one
  void rehash(size_t capacity);

  std::string bytes_;            // every login, back to back
  std::vector<Entry> entries_;   // insertion order
  std::vector<uint32_t> slots_;  // entry number + 1; 0 = empty; power-of-two size or empty
  bool fold_case_ = false;       // logins stored lower-cased, compared ignoring ASCII case
};

// Lets a string-keyed map be probed with a string_view (C++20 heterogeneous lookup).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace detail

class RoutingSnapshot {
 public:
  // Builds a snapshot from a full directory read. Takes |data| by value: the loader moves it in.
  // |generation| is the caller's stamp (shown by admin, logged); the publisher keeps its own
  // counter. Rows that cannot be represented (server or context id 0, schema index out of
  // range, login pointing at context 0) are dropped and counted in rejected_rows(). Duplicate
  // server/context ids and logins: the last row wins; duplicate schema names: both rows stay
  // (contexts refer to them by index), schema_index() finds the first.
  // Loader thread. The caller owns the result. 1M contexts: ~30 ms (~120 ms without THP).
  // Throws only std::bad_alloc.
  static std::shared_ptr<const RoutingSnapshot> build(DirectoryData data, const SnapshotInput& in,
                                                      uint64_t generation);

  // New snapshot = this one + |d| (own-profile incremental refresh); this one is unchanged, so
  // requests pinned to it keep a consistent view. Servers and schemas are upserted by id/name
  // (new schema names, from d.schemas or d.schema_names, are appended: existing schema indexes
  // do not move). ContextRow::schema_index indexes d.schema_names (or d.schemas when
  // d.schema_names is empty). Removals are applied after upserts, so a row both upserted and
  // removed in one delta is gone. A removed schema keeps its index and name (contexts and held
  // requests refer to it) and reverts to enabled, no server; a removed server is unknown. The
  // caller guarantees d.from_seq == change_seq(); change_seq() of the result is d.to_seq. Loader
  // thread; the caller owns the result. Copies the tables: O(contexts + logins); 1M contexts ~5 ms
  // (~100 ms without THP).
  std::shared_ptr<const RoutingSnapshot> apply(const DirectoryDelta& d, uint64_t generation) const;

  // The context |id|; nullptr = unknown (also for id 0). O(1), no allocation. The pointer lives
  // as long as this snapshot.
  const ContextInfo* find_context(ContextId id) const { return contexts_.find(id); }
  // The context a login maps to; nullopt = unknown login. Exact byte compare, or ASCII
  // case-insensitive when built with SnapshotInput::fold_login_case. The context itself may
  // still be unknown (find_context decides).
  std::optional<ContextId> find_login(std::string_view login) const { return logins_.find(login); }

  // |index| < schema_count() (asserted).
  const SchemaRow& schema(uint32_t index) const;
  size_t schema_count() const { return schemas_.size(); }
  std::optional<uint32_t> schema_index(std::string_view name) const;
  // False also for an index this snapshot does not know (e.g. after a full reload renumbered
  // the schemas): a request held for it stays held until it times out.
  bool schema_enabled(uint32_t index) const {
    return index < schemas_.size() && schemas_[index].state == SchemaState::Enabled;
  }

  // nullptr = unknown server (also for id 0).
  const ServerRow* server(ServerId id) const;
  // Pool index of the server's pool; -1 when the server is unknown, has no pool, or its pool is
  // not configured on this instance.
  int pool_of_server(ServerId id) const;
  // The context's own server, else its schema's server; 0 = neither is set. |c| must come from
  // this snapshot (its schema index is only valid here).
  ServerId effective_server(const ContextInfo& c) const {
    return c.server != 0 ? c.server : schemas_[c.schema].server_id;
  }

  size_t context_count() const { return contexts_.size(); }
  size_t login_count() const { return logins_.size(); }
  size_t server_count() const { return servers_.size(); }
  uint64_t generation() const { return generation_; }
  uint64_t change_seq() const { return change_seq_; }
  // Rows dropped while making this snapshot (see build()); the loader logs and counts them.
  size_t rejected_rows() const { return rejected_rows_; }
  const std::vector<std::string>& pool_names() const { return pool_names_; }
  // Heap bytes held by this snapshot (tables, rows, strings; hash-map nodes estimated) plus the
  // object itself. For the <= 64 B/context target and the admin `show routing` output.
  size_t memory_bytes() const;

 private:
  RoutingSnapshot() = default;
  // Private: a copy is 30+ MiB at scale; only apply() makes one, on purpose.
  RoutingSnapshot(const RoutingSnapshot&) = default;
  RoutingSnapshot& operator=(const RoutingSnapshot&) = delete;
  void upsert_server(ServerRow row);   // by id; id 0 is rejected; resolves its pool
  void remove_server(ServerId id);     // no-op when absent
  uint32_t add_schema(SchemaRow row);  // appends, indexes the name, returns its index

  std::vector<std::string> pool_names_;                  // copy of SnapshotInput
  std::vector<ServerRow> servers_;                       // directory order
  std::vector<int> server_pool_;                         // parallel to servers_; -1 = none here
  std::unordered_map<ServerId, uint32_t> server_index_;  // id -> position in servers_
  std::vector<SchemaRow> schemas_;                       // index = schema index
  std::unordered_map<std::string, uint32_t, detail::StringHash, std::equal_to<>> schema_by_name_;
  detail::ContextTable contexts_;
  detail::LoginIndex logins_;
  uint64_t generation_ = 0;
  uint64_t change_seq_ = 0;
  size_t rejected_rows_ = 0;
};

}  // namespace sy::routing
