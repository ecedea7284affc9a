// The directory commands (admin/directory_commands.h).

#include "admin/directory_commands.h"

#include <fstream>
#include <sstream>

#include "admin/cluster_state.h"
#include "admin/command_helpers.h"
#include "admin/directory_edit.h"
#include "admin/import.h"
#include "store/upgrade_store.h"

namespace sy::admin {

namespace {

// The largest CSV `import csv` reads (a million contexts fit in about 30 MB).
constexpr std::streamoff kMaxImportBytes = 64LL * 1024 * 1024;

// The directory database of profile own, or the error that says why not: "read-only" on
// profile sql, "unsupported-profile" (naming what there is instead) on profile ox.
Result<store::Db*> own_db(CommandEnv& env, const char* command) {
  auto dir = env.stores->directory();  // sql: read-only; no database: database
  if (!dir) {
    return dir.error();
  }
  if (std::string_view((*dir)->profile()) != "own") {
    return make_tagged_error(Errc::InvalidArgument, "unsupported-profile",
                             std::string("`") + command + "` edits Switchyard's own tables " +
                                 "(profile own); " + kOxSupported,
                             ErrorSource::Downstream);
  }
  return env.stores->directory_db();
}

// One edit as one command: runs it in its own transaction and replies with its message.
Reply edit_reply(CommandEnv& env, const char* command,
                 const std::function<Result<EditOutcome>(store::Db&)>& edit,
                 bool unchanged_is_exists = false) {
  auto db = own_db(env, command);
  if (!db) {
    return error_reply(db.error());
  }
  EditOutcome outcome;
  auto written = run_own_edit(**db, command, edit, &outcome);
  if (!written) {
    return error_reply(written.error());
  }
  if (unchanged_is_exists && !outcome.changed) {
    // An add of what is there already: a duplicate, said plainly (the import counts it as
    // unchanged instead).
    return error_reply("exists", outcome.message + ": it exists already as given");
  }
  return ok_reply(Json::object()
                      .set("message", outcome.message)
                      .set("changed", outcome.changed)
                      .set("change_seq", written->version));
}

Result<uint32_t> context_id(const std::string& text) {
  uint32_t id = 0;
  if (!parse_u32(text, &id) || id == 0) {
    return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                             "context id '" + text + "' is not a positive integer",
                             ErrorSource::Downstream);
  }
  return id;
}

// The upgrade that still targets server |id|, if any: the cluster (any state but STABLE) or an
// unfinished run.
std::optional<Reply> upgrade_target_of(store::Db& state, const ServerInfo& server) {
  auto cluster = read_cluster(state);
  if (!cluster) {
    return error_reply(cluster.error());
  }
  const std::string name = "server '" + server.name + "' (id " + std::to_string(server.id) + ")";
  if (cluster->state != ClusterState::Stable && cluster->target_server_id == server.id) {
    return error_reply("in-use", name + " is the target of the cluster upgrade (state " +
                                     to_string(cluster->state) +
                                     "): finish it, or `cluster cancel` while nothing moved");
  }
  auto run = store::find_unfinished_run(state);
  if (!run) {
    return error_reply(run.error());
  }
  if (run->has_value() && (*run)->target == server.id) {
    return error_reply("in-use", name + " is the target of upgrade run " +
                                     std::to_string((*run)->id) +
                                     ", still unfinished: `upgrade schemata` again finishes it");
  }
  return std::nullopt;
}

Reply import_reply(CommandEnv& env, const char* command,
                   const std::function<Result<std::vector<ImportRecord>>(store::Db&)>& read,
                   bool dry_run) {
  auto db = own_db(env, command);
  if (!db) {
    return error_reply(db.error());
  }
  auto records = read(**db);
  if (!records) {
    return error_reply(records.error());
  }
  auto report = apply_import(**db, std::move(records.value()), dry_run);
  if (!report) {
    return error_reply(report.error());
  }
  Json changes = Json::array();
  for (const auto& c : report->changes) {
    changes.push(c);
  }
  const int added = report->added_schemas + report->added_contexts + report->added_logins;
  std::string msg = std::string(dry_run ? "dry run: would add " : "imported: added ") +
                    std::to_string(report->added_schemas) + " schema(s), " +
                    std::to_string(report->added_contexts) + " context(s), " +
                    std::to_string(report->added_logins) + " login(s); " +
                    std::to_string(report->unchanged) + " unchanged" +
                    (dry_run ? " (nothing written)" : "");
  Json j = Json::object();
  j.set("message", std::move(msg))
      .set("dry_run", dry_run)
      .set("added", added)
      .set("added_schemas", report->added_schemas)
      .set("added_contexts", report->added_contexts)
      .set("added_logins", report->added_logins)
      .set("unchanged", report->unchanged)
      .set("change_seq", report->version)
      .set("changes", std::move(changes));
  return ok_reply(std::move(j));
}

}  // namespace

Reply cmd_server_unregister(CommandEnv& env, const Args& a) {
  return with_both(env, [&](Directory& dir, store::Db& state) {
    auto server = dir.find_server(a.positional[0]);
    if (!server) {
      return error_reply(server.error());
    }
    if (auto busy = upgrade_target_of(state, *server)) {
      return *busy;
    }
    ServerInfo removed;
    auto r = dir.unregister_server(std::to_string(server->id), &removed);
    if (!r) {
      return error_reply(r.error());
    }
    return ok_reply(Json::object()
                        .set("message", "server '" + removed.name + "' (id " +
                                            std::to_string(removed.id) + ") unregistered")
                        .set("id", removed.id)
                        .set("name", removed.name)
                        .set("change_seq", r->version));
  });
}

Reply cmd_context_add(CommandEnv& env, const Args& a) {
  auto id = context_id(a.positional[0]);
  if (!id) {
    return error_reply(id.error());
  }
  if (!a.has("--schema")) {
    return error_reply("usage", "context add ID --schema S [--server NAME|ID] [--disabled]");
  }
  ContextWanted want{*id, a.get("--schema"), !a.has("--disabled"), a.get("--server")};
  return edit_reply(
      env, "context add", [&](store::Db& db) { return edit_add_context(db, want); }, true);
}

Reply cmd_context_move(CommandEnv& env, const Args& a) {
  auto id = context_id(a.positional[0]);
  if (!id) {
    return error_reply(id.error());
  }
  if (!a.has("--schema") && !a.has("--server")) {
    return error_reply("usage", "context move ID [--schema S] [--server NAME|ID] (at least one)");
  }
  std::optional<std::string> schema;
  std::optional<std::string> server;
  if (a.has("--schema")) {
    schema = a.get("--schema");
  }
  if (a.has("--server")) {
    server = a.get("--server");
  }
  return edit_reply(env, "context move",
                    [&](store::Db& db) { return edit_move_context(db, *id, schema, server); });
}

Reply set_context(CommandEnv& env, const Args& a, bool enabled) {
  auto id = context_id(a.positional[0]);
  if (!id) {
    return error_reply(id.error());
  }
  return edit_reply(env, enabled ? "context enable" : "context disable",
                    [&](store::Db& db) { return edit_set_context_enabled(db, *id, enabled); });
}

Reply cmd_context_disable(CommandEnv& env, const Args& a) { return set_context(env, a, false); }
Reply cmd_context_enable(CommandEnv& env, const Args& a) { return set_context(env, a, true); }

Reply cmd_schema_add(CommandEnv& env, const Args& a) {
  if (!a.has("--server")) {
    return error_reply("usage", "schema add NAME --server NAME|ID [--disabled]");
  }
  const std::string name = a.positional[0];
  const std::string server = a.get("--server");
  const bool enabled = !a.has("--disabled");
  return edit_reply(
      env, "schema add", [&](store::Db& db) { return edit_add_schema(db, name, server, enabled); },
      true);
}

Reply cmd_login_add(CommandEnv& env, const Args& a) {
  if (!a.has("--context")) {
    return error_reply("usage", "login add LOGIN --context ID");
  }
  auto id = context_id(a.get("--context"));
  if (!id) {
    return error_reply(id.error());
  }
  const std::string login = a.positional[0];
  return edit_reply(
      env, "login add", [&](store::Db& db) { return edit_add_login(db, login, *id); }, true);
}

Reply cmd_login_remove(CommandEnv& env, const Args& a) {
  const std::string login = a.positional[0];
  return edit_reply(env, "login remove",
                    [&](store::Db& db) { return edit_remove_login(db, login); });
}

Reply cmd_import_csv(CommandEnv& env, const Args& a) {
  const std::string path = a.positional[0];
  return import_reply(
      env, "import csv",
      [&](store::Db&) -> Result<std::vector<ImportRecord>> {
        std::ifstream in(path, std::ios::binary | std::ios::ate);
        if (!in) {
          return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                                   "cannot open '" + path +
                                       "' for reading (the path is read by "
                                       "the switchyard process, on its host)",
                                   ErrorSource::Downstream);
        }
        if (in.tellg() > kMaxImportBytes) {
          return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                                   "'" + path + "' is larger than 64 MiB: split it",
                                   ErrorSource::Downstream);
        }
        in.seekg(0);
        std::ostringstream text;
        text << in.rdbuf();
        return parse_import_csv(text.str(), path);
      },
      a.has("--dry-run"));
}

Reply cmd_import_configdb(CommandEnv& env, const Args& a) {
  const std::string database = a.positional[0];
  return import_reply(
      env, "import configdb", [&](store::Db& db) { return read_configdb(db, database); },
      a.has("--dry-run"));
}

}  // namespace sy::admin
