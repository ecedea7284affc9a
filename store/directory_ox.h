#pragma once
// The ox data profile (DESIGN decision 3; docs/decisions.md): an unchanged Open-Xchange configdb,
// read with OX's own semantics. Nothing here writes the configdb (admin/directory_ox.h does,
// with OX's statements); Switchyard's own state lives in a separate state database.
//
//   tables read       server, context, context_server2db_pool, login2context,
//                     contexts_per_dbschema, configdb_sequence
//   schema disabled   some context of it has enabled = 0 AND reason_id = the maintenance reason
//                     (OX's disableschema writes 1431655765, SCHEMA_MOVE_MAINTENANCE_REASON):
//                     its requests are HELD, and those contexts are not disabled tenants. A
//                     context disabled for any other reason (or with enabled NULL) is a
//                     disabled tenant: 403 CTX-0004, held or not.
//   schemas           contexts_per_dbschema (so schemas without contexts exist, as
//                     listdatabaseschema shows them) plus every db_schema in use
//   server            per context, context_server2db_pool.server_id (SchemaRow::server_id = 0)
//   pool, version,    sy_server_meta in the state database (written by `server register`),
//   redirect URL      then the YAML's database.servers (applied by the loader)
//   logins            login2context.login_info -> cid, ASCII case-insensitive (the column is
//                     utf8_unicode_ci); decide() looks up the part after the last '@'
//
// Change detection, with neither a change log nor triggers (the configdb stays OX's):
//
//   every refresh (tier 1, O(schemas + servers) by primary keys, no table scan)
//     epoch     sy_meta 'directory_epoch' in the state database, bumped by every Switchyard
//               write after it committed. Read BEFORE the configdb: a loader that has seen
//               epoch E has seen every write made before E. It is the snapshot's change_seq,
//               reported by heartbeats as applied_seq, so the sequencer can wait for it.
//     small     a hash of server, contexts_per_dbschema, MAX(context.cid), configdb_sequence
//               and sy_server_meta: created/deleted contexts and schemas, registered servers
//               -> full reload
//     sentinel  one context per schema (cid, enabled, reason_id, server_id, db_schema), read
//               by primary key. OX's schema-wide statements (disableschema, enableschema,
//               changeserver) change every context of a schema at once, so they change its
//               sentinel -> only that schema is read again (db_schema index) -> a delta
//   every checksum_interval (tier 2, O(contexts): one scan of the join and of login2context)
//     per schema COUNT(*) and SUM(CRC32(cid, enabled, reason_id, server_id)) -> schemas whose
//               sum differs are read again -> a delta (disablecontext, hand-made updates)
//     login2context COUNT(*) and SUM(CRC32(login_info, cid)) -> changed: full reload
//
// Every call blocks on the database: loader thread only (STYLE rule 3).

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/db.h"
#include "store/directory_reader.h"

namespace sy::store {

// OX's SCHEMA_MOVE_MAINTENANCE_REASON default (hosting.properties).
inline constexpr uint32_t kOxMaintenanceReason = 1431655765;

struct OxProfileOptions {
  uint32_t maintenance_reason = kOxMaintenanceReason;  // reason_id of a disabled schema
  std::chrono::milliseconds checksum_interval{30000};  // tier 2 period; 0 = every refresh
};

class OxProfileReader final : public DirectoryReader {
 public:
  explicit OxProfileReader(OxProfileOptions options = {}) : opt_(options) {}

  // Reads everything in one consistent snapshot of the configdb (after the epoch and the server
  // metadata from the state database) and records the tier 1 and tier 2 baselines in that same
  // snapshot. change_seq = the epoch (0 without a state database).
  Result<DirectoryData> full_load(Db& db) override;
  bool incremental() const override { return true; }
  // Probes (see above). Errc::NotFound = a full load is needed (small tables or logins
  // changed, |seq| is not where this reader stands, or there was no full load yet). Otherwise
  // a delta with the schemas read again (possibly none) and to_seq = the epoch now.
  Result<DirectoryDelta> changes_since(Db& db, uint64_t seq) override;
  void set_state(Db* state) override { state_ = state; }

  // What the probe compares of one context: a context row of OX's tables.
  struct Sentinel {
    ContextId cid = 0;
    bool enabled = false;       // context.enabled = 1
    bool null_enabled = false;  // context.enabled IS NULL
    uint32_t reason = 0;        // context.reason_id; 0 = NULL
    ServerId server = 0;        // context_server2db_pool.server_id
    std::string schema;         // context_server2db_pool.db_schema
    bool operator==(const Sentinel&) const = default;
  };

 private:
  struct Sum {
    uint64_t count = 0;
    uint64_t sum = 0;
    bool operator==(const Sum&) const = default;
  };
  struct Baseline {
    bool valid = false;
    uint64_t epoch = 0;
    uint64_t small_hash = 0;
    std::map<std::string, Sentinel> sentinels;  // by schema
    std::map<std::string, Sum> schema_sums;     // by schema; schemas with contexts only
    Sum logins;
  };

  // The start of every read: the state database's epoch and server metadata first, then a
  // consistent snapshot of the configdb (whatever epoch was seen, the snapshot starts later).
  struct Read {
    uint64_t epoch = 0;  // 0 without a state database
    std::vector<ServerOverride> meta;
    Transaction txn;
  };
  Result<Read> begin_read(Db& db);
  // Tier 1 hash of the configdb's small tables plus |meta|, in the open snapshot.
  Result<uint64_t> small_hash(Db& db, const std::vector<ServerRow>& servers,
                              const std::vector<ServerOverride>& meta);
  // Tier 2: per schema sums (|only| empty = every schema), and the logins' sum.
  Result<std::map<std::string, Sum>> schema_sums(Db& db, const std::vector<std::string>& only);
  Result<Sum> login_sum(Db& db);
  // Reads the contexts of |schemas| into |delta| (schemas, schema_names, contexts) and
  // returns the new sentinel of each.
  Result<std::map<std::string, Sentinel>>
  read_schemas(Db& db, const std::vector<std::string>& schemas, DirectoryDelta* delta);

  OxProfileOptions opt_;
  Db* state_ = nullptr;
  Baseline base_;
  std::chrono::steady_clock::time_point next_checksum_{};
};

// ---- The state database's tables the ox profile reads (admin/db_migrate.cpp creates them) ----

// sy_server_meta: pool, version and redirect URL of servers by name (the configdb's server
// table has only id and name). Rows in name order.
Result<std::vector<ServerOverride>> read_server_meta(Db& state);
// Writes (inserts or replaces) the metadata of one server.
Result<Unit> write_server_meta(Db& state, const ServerOverride& meta);
// sy_meta 'directory_epoch': 0 when never bumped.
// Deletes |name|'s row (server unregister); none is not an error.
Result<Unit> delete_server_meta(Db& state, const std::string& name);
Result<uint64_t> read_directory_epoch(Db& state);
// Adds 1 atomically and returns the new value. Call AFTER the configdb write committed.
Result<uint64_t> bump_directory_epoch(Db& state);

}  // namespace sy::store
