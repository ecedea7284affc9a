#pragma once
// Switchyard's own directory tables (profile own; created by store/db_migrate.cpp, migrations
// 1-2), row by row and typed, for the admin's writer (admin/directory_own.cpp). The loader
// reads the same tables in bulk with OwnProfileReader (store/directory_reader.h); the change
// log (sy_changes) is written by triggers, never here.
//
// Errors are the session's (the caller adds what it was doing). Lock::ForUpdate reads lock the
// rows (SELECT ... FOR UPDATE) and only make sense inside a transaction. Every call blocks on
// the database: admin/upgrade threads only.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "routing/directory_rows.h"
#include "store/db.h"

namespace sy::store {

enum class Lock { None, ForUpdate };

// The highest change seq (0 = none): the version of a write made in the transaction so far.
Result<uint64_t> max_change_seq(Db& db);

// sy_servers.
Result<std::optional<routing::ServerRow>> own_server_by_id(Db& db, routing::ServerId id,
                                                           Lock lock = Lock::None);
Result<std::optional<routing::ServerRow>> own_server_by_name(Db& db, std::string_view name,
                                                             Lock lock = Lock::None);
Result<std::vector<routing::ServerRow>> own_servers(Db& db);  // by id
// A new id from the sy_server_ids AUTO_INCREMENT (migration 7): unique across Galera nodes
// (each has its own auto_increment_offset), never one in use in sy_servers.
Result<routing::ServerId> next_own_server_id(Db& db);
Result<Unit> insert_own_server(Db& db, const routing::ServerRow& row);
// Writes pool, version and redirect_url of the server with |row.id|.
Result<Unit> update_own_server(Db& db, const routing::ServerRow& row);

// What still points to server |id| (server unregister refuses then): the schemas on it and the
// contexts that have it as their own server, each sorted.
struct OwnServerUsers {
  std::vector<std::string> schemas;
  std::vector<routing::ContextId> contexts;
};
Result<OwnServerUsers> own_server_users(Db& db, routing::ServerId id);
// Deletes the server's row (its id stays in sy_server_ids, never handed out again).
Result<Unit> delete_own_server(Db& db, routing::ServerId id);

// sy_schemas' state as one column (state 'disabled' plus the failed mark = Failed, migration 9),
// and its reading: the SQL expression and the column |col| of a row that selected it.
inline constexpr std::string_view kOwnSchemaState =
    "CASE WHEN state = 'enabled' THEN 0 WHEN failed THEN 2 ELSE 1 END";
routing::SchemaState own_schema_state(const Row& row, unsigned col);

// sy_schemas with its server's name and context count.
struct OwnSchemaRow {
  std::string name;
  bool enabled = true;
  routing::ServerId server_id = 0;
  std::string server_name;  // "" when the server is not registered
  uint64_t contexts = 0;
};
// Every schema (|only| set: that one), in no particular order.
Result<std::vector<OwnSchemaRow>> own_schemas(Db& db, const std::string* only = nullptr);
// One schema's state and server, locked (FOR UPDATE); nullopt when there is no such schema.
Result<std::optional<routing::SchemaRow>> own_schema_for_update(Db& db, const std::string& name);
// Writes state and the failed mark (Failed = 'disabled' with the mark; the others clear it).
Result<Unit> set_own_schema_state(Db& db, const std::string& name, routing::SchemaState state);
// Puts the schema on |server| and its contexts back on the schema's server (their own server
// column cleared).
Result<Unit> set_own_schema_server(Db& db, const std::string& name, routing::ServerId server);

// sy_contexts with the effective server (the context's own, else its schema's).
struct OwnContextRow {
  routing::ContextId id = 0;
  std::string schema;
  bool enabled = true;
  bool schema_enabled = true;
  routing::ServerId server_id = 0;
  std::string server_name;
};
Result<std::optional<OwnContextRow>> own_context(Db& db, routing::ContextId id);
// sy_logins of a context, sorted.
Result<std::vector<std::string>> own_logins_of(Db& db, routing::ContextId id);

// ---- the directory commands' edits (admin/directory_edit.h) --------------------------------

// A context's own columns; |server_id| 0 = none of its own (its schema's server).
struct OwnContextCols {
  routing::ContextId id = 0;
  std::string schema;
  bool enabled = true;
  routing::ServerId server_id = 0;
};
Result<std::optional<OwnContextCols>> own_context_cols(Db& db, routing::ContextId id,
                                                       Lock lock = Lock::None);
Result<Unit> insert_own_context(Db& db, const OwnContextCols& row);
// Writes schema, enabled and the own server (0 -> NULL) of |row.id|.
Result<Unit> update_own_context(Db& db, const OwnContextCols& row);
Result<Unit> insert_own_schema(Db& db, const std::string& name, routing::ServerId server,
                               bool enabled);
// The context of |login|, locked with |lock|; nullopt when there is none.
Result<std::optional<routing::ContextId>> own_login_context(Db& db, std::string_view login,
                                                            Lock lock = Lock::None);
Result<Unit> insert_own_login(Db& db, std::string_view login, routing::ContextId context);
Result<Unit> delete_own_login(Db& db, std::string_view login);

}  // namespace sy::store
