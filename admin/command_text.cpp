// The text of the admin command table (command_text.h).

#include "admin/command_text.h"

namespace sy::admin {

std::string CommandSpec::usage() const {
  std::string out;
  for (const auto& w : words) {
    out += (out.empty() ? "" : " ") + w;
  }
  if (args != nullptr && *args != '\0') {
    out += " " + std::string(args);
  }
  return out;
}

const std::vector<CommandSpec>& command_specs() {
  using P = Privilege;
  static const std::vector<CommandSpec> table = {
      {CommandId::Help, {"help"}, "", "this table", P::ReadOnly, 0, 0, {}},
      {CommandId::ShowInfo, {"show", "info"}, "", "instance, role, version, workers, routing snapshot", P::ReadOnly,
       0, 0, {}},
      {CommandId::ShowStats, {"show", "stats"}, "",
       "counters: per decision, per error code, per pool, held now, loader, proxy", P::ReadOnly,
       0, 0, {}},
      {CommandId::ShowPools, {"show", "pools"}, "", "pools and members: admin state, health, weight, in flight",
       P::ReadOnly, 0, 0, {}},
      {CommandId::ShowServers, {"show", "servers"}, "", "registered servers", P::ReadOnly, 0, 0, {}},
      {CommandId::ShowSchemas, {"show", "schemas"}, "", "schemas with state, server, contexts, update status",
       P::ReadOnly, 0, 0, {}},
      {CommandId::ShowContext, {"show", "context"}, "ID", "one context: schema, server, state, logins", P::ReadOnly, 1,
       1, {}},
      {CommandId::ShowInstances, {"show", "instances"}, "", "live instances (heartbeats, applied seq, in flight)",
       P::ReadOnly, 0, 0, {}},
      {CommandId::ShowMigrations, {"show", "migrations"}, "", "recent upgrade runs", P::ReadOnly, 0, 0, {}},
      {CommandId::ShowCluster, {"show", "cluster"}, "", "cluster upgrade state", P::ReadOnly, 0, 0, {}},
      {CommandId::ServerRegister, {"server", "register"}, "NAME --pool P --version V --redirect-url U [--id N] "
                               "[--continue|--abort]",
       "register a server; an existing name needs --continue (use it) or --abort", P::Admin, 1,
       1,
       {{"--pool", true}, {"--version", true}, {"--redirect-url", true}, {"--id", true},
        {"--continue", false}, {"--abort", false}}},
      {CommandId::ServerList, {"server", "list"}, "", "registered servers", P::ReadOnly, 0, 0, {}},
      {CommandId::SchemaList, {"schema", "list"}, "", "schemas with state and server", P::ReadOnly, 0, 0, {}},
      {CommandId::SchemaDisable, {"schema", "disable"}, "SCHEMA", "hold every request for SCHEMA (all instances)",
       P::Admin, 1, 1, {}},
      {CommandId::SchemaEnable, {"schema", "enable"}, "SCHEMA", "serve SCHEMA again; held requests are released",
       P::Admin, 1, 1, {}},
      {CommandId::SchemaMove, {"schema", "move"}, "SCHEMA --server ID",
       "move SCHEMA's contexts to server ID (never back to a lower version)", P::Admin, 1, 1,
       {{"--server", true}}},
      {CommandId::SchemaUpdate, {"schema", "update"}, "SCHEMA", "run the update tasks on SCHEMA", P::Admin, 1, 1, {}},
      {CommandId::UpgradeSchemata, {"upgrade", "schemata"},
       "--server|-n NAME [--pool P --version V --redirect-url U] [--continue] [--force|-f] "
       "[--resume-from S | --continue-after|-m S] [--skip|-k a,b,c]",
       "disable, drain, move, update, enable every schema in schema order (numbers in names "
       "as numbers); --resume-from S starts at S, --continue-after S after S (OX's -m); the "
       "short flags are OX upgradeschemata's",
       P::Admin, 0, 0,
       {{"--server", true, "-n"}, {"--pool", true}, {"--version", true}, {"--redirect-url", true},
        {"--continue", false}, {"--force", false, "-f"}, {"--resume-from", true},
        {"--continue-after", true, "-m"}, {"--skip", true, "-k"}}},
      {CommandId::UpgradeStatus, {"upgrade", "status"}, "", "the newest run and its schemas", P::ReadOnly, 0, 0, {}},
      {CommandId::UpgradePause, {"upgrade", "pause"}, "", "pause the running upgrade once its current schema is done", P::Admin,
       0, 0, {}},
      {CommandId::UpgradeResume, {"upgrade", "resume"}, "", "resume a paused upgrade", P::Admin, 0, 0, {}},
      {CommandId::UpgradeAbort, {"upgrade", "abort"}, "", "end the running upgrade once its current schema is done", P::Admin, 0,
       0, {}},
      {CommandId::ClusterStatus, {"cluster", "status"}, "", "cluster upgrade state", P::ReadOnly, 0, 0, {}},
      {CommandId::ClusterHistory, {"cluster", "history"}, "[--limit N]", "cluster state transitions, newest first",
       P::ReadOnly, 0, 0, {{"--limit", true}}},
      {CommandId::ClusterPrepare, {"cluster", "prepare"}, "SERVER [--reason R]", "STABLE -> READY_TO_UPGRADE to SERVER",
       P::Admin, 1, 1, {{"--reason", true}}},
      {CommandId::ClusterMixed, {"cluster", "mixed"}, "[--reason R]", "READY_TO_UPGRADE -> MIXED (a new node serves)",
       P::Admin, 0, 0, {{"--reason", true}}},
      {CommandId::ClusterReady, {"cluster", "ready"}, "[--reason R]", "MIXED -> READY_TO_RUN_UPGRADE_TASKS", P::Admin, 0,
       0, {{"--reason", true}}},
      {CommandId::ClusterApprove, {"cluster", "approve"}, "[--reason R]", "approve: -> RUNNING_UPGRADE_TASKS", P::Admin, 0,
       0, {{"--reason", true}}},
      {CommandId::ClusterCancel, {"cluster", "cancel"}, "[--reason R]", "back to STABLE (only before a schema moved)",
       P::Admin, 0, 0, {{"--reason", true}}},
      {CommandId::PoolMemberDrain, {"pool", "member", "drain"}, "POOL MEMBER", "no new requests; those in flight finish",
       P::Admin, 2, 2, {}},
      {CommandId::PoolMemberMaintenance, {"pool", "member", "maintenance"}, "POOL MEMBER", "out of service (no requests)",
       P::Admin, 2, 2, {}},
      {CommandId::PoolMemberReady, {"pool", "member", "ready"}, "POOL MEMBER", "back in service", P::Admin, 2, 2, {}},
      {CommandId::PoolMemberWeight, {"pool", "member", "weight"}, "POOL MEMBER N",
       "weight override 1..256 (0 = the YAML weight)", P::Admin, 3, 3, {}},
      {CommandId::PoolMemberWait, {"pool", "member", "wait"}, "POOL MEMBER [--timeout 30s]",
       "return when no request is in flight on MEMBER, or say why not", P::ReadOnly, 2, 2,
       {{"--timeout", true}}},
      {CommandId::Reload, {"reload"}, "", "re-read and validate the YAML; apply what can change at runtime",
       P::Admin, 0, 0, {}},
      {CommandId::ReopenLogs, {"reopen-logs"}, "",
       "reopen the access log at its path (after logrotate moved it; SIGUSR1 does the same)",
       P::Admin, 0, 0, {}},
  };
  return table;
}

}  // namespace sy::admin
