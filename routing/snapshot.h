#pragma once
// The immutable routing model every worker reads (STYLE rule 4, DESIGN decision 1).
//
// A RoutingSnapshot answers "where does context N live?" in O(1) without locks: the loader
// thread builds one (build() from a full read, apply() from an incremental delta), publishes it
// through SnapshotPublisher, and never touches it again. Every method is const and safe to call
// from any thread at the same time; nothing here does I/O or reads a clock.
//
// Storage (routing/snapshot_tables.h): contexts in ~1,000-entry open-addressing shards, logins
// in shards by hash, schemas in chunks of 256 rows, servers in one small table. A snapshot made
// by apply() shares every part the delta did not touch with the snapshot it came from, so a
// one-row delta costs microseconds whatever the directory's size, and a lookup still touches
// one 16-byte slot (one cache miss at worst). 10M contexts: ~25 B per context.
//
// Indexes are positions: a schema index is stable across apply() (new names are appended), not
// across build(); a pool index is the position in SnapshotInput::pool_names.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "routing/directory_rows.h"
#include "routing/snapshot_tables.h"

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

class RoutingSnapshot {
 public:
  // Builds a snapshot from a full directory read. Takes |data| by value: the loader moves it in.
  // |generation| is the caller's stamp (shown by admin, logged); the publisher keeps its own
  // counter. Rows that cannot be represented (server or context id 0, schema index out of
  // range, login pointing at context 0) are dropped and counted in rejected_rows(). Duplicate
  // server/context ids and logins: the last row wins; duplicate schema names: both rows stay
  // (contexts refer to them by index), schema_index() finds the first.
  // Loader thread; from kParallelBuildRows contexts on, one helper thread of its own inserts
  // half of the shards and is joined before build() returns. The caller owns the result.
  // Throws only std::bad_alloc (and std::system_error when no thread can be started).
  static std::shared_ptr<const RoutingSnapshot> build(DirectoryData data, const SnapshotInput& in,
                                                      uint64_t generation);
  static constexpr size_t kParallelBuildRows = size_t{1} << 20;

  // New snapshot = this one + |d| (incremental refresh); this one is unchanged, so requests
  // pinned to it keep a consistent view. Servers and schemas are upserted by id/name (new
  // schema names, from d.schemas or d.schema_names, are appended: existing schema indexes do
  // not move). ContextRow::schema_index indexes d.schema_names (or d.schemas when
  // d.schema_names is empty). Removals are applied after upserts, so a row both upserted and
  // removed in one delta is gone. A removed schema keeps its index and name (contexts and held
  // requests refer to it) and reverts to enabled, no server; a removed server is unknown. The
  // caller guarantees d.from_seq == change_seq(); change_seq() of the result is d.to_seq.
  // Loader thread; the caller owns the result.
  // Cost: O(rows in |d|) plus a copy of each shard, group and schema chunk holding a row that
  // really changed (a row equal to what the snapshot holds copies nothing). The result shares
  // the rest with this snapshot; the last snapshot holding a part frees it (see
  // routing/snapshot_tables.h: the publisher frees snapshots on the loader thread).
  std::shared_ptr<const RoutingSnapshot> apply(const DirectoryDelta& d, uint64_t generation) const;
  // A copy that maps server rows to |pool_names| instead (pools added or removed at runtime:
  // app/pool_sync.h; a removed pool's slot is ""), sharing every table but the small server
  // list. Same change_seq. Any thread.
  std::shared_ptr<const RoutingSnapshot> with_pool_names(std::vector<std::string> pool_names,
                                                         uint64_t generation) const;

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
  std::optional<uint32_t> schema_index(std::string_view name) const { return schemas_.find(name); }
  // False also for an index this snapshot does not know (e.g. after a full reload renumbered
  // the schemas): a request held for it stays held until it times out.
  bool schema_enabled(uint32_t index) const {
    return index < schemas_.size() && schemas_[index].state == SchemaState::Enabled;
  }
  // True when the sequencer marked the schema's update failed (and it is disabled).
  bool schema_failed(uint32_t index) const {
    return index < schemas_.size() && schemas_[index].state == SchemaState::Failed;
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
  size_t server_count() const { return servers_->rows.size(); }
  uint64_t generation() const { return generation_; }
  uint64_t change_seq() const { return change_seq_; }
  // Rows dropped while making this snapshot (see build()); the loader logs and counts them.
  size_t rejected_rows() const { return rejected_rows_; }
  const std::vector<std::string>& pool_names() const { return servers_->pool_names; }
  // Every server row, directory order (e.g. which servers name a pool: `pool remove`).
  const std::vector<ServerRow>& server_rows() const { return servers_->rows; }
  // Heap bytes this snapshot refers to (tables, rows, strings; hash-map nodes estimated) plus
  // the object itself, counting parts shared with other snapshots in full: what it would hold
  // alone. For the <= 40 B/context target and the admin `show routing` output.
  size_t memory_bytes() const;

 private:
  // Servers and what they map to here: small, copied whole when a delta changes a server.
  struct Servers {
    std::vector<std::string> pool_names;           // copy of SnapshotInput
    std::vector<ServerRow> rows;                   // directory order
    std::vector<int> pool;                         // parallel to rows; -1 = none here
    std::unordered_map<ServerId, uint32_t> index;  // id -> position in rows
  };

  RoutingSnapshot() = default;
  // Private: only apply() makes one, as the start of an edit (it shares every table).
  RoutingSnapshot(const RoutingSnapshot&) = default;
  RoutingSnapshot& operator=(const RoutingSnapshot&) = delete;
  void upsert_server(Servers& s, ServerRow row);       // by id; id 0 is rejected; resolves its pool
  static void remove_server(Servers& s, ServerId id);  // no-op when absent
  void end_edit();

  std::shared_ptr<const Servers> servers_;  // shared with the snapshots it came from
  detail::SchemaTable schemas_;             // index = schema index
  detail::ContextIndex contexts_;
  detail::LoginShards logins_;
  uint64_t generation_ = 0;
  uint64_t change_seq_ = 0;
  size_t rejected_rows_ = 0;
};

}  // namespace sy::routing
