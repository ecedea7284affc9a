// The own profile's tables, one typed function per statement.

#include "store/own_tables.h"

#include "store/query.h"

namespace sy::store {

using routing::SchemaRow;
using routing::SchemaState;
using routing::ServerId;
using routing::ServerRow;

namespace {

ServerRow server_from(const Row& row) {
  return ServerRow{row.u32(1), row.str(2), row.str(3), row.str(4), row.str(5)};
}

}  // namespace

Result<uint64_t> max_change_seq(Db& db) {
  return query_value<uint64_t>(db, "SELECT COALESCE(MAX(seq), 0) FROM sy_changes");
}

Result<std::optional<ServerRow>> own_server_by_id(Db& db, ServerId id, Lock lock) {
  return query_one(
      db,
      lock == Lock::ForUpdate
          ? "SELECT id, name, pool, version, redirect_url FROM sy_servers WHERE id = ?"
            " FOR UPDATE"
          : "SELECT id, name, pool, version, redirect_url FROM sy_servers WHERE id = ?",
      server_from, id);
}

Result<std::optional<ServerRow>> own_server_by_name(Db& db, std::string_view name, Lock lock) {
  return query_one(
      db,
      lock == Lock::ForUpdate
          ? "SELECT id, name, pool, version, redirect_url FROM sy_servers WHERE name = ? FOR UPDATE"
          : "SELECT id, name, pool, version, redirect_url FROM sy_servers WHERE name = ?",
      server_from, name);
}

Result<std::vector<ServerRow>> own_servers(Db& db) {
  return query_all(db, "SELECT id, name, pool, version, redirect_url FROM sy_servers ORDER BY id",
                   server_from);
}

Result<ServerId> next_own_server_id(Db& db) {
  auto next = [&]() -> Result<uint32_t> {
    if (auto r = exec(db, "INSERT INTO sy_server_ids () VALUES ()"); !r) {
      return r.error();
    }
    return query_value<uint32_t>(db, "SELECT LAST_INSERT_ID()");
  };
  auto id = next();
  if (!id) {
    return id.error();
  }
  // A server written into sy_servers by hand (not through insert_own_server) is not in the
  // sequence: move the sequence past the highest id once and draw again.
  auto max = query_value<uint32_t>(db, "SELECT COALESCE(MAX(id), 0) FROM sy_servers");
  if (!max) {
    return max.error();
  }
  if (*id > *max) {
    return *id;
  }
  if (auto r = exec(db, "INSERT IGNORE INTO sy_server_ids (id) VALUES (?)", *max); !r) {
    return r.error();
  }
  return next();
}

Result<Unit> insert_own_server(Db& db, const ServerRow& row) {
  // An id given by the operator is recorded too, so the sequence never hands it out again.
  if (auto r = exec(db, "INSERT IGNORE INTO sy_server_ids (id) VALUES (?)", row.id); !r) {
    return r.error();
  }
  return done(exec(db,
                   "INSERT INTO sy_servers (id, name, pool, version, redirect_url)"
                   " VALUES (?, ?, ?, ?, ?)",
                   row.id, row.name, row.pool, row.version, row.redirect_url));
}

Result<Unit> update_own_server(Db& db, const ServerRow& row) {
  return done(exec(db, "UPDATE sy_servers SET pool = ?, version = ?, redirect_url = ? WHERE id = ?",
                   row.pool, row.version, row.redirect_url, row.id));
}

Result<OwnServerUsers> own_server_users(Db& db, ServerId id) {
  OwnServerUsers users;
  auto schemas = query_all(
      db, "SELECT name FROM sy_schemas WHERE server_id = ? ORDER BY name",
      [](const Row& row) { return row.str(1); }, id);
  if (!schemas) {
    return schemas.error();
  }
  users.schemas = std::move(schemas.value());
  auto contexts = query_all(
      db, "SELECT id FROM sy_contexts WHERE server_id = ? ORDER BY id",
      [](const Row& row) { return row.u32(1); }, id);
  if (!contexts) {
    return contexts.error();
  }
  users.contexts = std::move(contexts.value());
  return users;
}

Result<Unit> delete_own_server(Db& db, ServerId id) {
  return done(exec(db, "DELETE FROM sy_servers WHERE id = ?", id));
}

Result<std::vector<OwnSchemaRow>> own_schemas(Db& db, const std::string* only) {
  auto read = [](const Row& row) {
    return OwnSchemaRow{row.str(1), row.boolean(2), row.u32(3), row.str(4), row.u64(5)};
  };
  static const std::string kSelect =
      "SELECT s.name, s.state = 'enabled', s.server_id, COALESCE(v.name, ''), COALESCE(c.n, 0)"
      " FROM sy_schemas s LEFT JOIN sy_servers v ON v.id = s.server_id"
      " LEFT JOIN (SELECT schema_name, COUNT(*) AS n FROM sy_contexts GROUP BY schema_name) c"
      " ON c.schema_name = s.name";
  if (only != nullptr) {
    return query_all(db, kSelect + " WHERE s.name = ?", read, *only);
  }
  return query_all(db, kSelect, read);
}

SchemaState own_schema_state(const Row& row, unsigned col) {
  switch (row.u32(col)) {
  case 0: return SchemaState::Enabled;
  case 2: return SchemaState::Failed;
  default: return SchemaState::Disabled;
  }
}

Result<std::optional<SchemaRow>> own_schema_for_update(Db& db, const std::string& name) {
  return query_one(
      db,
      "SELECT name, " + std::string(kOwnSchemaState) +
          ", server_id FROM sy_schemas WHERE name = ? FOR UPDATE",
      [](const Row& row) {
        return SchemaRow{row.str(1), own_schema_state(row, 2), row.u32(3)};
      },
      name);
}

Result<Unit> set_own_schema_state(Db& db, const std::string& name, SchemaState state) {
  return done(exec(db, "UPDATE sy_schemas SET state = ?, failed = ? WHERE name = ?",
                   state == SchemaState::Enabled ? "enabled" : "disabled",
                   int32_t{state == SchemaState::Failed ? 1 : 0}, name));
}

Result<Unit> set_own_schema_server(Db& db, const std::string& name, ServerId server) {
  if (auto r = exec(db, "UPDATE sy_schemas SET server_id = ? WHERE name = ?", server, name); !r) {
    return r.error();
  }
  return done(exec(db,
                   "UPDATE sy_contexts SET server_id = NULL WHERE schema_name = ?"
                   " AND server_id IS NOT NULL",
                   name));
}

Result<std::optional<OwnContextRow>> own_context(Db& db, routing::ContextId id) {
  return query_one(
      db,
      "SELECT c.id, c.schema_name, c.enabled, COALESCE(s.state = 'enabled', 0),"
      " COALESCE(NULLIF(c.server_id, 0), s.server_id, 0), COALESCE(v.name, '')"
      " FROM sy_contexts c LEFT JOIN sy_schemas s ON s.name = c.schema_name"
      " LEFT JOIN sy_servers v ON v.id = COALESCE(NULLIF(c.server_id, 0), s.server_id)"
      " WHERE c.id = ?",
      [](const Row& row) {
        return OwnContextRow{row.u32(1),     row.str(2), row.boolean(3),
                             row.boolean(4), row.u32(5), row.str(6)};
      },
      id);
}

Result<std::vector<std::string>> own_logins_of(Db& db, routing::ContextId id) {
  return query_all(
      db, "SELECT login FROM sy_logins WHERE context_id = ? ORDER BY login",
      [](const Row& row) { return row.str(1); }, id);
}

Result<std::optional<OwnContextCols>> own_context_cols(Db& db, routing::ContextId id, Lock lock) {
  auto read = [](const Row& row) {
    return OwnContextCols{row.u32(1), row.str(2), row.boolean(3), row.u32(4)};
  };
  return query_one(db,
                   lock == Lock::ForUpdate
                       ? "SELECT id, schema_name, enabled, COALESCE(server_id, 0) FROM sy_contexts"
                         " WHERE id = ? FOR UPDATE"
                       : "SELECT id, schema_name, enabled, COALESCE(server_id, 0) FROM sy_contexts"
                         " WHERE id = ?",
                   read, id);
}

Result<Unit> insert_own_context(Db& db, const OwnContextCols& row) {
  return done(exec(db,
                   "INSERT INTO sy_contexts (id, schema_name, enabled, server_id)"
                   " VALUES (?, ?, ?, ?)",
                   row.id, row.schema, int32_t{row.enabled ? 1 : 0},
                   row.server_id == 0 ? std::optional<uint32_t>() : row.server_id));
}

Result<Unit> update_own_context(Db& db, const OwnContextCols& row) {
  return done(exec(db,
                   "UPDATE sy_contexts SET schema_name = ?, enabled = ?, server_id = ?"
                   " WHERE id = ?",
                   row.schema, int32_t{row.enabled ? 1 : 0},
                   row.server_id == 0 ? std::optional<uint32_t>() : row.server_id, row.id));
}

Result<Unit> insert_own_schema(Db& db, const std::string& name, ServerId server, bool enabled) {
  return done(exec(db, "INSERT INTO sy_schemas (name, state, server_id) VALUES (?, ?, ?)", name,
                   enabled ? "enabled" : "disabled", server));
}

Result<std::optional<routing::ContextId>> own_login_context(Db& db, std::string_view login,
                                                            Lock lock) {
  auto read = [](const Row& row) { return row.u32(1); };
  return query_one(db,
                   lock == Lock::ForUpdate
                       ? "SELECT context_id FROM sy_logins WHERE login = ? FOR UPDATE"
                       : "SELECT context_id FROM sy_logins WHERE login = ?",
                   read, login);
}

Result<Unit> insert_own_login(Db& db, std::string_view login, routing::ContextId context) {
  return done(exec(db, "INSERT INTO sy_logins (login, context_id) VALUES (?, ?)", login, context));
}

Result<Unit> delete_own_login(Db& db, std::string_view login) {
  return done(exec(db, "DELETE FROM sy_logins WHERE login = ?", login));
}

}  // namespace sy::store
