// Directory readers: the own profile (full load + change log) and the SQL compatibility profile.
// Table layouts are created by admin/db_migrate.cpp; the change log is written by triggers.

#include "store/directory_reader.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>

#include "store/context_scan.h"
#include "store/own_tables.h"
#include "store/query.h"

namespace sy::store {

namespace {

// Change kinds as FIELD(kind, 'server', 'schema', 'context', 'login') numbers them.
enum Kind : int { KindServer = 1, KindSchema = 2, KindContext = 3, KindLogin = 4 };

// A change row as the gap walk needs it.
struct SeqRow {
  uint64_t seq;
  bool settled;  // older than OwnProfileOptions::settle
};

// Walks |rows| (ascending) from |from| and returns the last sequence number reached before a
// gap that may still fill: a gap is passed when the row after it is settled (older than
// OwnProfileOptions::settle) or when |rolled_back|(lo, hi) proves no writer holds it (asked for
// at most kMaxGapProbes gaps per walk, so a log full of gaps costs a bounded number of reads).
constexpr int kMaxGapProbes = 16;

template <class RolledBack>
uint64_t safe_point(uint64_t from, const std::vector<SeqRow>& rows, RolledBack&& rolled_back) {
  uint64_t prev = from;
  int probes = 0;
  for (const SeqRow& r : rows) {
    if (r.seq != prev + 1 && !r.settled &&
        !(probes++ < kMaxGapProbes && rolled_back(prev + 1, r.seq - 1))) {
      break;
    }
    prev = r.seq;
  }
  return prev;
}

// Whether no change row numbered lo..hi exists or is being written, read without waiting: an
// uncommitted writer holds the lock of the row it inserted, so the locking read fails at once
// (the gap may still fill); no row and no lock means the numbers were rolled back, and
// AUTO_INCREMENT never hands a number out twice. A row committed since the caller's snapshot
// counts as "not rolled back" (the next round reads it). Takes no lock a writer waits for:
// new numbers are above every existing row, outside the range read here.
bool gap_rolled_back(Db& db, uint64_t lo, uint64_t hi) {
  auto n = query_value<uint64_t>(
      db, "SELECT COUNT(*) FROM sy_changes WHERE seq BETWEEN ? AND ? LOCK IN SHARE MODE NOWAIT", lo,
      hi);
  return n && *n == 0;
}

// Whether gap_rolled_back() can prove anything on this session's server: not on Galera, where
// a writer on another node holds no lock here (settle alone decides there).
bool gaps_provable(Db& db) {
  auto wsrep = query_value<uint64_t>(db, "SELECT COALESCE(@@GLOBAL.wsrep_on, 0)");
  return wsrep && *wsrep == 0;
}

// The database's identity as OwnProfileReader::Position has it (one column, no table).
constexpr const char* kIdentityColumn =
    "CONCAT(IF(COALESCE(@@GLOBAL.wsrep_on, 0) = 1, CONCAT('galera cluster ',"
    " COALESCE((SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS"
    " WHERE VARIABLE_NAME = 'wsrep_cluster_state_uuid'), '?')), CONCAT('server_id ',"
    " @@server_id)))";

int64_t micros(std::chrono::milliseconds d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

std::optional<uint32_t> parse_u32(std::string_view text) {
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return v;
}

template <class T>
void sort_unique(std::vector<T>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// Keys in |wanted| (sorted, unique) that are not in |found| (sorted afterwards here).
template <class T>
std::vector<T> missing(const std::vector<T>& wanted, std::vector<T> found) {
  sort_unique(found);
  std::vector<T> out;
  std::set_difference(wanted.begin(), wanted.end(), found.begin(), found.end(),
                      std::back_inserter(out));
  return out;
}

// Reads the change rows after |from| (at most |limit|) with their kind and key.
struct ChangeRow {
  uint64_t seq;
  int kind;
  std::string key;
  bool settled;
};

Result<std::vector<ChangeRow>> read_changes(Db& db, uint64_t from, size_t limit,
                                            std::chrono::milliseconds settle) {
  return query_all(
      db,
      "SELECT seq, FIELD(kind, 'server', 'schema', 'context', 'login'), key_text,"
      " at < NOW(6) - INTERVAL ? MICROSECOND"
      " FROM sy_changes WHERE seq > ? ORDER BY seq LIMIT ?",
      [](const Row& row) {
        return ChangeRow{row.u64(1), row.i32(2), row.str(3), row.boolean(4)};
      },
      micros(settle), from, static_cast<uint64_t>(limit));
}

// The highest change seq prune_changes() deleted; 0 = never pruned.
Result<uint64_t> pruned_through(Db& db) {
  return query_value<uint64_t>(db, "SELECT v FROM sy_meta WHERE k = 'changes_pruned_through'");
}

// Fails when prune_changes() removed change rows after |from|.
Result<Unit> check_not_pruned(Db& db, uint64_t from) {
  auto pruned_r = pruned_through(db);
  if (!pruned_r) {
    return pruned_r.error();
  }
  const uint64_t pruned = *pruned_r;
  if (from < pruned) {
    return make_error(Errc::NotFound, "change log pruned through seq " + std::to_string(pruned) +
                                          "; changes after seq " + std::to_string(from) +
                                          " are gone: full reload needed");
  }
  return ok_result();
}

}  // namespace

SchemaIndex::SchemaIndex(std::vector<SchemaRow>* schemas) : schemas_(schemas) {
  for (uint32_t i = 0; i < schemas_->size(); ++i) {
    index_.emplace((*schemas_)[i].name, i);
  }
}

uint32_t SchemaIndex::get(const std::string& name) {
  if (cached_ != kNone && name == last_) {
    return cached_;
  }
  auto it = index_.find(name);
  if (it == index_.end()) {
    const auto i = static_cast<uint32_t>(schemas_->size());
    schemas_->push_back(SchemaRow{name, SchemaState::Enabled, 0});
    it = index_.emplace(name, i).first;
  }
  last_ = name;
  cached_ = it->second;
  return cached_;
}

// ---- OwnProfileReader -----------------------------------------------------------------------

Result<DirectoryData> OwnProfileReader::full_load(Db& db) {
  probe_gaps_ = gaps_provable(db);  // a full load follows every (re)connect
  auto txn = db.begin(TxnMode::Snapshot);
  if (!txn) {
    return txn.error();
  }
  DirectoryData data;

  auto r = db.query("SELECT id, name, pool, version, redirect_url FROM sy_servers ORDER BY id",
                    [&](const Row& row) {
                      data.servers.push_back(
                          ServerRow{row.u32(1), row.str(2), row.str(3), row.str(4), row.str(5)});
                    });
  if (!r) {
    return r.error();
  }
  r = db.query(
      "SELECT name, " + std::string(kOwnSchemaState) + ", server_id FROM sy_schemas ORDER BY name",
      [&](const Row& row) {
        data.schemas.push_back(SchemaRow{row.str(1), own_schema_state(row, 2), row.u32(3)});
      });
  if (!r) {
    return r.error();
  }

  // The big one. A big table is read by helper sessions in parallel (context_scan.h) while
  // this session reads the logins; else one streamed SELECT here.
  auto position = read_position(db);
  if (!position) {
    return position.error();
  }
  SchemaIndex schemas(&data.schemas);
  std::optional<SchemaNames> known;
  std::optional<ContextScan> scan;
  auto span = query_one(
      // MIN and MAX of the primary key are one index dive each (COUNT(*) would scan it all).
      db, "SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), 0), MIN(id) IS NOT NULL FROM sy_contexts",
      [](const Row& row) { return std::array<uint64_t, 3>{row.u64(1), row.u64(2), row.u64(3)}; });
  if (!span) {
    return span.error();
  }
  const auto [lo, hi, any] = span->value_or(std::array<uint64_t, 3>{});
  if (opt_.load_sessions > 0 && any != 0 && hi - lo + 1 >= opt_.parallel_min_span) {
    known.emplace();
    for (uint32_t i = 0; i < data.schemas.size(); ++i) {
      known->emplace(data.schemas[i].name, i);
    }
    scan.emplace(db.dsn(),
                 ContextScanOptions{opt_.load_sessions, opt_.pages_per_session, !probe_gaps_,
                                    std::string("SELECT ") + kIdentityColumn,
                                    position->identity},
                 lo, hi, &*known);
    if (opt_.before_parallel_read) {
      opt_.before_parallel_read();
    }
    scan->start();
  } else {
    // The schema name is read into a reused buffer and resolved through a one-entry cache,
    // so a row costs no allocation.
    std::string name;
    r = db.query("SELECT id, schema_name, enabled, server_id FROM sy_contexts ORDER BY id",
                 [&](const Row& row) {
                   row.str_into(2, name);
                   data.contexts.push_back(
                       ContextRow{row.u32(1), schemas.get(name), row.u32(4), row.boolean(3)});
                 });
    if (!r) {
      return r.error();
    }
  }
  r = db.query("SELECT login, context_id FROM sy_logins", [&](const Row& row) {
    data.logins.push_back(LoginRow{row.str(1), row.u32(2)});
  });
  if (!r) {
    return r.error();
  }
  if (scan) {
    if (auto done = scan->finish([&](const std::string& name) { return schemas.get(name); },
                                 &data.contexts);
        !done) {
      return done.error();
    }
  }

  // Where changes_since() continues: the last sequence number with no young gap below it.
  // Only rows newer than |settle| can sit above such a gap, and the by_at index finds them.
  auto first_young = query_value<uint64_t>(
      db, "SELECT MIN(seq) FROM sy_changes WHERE at >= NOW(6) - INTERVAL ? MICROSECOND",
      micros(window()));
  if (!first_young) {
    return first_young.error();
  }
  std::vector<uint64_t> delivered;
  if (*first_young == 0) {
    auto max = query_value<uint64_t>(db, "SELECT COALESCE(MAX(seq), 0) FROM sy_changes");
    if (!max) {
      return max.error();
    }
    data.change_seq = *max;
  } else {
    // The walk starts at the last row before the young ones (or where pruning stopped, when
    // the rows before are gone).
    auto before = query_value<uint64_t>(
        db, "SELECT COALESCE(MAX(seq), 0) FROM sy_changes WHERE seq < ?", *first_young);
    if (!before) {
      return before.error();
    }
    auto pruned = pruned_through(db);
    if (!pruned) {
      return pruned.error();
    }
    const uint64_t from = std::max(*before, std::min(*pruned, *first_young - 1));
    auto rows = query_all(
        db,
        "SELECT seq, at < NOW(6) - INTERVAL ? MICROSECOND FROM sy_changes WHERE seq >= ?"
        " ORDER BY seq",
        [](const Row& row) {
          return SeqRow{row.u64(1), row.boolean(2)};
        },
        micros(window()), *first_young);
    if (!rows) {
      return rows.error();
    }
    data.change_seq = safe_point(from, *rows, [&](uint64_t lo, uint64_t hi) {
      return probe_gaps_ && gap_rolled_back(db, lo, hi);
    });
    for (const SeqRow& row : *rows) {
      if (row.seq > data.change_seq) {
        delivered.push_back(row.seq);  // already in this snapshot
      }
    }
  }
  // A quiet log pruned to nothing has MAX(seq) 0 below the pruning point; this load contains
  // every pruned change, so continue from there (else each refresh would ask for a full load).
  auto pruned = pruned_through(db);
  if (!pruned) {
    return pruned.error();
  }
  data.change_seq = std::max(data.change_seq, *pruned);
  const Position* where = &*position;  // read in this snapshot before the contexts
  if (auto c = txn->commit(); !c) {
    return c.error();
  }
  floor_ = data.change_seq;
  identity_ = where->identity;
  if (!probe_gaps_) {
    // Galera: the position is what this read saw (see OwnProfileOptions::settle).
    data.change_seq = std::max(data.change_seq, where->max_seq);
  }
  continue_seq_ = data.change_seq;
  delivered_ = std::move(delivered);
  return data;
}

Result<OwnProfileReader::Position> OwnProfileReader::read_position(Db& db) {
  auto where = query_one(
      db, std::string("SELECT COALESCE(MAX(seq), 0), ") + kIdentityColumn + " FROM sy_changes",
      [](const Row& row) {
        return Position{row.u64(1), row.str(2)};
      });
  if (!where) {
    return where.error();
  }
  return where->value_or(Position{});
}

Result<DirectoryDelta> OwnProfileReader::changes_since(Db& db, uint64_t seq) {
  if (seq != continue_seq_) {
    delivered_.clear();  // the caller starts from somewhere else: deliver everything
    floor_ = seq;
  }
  auto txn = db.begin(TxnMode::Snapshot);
  if (!txn) {
    return txn.error();
  }
  if (auto r = check_not_pruned(db, floor_); !r) {
    return r.error();
  }
  // Another database behind the same session name (a promoted replica, another cluster), or a
  // change log that went backwards (a promoted replica that lagged and hands out numbers
  // already applied): the position means nothing there, start over with a full load.
  auto where = read_position(db);
  if (!where) {
    return where.error();
  }
  if (!identity_.empty() && where->identity != identity_) {
    return make_error(Errc::NotFound, "the database changed identity (" + identity_ + ", now " +
                                          where->identity + ")");
  }
  auto pruned = pruned_through(db);
  if (!pruned) {
    return pruned.error();
  }
  if (std::max(where->max_seq, *pruned) < seq) {
    return make_error(Errc::NotFound, "the change sequence went backwards (newest " +
                                          std::to_string(where->max_seq) + ", applied " +
                                          std::to_string(seq) + ")");
  }
  auto changes = read_changes(db, floor_, opt_.max_changes, window());
  if (!changes) {
    return changes.error();
  }

  DirectoryDelta delta;
  delta.from_seq = seq;
  std::vector<SeqRow> seqs;
  seqs.reserve(changes->size());
  std::vector<uint32_t> server_ids;
  std::vector<uint32_t> context_ids;
  std::vector<std::string> schema_names;
  std::vector<std::string> logins;
  for (ChangeRow& c : *changes) {
    seqs.push_back(SeqRow{c.seq, c.settled});
    if (std::binary_search(delivered_.begin(), delivered_.end(), c.seq)) {
      continue;
    }
    switch (c.kind) {
    case KindServer:
      if (auto id = parse_u32(c.key)) {
        server_ids.push_back(*id);
      }
      break;
    case KindContext:
      if (auto id = parse_u32(c.key)) {
        context_ids.push_back(*id);
      }
      break;
    case KindSchema: schema_names.push_back(std::move(c.key)); break;
    case KindLogin: logins.push_back(std::move(c.key)); break;
    default: break;  // a kind this version does not know: nothing to read
    }
  }
  sort_unique(server_ids);
  sort_unique(context_ids);
  sort_unique(schema_names);
  sort_unique(logins);

  // Current rows of the changed keys, read in the same snapshot as the change rows.
  std::vector<uint32_t> found_ids;
  auto r = query_in_chunks(db, "SELECT id, name, pool, version, redirect_url FROM sy_servers", "id",
                           server_ids, [&](const Row& row) {
                             delta.servers.push_back(ServerRow{row.u32(1), row.str(2), row.str(3),
                                                               row.str(4), row.str(5)});
                             found_ids.push_back(row.u32(1));
                           });
  if (!r) {
    return r.error();
  }
  delta.removed_servers = missing(server_ids, std::move(found_ids));

  std::vector<std::string> found_names;
  r = query_in_chunks(
      db, "SELECT name, " + std::string(kOwnSchemaState) + ", server_id FROM sy_schemas", "name",
      schema_names, [&](const Row& row) {
        delta.schemas.push_back(SchemaRow{row.str(1), own_schema_state(row, 2), row.u32(3)});
        found_names.push_back(delta.schemas.back().name);
      });
  if (!r) {
    return r.error();
  }
  delta.removed_schemas = missing(schema_names, std::move(found_names));

  found_ids.clear();
  {
    std::unordered_map<std::string, uint32_t> local;  // schema name -> index in schema_names
    std::string name;
    r = query_in_chunks(
        db, "SELECT id, schema_name, enabled, server_id FROM sy_contexts", "id", context_ids,
        [&](const Row& row) {
          row.str_into(2, name);
          auto it = local.find(name);
          if (it == local.end()) {
            it = local.emplace(name, static_cast<uint32_t>(delta.schema_names.size())).first;
            delta.schema_names.push_back(name);
          }
          delta.contexts.push_back(ContextRow{row.u32(1), it->second, row.u32(4), row.boolean(3)});
          found_ids.push_back(row.u32(1));
        });
  }
  if (!r) {
    return r.error();
  }
  delta.removed_contexts = missing(context_ids, std::move(found_ids));

  found_names.clear();
  r = query_in_chunks(db, "SELECT login, context_id FROM sy_logins", "login", logins,
                      [&](const Row& row) {
                        delta.logins.push_back(LoginRow{row.str(1), row.u32(2)});
                        found_names.push_back(delta.logins.back().login);
                      });
  if (!r) {
    return r.error();
  }
  delta.removed_logins = missing(logins, std::move(found_names));

  if (auto c = txn->commit(); !c) {
    return c.error();
  }

  // Everything read above the safe point stays "delivered" until the walk passes it, and is
  // read again (from floor_) until then, so a gap that fills late is still delivered.
  const uint64_t safe = safe_point(floor_, seqs, [&](uint64_t lo, uint64_t hi) {
    return probe_gaps_ && gap_rolled_back(db, lo, hi);
  });
  // The applied position: where gaps are provable the safe point (a gap an open writer holds
  // keeps it back, decision 43); on Galera what this read saw, so that a stride of
  // auto_increment_increment costs no settle window per change (decision 50).
  delta.to_seq = probe_gaps_ ? safe : std::max(seq, seqs.empty() ? safe : seqs.back().seq);
  std::vector<uint64_t> delivered;
  for (const SeqRow& s : seqs) {
    if (s.seq > safe) {
      delivered.push_back(s.seq);
    }
  }
  for (uint64_t s : delivered_) {
    if (s > safe) {
      delivered.push_back(s);
    }
  }
  sort_unique(delivered);
  delivered_ = std::move(delivered);
  floor_ = safe;
  continue_seq_ = delta.to_seq;
  return delta;
}

// ---- pruning --------------------------------------------------------------------------------

Result<uint64_t> prune_changes(Db& db, std::chrono::seconds keep) {
  if (keep < std::chrono::seconds(300)) {
    return make_error(Errc::InvalidArgument,
                      "prune_changes: keep at least 300 s of changes (readers re-read the "
                      "newest ones while gaps settle)");
  }
  // The newest change row older than |keep|, but never the newest row of all.
  auto oldest =
      query_value<uint64_t>(db,
                            "SELECT COALESCE(MIN(seq), 0) FROM ("
                            " SELECT seq FROM sy_changes WHERE at < NOW(6) - INTERVAL ? SECOND"
                            " ORDER BY at DESC LIMIT 1) newest_old",
                            static_cast<int64_t>(keep.count()));
  if (!oldest) {
    return oldest.error();
  }
  auto max = query_value<uint64_t>(db, "SELECT COALESCE(MAX(seq), 0) FROM sy_changes");
  if (!max) {
    return max.error();
  }
  const uint64_t through = std::min(*oldest, *max == 0 ? 0 : *max - 1);
  if (through == 0) {
    return uint64_t{0};
  }
  // Record first: a reader that sees the mark before the rows are gone reloads a bit early,
  // never late.
  if (auto r = exec(db,
                    "INSERT INTO sy_meta (k, v) VALUES ('changes_pruned_through', ?)"
                    " ON DUPLICATE KEY UPDATE v = GREATEST(v, VALUES(v))",
                    through);
      !r) {
    return r.error();
  }
  uint64_t total = 0;
  for (;;) {
    auto n = exec(db, "DELETE FROM sy_changes WHERE seq <= ? ORDER BY seq LIMIT 10000", through);
    if (!n) {
      return n.error();
    }
    total += *n;
    if (*n < 10000) {
      break;
    }
  }
  return total;
}

// ---- SqlProfileReader -----------------------------------------------------------------------

namespace {

// Checks a query's column count on its first row; a mismatch fails the load with a Config error
// naming the query and the expected columns.
struct ColumnCheck {
  const char* query;
  const char* expected;
  unsigned min;
  unsigned max;
  std::optional<Error> error;

  bool ok(const Row& row) {
    if (error) {
      return false;
    }
    if (row.columns() < min || row.columns() > max) {
      error = make_error(Errc::Config, std::string(query) + " query returns " +
                                           std::to_string(row.columns()) + " columns; expected " +
                                           expected);
      return false;
    }
    return true;
  }
};

}  // namespace

Result<DirectoryData> SqlProfileReader::full_load(Db& db) {
  if (queries_.servers.empty() || queries_.contexts.empty()) {
    return make_error(Errc::Config, "SQL profile: the servers and contexts queries are required");
  }
  auto txn = db.begin(TxnMode::Snapshot);
  if (!txn) {
    return txn.error();
  }
  DirectoryData data;

  ColumnCheck servers{"servers", "id, name, [pool], [version], [redirect_url]", 2, 5, {}};
  auto r = db.query(queries_.servers, [&](const Row& row) {
    if (!servers.ok(row)) {
      return;
    }
    ServerRow s{row.u32(1), row.str(2), {}, {}, {}};
    if (row.columns() >= 3)
      s.pool = row.str(3);
    if (row.columns() >= 4)
      s.version = row.str(4);
    if (row.columns() >= 5)
      s.redirect_url = row.str(5);
    data.servers.push_back(std::move(s));
  });
  if (!r) {
    return r.error();
  }
  if (servers.error) {
    return *servers.error;
  }
  apply_overrides(overrides_, &data.servers);

  if (!queries_.schemas.empty()) {
    ColumnCheck schemas{"schemas", "schema, enabled, [server_id]", 2, 3, {}};
    std::unordered_map<std::string, size_t> seen;
    r = db.query(queries_.schemas, [&](const Row& row) {
      if (!schemas.ok(row)) {
        return;
      }
      SchemaRow s{row.str(1), row.boolean(2) ? SchemaState::Enabled : SchemaState::Disabled,
                  row.columns() >= 3 ? row.u32(3) : 0};
      auto [it, inserted] = seen.emplace(s.name, data.schemas.size());
      if (inserted) {
        data.schemas.push_back(std::move(s));
      } else {
        data.schemas[it->second] = std::move(s);  // listed twice: the last row wins
      }
    });
    if (!r) {
      return r.error();
    }
    if (schemas.error) {
      return *schemas.error;
    }
  }

  ColumnCheck contexts{"contexts", "id, enabled, server_id, schema", 4, 4, {}};
  SchemaIndex schema_index(&data.schemas);
  std::string name;
  r = db.query(queries_.contexts, [&](const Row& row) {
    if (!contexts.ok(row)) {
      return;
    }
    row.str_into(4, name);
    data.contexts.push_back(
        ContextRow{row.u32(1), schema_index.get(name), row.u32(3), row.boolean(2)});
  });
  if (!r) {
    return r.error();
  }
  if (contexts.error) {
    return *contexts.error;
  }

  if (!queries_.logins.empty()) {
    ColumnCheck logins{"logins", "login, context_id", 2, 2, {}};
    r = db.query(queries_.logins, [&](const Row& row) {
      if (logins.ok(row)) {
        data.logins.push_back(LoginRow{row.str(1), row.u32(2)});
      }
    });
    if (!r) {
      return r.error();
    }
    if (logins.error) {
      return *logins.error;
    }
  }
  if (auto c = txn->commit(); !c) {
    return c.error();
  }
  return data;
}

Result<DirectoryDelta> SqlProfileReader::changes_since(Db&, uint64_t) {
  return make_error(Errc::InvalidArgument,
                    "the SQL profile has no change sequence; use full_load()");
}

void apply_overrides(const std::vector<ServerOverride>& overrides,
                     std::vector<ServerRow>* servers) {
  for (const ServerOverride& o : overrides) {
    for (ServerRow& s : *servers) {
      if (s.name != o.name) {
        continue;
      }
      if (!o.pool.empty())
        s.pool = o.pool;
      if (!o.version.empty())
        s.version = o.version;
      if (!o.redirect_url.empty())
        s.redirect_url = o.redirect_url;
    }
  }
}

}  // namespace sy::store
