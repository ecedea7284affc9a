#pragma once
// The tenant directory as the admin commands and the sequencer see it: ONE interface with an
// implementation per writable data profile (DESIGN decision 3), the equivalents of OX's
// registerserver / listserver / listdatabaseschema / disableschema / enableschema /
// changeserver:
//
//   own  Switchyard's own tables (admin/directory_own.cpp). The change-log triggers make every
//        write visible to every loader; a write's version is the highest sy_changes.seq it
//        produced.
//   ox   an unchanged Open-Xchange configdb (admin/directory_ox.cpp), written with exactly the
//        statements OX's tools use; Switchyard's part (server pool/version/URL, the directory
//        epoch) goes to the state database. A write's version is the epoch it bumped.
//
// A version is what every instance's heartbeat reports as applied_seq (admin/instances.h) once
// its loader has read the directory after the write: the sequencer waits for it.
//
// Every method blocks on the database: admin/upgrade threads only. A Directory uses the sessions
// it was made with and belongs to one thread. Errors carry stable tags (common/result.h
// make_tagged_error): "not-found", "exists", "aborted", "one-way-door", "not-disabled",
// "invalid-argument", "database".

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/db.h"
#include "store/directory_reader.h"

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
  ServerInfo server;     // the row as stored
  bool existed = false;  // true: the name was there already (IfExists::Continue)
  std::string warning;   // non-empty when existed: what differs from the request
  uint64_t version = 0;  // see the top of this file; 0 when nothing was written
};

struct SchemaInfo {
  std::string name;
  bool enabled = true;      // ox: no context of it carries the maintenance reason
  uint32_t server_id = 0;   // ox: the server of its contexts; 0 = none (empty) or several
  std::string server_name;  // "" when unknown; "mixed: 1,3" when its contexts differ (ox)
  uint64_t contexts = 0;
  std::string update_status;  // "" (no tasks recorded), "ok", "failed", "running"
  std::string update_error;   // the last failed task's reason
};

struct ContextInfo {
  uint32_t id = 0;
  std::string schema;
  bool enabled = true;         // false = a disabled tenant (ox: disabled for another reason)
  uint32_t reason_id = 0;      // ox: context.reason_id (0 = NULL); own: 0
  bool schema_enabled = true;  // false = its requests are held
  uint32_t server_id = 0;      // effective: the context's own server, else the schema's
  std::string server_name;
  std::vector<std::string> logins;
};

// What a write did: whether a row changed, and the version instances report once they have
// read the directory after it (never 0 on the ox profile: even a write that changed nothing
// bumps the epoch, so waiting for it proves an instance saw the state as it is now).
struct WriteResult {
  bool changed = false;
  uint64_t version = 0;
};

class Directory {
 public:
  virtual ~Directory() = default;

  virtual const char* profile() const = 0;  // "own" | "ox"

  virtual Result<RegisterResult> register_server(const ServerInfo& wanted, IfExists if_exists) = 0;
  virtual Result<std::vector<ServerInfo>> list_servers() = 0;  // by id
  // Changes the pool, version and/or redirect URL of the server named |changes.name| (an empty
  // field stays as it is; id is ignored); tag "not-found" when there is none. |*after| gets
  // the row as stored. changed=false when nothing differed.
  virtual Result<WriteResult> update_server(const ServerInfo& changes, ServerInfo* after) = 0;
  // Removes the server |name_or_id| (OX's unregisterserver); tag "not-found", or "in-use"
  // while a schema or context still points to it (the message names them and the way out).
  // |*removed| gets the row as it was. Whether an upgrade targets it is the caller's check (the
  // state database).
  virtual Result<WriteResult> unregister_server(const std::string& name_or_id,
                                                ServerInfo* removed) = 0;
  // By id (all digits) or name; tag "not-found".
  virtual Result<ServerInfo> find_server(const std::string& name_or_id) = 0;

  // Every schema, empty ones included, in schema order (schema_less); update_status empty
  // (the state database has it: merge_update_states in admin/update_tasks.h).
  virtual Result<std::vector<SchemaInfo>> list_schemas() = 0;
  virtual Result<SchemaInfo> find_schema(const std::string& name) = 0;
  virtual Result<ContextInfo> find_context(uint32_t id) = 0;

  // Disable (its tenants are held by every instance; a failed mark is cleared) or enable a
  // schema.
  virtual Result<WriteResult> set_schema_enabled(const std::string& schema, bool enabled) = 0;
  // Marks a schema whose update failed: it stays disabled, and every instance answers its
  // requests CTX-0022 (503) at once instead of holding them, until it is enabled or disabled
  // again (the next run's disable step). Profile ox: not supported (OX's tables have no place
  // for it): changes nothing, changed=false, and its tenants stay held as before.
  virtual Result<WriteResult> mark_schema_failed(const std::string& schema) = 0;
  // changeserver: the schema's contexts go to |to_server|. The one-way door: moving to a
  // server whose version is lower than the current one's is refused ("one-way-door").
  // Moving to the server it is on already, or an empty schema, changes nothing.
  virtual Result<WriteResult> move_schema(const std::string& schema, uint32_t to_server) = 0;
  // The version now (the highest change seq / the epoch).
  virtual Result<uint64_t> current_version() = 0;
};

// Profile own: Switchyard's tables in |db|.
std::unique_ptr<Directory> make_own_directory(store::Db& db);

struct OxDirectoryOptions {
  uint32_t maintenance_reason = 1431655765;      // reason_id of a disabled schema (OX's default)
  std::vector<store::ServerOverride> overrides;  // YAML database.servers: applied over what
                                                 // the state database records per server
};
// Profile ox: OX's tables in |configdb|, Switchyard's part in |state| (sy_server_meta, sy_meta).
std::unique_ptr<Directory> make_ox_directory(store::Db& configdb, store::Db& state,
                                             OxDirectoryOptions options);

// ---- pure helpers ---------------------------------------------------------------------------

// Non-empty and only '0'..'9' (a server given by id rather than name).
bool all_digits(const std::string& s);

// "7.10.6" < "8.0.0"; numeric per dot-separated part, a missing part counts as 0, a
// non-numeric part compares as text.
bool version_less(const std::string& a, const std::string& b);

// Schema order everywhere (listings, runs, --resume-from, --continue-after): runs of digits
// compare as numbers, everything else byte by byte, so oxdatabase_5 < oxdatabase_44 <
// oxdatabase_100, as OX orders them. Equal numbers with more leading zeros come later.
bool schema_less(const std::string& a, const std::string& b);

// A schema counts as on |server| when its contexts are there, or it has none.
bool on_server(const SchemaInfo& s, uint32_t server);

// A name register_server accepts: non-empty, not all digits (it would read as an id); else
// tag "invalid-argument".
Result<Unit> check_server_name(const std::string& name);

// register_server's answer when |wanted|'s name exists already as |have|: Refuse -> tag
// "exists", Abort -> tag "aborted", Continue -> |have| (existed, with a warning naming what
// differs from |wanted|).
Result<RegisterResult> existing_server(const ServerInfo& have, const ServerInfo& wanted,
                                       IfExists if_exists);

// The "in-use" refusal of server unregister: |schemas| on |server| and |contexts| with it as
// their own server (at most 10 of each named); ok when both are empty.
Result<Unit> check_server_unused(const ServerInfo& server, const std::vector<std::string>& schemas,
                                 const std::vector<uint32_t>& contexts);

// |have| with the non-empty fields of |changes| (pool, version, redirect_url) applied.
ServerInfo merge_server(const ServerInfo& have, const ServerInfo& changes);
// The one-way door (move_schema): an error tagged "one-way-door" when |target|'s version is
// lower than |current|'s (both known), else ok.
Result<Unit> check_one_way_door(const std::string& schema, const ServerInfo& current,
                                const ServerInfo& target);

}  // namespace sy::admin
