// The ox profile's directory (admin/directory.h): an unchanged Open-Xchange configdb, written
// with the statements OX's own tools run, so OX nodes and OX's CLI see the same rows at every
// moment:
//
//   register server   UPDATE configdb_sequence SET id=LAST_INSERT_ID(id+1); SELECT LAST_INSERT_ID()
//                     INSERT INTO server (server_id, name) VALUES (?, ?)          (registerserver)
//   disable schema    UPDATE context SET enabled = 0, reason_id = ? WHERE cid IN (SELECT cid
//                     FROM context_server2db_pool WHERE db_schema = ?) AND enabled = 1
//                     after OX's check that the schema has one write pool      (disableschema)
//   enable schema     UPDATE context SET enabled = 1, reason_id = NULL WHERE cid IN (...) AND
//                     enabled = 0 AND reason_id = ?   -- never a context disabled for another
//                     reason                                                     (enableschema)
//   move schema       UPDATE context_server2db_pool SET server_id=? WHERE db_schema=?
//                     refused unless every context of the schema is disabled  (changeserver)
//   unregister server DELETE FROM server WHERE server_id = ?, refused while a context is on
//                     it                                                 (unregisterserver)
//
// What OX's tables cannot hold goes to the state database: a server's pool, version and
// redirect URL (sy_server_meta), and the directory epoch, bumped after every write so every
// instance's loader re-reads and reports it (routing/directory_ox.h).

#include <algorithm>
#include <map>
#include <optional>

#include "admin/directory.h"
#include "common/ascii.h"
#include "store/db_error.h"
#include "store/directory_ox.h"
#include "store/query.h"

namespace sy::admin {

using store::Db;
using store::Row;

namespace {

// Per schema: contexts, contexts held by the maintenance reason, server range.
constexpr const char* kSchemaRowsSql =
    "SELECT p.db_schema, COUNT(*), SUM(c.enabled = 0 AND c.reason_id <=> ?),"
    " MIN(p.server_id), MAX(p.server_id)"
    " FROM context_server2db_pool p JOIN context c ON c.cid = p.cid";

class OxDirectory final : public Directory {
 public:
  OxDirectory(Db& configdb, Db& state, OxDirectoryOptions options)
      : db_(configdb), state_(state), opt_(std::move(options)) {}

  const char* profile() const override { return "ox"; }
  Result<RegisterResult> register_server(const ServerInfo& wanted, IfExists if_exists) override;
  Result<std::vector<ServerInfo>> list_servers() override;
  Result<ServerInfo> find_server(const std::string& name_or_id) override;
  Result<std::vector<SchemaInfo>> list_schemas() override { return read_schemas(nullptr); }
  Result<SchemaInfo> find_schema(const std::string& name) override;
  Result<ContextInfo> find_context(uint32_t id) override;
  Result<WriteResult> set_schema_enabled(const std::string& schema, bool enabled) override;
  Result<WriteResult> move_schema(const std::string& schema, uint32_t to_server) override;
  Result<uint64_t> current_version() override;
  Result<WriteResult> update_server(const ServerInfo& changes, ServerInfo* after) override;
  Result<WriteResult> unregister_server(const std::string& name_or_id,
                                        ServerInfo* removed) override;
  // OX's tables have no place for the mark (a second reason_id would hide the schema from
  // OX's own enableschema): its tenants stay held; see Directory::mark_schema_failed.
  Result<WriteResult> mark_schema_failed(const std::string&) override {
    auto v = current_version();
    if (!v) {
      return v.error();
    }
    return WriteResult{false, *v};
  }

 private:
  Result<std::vector<SchemaInfo>> read_schemas(const std::string* only);
  // Bumps the epoch after a configdb write committed: every loader re-reads, and the value is
  // the version instances report once they did.
  Result<WriteResult> written(bool changed, const std::string& what);

  Db& db_;
  Db& state_;
  OxDirectoryOptions opt_;
};

Result<WriteResult> OxDirectory::written(bool changed, const std::string& what) {
  auto epoch = store::with_conflict_retries([&] { return store::bump_directory_epoch(state_); });
  if (!epoch) {
    return store::db_error(
        what + ": the configdb was written, but bumping the directory epoch in the "
               "state database failed (instances see the change at their next probe)",
        epoch.error());
  }
  return WriteResult{changed, *epoch};
}

// Switchyard's part of a server (pool, version, URL) lives in the state database here; OX's
// `server` row (id, name) is not touched.
Result<WriteResult> OxDirectory::update_server(const ServerInfo& changes, ServerInfo* after) {
  const std::string what = "update server '" + changes.name + "'";
  auto have = find_server(changes.name);
  if (!have) {
    return have.error();
  }
  *after = merge_server(*have, changes);
  const bool changed = after->pool != have->pool || after->version != have->version ||
                       after->redirect_url != have->redirect_url;
  if (changed) {
    if (auto w = store::with_conflict_retries([&] {
          return store::write_server_meta(
              state_, {after->name, after->pool, after->version, after->redirect_url});
        });
        !w) {
      return store::db_error(what, w.error());
    }
  }
  return written(changed, what);
}

Result<WriteResult> OxDirectory::unregister_server(const std::string& name_or_id,
                                                   ServerInfo* removed) {
  const std::string what = "unregister server '" + name_or_id + "'";
  auto found = find_server(name_or_id);
  if (!found) {
    return found.error();
  }
  *removed = *found;
  auto deleted = store::with_conflict_retries([&]() -> Result<Unit> {
    auto txn = db_.begin();
    if (!txn) {
      return store::db_error(what, txn.error());
    }
    auto locked = store::query_one(
        db_, "SELECT server_id FROM server WHERE server_id = ? FOR UPDATE",
        [](const Row& row) { return row.u32(1); }, found->id);
    if (!locked) {
      return store::db_error(what, locked.error());
    }
    if (!locked->has_value()) {
      return make_tagged_error(Errc::NotFound, "not-found", what + ": no such server",
                               ErrorSource::Downstream);
    }
    auto schemas = store::query_all(
        db_,
        "SELECT DISTINCT db_schema FROM context_server2db_pool WHERE server_id = ?"
        " ORDER BY db_schema",
        [](const Row& row) { return row.str(1); }, found->id);
    if (!schemas) {
      return store::db_error(what, schemas.error());
    }
    // A context is on a server only through its schema's row here: the schemas name them all.
    if (auto unused = check_server_unused(*found, *schemas, {}); !unused) {
      return unused.error();
    }
    if (auto d = store::exec(db_, "DELETE FROM server WHERE server_id = ?", found->id); !d) {
      return store::db_error(what, d.error());
    }
    if (auto c = txn->commit(); !c) {
      return store::db_error(what, c.error());
    }
    return ok_result();
  });
  if (!deleted) {
    return deleted.error();
  }
  if (auto m = store::with_conflict_retries(
          [&] { return store::delete_server_meta(state_, found->name); });
      !m) {
    return store::db_error(what + ": the server is unregistered, but removing its pool, version "
                                  "and redirect URL from sy_server_meta failed",
                           m.error());
  }
  return written(true, what);
}

Result<uint64_t> OxDirectory::current_version() {
  auto epoch = store::read_directory_epoch(state_);
  if (!epoch) {
    return store::db_error("reading the directory epoch", epoch.error());
  }
  return *epoch;
}

Result<std::vector<ServerInfo>> OxDirectory::list_servers() {
  auto listed = store::query_all(db_, "SELECT server_id, name FROM server ORDER BY server_id",
                                 [](const Row& row) {
                                   return routing::ServerRow{row.u32(1), row.str(2), {}, {}, {}};
                                 });
  if (!listed) {
    return store::db_error("reading server", listed.error());
  }
  std::vector<routing::ServerRow>& rows = *listed;
  auto meta = store::read_server_meta(state_);
  if (!meta) {
    return store::db_error("reading sy_server_meta", meta.error());
  }
  store::apply_overrides(*meta, &rows);
  store::apply_overrides(opt_.overrides, &rows);
  std::vector<ServerInfo> out;
  for (routing::ServerRow& s : rows) {
    out.push_back(ServerInfo{s.id, std::move(s.name), std::move(s.pool), std::move(s.version),
                             std::move(s.redirect_url)});
  }
  return out;
}

Result<ServerInfo> OxDirectory::find_server(const std::string& name_or_id) {
  auto all = list_servers();
  if (!all) {
    return all.error();
  }
  const bool by_id = all_digits(name_or_id) && name_or_id.size() <= 10;
  for (const ServerInfo& s : *all) {
    if (by_id && std::to_string(s.id) == name_or_id) {
      return s;
    }
  }
  for (const ServerInfo& s : *all) {
    if (iequals(s.name, name_or_id)) {  // server.name is utf8_unicode_ci
      return s;
    }
  }
  return make_tagged_error(Errc::NotFound, "not-found",
                           "no server '" + name_or_id + "' (by name or id)",
                           ErrorSource::Downstream);
}

Result<RegisterResult> OxDirectory::register_server(const ServerInfo& wanted, IfExists if_exists) {
  const std::string what = "register server '" + wanted.name + "'";
  if (auto ok = check_server_name(wanted.name); !ok) {
    return ok.error();
  }
  if (wanted.id != 0) {
    return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                             what + ": on profile ox server ids come from configdb_sequence, as "
                                    "OX's registerserver takes them; leave --id out",
                             ErrorSource::Downstream);
  }
  auto existing = find_server(wanted.name);
  if (existing) {
    auto answer = existing_server(*existing, wanted, if_exists);
    if (!answer || !existing->pool.empty() || wanted.pool.empty()) {
      return answer;
    }
    // Registered by OX's registerserver: record what Switchyard needs to route to it.
    if (auto w = store::with_conflict_retries([&] {
          return store::write_server_meta(
              state_, {existing->name, wanted.pool, wanted.version, wanted.redirect_url});
        });
        !w) {
      return store::db_error(what + ": recording pool, version and redirect URL", w.error());
    }
    auto done = written(false, what);
    if (!done) {
      return done.error();
    }
    answer->server.pool = wanted.pool;
    answer->server.version = wanted.version;
    answer->server.redirect_url = wanted.redirect_url;
    answer->warning = "server '" + existing->name + "' (id " + std::to_string(existing->id) +
                      ") was registered outside Switchyard; recorded its pool '" + wanted.pool +
                      "', version '" + wanted.version + "' and redirect URL";
    answer->version = done->version;
    return answer;
  }
  if (existing.error().code != Errc::NotFound) {
    return existing.error();
  }
  auto next = store::with_conflict_retries([&]() -> Result<uint32_t> {
    auto txn = db_.begin();
    if (!txn) {
      return store::db_error(what, txn.error());
    }
    if (auto r = store::exec(db_, "UPDATE configdb_sequence SET id=LAST_INSERT_ID(id+1)"); !r) {
      return store::db_error(what + ": configdb_sequence", r.error());
    }
    auto taken = store::query_value<uint32_t>(db_, "SELECT LAST_INSERT_ID()");
    if (!taken) {
      return store::db_error(what + ": configdb_sequence", taken.error());
    }
    if (auto r = store::exec(db_, "INSERT INTO server (server_id, name) VALUES (?, ?)", *taken,
                             wanted.name);
        !r) {
      return store::db_error(what, r.error());
    }
    if (auto c = txn->commit(); !c) {
      return store::db_error(what, c.error());
    }
    return *taken;
  });
  if (!next) {
    return next.error();
  }
  const uint32_t id = *next;
  if (auto w = store::with_conflict_retries([&] {
        return store::write_server_meta(
            state_, {wanted.name, wanted.pool, wanted.version, wanted.redirect_url});
      });
      !w) {
    return store::db_error(what + ": server " + std::to_string(id) +
                               " is registered, but recording its pool, version and redirect URL "
                               "failed (run the command again with --continue)",
                           w.error());
  }
  auto done = written(true, what);
  if (!done) {
    return done.error();
  }
  RegisterResult result;
  result.server = wanted;
  result.server.id = id;
  result.version = done->version;
  return result;
}

Result<std::vector<SchemaInfo>> OxDirectory::read_schemas(const std::string* only) {
  auto servers = list_servers();
  if (!servers) {
    return servers.error();
  }
  std::map<uint32_t, std::string> names;
  for (const ServerInfo& s : *servers) {
    names[s.id] = s.name;
  }
  std::map<std::string, SchemaInfo> by_name;
  // The schemas OX lists (listdatabaseschema): the count table has the empty ones too.
  auto list = [&](const Row& row) {
    SchemaInfo s;
    s.name = row.str(1);
    by_name.emplace(s.name, s);
  };
  constexpr const char* kListed = "SELECT schemaname FROM contexts_per_dbschema";
  auto r = only != nullptr
               ? store::query_each(db_, std::string(kListed) + " WHERE schemaname = ?", list, *only)
               : store::query_each(db_, kListed, list);
  if (!r) {
    return store::db_error("reading contexts_per_dbschema", r.error());
  }
  auto take = [&](const Row& row) {
    SchemaInfo& s = by_name[row.str(1)];
    s.name = row.str(1);
    s.contexts = row.u64(2);
    s.enabled = row.u64(3) == 0;
    const uint32_t lo = row.u32(4);
    const uint32_t hi = row.u32(5);
    if (lo == hi) {
      s.server_id = lo;
      auto it = names.find(lo);
      s.server_name = it == names.end() ? "" : it->second;
    } else {
      s.server_id = 0;
      s.server_name = "mixed: " + std::to_string(lo) + ".." + std::to_string(hi);
    }
  };
  const std::string rows_sql = std::string(kSchemaRowsSql) +
                               (only != nullptr ? " WHERE p.db_schema = ?" : "") +
                               " GROUP BY p.db_schema";
  r = only != nullptr ? store::query_each(db_, rows_sql, take, opt_.maintenance_reason, *only)
                      : store::query_each(db_, rows_sql, take, opt_.maintenance_reason);
  if (!r) {
    return store::db_error("reading context_server2db_pool", r.error());
  }
  std::vector<SchemaInfo> out;
  for (auto& [name, s] : by_name) {
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(),
            [](const SchemaInfo& a, const SchemaInfo& b) { return schema_less(a.name, b.name); });
  return out;
}

Result<SchemaInfo> OxDirectory::find_schema(const std::string& name) {
  auto rows = read_schemas(&name);
  if (!rows) {
    return rows.error();
  }
  if (rows->empty()) {
    return make_tagged_error(Errc::NotFound, "not-found", "no schema '" + name + "'",
                             ErrorSource::Downstream);
  }
  return rows->front();
}

Result<ContextInfo> OxDirectory::find_context(uint32_t id) {
  auto row = store::query_one(
      db_,
      "SELECT c.cid, COALESCE(p.db_schema, ''), COALESCE(c.enabled, 0), COALESCE(c.reason_id, 0),"
      " COALESCE(p.server_id, 0) FROM context c"
      " LEFT JOIN context_server2db_pool p ON p.cid = c.cid WHERE c.cid = ?",
      [&](const Row& row) {
        ContextInfo c;
        c.id = row.u32(1);
        c.schema = row.str(2);
        c.reason_id = row.u32(4);
        c.enabled = row.boolean(3) || c.reason_id == opt_.maintenance_reason;
        c.server_id = row.u32(5);
        return c;
      },
      id);
  if (!row) {
    return store::db_error("reading context", row.error());
  }
  std::optional<ContextInfo>& found = *row;
  if (!found) {
    return make_tagged_error(Errc::NotFound, "not-found", "no context " + std::to_string(id),
                             ErrorSource::Downstream);
  }
  if (!found->schema.empty()) {
    auto schema = find_schema(found->schema);
    if (!schema) {
      return schema.error();
    }
    found->schema_enabled = schema->enabled;
  }
  if (auto s = find_server(std::to_string(found->server_id))) {
    found->server_name = s->name;
  }
  auto logins = store::query_all(
      db_, "SELECT login_info FROM login2context WHERE cid = ? ORDER BY login_info",
      [](const Row& row) { return row.str(1); }, id);
  if (!logins) {
    return store::db_error("reading login2context", logins.error());
  }
  found->logins = std::move(logins.value());
  return std::move(*found);
}

Result<WriteResult> OxDirectory::set_schema_enabled(const std::string& schema, bool enabled) {
  const std::string what = std::string(enabled ? "enable" : "disable") + " schema '" + schema + "'";
  auto exists = find_schema(schema);
  if (!exists) {
    return exists.error().code == Errc::NotFound
               ? make_tagged_error(Errc::NotFound, "not-found", what + ": no such schema",
                                   ErrorSource::Downstream)
               : exists.error();
  }
  if (!enabled) {
    // OX's precondition (isDistinctWritePoolIDForSchema): one write pool per schema.
    auto pools = store::query_value<uint64_t>(
        db_,
        "SELECT COUNT(DISTINCT write_db_pool_id) FROM context_server2db_pool WHERE db_schema = ?",
        schema);
    if (!pools) {
      return store::db_error(what, pools.error());
    }
    if (*pools > 1) {
      return make_tagged_error(
          Errc::InvalidArgument, "invalid-argument",
          what +
              ": Cannot proceed with schema move: Multiple write pool IDs are in use for "
              "schema " +
              schema,
          ErrorSource::Downstream);
    }
  }
  // Autocommit, as OX runs them; each is idempotent (it changes only rows not yet changed).
  auto rows = store::with_conflict_retries([&] {
    return enabled
               ? store::exec(db_,
                             "UPDATE context SET enabled = 1, reason_id = NULL WHERE cid IN (SELECT"
                             " cid FROM context_server2db_pool WHERE db_schema = ?) AND enabled = 0"
                             " AND reason_id = ?",
                             schema, opt_.maintenance_reason)
               : store::exec(
                     db_,
                     "UPDATE context SET enabled = 0, reason_id = ? WHERE cid IN (SELECT"
                     " cid FROM context_server2db_pool WHERE db_schema = ?) AND enabled = 1",
                     opt_.maintenance_reason, schema);
  });
  if (!rows) {
    return store::db_error(what, rows.error());
  }
  return written(*rows > 0, what);
}

Result<WriteResult> OxDirectory::move_schema(const std::string& schema, uint32_t to_server) {
  const std::string what = "move schema '" + schema + "' to server " + std::to_string(to_server);
  auto current = find_schema(schema);
  if (!current) {
    return current.error().code == Errc::NotFound
               ? make_tagged_error(Errc::NotFound, "not-found", what + ": no such schema",
                                   ErrorSource::Downstream)
               : current.error();
  }
  auto target = find_server(std::to_string(to_server));
  if (!target) {
    return target.error().code == Errc::NotFound
               ? make_tagged_error(Errc::NotFound, "not-found", what + ": no such server",
                                   ErrorSource::Downstream)
               : target.error();
  }
  if (current->contexts == 0 || current->server_id == to_server) {
    // OX's changeserver refuses an empty schema ("The schema is empty"); there is nothing to
    // move either way, and nothing is written.
    return written(false, what);
  }
  if (current->server_id != 0) {
    if (auto from = find_server(std::to_string(current->server_id))) {
      if (auto door = check_one_way_door(schema, *from, *target); !door) {
        return door.error();
      }
    }
  }
  auto rows = store::with_conflict_retries([&]() -> Result<uint64_t> {
    auto txn = db_.begin();
    if (!txn) {
      return store::db_error(what, txn.error());
    }
    // OX's isSchemaDisabled: every context of the schema must be disabled.
    auto enabled_cid = store::query_one(
        db_,
        "SELECT c.cid FROM context c JOIN context_server2db_pool p ON p.cid = c.cid"
        " WHERE p.db_schema = ? AND c.enabled = 1 LIMIT 1 FOR UPDATE",
        [](const Row& row) { return row.u32(1); }, schema);
    if (!enabled_cid) {
      return store::db_error(what, enabled_cid.error());
    }
    if (enabled_cid->has_value()) {
      return make_tagged_error(Errc::InvalidArgument, "not-disabled",
                               what + ": context " + std::to_string(**enabled_cid) +
                                   " is enabled; OX's changeserver needs a disabled schema "
                                   "(schema disable " +
                                   schema + " first)",
                               ErrorSource::Downstream);
    }
    auto changed = store::exec(
        db_, "UPDATE context_server2db_pool SET server_id=? WHERE db_schema=?", to_server, schema);
    if (!changed) {
      return store::db_error(what, changed.error());
    }
    if (auto c = txn->commit(); !c) {
      return store::db_error(what, c.error());
    }
    return *changed;
  });
  if (!rows) {
    return rows.error();
  }
  return written(*rows > 0, what);
}

}  // namespace

std::unique_ptr<Directory> make_ox_directory(Db& configdb, Db& state, OxDirectoryOptions options) {
  return std::make_unique<OxDirectory>(configdb, state, std::move(options));
}

}  // namespace sy::admin
