// The admin command table: the replies, dispatch (the row a request selects, its arguments),
// and the handlers of help, show, reload, reopen-logs and upgrade binary. Every handler builds
// a Json document; the text form is rendered from it (protocol.h), so `--json` works for every
// command. The other handlers are in the parts named in admin/commands_internal.h and in
// admin/directory_commands.cpp, admin/event_commands.cpp.

#include "admin/commands.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "admin/cluster_state.h"
#include "admin/command_helpers.h"
#include "admin/commands_internal.h"
#include "admin/directory.h"
#include "admin/directory_commands.h"
#include "admin/event_commands.h"
#include "admin/sequencer.h"
#include "admin/update_tasks.h"
#include "store/instances.h"

namespace sy::admin {

Reply ok_reply(Json doc) {
  Reply r;
  r.doc = std::move(doc);
  return r;
}

Reply message_reply(std::string message) {
  return ok_reply(Json::object().set("message", std::move(message)));
}

Reply error_reply(std::string code, std::string message) {
  Reply r;
  r.ok = false;
  r.code = std::move(code);
  r.message = std::move(message);
  return r;
}

Reply error_reply(const Error& e) { return error_reply(error_code(e), e.message); }

std::string render_reply(const Reply& reply, bool json) {
  if (!reply.ok) {
    return format_error(reply.code, reply.message, json);
  }
  if (json) {
    return reply.doc.dump();
  }
  std::string text = reply.text.empty() ? render_text(reply.doc) : reply.text;
  // An empty line ends a reply: never send one inside it.
  for (size_t pos; (pos = text.find("\n\n")) != std::string::npos;) {
    text.erase(pos, 1);
  }
  while (!text.empty() && text.back() == '\n') {
    text.pop_back();
  }
  return text;
}

namespace {

using namespace detail;  // the helpers and the handlers of the parts (commands_internal.h)

// A `show`/`list` reply: {key: [row_json(row) for row in rows]}.
template <class Rows, class RowJson>
Reply rows_reply(const char* key, const Result<Rows>& r, RowJson&& row_json) {
  if (!r.ok()) {
    return error_reply(r.error());
  }
  Json rows = Json::array();
  for (const auto& row : *r) {
    rows.push(row_json(row));
  }
  return ok_reply(Json::object().set(key, std::move(rows)));
}

Json schema_json(const SchemaInfo& s) {
  return Json::object()
      .set("schema", s.name)
      .set("enabled", s.enabled)
      .set("server_id", s.server_id)
      .set("server", s.server_name)
      .set("contexts", s.contexts)
      .set("update", s.update_status)
      .set("update_error", s.update_error);
}

Json pairs_json(const std::vector<std::pair<std::string, uint64_t>>& pairs) {
  Json j = Json::object();
  for (const auto& [k, v] : pairs) {
    j.set(k, v);
  }
  return j;
}

// --- help --------------------------------------------------------------------------------------

Reply cmd_help(CommandEnv&, const Args&) {
  Json rows = Json::array();
  std::string text =
      "commands (one per line, several separated by ';'; add --json for a JSON reply;\n"
      "[admin] = needs an admin-level listener; TCP listeners need `auth <token>` first):\n";
  for (const auto& c : command_table()) {
    const char* level = c.privilege == Privilege::Admin ? "admin" : "read-only";
    rows.push(Json::object().set("command", c.usage()).set("level", level).set("help", c.help));
    text += "  " + c.usage() + (c.privilege == Privilege::Admin ? "  [admin]" : "") + "\n" +
            "      " + c.help + "\n";
  }
  Reply r = ok_reply(Json::object().set("commands", std::move(rows)));
  r.text = std::move(text);
  return r;
}

// --- show --------------------------------------------------------------------------------------

Reply cmd_show_info(CommandEnv& env, const Args&) {
  const AdminContext& c = *env.ctx;
  Json j = Json::object();
  j.set("instance", c.instance_id)
      .set("role", c.role)
      .set("version", c.version)
      .set("pid", static_cast<int>(getpid()))
      .set("workers", c.workers)
      .set("uptime_s", (now_unix_ms() - c.started_unix_ms) / 1000)
      .set("config", c.config_path)
      .set("database", env.stores->configured())
      .set("profile", env.stores->configured() ? profile_name(env.stores->options().profile) : "")
      .set("upgrade_running", env.upgrade_running->load());
  if (c.publisher != nullptr) {
    auto snap = c.publisher->current();
    Json r = Json::object();
    r.set("generation", c.publisher->generation());
    if (snap) {
      r.set("change_seq", snap->change_seq())
          .set("contexts", static_cast<uint64_t>(snap->context_count()))
          .set("schemas", static_cast<uint64_t>(snap->schema_count()))
          .set("servers", static_cast<uint64_t>(snap->server_count()));
    }
    j.set("snapshot", std::move(r));
  }
  return ok_reply(std::move(j));
}

Json loader_json(const store::LoaderStatus* l, const routing::SnapshotPublisher* pub) {
  if (l == nullptr) {
    return Json::object().set("enabled", false);
  }
  const auto now_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
  const char* state = l->db_state(now_ms);
  Json j = Json::object();
  j.set("enabled", true)
      .set("db_up", std::string_view(state) == "up")
      .set("db_state", state)
      .set("refreshes", l->refreshes.load(std::memory_order_relaxed))
      .set("failures", l->failures.load(std::memory_order_relaxed))
      .set("publishes", l->publishes.load(std::memory_order_relaxed))
      .set("last_ok_unix_ms", l->last_ok_unix_ms.load(std::memory_order_relaxed));
  if (pub != nullptr && pub->last_good_round_ms() != 0) {
    // Staleness (docs/decisions.md 67), on the publisher's steady clock.
    const auto steady_ms =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now().time_since_epoch())
                                  .count());
    const uint64_t good = pub->last_good_round_ms();
    j.set("checked_age_ms", steady_ms > good ? steady_ms - good : uint64_t{0})
        .set("cluster_stable", pub->cluster_stable())
        .set("stale_after_ms", pub->stale_after_ms())
        .set("stale", pub->stale(steady_ms));
  }
  return j;
}

Reply cmd_show_stats(CommandEnv& env, const Args&) {
  StatsView s = env.ctx->stats();
  Json pools = Json::array();
  for (const auto& p : env.ctx->pools()) {
    pools.push(Json::object()
                   .set("pool", p.name)
                   .set("requests", p.requests)
                   .set("responses_5xx", p.responses_5xx)
                   .set("active", p.active));
  }
  Json j = Json::object();
  j.set("decisions", pairs_json(s.decisions))
      .set("errors", pairs_json(s.errors))
      .set("held_now", s.held_now)
      .set("loader", loader_json(env.ctx->loader, env.ctx->publisher))
      .set("proxy", pairs_json(s.proxy))
      .set("pools", std::move(pools))
      // Cluster transitions this process refused (STYLE rule 11: counted, never ignored).
      .set("illegal_transitions", illegal_transition_count());
  if (env.events != nullptr) {
    Json ev = Json::object();
    for (const auto& [k, v] : env.events->counts()) {
      ev.set(k, v);
    }
    j.set("events", std::move(ev));
  }
  return ok_reply(std::move(j));
}

Reply cmd_show_pools(CommandEnv& env, const Args&) {
  Json rows = Json::array();
  Json pools = Json::array();
  for (const auto& p : env.ctx->pools()) {
    pools.push(Json::object()
                   .set("pool", p.name)
                   .set("version", p.version)
                   .set("balance", p.balance)
                   .set("origin", p.origin)
                   .set("members", static_cast<uint64_t>(p.members.size()))
                   .set("active", p.active));
    for (const auto& m : p.members) {
      rows.push(Json::object()
                    .set("pool", p.name)
                    .set("version", p.version)
                    .set("pool_origin", p.origin)
                    .set("member", m.address)
                    .set("origin", m.origin)
                    .set("name", m.name)
                    .set("resolve_error", m.resolve_error)
                    .set("admin", to_string(m.admin))
                    .set("healthy", m.healthy)
                    .set("weight", m.weight)
                    .set("weight_override", m.weight_override)
                    .set("inflight", m.inflight)
                    .set("tunnels", m.tunnels));
    }
  }
  return ok_reply(Json::object().set("pools", std::move(pools)).set("members", std::move(rows)));
}

Reply cmd_server_list(CommandEnv& env, const Args&) {
  return with_directory(
      env, [](Directory& dir) { return rows_reply("servers", dir.list_servers(), server_json); });
}

Reply cmd_schema_list(CommandEnv& env, const Args&) {
  return with_both(env, [](Directory& dir, store::Db& state) {
    auto schemas = dir.list_schemas();
    if (schemas.ok()) {
      if (auto m = merge_update_states(state, &schemas.value()); !m) {
        return error_reply(m.error());
      }
    }
    return rows_reply("schemas", schemas, schema_json);
  });
}

Reply cmd_show_context(CommandEnv& env, const Args& a) {
  uint32_t id = 0;
  if (!parse_u32(a.positional[0], &id) || id == 0) {
    return error_reply("invalid-argument",
                       "context id '" + a.positional[0] + "' is not a positive integer");
  }
  return with_directory(env, [id](Directory& dir) {
    auto r = dir.find_context(id);
    if (!r.ok()) {
      return error_reply(r.error());
    }
    Json logins = Json::array();
    for (const auto& l : r->logins) {
      logins.push(l);
    }
    return ok_reply(Json::object()
                        .set("context", r->id)
                        .set("schema", r->schema)
                        .set("enabled", r->enabled)
                        .set("reason_id", r->reason_id)
                        .set("schema_enabled", r->schema_enabled)
                        .set("server_id", r->server_id)
                        .set("server", r->server_name)
                        .set("logins", std::move(logins)));
  });
}

Reply cmd_show_instances(CommandEnv& env, const Args&) {
  auto live = live_within(env);
  return with_state(env, [live](store::Db& db) {
    auto r = list_instances(db, live);
    if (!r.ok()) {
      return error_reply(r.error());
    }
    Json rows = Json::array();
    for (const auto& i : *r) {
      Json inflight = Json::object();
      for (const auto& [schema, n] : i.inflight_per_schema) {
        inflight.set(schema, n);
      }
      rows.push(Json::object()
                    .set("id", i.id)
                    .set("role", i.role)
                    .set("version", i.version)
                    .set("pid", i.pid)
                    .set("heartbeat_age_ms", i.heartbeat_age_ms)
                    .set("applied_seq", i.applied_seq)
                    .set("inflight", std::move(inflight)));
    }
    return ok_reply(Json::object().set("instances", std::move(rows)));
  });
}

Reply cmd_show_database(CommandEnv& env, const Args&) {
  const auto& source = env.stores->options().dsn_source;
  if (!source) {
    return error_reply("database", "no database configured (the config has no database section)");
  }
  (void)env.stores->directory_db();  // the admin's own session, connected now if it can be
  auto labels = [](const std::vector<store::Dsn>& list) {
    Json out = Json::array();
    for (const auto& d : list) {
      out.push(d.label());
    }
    return out;
  };
  const store::DsnLists lists = source->lists();
  const uint64_t now = store::now_unix_ms();
  Json rows = Json::array();
  for (const auto& v : source->sessions()) {
    std::string left;
    for (const auto& p : v.passed_over) {
      left += (left.empty() ? "" : "; ") + p;
    }
    rows.push(Json::object()
                  .set("session", v.who)
                  .set("role", v.role)
                  .set("dsn", v.dsn.empty() ? "-" : v.dsn)
                  .set("since_ms", now >= v.since_unix_ms ? now - v.since_unix_ms : 0)
                  .set("passed_over", left.empty() ? "-" : left)
                  .set("left", v.left.empty() ? "-" : v.left)
                  .set("error", v.error.empty() ? "-" : v.error));
  }
  return ok_reply(Json::object()
                      .set("writers", labels(lists.writers))
                      .set("readers", labels(lists.read()))
                      .set("state", labels(lists.state))
                      .set("sessions", std::move(rows)));
}

Reply cmd_show_migrations(CommandEnv& env, const Args&) {
  return with_state(env, [](store::Db& state) {
    return rows_reply("runs", list_runs(state, 20), [](const RunStatus& run) {
      int done = 0, failed = 0;
      for (const auto& s : run.schemas) {
        done += s.status == SchemaStatus::Done;
        failed += s.status == SchemaStatus::Failed;
      }
      return Json::object()
          .set("run_id", run.run_id)
          .set("status", to_string(run.status))
          .set("target_server_id", run.target_server_id)
          .set("schemas", static_cast<uint64_t>(run.schemas.size()))
          .set("done", done)
          .set("failed", failed)
          .set("started_at", iso(run.started_unix_ms))
          .set("finished_at", iso(run.finished_unix_ms))
          .set("started_unix_ms", run.started_unix_ms)
          .set("finished_unix_ms", run.finished_unix_ms);
    });
  });
}

// --- reload ------------------------------------------------------------------------------------

Reply cmd_reload(CommandEnv& env, const Args&) {
  auto r = env.ctx->reload();
  if (!r.ok()) {
    return error_reply(r.error());
  }
  if (!r->needs_restart.empty()) {
    // Part of the file is not in effect: never "reloaded" and exit 0 (a script would believe
    // it). The reply names every key that keeps its running value until a restart.
    std::string not_applied;
    for (const auto& s : r->needs_restart) {
      not_applied += (not_applied.empty() ? "" : "; ") + s;
    }
    std::string applied;
    for (const auto& s : r->applied) {
      applied += (applied.empty() ? "" : "; ") + s;
    }
    return error_reply("reload-partial",
                       "configuration reloaded in part: " + std::to_string(r->applied.size()) +
                           " change(s) applied" + (applied.empty() ? "" : " (" + applied + ")") +
                           "; NOT applied until a restart: " + not_applied);
  }
  Json applied = Json::array();
  for (const auto& s : r->applied) {
    applied.push(s);
  }
  Json restart = Json::array();  // always empty here; kept for scripts that read it
  std::string msg = "configuration reloaded: " + std::to_string(r->applied.size()) +
                    " change(s) applied, " + std::to_string(r->needs_restart.size()) +
                    " need a restart";
  return ok_reply(Json::object()
                      .set("message", msg)
                      .set("applied", std::move(applied))
                      .set("needs_restart", std::move(restart)));
}

// --- reopen-logs -------------------------------------------------------------------------------

Reply cmd_reopen_logs(CommandEnv& env, const Args&) {
  if (!env.ctx->reopen_logs) {
    return message_reply("no access log configured (access_log.path is empty): nothing to reopen");
  }
  auto r = env.ctx->reopen_logs();
  if (!r.ok()) {
    return error_reply(r.error());
  }
  return message_reply(*r);
}

// --- upgrade binary ------------------------------------------------------------------------------

Reply cmd_upgrade_binary(CommandEnv& env, const Args&) {
  if (!env.ctx->upgrade_binary) {
    return error_reply(make_error(Errc::Unavailable, "this process cannot start a successor"));
  }
  auto r = env.ctx->upgrade_binary();
  if (!r.ok()) {
    return error_reply(r.error());
  }
  return message_reply(*r);
}

using Handler = Reply (*)(CommandEnv&, const Args&);

// The handler of each row; a CommandId without one does not compile (-Wswitch).
Handler handler_of(CommandId id) {
  switch (id) {
  case CommandId::Help: return cmd_help;
  case CommandId::ShowInfo: return cmd_show_info;
  case CommandId::ShowStats: return cmd_show_stats;
  case CommandId::ShowPools: return cmd_show_pools;
  case CommandId::ShowServers: return cmd_server_list;
  case CommandId::ShowSchemas: return cmd_schema_list;
  case CommandId::ShowContext: return cmd_show_context;
  case CommandId::ShowInstances: return cmd_show_instances;
  case CommandId::ShowMigrations: return cmd_show_migrations;
  case CommandId::ShowDatabase: return cmd_show_database;
  case CommandId::ShowCluster: return cmd_cluster_status;
  case CommandId::ShowEvents: return cmd_show_events;
  case CommandId::ServerRegister: return cmd_server_register;
  case CommandId::ServerUpdate: return cmd_server_update;
  case CommandId::ServerUnregister: return cmd_server_unregister;
  case CommandId::ServerList: return cmd_server_list;
  case CommandId::SchemaList: return cmd_schema_list;
  case CommandId::SchemaDisable: return cmd_schema_disable;
  case CommandId::SchemaEnable: return cmd_schema_enable;
  case CommandId::SchemaMove: return cmd_schema_move;
  case CommandId::SchemaUpdate: return cmd_schema_update;
  case CommandId::SchemaAdd: return cmd_schema_add;
  case CommandId::ContextShow: return cmd_show_context;
  case CommandId::ContextAdd: return cmd_context_add;
  case CommandId::ContextMove: return cmd_context_move;
  case CommandId::ContextDisable: return cmd_context_disable;
  case CommandId::ContextEnable: return cmd_context_enable;
  case CommandId::LoginAdd: return cmd_login_add;
  case CommandId::LoginRemove: return cmd_login_remove;
  case CommandId::ImportCsv: return cmd_import_csv;
  case CommandId::ImportConfigdb: return cmd_import_configdb;
  case CommandId::UpgradeSchemata: return cmd_upgrade_schemata;
  case CommandId::UpgradeStatus: return cmd_upgrade_status;
  case CommandId::UpgradePause: return cmd_upgrade_pause;
  case CommandId::UpgradeResume: return cmd_upgrade_resume;
  case CommandId::UpgradeAbort: return cmd_upgrade_abort;
  case CommandId::ClusterStatus: return cmd_cluster_status;
  case CommandId::ClusterHistory: return cmd_cluster_history;
  case CommandId::ClusterPrepare: return cmd_cluster_prepare;
  case CommandId::ClusterMixed: return cmd_cluster_mixed;
  case CommandId::ClusterReady: return cmd_cluster_ready;
  case CommandId::ClusterApprove: return cmd_cluster_approve;
  case CommandId::ClusterCancel: return cmd_cluster_cancel;
  case CommandId::PoolMemberDrain: return cmd_member_drain;
  case CommandId::PoolMemberMaintenance: return cmd_member_maintenance;
  case CommandId::PoolMemberReady: return cmd_member_ready;
  case CommandId::PoolMemberWeight: return cmd_member_weight;
  case CommandId::PoolMemberWait: return cmd_member_wait;
  case CommandId::PoolMemberAdd: return cmd_member_add;
  case CommandId::PoolMemberSet: return cmd_member_set;
  case CommandId::PoolMemberRemove: return cmd_member_remove;
  case CommandId::PoolAdd: return cmd_pool_add;
  case CommandId::PoolRemove: return cmd_pool_remove;
  case CommandId::Reload: return cmd_reload;
  case CommandId::ReopenLogs: return cmd_reopen_logs;
  case CommandId::UpgradeBinary: return cmd_upgrade_binary;
  }
  return nullptr;
}

}  // namespace

const std::vector<Command>& command_table() {
  static const std::vector<Command> table = [] {
    std::vector<Command> rows;
    for (const CommandSpec& spec : command_specs()) {
      rows.push_back(Command{spec, handler_of(spec.id)});
    }
    return rows;
  }();
  return table;
}

const Command* find_command(const std::vector<std::string>& words) {
  const Command* best = nullptr;
  for (const auto& c : command_table()) {
    if (c.words.size() > words.size() ||
        (best != nullptr && best->words.size() >= c.words.size())) {
      continue;
    }
    if (std::equal(c.words.begin(), c.words.end(), words.begin())) {
      best = &c;
    }
  }
  return best;
}

Reply dispatch(CommandEnv& env, const Request& request, Privilege level) {
  const auto& words = request.words;
  if (words.empty()) {
    return error_reply("usage", "empty command (try `help`)");
  }
  const Command* best = find_command(words);
  if (best == nullptr) {
    // Name the commands that start like this one, when any.
    std::string like;
    for (const auto& c : command_table()) {
      if (c.words[0] == words[0]) {
        like += (like.empty() ? "" : ", ") + c.usage();
      }
    }
    std::string said;
    for (size_t i = 0; i < words.size() && i < 3; ++i) {
      said += (i ? " " : "") + words[i];
    }
    return error_reply("unknown-command",
                       "'" + said + "'" +
                           (like.empty() ? " (try `help`)" : " (did you mean: " + like + ")"));
  }
  if (best->privilege == Privilege::Admin && level != Privilege::Admin) {
    std::string name;
    for (const auto& w : best->words) {
      name += (name.empty() ? "" : " ") + w;
    }
    return error_reply("permission",
                       "'" + name + "' needs the admin level; this listener is read-only");
  }
  Args args;
  for (size_t i = best->words.size(); i < words.size(); ++i) {
    std::string w = words[i];
    if (w.size() == 2 && w[0] == '-' && w[1] != '-') {
      // A short alias (e.g. OX's -m): the spelled-out flag it stands for.
      auto alias = std::find_if(best->flags.begin(), best->flags.end(), [&](const FlagSpec& f) {
        return f.short_name != nullptr && w == f.short_name;
      });
      if (alias == best->flags.end()) {
        return error_reply("usage", best->usage() + " (unknown flag " + w + ")");
      }
      w = alias->name;
    }
    if (w.size() > 2 && w[0] == '-' && w[1] == '-') {
      std::string name = w;
      std::string value;
      bool inline_value = false;
      size_t eq = w.find('=');
      if (eq != std::string::npos) {
        name = w.substr(0, eq);
        value = w.substr(eq + 1);
        inline_value = true;
      }
      auto spec = std::find_if(best->flags.begin(), best->flags.end(),
                               [&](const FlagSpec& f) { return name == f.name; });
      if (spec == best->flags.end()) {
        return error_reply("usage", best->usage() + " (unknown flag " + name + ")");
      }
      if (spec->takes_value && !inline_value) {
        if (i + 1 >= words.size()) {
          return error_reply("usage", best->usage() + " (" + name + " needs a value)");
        }
        value = words[++i];
      } else if (!spec->takes_value && inline_value) {
        return error_reply("usage", best->usage() + " (" + name + " takes no value)");
      }
      args.flags[name] = value;
    } else {
      args.positional.push_back(w);
    }
  }
  int n = static_cast<int>(args.positional.size());
  if (n < best->min_positional) {
    return error_reply("usage", best->usage());
  }
  if (n > best->max_positional) {
    return error_reply("usage", best->usage() + " (unexpected '" +
                                    args.positional[best->max_positional] + "')");
  }
  for (const FlagSpec& f : best->flags) {
    if (f.required && !args.has(f.name)) {
      return error_reply("usage", best->usage() + " (missing " + f.name + ")");
    }
  }
  return best->handler(env, args);
}

}  // namespace sy::admin
