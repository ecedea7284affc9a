#pragma once
// Raw rows read from the shared database, profile-independent. The directory reader
// (store/directory_reader.*, blocking, loader thread only) produces them from either data
// profile; the snapshot builder (routing/snapshot.*, pure) turns them into an immutable
// RoutingSnapshot. This header is the contract between the two.

#include <cstdint>
#include <string>
#include <vector>

namespace sy::routing {

using ContextId = uint32_t;  // tenant id (Open-Xchange "cid"); 0 is never a valid id
using ServerId = uint32_t;   // application server id; 0 = "not set"

struct ServerRow {
  ServerId id = 0;
  std::string name;          // unique, e.g. "oxserver-7.10.6"
  std::string pool;          // Switchyard pool serving this server id ("" = unknown)
  std::string version;       // version label of the application on that server
  std::string redirect_url;  // migration URL, e.g. "https://new.example.com"; "" = none
};

// Failed = disabled, and the upgrade sequencer marked its update failed: its requests are
// answered CTX-0022 at once instead of being held (nobody is about to enable it).
enum class SchemaState : uint8_t { Enabled, Disabled, Failed };

struct SchemaRow {
  std::string name;                          // database schema name, unique, e.g. "oxdb_5"
  SchemaState state = SchemaState::Enabled;  // Disabled = its tenants are paused (held);
                                             // Failed = answered CTX-0022 at once
  ServerId server_id = 0;                    // own profile: the server the schema lives on;
                                             // 0 = take it from its contexts (configdb profile)
};

struct ContextRow {
  ContextId id = 0;
  uint32_t schema_index = 0;  // index into DirectoryData::schemas
  ServerId server_id = 0;     // 0 = the schema's server_id
  bool enabled = true;        // false = this tenant is disabled (403-class answer)
};

struct LoginRow {
  std::string login;     // login string, e.g. "user@domain" or a tenant name
  ContextId context_id;  // the context it maps to
};

// A full read of the directory.
struct DirectoryData {
  std::vector<ServerRow> servers;
  std::vector<SchemaRow> schemas;
  std::vector<ContextRow> contexts;
  std::vector<LoginRow> logins;
  uint64_t change_seq = 0;  // highest change sequence included; 0 when the profile has none
};

// What changed since a change sequence (own profile only). Rows are the rows' current values;
// a row listed in removed_* no longer exists. schema_index in contexts refers to |schemas| of
// the delta when the schema appears there, otherwise it is resolved by |schema_names|.
struct DirectoryDelta {
  uint64_t from_seq = 0;                     // exclusive
  uint64_t to_seq = 0;                       // inclusive
  std::vector<ServerRow> servers;            // upserted
  std::vector<ServerId> removed_servers;     // rows deleted (own profile: rare, by an operator)
  std::vector<SchemaRow> schemas;            // upserted
  std::vector<std::string> removed_schemas;  // rows deleted; their contexts keep the name
  std::vector<std::string> schema_names;     // names for ContextRow::schema_index in this delta
  std::vector<ContextRow> contexts;          // upserted; schema_index indexes schema_names
  std::vector<ContextId> removed_contexts;
  std::vector<LoginRow> logins;  // upserted
  std::vector<std::string> removed_logins;
  bool empty() const {
    return servers.empty() && removed_servers.empty() && schemas.empty() &&
           removed_schemas.empty() && contexts.empty() && removed_contexts.empty() &&
           logins.empty() && removed_logins.empty();
  }
};

}  // namespace sy::routing
