#pragma once
// The text of the admin command table (STYLE rule 10): each command's words, argument usage,
// help line, privilege and flags. commands.h pairs each row with its handler (by CommandId, in
// a switch the compiler checks for completeness), so this stays the one table; it is apart so
// that switchyardctl prints its usage linking nothing but this file and the protocol (no
// database, YAML or TLS library).

#include <string>
#include <vector>

namespace sy::admin {

enum class Privilege { ReadOnly, Admin };

// One per row of the table (two rows may share a handler: `show servers` and `server list`).
enum class CommandId {
  Help,
  ShowInfo,
  ShowStats,
  ShowPools,
  ShowServers,
  ShowSchemas,
  ShowContext,
  ShowInstances,
  ShowMigrations,
  ShowCluster,
  ShowEvents,
  ShowDatabase,
  ServerRegister,
  ServerUpdate,
  ServerUnregister,
  ServerList,
  SchemaList,
  SchemaDisable,
  SchemaEnable,
  SchemaMove,
  SchemaUpdate,
  // The directory commands (admin/directory_commands.h).
  SchemaAdd,
  ContextShow,
  ContextAdd,
  ContextMove,
  ContextDisable,
  ContextEnable,
  LoginAdd,
  LoginRemove,
  ImportCsv,
  ImportConfigdb,
  UpgradeSchemata,
  UpgradeStatus,
  UpgradePause,
  UpgradeResume,
  UpgradeAbort,
  ClusterStatus,
  ClusterHistory,
  ClusterPrepare,
  ClusterMixed,
  ClusterReady,
  ClusterApprove,
  ClusterCancel,
  PoolMemberDrain,
  PoolMemberMaintenance,
  PoolMemberReady,
  PoolMemberWeight,
  PoolMemberWait,
  PoolMemberAdd,
  PoolMemberSet,
  PoolMemberRemove,
  PoolAdd,
  PoolRemove,
  Reload,
  ReopenLogs,
  UpgradeBinary,
};

struct FlagSpec {
  const char* name;  // "--pool"
  bool takes_value;
  const char* short_name = nullptr;  // e.g. "-m" (OX's spelling); nullptr = none
  bool required = false;  // dispatch refuses the command without it (ERR usage: ... (missing F))
};

struct CommandSpec {
  CommandId id;
  std::vector<std::string> words;  // e.g. {"pool", "member", "drain"}
  const char* args;                // usage of the arguments, e.g. "POOL MEMBER [--timeout 30s]"
  const char* help;                // one line
  Privilege privilege;
  int min_positional;
  int max_positional;
  std::vector<FlagSpec> flags;

  std::string usage() const;  // words + args
};

// The rows, in help order.
const std::vector<CommandSpec>& command_specs();

}  // namespace sy::admin
