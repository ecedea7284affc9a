#pragma once
// Operator commands on the tenant directory (own data profile), the equivalents of
// registerserver / listserver / listdatabaseschema / changeserver / enable-disable schema.
// Every call blocks on the database: admin thread (or switchyardctl-side tools) only.
//
// Every write goes through the sy_* tables, so the change-log triggers (db_migrate.h) make
// each instance's loader see it within one refresh interval, and every write returns the
// highest sy_changes.seq it produced so callers can wait until all instances applied it
// (InstanceRow::applied_seq, admin/instances.h).
//
// Errors carry stable tags (common/result.h make_tagged_error): "not-found", "exists",
// "one-way-door", "invalid-argument", "database".

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "routing/db.h"

namespace sy::admin {

struct ServerInfo {
  uint32_t id = 0;  // 0 in a register request = the next free id
  std::string name;
  std::string pool;
  std::string version;
  std::string redirect_url;
};

// registerserver's answer to a name that already exists: never a silent reuse.
enum class IfExists {
  Refuse,    // fail with tag "exists" and a warning naming the existing row
  Continue,  // use the existing row as it is (fields in the request are ignored; reported)
  Abort,     // fail with tag "aborted" and change nothing
};

struct RegisterResult {
  ServerInfo server;    // the row as stored
  bool existed = false;  // true: the name was there already (IfExists::Continue)
  std::string warning;   // non-empty when existed: what differs from the request
  uint64_t change_seq = 0;
};

Result<RegisterResult> register_server(routing::Db& db, const ServerInfo& wanted,
                                       IfExists if_exists);
Result<std::vector<ServerInfo>> list_servers(routing::Db& db);
Result<ServerInfo> find_server(routing::Db& db, const std::string& name_or_id);

struct SchemaInfo {
  std::string name;
  bool enabled = true;
  uint32_t server_id = 0;
  std::string server_name;  // "" when the server row is missing
  uint64_t contexts = 0;
  std::string update_status;  // "" (no tasks recorded), "ok", "failed", "running"
  std::string update_error;   // the last failed task's reason
};

Result<std::vector<SchemaInfo>> list_schemas(routing::Db& db);
Result<SchemaInfo> find_schema(routing::Db& db, const std::string& name);

struct ContextInfo {
  uint32_t id = 0;
  std::string schema;
  bool enabled = true;
  bool schema_enabled = true;
  uint32_t server_id = 0;  // effective: the context's own override, else the schema's
  std::string server_name;
  std::vector<std::string> logins;
};

Result<ContextInfo> find_context(routing::Db& db, uint32_t id);

// Disable/enable a schema (its tenants are held by every instance while disabled).
// Returns the change seq of the write (0 when nothing changed: already in that state).
Result<uint64_t> set_schema_enabled(routing::Db& db, const std::string& schema, bool enabled);

// changeserver -s ID -m SCHEMA: in one transaction, the schema's server becomes |to_server|
// and every context override in it is cleared. The one-way door: moving a schema to a server
// whose version is lower (dotted-numeric comparison, version_less below) than its current
// server's is refused with tag "one-way-door", so no instance routes it to the old pool again.
// Moving to the server it is on already is a no-op (seq 0).
Result<uint64_t> move_schema(routing::Db& db, const std::string& schema, uint32_t to_server);

// "7.10.6" < "8.0.0"; numeric per dot-separated part, a missing part counts as 0, a
// non-numeric part compares as text. Pure.
bool version_less(const std::string& a, const std::string& b);

// Highest sy_changes.seq now (0 when empty).
Result<uint64_t> current_change_seq(routing::Db& db);

}  // namespace sy::admin
