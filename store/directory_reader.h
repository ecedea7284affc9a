#pragma once
// Reads the tenant directory (servers, schemas, contexts, logins) from the shared database into
// the profile-independent rows of routing/directory_rows.h. Three data profiles (DESIGN
// decision 3, docs/decisions.md):
//
//   OwnProfileReader  Switchyard's own tables (admin/db_migrate.cpp creates them). Triggers on
//                     the four tables append one row per changed key to sy_changes, so after a
//                     full load the reader follows changes incrementally by sequence number.
//   SqlProfileReader  any other tenant database read through configured SELECTs. Read-only, no
//                     change sequence: full reloads, published only when the data changed.
//   OxProfileReader   an unchanged Open-Xchange configdb with OX's semantics
//                     (routing/directory_ox.h): change detection by probes, no triggers.
//
// Every call blocks on the database: loader thread only (STYLE rule 3). A reader object belongs
// to one thread; OwnProfileReader keeps a little state between calls (see changes_since).

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "routing/directory_rows.h"
#include "store/db.h"

namespace sy::store {

// The rows are routing's (routing/directory_rows.h): the contract with the snapshot builder.
using routing::ContextId;
using routing::ContextRow;
using routing::DirectoryData;
using routing::DirectoryDelta;
using routing::LoginRow;
using routing::SchemaRow;
using routing::SchemaState;
using routing::ServerId;
using routing::ServerRow;

class DirectoryReader {
 public:
  virtual ~DirectoryReader() = default;

  // Reads everything in one consistent snapshot of the database. The caller owns the result.
  // DirectoryData::change_seq is where changes_since() continues (0 when !incremental()).
  virtual Result<DirectoryData> full_load(Db& db) = 0;

  // true = changes_since() works; false = the caller polls full_load() instead.
  virtual bool incremental() const = 0;

  // What changed after |seq| (a change_seq from full_load() or a to_seq from the previous
  // call). Continue with the returned to_seq. An error means the caller must fall back to
  // full_load(): Errc::NotFound = the session is fine but a full load is needed (change log
  // pruned, or a change a delta cannot express); anything else = the session failed.
  virtual Result<DirectoryDelta> changes_since(Db& db, uint64_t seq) = 0;

  // The session of Switchyard's state database (null = none), for profiles that keep part of
  // their directory there (ox: server metadata and the directory epoch). The caller keeps it
  // alive and calls again whenever it reconnects. Default: not needed.
  virtual void set_state(Db* state) { (void)state; }
};

// Name -> index into a schema vector, appending an enabled server-less schema for new names
// (a context whose schema has no row of its own). Readers use it while building DirectoryData.
class SchemaIndex {
 public:
  explicit SchemaIndex(std::vector<SchemaRow>* schemas);
  // Returns the index of |name|; a context row in schema order hits the one-entry cache.
  uint32_t get(const std::string& name);

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  std::vector<SchemaRow>* schemas_;
  std::unordered_map<std::string, uint32_t> index_;
  std::string last_;
  uint32_t cached_ = kNone;
};

// ---- Own profile ----------------------------------------------------------------------------

struct OwnProfileOptions {
  // Change rows read per changes_since() call; a bigger backlog is read over several calls
  // (a delta that is not empty means: call again now).
  size_t max_changes = 100000;
  // How long a gap in the change sequence may stay open before it is taken as permanent.
  // Sequence numbers are handed out at INSERT time but become visible at COMMIT, so a writer
  // that commits late fills a gap below numbers already read; a rolled-back writer (or Galera's
  // auto_increment_increment) leaves one for good. Rows newer than this are read again until
  // every gap below them is filled, proven rolled back, or old enough; each change is still
  // delivered only once. The rule (docs/decisions.md 43): a gap no writer holds (a locking
  // read that does not wait finds neither row nor lock) is passed at once; a gap whose writer
  // is still open (its row is locked) waits for the commit up to |settle_pending|; a gap that
  // cannot be proven either way (Galera, where a writer on another node holds no lock here)
  // is passed after |settle|. Both must stay below the sequencer's drain timeout
  // (admin.drain_timeout, default 30 s): the applied seq an instance reports waits for them.
  // On Galera (decision 50) auto_increment_increment leaves a gap after every change, so the
  // applied position (to_seq) is instead the newest seq the last read saw, and |settle| is only
  // how long rows above the safe point are read again so that a late gap filler is still
  // delivered. Configurable as database.change_settle.
  std::chrono::milliseconds settle{5000};
  std::chrono::milliseconds settle_pending{20000};
  // The full load reads sy_contexts over |load_sessions| sessions of its own in parallel, each
  // on a thread of its own (BulkSession: the MariaDB C API), when the table spans at least
  // |parallel_min_span| ids; below that (or with load_sessions 0) through the caller's session.
  // The id span is cut into |load_sessions| * |pages_per_session| key ranges (pages) that the
  // threads take in turn. docs/decisions.md 71 says why and why it is consistent.
  int load_sessions = 2;
  uint64_t parallel_min_span = 200000;
  int pages_per_session = 8;
  // Tests only: called on the caller's thread after its snapshot began and before the helper
  // sessions start theirs (a change committed here is what a racing writer does).
  std::function<void()> before_parallel_read;
};

// Reads sy_servers, sy_schemas, sy_contexts, sy_logins and follows sy_changes.
//
// full_load(): one START TRANSACTION WITH CONSISTENT SNAPSHOT on the caller's session for
// servers, schemas, logins and the change position; streamed SELECTs (no per-row allocation
// for contexts beyond the vector's growth). A big sy_contexts is read in parallel by helper
// sessions (OwnProfileOptions::load_sessions) whose snapshots start after the caller's: they
// see everything it sees, and whatever they see beyond it has a change row above change_seq
// that changes_since() delivers again (decision 71). They read the same server (identity
// checked; wsrep_sync_wait on Galera), stop at the first error of any of them, and are joined
// before full_load() returns. A context whose schema has no sy_schemas row gets a synthesised
// enabled schema with server 0, as RoutingSnapshot::apply() does for deltas. Contexts come in
// primary key order.
//
// changes_since(seq): in one snapshot, reads at most max_changes change rows after |seq|,
// de-duplicates their keys, and fetches the current row of every changed key by primary key in
// chunks (a bulk UPDATE of 20,000 contexts costs 20 lookups of 1,000 keys). A key without a row
// is reported removed. to_seq is the highest sequence number below which no young gap remains
// (see OwnProfileOptions::settle; on Galera the newest seq read); changes above that safe point
// are read again while young, and those already delivered are not delivered again. A newest
// seq below |seq| or another database identity is Errc::NotFound (a full load is needed).
class OwnProfileReader final : public DirectoryReader {
 public:
  explicit OwnProfileReader(OwnProfileOptions options = {}) : opt_(options) {}

  Result<DirectoryData> full_load(Db& db) override;
  bool incremental() const override { return true; }
  Result<DirectoryDelta> changes_since(Db& db, uint64_t seq) override;

 private:
  struct Position {
    uint64_t max_seq = 0;
    std::string identity;  // "server_id <n>" or "galera cluster <state uuid>"
  };
  // The newest change seq and the database's identity, in the caller's snapshot.
  static Result<Position> read_position(Db& db);

  OwnProfileOptions opt_;
  // The position the caller continues from (the last to_seq / change_seq handed out); any
  // other |seq| resets floor_ and delivered_ to it.
  uint64_t continue_seq_ = 0;
  // Where the next read starts: the safe point (no young gap below it). Equal to continue_seq_
  // where gaps are provable; on Galera it may be below it (see OwnProfileOptions::settle).
  uint64_t floor_ = 0;
  // Sequence numbers above floor_ already delivered (by full_load() or a delta), sorted.
  std::vector<uint64_t> delivered_;
  std::string identity_;     // of the database the last full load read; "" before it
  bool probe_gaps_ = false;  // the server can prove a gap rolled back (not Galera)
  // The window a gap waits for: settle_pending where gaps are probed, else settle.
  std::chrono::milliseconds window() const {
    return probe_gaps_ ? opt_.settle_pending : opt_.settle;
  }
};

// Bulk-inserts a synthetic own-profile directory for tests and benchmarks: |servers| servers
// (id 1.., "server-<id>", pool "pool-<id>", version "1.0"), |schemas| schemas ("schema_<n>",
// enabled, on server ((n-1) % servers) + 1), |contexts| contexts (id 1.., spread over the
// schemas in contiguous blocks, enabled, server NULL) and |logins_per_context| logins per
// context ("ctx<id>", "ctx<id>-<k>"). Multi-row prepared INSERTs of up to 5,000 rows; the change
// log is not written (@sy_skip_changes = 1 while seeding). Expects empty tables.
Result<Unit> seed_own_profile(Db& db, int contexts, int schemas, int servers,
                              int logins_per_context = 0);

// Deletes change rows older than |keep| (always keeping the newest row) and records how far it
// pruned, so that changes_since() from an older sequence fails (full reload) instead of
// silently missing changes. Returns the number of rows deleted. Admin/loader thread.
Result<uint64_t> prune_changes(Db& db, std::chrono::seconds keep);

// ---- SQL (compatibility) profile ------------------------------------------------------------
// For a tenant database Switchyard knows nothing about but the SELECTs in the YAML. An
// Open-Xchange configdb has its own profile (directory_ox.h): OX's semantics (maintenance
// reasons, login mappings, schemas without contexts) do not fit four generic SELECTs.

// The SELECTs of a compatibility profile. Column order matters, names do not; [] = optional
// trailing columns. NULL reads as 0 / "" / false.
struct SqlProfileQueries {
  std::string servers;   // id, name, [pool], [version], [redirect_url]
  std::string contexts;  // id, enabled, server_id, schema
  std::string logins;    // login, context_id; "" = no logins
  std::string schemas;   // schema, enabled, [server_id]; "" = every schema seen in contexts,
                         // enabled, server 0 (= taken from its contexts)
};

// What the tenant database lacks, by server name (configdb has no pool/version/URL columns).
struct ServerOverride {
  std::string name;          // matches ServerRow::name; names without a row are ignored
  std::string pool;          // "" = keep what the query returned
  std::string version;       // "" = keep
  std::string redirect_url;  // "" = keep
};

// Applies |overrides| to the rows of the servers they name (the YAML's database.servers).
void apply_overrides(const std::vector<ServerOverride>& overrides, std::vector<ServerRow>* servers);

// Runs the configured queries in one consistent snapshot. Read-only. A context whose schema is
// not returned by the schemas query gets an enabled schema with server 0 appended; a schema's
// server 0 means "take it from its contexts". Rows are passed on in query order (duplicates
// included; the snapshot builder decides).
class SqlProfileReader final : public DirectoryReader {
 public:
  SqlProfileReader(SqlProfileQueries queries, std::vector<ServerOverride> overrides = {})
      : queries_(std::move(queries)), overrides_(std::move(overrides)) {}

  Result<DirectoryData> full_load(Db& db) override;
  bool incremental() const override { return false; }
  // Always an error: this profile has no change sequence.
  Result<DirectoryDelta> changes_since(Db& db, uint64_t seq) override;

 private:
  SqlProfileQueries queries_;
  std::vector<ServerOverride> overrides_;
};

}  // namespace sy::store
