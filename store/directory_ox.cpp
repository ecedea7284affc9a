// The ox profile's reader: a full load of OX's tables, and the two-tier probe that turns
// OX's (and Switchyard's) writes into deltas without a change log. See directory_ox.h.

#include "store/directory_ox.h"

#include <algorithm>
#include <set>
#include <utility>

#include "common/ascii.h"
#include "common/fnv.h"
#include "store/query.h"

namespace sy::store {

namespace {

using Clock = std::chrono::steady_clock;

// One row per context and pool row; the columns every read of contexts uses (parse_context).
constexpr const char* kContextsSql =
    "SELECT c.cid, c.enabled, c.reason_id, p.server_id, p.db_schema"
    " FROM context c JOIN context_server2db_pool p ON p.cid = c.cid";

// Tier 2, per schema. CONCAT_WS skips NULLs, hence the COALESCEs ('n' cannot be a number).
constexpr const char* kSchemaSumsSql =
    "SELECT p.db_schema, COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS(',', c.cid,"
    " COALESCE(c.enabled, 'n'), COALESCE(c.reason_id, 'n'), p.server_id))), 0)"
    " FROM context_server2db_pool p JOIN context c ON c.cid = p.cid";

using Sentinel = OxProfileReader::Sentinel;

Sentinel parse_context(const Row& row) {
  Sentinel f;
  f.cid = row.u32(1);
  f.null_enabled = row.is_null(2);
  f.enabled = row.boolean(2);
  f.reason = row.u32(3);
  f.server = row.u32(4);
  row.str_into(5, f.schema);
  return f;
}

// Prefer, as a schema's sentinel, the lowest cid that OX's schema statements change: an
// enabled context, or one disabled by the maintenance reason. Otherwise the lowest cid (it
// still shows a changeserver).
bool better_sentinel(const Sentinel& f, uint32_t reason, const Sentinel* have) {
  auto watched = [reason](const Sentinel& c) { return c.enabled || c.reason == reason; };
  if (have == nullptr) {
    return true;
  }
  const bool a = watched(f);
  const bool b = watched(*have);
  if (a != b) {
    return a;
  }
  return f.cid < have->cid;
}

// One context row of OX's tables into |contexts| (schema |index|, whose row is |*schema|):
// the schema is disabled when the context carries the maintenance |reason| (such a context is
// not a disabled tenant), and |*best| keeps the schema's sentinel candidate.
void take_context(const Sentinel& f, uint32_t reason, uint32_t index, SchemaRow* schema,
                  std::vector<ContextRow>* contexts, std::map<std::string, Sentinel>* best) {
  const bool held = !f.enabled && f.reason == reason;
  if (held) {
    schema->state = SchemaState::Disabled;
  }
  contexts->push_back(ContextRow{f.cid, index, f.server, f.enabled || held});
  auto b = best->find(schema->name);
  if (better_sentinel(f, reason, b == best->end() ? nullptr : &b->second)) {
    Sentinel& kept = (*best)[schema->name];
    kept = f;
    kept.schema = schema->name;
  }
}

}  // namespace

// ---- state database ---------------------------------------------------------------------------

Result<std::vector<ServerOverride>> read_server_meta(Db& state) {
  return query_all(state,
                   "SELECT name, pool, version, redirect_url FROM sy_server_meta ORDER BY name",
                   [](const Row& row) {
                     return ServerOverride{row.str(1), row.str(2), row.str(3), row.str(4)};
                   });
}

Result<Unit> write_server_meta(Db& state, const ServerOverride& meta) {
  return done(exec(state,
                   "INSERT INTO sy_server_meta (name, pool, version, redirect_url)"
                   " VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE pool = VALUES(pool),"
                   " version = VALUES(version), redirect_url = VALUES(redirect_url),"
                   " updated_at = NOW(6)",
                   meta.name, meta.pool, meta.version, meta.redirect_url));
}

Result<Unit> delete_server_meta(Db& state, const std::string& name) {
  return done(exec(state, "DELETE FROM sy_server_meta WHERE name = ?", name));
}

Result<uint64_t> read_directory_epoch(Db& state) {
  return query_value<uint64_t>(state, "SELECT v FROM sy_meta WHERE k = 'directory_epoch'");
}

Result<uint64_t> bump_directory_epoch(Db& state) {
  // LAST_INSERT_ID(expr) makes the new value this session's, without a second read race.
  auto r = exec(state, "INSERT INTO sy_meta (k, v) VALUES ('directory_epoch', LAST_INSERT_ID(1))"
                       " ON DUPLICATE KEY UPDATE v = LAST_INSERT_ID(v + 1)");
  if (!r) {
    return r.error();
  }
  return query_value<uint64_t>(state, "SELECT LAST_INSERT_ID()");
}

// ---- OxProfileReader ------------------------------------------------------------------------

Result<OxProfileReader::Read> OxProfileReader::begin_read(Db& db) {
  uint64_t epoch = 0;
  std::vector<ServerOverride> meta;
  if (state_ != nullptr) {
    auto e = read_directory_epoch(*state_);
    if (!e) {
      return e.error();
    }
    epoch = *e;
    auto m = read_server_meta(*state_);
    if (!m) {
      return m.error();
    }
    meta = std::move(m.value());
  }
  auto txn = db.begin(TxnMode::Snapshot);
  if (!txn) {
    return txn.error();
  }
  return Read{epoch, std::move(meta), std::move(txn.value())};
}

Result<uint64_t> OxProfileReader::small_hash(Db& db, const std::vector<ServerRow>& servers,
                                             const std::vector<ServerOverride>& meta) {
  Fnv64 f;
  for (const ServerRow& s : servers) {
    f.num(s.id);
    f.str(s.name);
  }
  for (const ServerOverride& m : meta) {
    f.str(m.name);
    f.str(m.pool);
    f.str(m.version);
    f.str(m.redirect_url);
  }
  auto r = db.query("SELECT db_pool_id, schemaname, count FROM contexts_per_dbschema"
                    " ORDER BY db_pool_id, schemaname",
                    [&](const Row& row) {
                      f.num(row.u32(1));
                      f.str(row.str(2));
                      f.num(row.u64(3));
                    });
  if (!r) {
    return r.error();
  }
  r = db.query("SELECT (SELECT COALESCE(MAX(cid), 0) FROM context),"
               " (SELECT COALESCE(MAX(id), 0) FROM configdb_sequence)",
               [&](const Row& row) {
                 f.num(row.u64(1));
                 f.num(row.u64(2));
               });
  if (!r) {
    return r.error();
  }
  return f.h;
}

Result<std::map<std::string, OxProfileReader::Sum>>
OxProfileReader::schema_sums(Db& db, const std::vector<std::string>& only) {
  std::map<std::string, Sum> out;
  auto visit = [&](const Row& row) { out[row.str(1)] = Sum{row.u64(2), row.u64(3)}; };
  if (only.empty()) {
    if (auto q = db.query(std::string(kSchemaSumsSql) + " GROUP BY p.db_schema", visit); !q) {
      return q.error();
    }
  } else if (auto r = query_in_chunks(db, kSchemaSumsSql, "p.db_schema", only, visit,
                                      " GROUP BY p.db_schema");
             !r) {
    return r.error();
  }
  return out;
}

Result<OxProfileReader::Sum> OxProfileReader::login_sum(Db& db) {
  Sum s;
  auto r = db.query(
      "SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT(login_info, ',', cid))), 0) FROM login2context",
      [&](const Row& row) {
        s = Sum{row.u64(1), row.u64(2)};
      });
  if (!r) {
    return r.error();
  }
  return s;
}

Result<DirectoryData> OxProfileReader::full_load(Db& db) {
  base_.valid = false;
  auto read = begin_read(db);
  if (!read) {
    return read.error();
  }
  const std::vector<ServerOverride>& meta = read->meta;
  DirectoryData data;
  data.change_seq = read->epoch;
  auto r = db.query("SELECT server_id, name FROM server ORDER BY server_id", [&](const Row& row) {
    data.servers.push_back(ServerRow{row.u32(1), row.str(2), {}, {}, {}});
  });
  if (!r) {
    return r.error();
  }
  Baseline base;
  auto small = small_hash(db, data.servers, meta);
  if (!small) {
    return small.error();
  }
  base.small_hash = *small;
  apply_overrides(meta, &data.servers);

  // Schemas in OX's order of registration (pool, name); empty ones included.
  SchemaIndex schemas(&data.schemas);
  r = db.query("SELECT schemaname FROM contexts_per_dbschema ORDER BY db_pool_id, schemaname",
               [&](const Row& row) { schemas.get(row.str(1)); });
  if (!r) {
    return r.error();
  }

  std::map<std::string, Sentinel> best;  // schema -> sentinel candidate
  r = db.query(kContextsSql, [&](const Row& row) {
    Sentinel f = parse_context(row);
    const uint32_t index = schemas.get(f.schema);
    take_context(f, opt_.maintenance_reason, index, &data.schemas[index], &data.contexts, &best);
  });
  if (!r) {
    return r.error();
  }
  base.sentinels = std::move(best);
  r = db.query("SELECT login_info, cid FROM login2context", [&](const Row& row) {
    data.logins.push_back(LoginRow{row.str(1), row.u32(2)});
  });
  if (!r) {
    return r.error();
  }
  // Tier 2 baselines in the same snapshot as the rows delivered.
  auto sums = schema_sums(db, {});
  if (!sums) {
    return sums.error();
  }
  base.schema_sums = std::move(sums.value());
  auto logins = login_sum(db);
  if (!logins) {
    return logins.error();
  }
  base.logins = *logins;
  if (auto c = read->txn.commit(); !c) {
    return c.error();
  }
  base.epoch = read->epoch;
  base.valid = true;
  base_ = std::move(base);
  next_checksum_ = Clock::now() + opt_.checksum_interval;
  return data;
}

Result<std::map<std::string, OxProfileReader::Sentinel>>
OxProfileReader::read_schemas(Db& db, const std::vector<std::string>& names,
                              DirectoryDelta* delta) {
  std::map<std::string, uint32_t> local;  // schema -> index in delta->schema_names
  for (const std::string& n : names) {
    local.emplace(n, static_cast<uint32_t>(delta->schema_names.size()));
    delta->schema_names.push_back(n);
    delta->schemas.push_back(SchemaRow{n, SchemaState::Enabled, 0});
  }
  std::map<std::string, Sentinel> best;
  auto r = query_in_chunks(db, kContextsSql, "p.db_schema", names, [&](const Row& row) {
    Sentinel f = parse_context(row);
    auto it = local.find(f.schema);
    if (it == local.end()) {
      // The column compares case-insensitively; deliver under the name asked for.
      for (const auto& [n, i] : local) {
        if (iequals(n, f.schema)) {
          it = local.find(n);
          break;
        }
      }
      if (it == local.end()) {
        return;
      }
    }
    take_context(f, opt_.maintenance_reason, it->second, &delta->schemas[it->second],
                 &delta->contexts, &best);
  });
  if (!r) {
    return r.error();
  }
  return best;
}

Result<DirectoryDelta> OxProfileReader::changes_since(Db& db, uint64_t seq) {
  if (!base_.valid || seq != base_.epoch) {
    return make_error(Errc::NotFound, "ox profile: no baseline at epoch " + std::to_string(seq) +
                                          ": full reload needed");
  }
  auto read = begin_read(db);
  if (!read) {
    return read.error();
  }
  std::vector<ServerRow> servers;
  auto r = db.query("SELECT server_id, name FROM server ORDER BY server_id", [&](const Row& row) {
    servers.push_back(ServerRow{row.u32(1), row.str(2), {}, {}, {}});
  });
  if (!r) {
    return r.error();
  }
  auto small = small_hash(db, servers, read->meta);
  if (!small) {
    return small.error();
  }
  if (*small != base_.small_hash) {
    base_.valid = false;
    return make_error(Errc::NotFound,
                      "ox profile: servers, schemas or contexts were added or removed: full "
                      "reload");
  }

  // Tier 1: the sentinels.
  std::vector<uint32_t> cids;
  std::map<uint32_t, const Sentinel*> by_cid;
  for (const auto& [schema, s] : base_.sentinels) {
    cids.push_back(s.cid);
    by_cid[s.cid] = &s;
  }
  std::sort(cids.begin(), cids.end());
  std::set<std::string> changed;
  std::set<uint32_t> seen;
  auto probed = query_in_chunks(db, kContextsSql, "c.cid", cids, [&](const Row& row) {
    Sentinel f = parse_context(row);
    auto it = by_cid.find(f.cid);
    if (it == by_cid.end()) {
      return;
    }
    seen.insert(f.cid);
    const Sentinel& was = *it->second;
    if (!(f == was)) {
      changed.insert(was.schema);
    }
  });
  if (!probed) {
    return probed.error();
  }
  if (seen.size() != cids.size()) {
    base_.valid = false;
    return make_error(Errc::NotFound, "ox profile: a watched context disappeared: full reload");
  }

  // Tier 2, when due.
  const bool checksum = Clock::now() >= next_checksum_;
  std::map<std::string, Sum> sums;
  if (checksum) {
    auto s = schema_sums(db, {});
    if (!s) {
      return s.error();
    }
    sums = std::move(s.value());
    auto logins = login_sum(db);
    if (!logins) {
      return logins.error();
    }
    if (!(*logins == base_.logins)) {
      base_.valid = false;
      return make_error(Errc::NotFound, "ox profile: login mappings changed: full reload");
    }
    std::set<std::string> all;
    for (const auto& [schema, sum] : sums) {
      all.insert(schema);
    }
    for (const auto& [schema, sum] : base_.schema_sums) {
      all.insert(schema);
    }
    for (const std::string& schema : all) {
      auto a = sums.find(schema);
      auto b = base_.schema_sums.find(schema);
      if (a == sums.end() || b == base_.schema_sums.end()) {
        base_.valid = false;  // contexts in a schema that had none, or the reverse
        return make_error(Errc::NotFound, "ox profile: schema '" + schema +
                                              "' gained or lost all its contexts: full reload");
      }
      if (!(a->second == b->second)) {
        changed.insert(schema);
      }
    }
  }

  DirectoryDelta delta;
  delta.from_seq = seq;
  delta.to_seq = std::max(seq, read->epoch);
  std::vector<std::string> names(changed.begin(), changed.end());
  if (!names.empty()) {
    auto sentinels = read_schemas(db, names, &delta);
    if (!sentinels) {
      return sentinels.error();
    }
    if (!checksum) {
      // Keep the tier 2 baseline true to what is delivered: the re-read schemas' sums now.
      auto s = schema_sums(db, names);
      if (!s) {
        return s.error();
      }
      for (const std::string& n : names) {
        auto it = s->find(n);
        if (it != s->end()) {
          base_.schema_sums[n] = it->second;
        }
      }
    }
    for (const std::string& n : names) {
      auto it = sentinels->find(n);
      if (it != sentinels->end()) {
        base_.sentinels[n] = it->second;
      } else {
        base_.sentinels.erase(n);
      }
    }
  }
  if (auto c = read->txn.commit(); !c) {
    return c.error();
  }
  if (checksum) {
    base_.schema_sums = std::move(sums);
    next_checksum_ = Clock::now() + opt_.checksum_interval;
  }
  base_.epoch = delta.to_seq;
  return delta;
}

}  // namespace sy::store
