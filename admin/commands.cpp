// The admin command table and its handlers. Every handler builds a Json document; the text
// form is rendered from it (protocol.h), so `--json` works for every command.

#include "admin/commands.h"

#include <unistd.h>

#include <cstdlib>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <sstream>

#include "admin/cluster_state.h"
#include "admin/command_helpers.h"
#include "admin/directory.h"
#include "admin/directory_commands.h"
#include "admin/event_commands.h"
#include "admin/sequencer.h"
#include "admin/update_tasks.h"
#include "common/log.h"
#include "conf/load.h"
#include "store/instances.h"
#include "store/member_store.h"

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

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool parse_int(const std::string& text, int* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc{} && end == text.data() + text.size() && !text.empty();
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) {
    if (!item.empty()) {
      out.push_back(item);
    }
  }
  return out;
}

// admin.live_within in whole seconds (at least 1): the heartbeat age of a live instance.
std::chrono::seconds live_within(const CommandEnv& env) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(env.options->admin.live_within);
  return std::max(s, std::chrono::seconds(1));
}

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

Json server_json(const ServerInfo& s) {
  return Json::object()
      .set("id", s.id)
      .set("name", s.name)
      .set("pool", s.pool)
      .set("version", s.version)
      .set("redirect_url", s.redirect_url);
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

// A stored time for people (ISO 8601, UTC); "" for 0 (not yet).
std::string iso(int64_t unix_ms) {
  return unix_ms == 0 ? std::string() : format_time(unix_ms, false);
}

Json outcome_json(const SchemaOutcome& s) {
  return Json::object()
      .set("schema", s.schema)
      .set("status", to_string(s.status))
      .set("duration", format_duration(s.duration_ms))
      .set("duration_ms", s.duration_ms)
      .set("error", s.error);
}

// A schema that is not enabled on the target server (admin/sequencer.h unfinished_schemas).
Json unfinished_json(const SchemaOutcome& s) {
  return Json::object()
      .set("schema", s.schema)
      .set("status", to_string(s.status))
      .set("where", s.error);
}

Json run_json(const RunStatus& r) {
  Json schemas = Json::array();
  for (const auto& s : r.schemas) {
    schemas.push(outcome_json(s));
  }
  return Json::object()
      .set("run_id", r.run_id)
      .set("status", to_string(r.status))
      .set("control", to_string(r.control))
      .set("driver", r.driver)
      .set("target_server_id", r.target_server_id)
      .set("started_at", iso(r.started_unix_ms))
      .set("finished_at", iso(r.finished_unix_ms))
      .set("started_unix_ms", r.started_unix_ms)
      .set("finished_unix_ms", r.finished_unix_ms)
      .set("schemas", std::move(schemas));
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

Json cluster_json(const ClusterStatus& s) {
  return Json::object()
      .set("state", to_string(s.state))
      .set("target_server_id", s.target_server_id)
      .set("target_server", s.target_server_name)
      .set("since", iso(s.since_unix_ms))
      .set("since_unix_ms", s.since_unix_ms)
      .set("reason", s.reason);
}

Reply cmd_cluster_status(CommandEnv& env, const Args&) {
  return with_both(env, [&env](Directory& dir, store::Db& state) {
    // MIXED whose new node went back to the old version reads as READY_TO_UPGRADE (revert).
    auto r = reconcile_cluster(state, dir, env.actor, live_within(env), env.events);
    if (!r.ok()) {
      return error_reply(r.error());
    }
    return ok_reply(cluster_json(*r));
  });
}

Reply cmd_cluster_history(CommandEnv& env, const Args& a) {
  int limit = 20;
  if (a.has("--limit") && (!parse_int(a.get("--limit"), &limit) || limit < 1)) {
    return error_reply("invalid-argument", "--limit needs a positive integer");
  }
  return with_state(env, [limit](store::Db& db) {
    auto r = cluster_history(db, limit);
    if (!r.ok()) {
      return error_reply(r.error());
    }
    Json rows = Json::array();
    for (const auto& h : *r) {
      rows.push(Json::object()
                    .set("at", iso(h.at_unix_ms))
                    .set("at_unix_ms", h.at_unix_ms)
                    .set("from", h.from)
                    .set("to", h.to)
                    .set("event", h.event)
                    .set("actor", h.actor)
                    .set("reason", h.reason));
    }
    return ok_reply(Json::object().set("history", std::move(rows)));
  });
}

Reply cluster_event(CommandEnv& env, ClusterEvent event, const std::string& server,
                    const std::string& reason, bool keep_old_role = false) {
  return with_both(env, [&](Directory& dir, store::Db& state) {
    if (event == ClusterEvent::Ready) {
      // A MIXED cluster whose new node went back is READY_TO_UPGRADE first (then ready is
      // refused as not a transition of that state, and the history says why).
      if (auto rc = reconcile_cluster(state, dir, env.actor, live_within(env), env.events); !rc) {
        return error_reply(rc.error());
      }
    }
    auto r = transition(state, dir, event, env.actor, reason, server, live_within(env), env.events,
                        keep_old_role);
    if (!r.ok()) {
      return error_reply(r.error());
    }
    return ok_reply(cluster_json(*r));
  });
}

Reply cmd_cluster_prepare(CommandEnv& env, const Args& a) {
  return cluster_event(env, ClusterEvent::Prepare, a.positional[0], a.get("--reason"));
}
Reply cmd_cluster_mixed(CommandEnv& env, const Args& a) {
  return cluster_event(env, ClusterEvent::Mixed, "", a.get("--reason"));
}
Reply cmd_cluster_ready(CommandEnv& env, const Args& a) {
  return cluster_event(env, ClusterEvent::Ready, "", a.get("--reason"), a.has("--keep-old-role"));
}
Reply cmd_cluster_approve(CommandEnv& env, const Args& a) {
  return cluster_event(env, ClusterEvent::Approve, "", a.get("--reason"));
}
Reply cmd_cluster_cancel(CommandEnv& env, const Args& a) {
  return cluster_event(env, ClusterEvent::Cancel, "", a.get("--reason"));
}

// --- servers and schemas ---------------------------------------------------------------------

Reply cmd_server_register(CommandEnv& env, const Args& a) {
  if (a.has("--continue") && a.has("--abort")) {
    return error_reply("usage", "--continue and --abort exclude each other");
  }
  // The three are what a write needs. `--continue` on a server that is registered with its pool
  // already writes nothing, so there they may be left out (given, they are compared and a
  // difference is reported).
  auto missing = [&a]() -> std::optional<Reply> {
    for (const char* f : {"--pool", "--version", "--redirect-url"}) {
      if (!a.has(f)) {
        return error_reply("usage", "server register NAME --pool P --version V --redirect-url U "
                                    "[--id N] [--continue|--abort] (missing " +
                                        std::string(f) + ")");
      }
    }
    return std::nullopt;
  };
  if (!a.has("--continue")) {
    if (auto m = missing()) {
      return *m;
    }
  }
  ServerInfo s;
  s.name = a.positional[0];
  s.pool = a.get("--pool");
  s.version = a.get("--version");
  s.redirect_url = a.get("--redirect-url");
  if (a.has("--id") && (!parse_u32(a.get("--id"), &s.id) || s.id == 0)) {
    return error_reply("invalid-argument", "--id needs a positive integer");
  }
  IfExists mode = a.has("--continue") ? IfExists::Continue
                  : a.has("--abort")  ? IfExists::Abort
                                      : IfExists::Refuse;
  return with_directory(env, [&](Directory& dir) {
    if (mode == IfExists::Continue) {
      auto have = dir.find_server(s.name);
      if (!have.ok() && have.error().code != Errc::NotFound) {
        return error_reply(have.error());
      }
      if (!have.ok() || have->pool.empty()) {  // a write follows: it needs all three
        if (auto m = missing()) {
          return *m;
        }
      }
    }
    auto r = dir.register_server(s, mode);
    if (!r.ok()) {
      return error_reply(r.error());
    }
    Json j = server_json(r->server);
    j.set("existed", r->existed).set("warning", r->warning).set("change_seq", r->version);
    return ok_reply(std::move(j));
  });
}

Reply cmd_server_update(CommandEnv& env, const Args& a) {
  ServerInfo changes;
  changes.name = a.positional[0];
  changes.pool = a.get("--pool");
  changes.version = a.get("--version");
  changes.redirect_url = a.get("--redirect-url");
  if (changes.pool.empty() && changes.version.empty() && changes.redirect_url.empty()) {
    return error_reply("usage", "server update NAME [--pool P] [--version V] [--redirect-url U] "
                                "(at least one, not empty)");
  }
  return with_directory(env, [&](Directory& dir) {
    ServerInfo after;
    auto r = dir.update_server(changes, &after);
    if (!r.ok()) {
      return error_reply(r.error());
    }
    Json j = server_json(after);
    j.set("changed", r->changed).set("change_seq", r->version);
    return ok_reply(std::move(j));
  });
}

Reply set_enabled(CommandEnv& env, const std::string& schema, bool enabled) {
  return with_directory(env, [&](Directory& dir) {
    auto r = dir.set_schema_enabled(schema, enabled);
    if (!r.ok()) {
      return error_reply(r.error());
    }
    return ok_reply(Json::object()
                        .set("message", "schema " + schema + (enabled ? " enabled" : " disabled") +
                                            (r->changed ? "" : " (unchanged)"))
                        .set("changed", r->changed)
                        .set("change_seq", r->version));
  });
}

Reply cmd_schema_disable(CommandEnv& env, const Args& a) {
  return set_enabled(env, a.positional[0], false);
}
Reply cmd_schema_enable(CommandEnv& env, const Args& a) {
  return set_enabled(env, a.positional[0], true);
}

Reply cmd_schema_move(CommandEnv& env, const Args& a) {
  std::string schema = a.positional[0];
  std::string server = a.get("--server");
  return with_directory(env, [&](Directory& dir) {
    uint32_t id = 0;
    if (!parse_u32(server, &id)) {
      auto found = dir.find_server(server);
      if (!found.ok()) {
        return error_reply(found.error());
      }
      id = found->id;
    }
    auto r = dir.move_schema(schema, id);
    if (!r.ok()) {
      return error_reply(r.error());
    }
    return ok_reply(Json::object()
                        .set("message", "schema " + schema + " on server " + std::to_string(id) +
                                            (r->changed ? "" : " (unchanged)"))
                        .set("changed", r->changed)
                        .set("change_seq", r->version));
  });
}

UpdateTaskConfig task_config(const ServerOptions& o) {
  UpdateTaskConfig t;
  t.sql_dir = o.admin.update_tasks.sql_dir;
  t.command = o.admin.update_tasks.command;
  t.command_timeout = o.admin.update_tasks.command_timeout;
  return t;
}

Reply cmd_schema_update(CommandEnv& env, const Args& a) {
  std::string schema = a.positional[0];
  UpdateTaskConfig tasks = task_config(*env.options);
  if (tasks.sql_dir.empty() && tasks.command.empty()) {
    return error_reply("invalid-argument",
                       "no update tasks configured (admin.update_tasks.sql_dir / command)");
  }
  return with_both(env, [&](Directory& dir, store::Db& state) {
    // The schema must be one the directory knows (a typo must not create task rows).
    if (auto known = dir.find_schema(schema); !known.ok()) {
      return error_reply(known.error());
    }
    auto r = run_update_tasks(state, env.stores->dsns(), schema, tasks, nullptr);
    if (!r.ok()) {
      return error_reply(r.error());
    }
    Json rows = Json::array();
    for (const auto& t : *r) {
      rows.push(Json::object()
                    .set("task", t.task)
                    .set("status", to_string(t.status))
                    .set("duration_ms", t.duration_ms)
                    .set("error", t.error));
    }
    return ok_reply(Json::object().set("schema", schema).set("tasks", std::move(rows)));
  });
}

// --- upgrade -----------------------------------------------------------------------------------

Reply cmd_upgrade_schemata(CommandEnv& env, const Args& a) {
  UpgradeOptions o;  // (one run per instance: AdminServer refuses a second with driver-busy)
  o.server.name = a.get("--server");
  o.server.pool = a.get("--pool");
  o.server.version = a.get("--version");
  o.server.redirect_url = a.get("--redirect-url");
  o.register_new = a.has("--pool") && a.has("--version") && a.has("--redirect-url");
  o.use_existing = a.has("--continue") || !o.register_new;
  o.force = a.has("--force");
  o.resume_from = a.get("--resume-from");
  o.continue_after = a.get("--continue-after");
  if (!o.resume_from.empty() && !o.continue_after.empty()) {
    return error_reply("usage", "--resume-from S (S runs) and --continue-after S (-m: S does "
                                "not run) exclude each other");
  }
  o.skip = split_list(a.get("--skip"));
  o.actor = env.actor;
  o.live_within = live_within(env);
  o.drain_timeout = env.options->admin.drain_timeout;
  o.driver_lease = env.options->admin.driver_lease;
  o.tasks = task_config(*env.options);
  o.dsns = env.stores->dsns();
  o.events = env.events;
  if (o.server.name.empty()) {
    return error_reply("usage", "upgrade schemata --server|-n NAME [--pool P --version V "
                                "--redirect-url U] [--continue] [--force|-f] [--resume-from S | "
                                "--continue-after|-m S] [--skip|-k a,b,c]");
  }
  if (auto dir = env.stores->directory(); !dir.ok()) {  // no database, or profile sql
    return error_reply(dir.error());
  }
  StoreOptions stores = env.stores->options();
  stores.io_timeout = std::chrono::seconds(0);  // a run may wait long on a lock or a task
  stores.who = "upgrade";
  Reply r;
  o.stop = env.stop_jobs.get();
  r.long_job = [o, stores, keep = env.events_owner,
                keep_stop = env.stop_jobs](const ProgressFn& progress) {
    Stores own(stores);  // the upgrade thread's own sessions
    auto dir = own.directory();
    if (!dir.ok()) {
      return error_reply(dir.error());
    }
    auto state = own.state();
    if (!state.ok()) {
      return error_reply(state.error());
    }
    auto report = run_upgrade(**dir, **state, o, [&](const Progress& p) {
      ProgressLine line;
      line.done = p.schemas_done;
      line.total = p.schemas_total;
      line.schema = p.schema;
      line.step = to_string(p.step);
      line.phase = to_string(p.phase);
      line.elapsed_ms = p.elapsed_ms;
      line.eta_ms = p.eta_ms;
      line.detail = p.detail;
      progress(line);
    });
    if (!report.ok()) {
      return error_reply(report.error());
    }
    Json schemas = Json::array();
    int failed = 0;
    for (const auto& s : report->schemas) {
      failed += s.status == SchemaStatus::Failed;
      schemas.push(outcome_json(s));
    }
    Json unfinished = Json::array();
    std::string where;
    for (const auto& s : report->unfinished) {
      unfinished.push(unfinished_json(s));
      where += (where.empty() ? "" : "; ") + s.schema + " (" + to_string(s.status) + ": " +
               s.error + ")";
    }
    const std::string status = to_string(report->status);
    if (report->status != RunState::Done) {
      // Not done is an ERR whatever the reason, so that a script never reads success; the
      // message names every schema that is not enabled on the target server.
      return error_reply("upgrade-" + status,
                         "run " + std::to_string(report->run_id) + " ended " + status + " (" +
                             std::to_string(failed) + " schema(s) failed in this run; " +
                             std::to_string(report->unfinished.size()) +
                             " not enabled on the target server: " + where +
                             "); see `upgrade status`" +
                             (report->status == RunState::Aborted
                                  ? "; `upgrade schemata` again resumes, `cluster cancel` backs "
                                    "out while no schema has moved"
                                  : ""));
    }
    Json j = Json::object();
    j.set("run_id", report->run_id)
        .set("resumed", report->resumed)
        .set("status", status)
        .set("duration", format_duration(report->duration_ms))
        .set("duration_ms", report->duration_ms)
        .set("failed", failed)
        .set("schemas", std::move(schemas))
        .set("unfinished", std::move(unfinished));
    return ok_reply(std::move(j));
  };
  return r;
}

Reply cmd_upgrade_status(CommandEnv& env, const Args&) {
  return with_both(env, [&](Directory& dir, store::Db& db) {
    auto r = read_run_status(db);
    if (!r.ok() && r.error().code == Errc::NotFound && env.upgrade_running->load()) {
      // The job has started here but has not yet written its run row (it takes the
      // driver lock and registers the server first): say so instead of "no run yet".
      return ok_reply(Json::object()
                          .set("status", "starting")
                          .set("driving_here", true)
                          .set("schemas", Json::array()));
    }
    if (!r.ok()) {
      return error_reply(r.error());
    }
    Json j = run_json(*r);
    j.set("driving_here", env.upgrade_running->load());
    // Where every schema that is not yet enabled on the target server is now.
    auto unfinished = unfinished_schemas(dir, db, r->target_server_id);
    if (!unfinished.ok()) {
      return error_reply(unfinished.error());
    }
    Json rows = Json::array();
    for (const auto& s : *unfinished) {
      rows.push(unfinished_json(s));
    }
    j.set("unfinished", std::move(rows));
    return ok_reply(std::move(j));
  });
}

Reply control(CommandEnv& env, const char* what) {
  return with_state(env, [&](store::Db& db) {
    auto r = control_run(db, what);
    if (!r.ok()) {
      return error_reply(r.error());
    }
    return message_reply(std::string("upgrade ") + what + " requested");
  });
}
Reply cmd_upgrade_pause(CommandEnv& env, const Args&) { return control(env, "pause"); }
Reply cmd_upgrade_resume(CommandEnv& env, const Args&) { return control(env, "resume"); }
Reply cmd_upgrade_abort(CommandEnv& env, const Args&) { return control(env, "abort"); }

// --- pool members ------------------------------------------------------------------------------

// Finds |pool| / |member| in the proxy's view; an error reply when either is unknown.
std::optional<Reply> find_member(CommandEnv& env, const std::string& pool,
                                 const std::string& member, MemberView* out) {
  for (const auto& p : env.ctx->pools()) {
    if (p.name != pool) {
      continue;
    }
    for (const auto& m : p.members) {
      if (m.address == member) {
        *out = m;
        return std::nullopt;
      }
    }
    std::string known;
    for (const auto& m : p.members) {
      known += (known.empty() ? "" : ", ") + m.address;
    }
    return error_reply("not-found",
                       "pool " + pool + " has no member " + member + " (members: " + known + ")");
  }
  return error_reply("not-found", "no pool named " + pool);
}

// Stores (when there is a database) and applies a member's runtime state.
Reply change_member(CommandEnv& env, const MemberRuntime& m, const std::string& what) {
  bool persisted = false;
  if (env.stores->has_state()) {
    auto db = env.stores->state();
    if (!db.ok()) {
      return error_reply(db.error());
    }
    auto r = store_member_state(**db, m);
    if (!r.ok()) {
      return error_reply(r.error());
    }
    persisted = true;
  }
  if (!env.ctx->set_member(m)) {
    return error_reply("not-found", "member " + m.pool + "/" + m.member + " is not known here");
  }
  return ok_reply(Json::object()
                      .set("message", "member " + m.pool + "/" + m.member + " " + what +
                                          (persisted ? "" : " (not persisted: no state database)"))
                      .set("pool", m.pool)
                      .set("member", m.member)
                      .set("admin", to_string(m.admin))
                      .set("weight_override", m.weight)
                      .set("persisted", persisted));
}

Reply member_admin(CommandEnv& env, const Args& a, MemberAdmin state) {
  MemberView view;
  if (auto err = find_member(env, a.positional[0], a.positional[1], &view)) {
    return *err;
  }
  MemberRuntime m;
  m.pool = a.positional[0];
  m.member = a.positional[1];
  m.admin = state;
  m.weight = view.weight_override;
  m.updated_unix_ms = now_unix_ms();
  return change_member(env, m, std::string("is now ") + to_string(state));
}

// Drains the member; when tunnels (upgraded connections, which may live for hours) are open to
// it, waits up to --tunnel-wait for their peers to close them, then cuts the rest, and says
// how many were cut.
Reply cmd_member_drain(CommandEnv& env, const Args& a) {
  conf::Millis bound{30000};
  if (a.has("--tunnel-wait") && !conf::parse_duration(a.get("--tunnel-wait"), &bound)) {
    return error_reply("invalid-argument", "--tunnel-wait '" + a.get("--tunnel-wait") +
                                               "' is not a duration (e.g. 30s)");
  }
  Reply r = member_admin(env, a, MemberAdmin::Drain);
  MemberView view;
  if (!r.ok || !env.ctx->cut_tunnels || find_member(env, a.positional[0], a.positional[1], &view) ||
      view.tunnels == 0) {
    return r;
  }
  AdminContext* ctx = env.ctx;
  std::string pool = a.positional[0];
  std::string member = a.positional[1];
  const Json* msg = r.doc.find("message");
  std::string drained = msg != nullptr ? msg->scalar_text() : std::string();
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + bound;
  struct Cut {
    bool done = false;
    uint64_t count = 0;
    std::chrono::steady_clock::time_point deadline;
  };
  auto cut = std::make_shared<Cut>();
  r.poll = [ctx, pool, member, drained, start, deadline, cut]() -> std::optional<Reply> {
    uint64_t open = 0;
    for (const auto& p : ctx->pools()) {
      for (const auto& m : p.members) {
        if (p.name == pool && m.address == member) {
          open = m.tunnels;
        }
      }
    }
    auto now = std::chrono::steady_clock::now();
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - start).count();
    if (open == 0) {
      return ok_reply(Json::object()
                          .set("message", drained + "; its tunnels closed after " +
                                              std::to_string(waited) + " ms, " +
                                              std::to_string(cut->count) + " cut")
                          .set("pool", pool)
                          .set("member", member)
                          .set("admin", "drain")
                          .set("tunnels_cut", cut->count)
                          .set("waited_ms", waited));
    }
    if (!cut->done && now >= deadline) {
      cut->done = true;
      cut->count = open;
      cut->deadline = now + std::chrono::seconds(5);  // each closes at its next tick (<= 1 s)
      ctx->cut_tunnels(pool, member);
      return std::nullopt;
    }
    if (cut->done && now >= cut->deadline) {
      return error_reply("timeout", "member " + pool + "/" + member + ": " + std::to_string(open) +
                                        " tunnel(s) still open " + std::to_string(waited) +
                                        " ms after the drain");
    }
    return std::nullopt;
  };
  return r;
}
Reply cmd_member_maintenance(CommandEnv& env, const Args& a) {
  return member_admin(env, a, MemberAdmin::Maintenance);
}
Reply cmd_member_ready(CommandEnv& env, const Args& a) {
  return member_admin(env, a, MemberAdmin::Ready);
}

Reply cmd_member_weight(CommandEnv& env, const Args& a) {
  int weight = 0;
  if (!parse_int(a.positional[2], &weight) || weight < 0 || weight > 256) {
    return error_reply("invalid-argument", "weight '" + a.positional[2] +
                                               "' is not an integer in 0..256 (0 = the YAML "
                                               "weight)");
  }
  MemberView view;
  if (auto err = find_member(env, a.positional[0], a.positional[1], &view)) {
    return *err;
  }
  MemberRuntime m;
  m.pool = a.positional[0];
  m.member = a.positional[1];
  m.admin = view.admin;
  m.weight = weight;
  m.updated_unix_ms = now_unix_ms();
  return change_member(env, m,
                       weight == 0 ? "weight reset to the YAML weight"
                                   : "weight is now " + std::to_string(weight));
}

// --timeout DURATION of the waiting commands (default: |*timeout| as it is).
std::optional<Reply> timeout_option(const Args& a, conf::Millis* timeout) {
  if (a.has("--timeout") && !conf::parse_duration(a.get("--timeout"), timeout)) {
    return error_reply("invalid-argument",
                       "--timeout '" + a.get("--timeout") + "' is not a duration (e.g. 30s)");
  }
  return std::nullopt;
}

// A reply the admin server polls until |inflight| says nothing of |what| is in flight here,
// then |finish|(milliseconds waited); past |timeout| an `ERR timeout` that says what |stays|.
Reply when_drained(std::string what, std::string stays, conf::Millis timeout,
                   std::function<uint64_t()> inflight, std::function<Reply(int64_t)> finish) {
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + timeout;
  Reply r;
  r.poll = [what = std::move(what), stays = std::move(stays), deadline, start,
            inflight = std::move(inflight), finish = std::move(finish)]() -> std::optional<Reply> {
    uint64_t n = inflight();
    auto now = std::chrono::steady_clock::now();
    int64_t waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - start).count();
    if (n == 0) {
      return finish(waited);
    }
    if (now < deadline) {
      return std::nullopt;
    }
    return error_reply("timeout", what + " not removed: " + std::to_string(n) +
                                      " request(s) still in flight after " +
                                      std::to_string(waited) + " ms; " + stays +
                                      " (run the command again, or with a longer --timeout)");
  };
  return r;
}

Reply cmd_member_wait(CommandEnv& env, const Args& a) {
  conf::Millis timeout{30000};
  if (auto err = timeout_option(a, &timeout)) {
    return *err;
  }
  MemberView view;
  if (auto err = find_member(env, a.positional[0], a.positional[1], &view)) {
    return *err;
  }
  std::string pool = a.positional[0];
  std::string member = a.positional[1];
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + timeout;
  AdminContext* ctx = env.ctx;
  Reply r;
  r.poll = [ctx, pool, member, start, deadline]() -> std::optional<Reply> {
    MemberView now;
    bool found = false;
    for (const auto& p : ctx->pools()) {
      for (const auto& m : p.members) {
        if (p.name == pool && m.address == member) {
          now = m;
          found = true;
        }
      }
    }
    if (!found) {
      return error_reply("not-found", "member " + pool + "/" + member + " disappeared");
    }
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
    if (now.inflight == 0) {
      return ok_reply(Json::object()
                          .set("message", "member " + pool + "/" + member +
                                              " has no request in flight (" + to_string(now.admin) +
                                              ", waited " + std::to_string(waited) + " ms)")
                          .set("inflight", 0)
                          .set("admin", to_string(now.admin))
                          .set("waited_ms", waited));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string why = std::to_string(now.inflight) + " request(s) still in flight after " +
                        std::to_string(waited) + " ms";
      if (now.admin == MemberAdmin::Ready) {
        why += "; the member is ready, so new requests keep arriving (drain it first)";
      } else {
        why += " (" + std::string(to_string(now.admin)) + ": long-running requests)";
      }
      return error_reply("timeout", "member " + pool + "/" + member + ": " + why);
    }
    return std::nullopt;
  };
  return r;
}

// --- pool members at runtime (sy_pool_members; app/member_sync.h) ------------------------------

// Stores |row| with |put|, reads every row back with |get| and applies them all here at once
// with |apply| (the other instances follow at their next poll). The changes applied.
template <class Row, class Put, class Get, class Apply>
Result<std::vector<std::string>> store_and_apply(Stores* stores, const Row& row, Put put, Get get,
                                                 const Apply& apply) {
  auto db = stores->state();
  if (!db.ok()) {
    return db.error();
  }
  if (auto r = put(**db, row); !r.ok()) {
    return r.error();
  }
  auto rows = get(**db);
  if (!rows.ok()) {
    return rows.error();
  }
  return apply(*rows);
}

Result<std::vector<std::string>> store_and_apply(Stores* stores, AdminContext* ctx,
                                                 const store::PoolMemberRow& row) {
  return store_and_apply(stores, row, store::store_pool_member, store::load_pool_members,
                         ctx->apply_pool_members);
}

// `pool VERB` changes rows of the state database: an error reply without one.
std::optional<Reply> needs_state(CommandEnv& env, const std::string& verb, bool hooked,
                                 const char* what) {
  if (!env.stores->has_state() || !hooked) {
    return error_reply("unavailable", "pool " + verb + " needs the state database (" + what +
                                          " added at runtime live there, for every instance); "
                                          "configure database: or change the YAML and reload");
  }
  return std::nullopt;
}

// The common checks of `pool member add|set|remove`: a state database, a known pool, an
// address in the YAML's syntax; then --weight and --tls-name into |row|.
std::optional<Reply> member_row(CommandEnv& env, const Args& a, const std::string& verb,
                                store::PoolMemberRow* row) {
  if (auto err = needs_state(env, "member " + verb, bool(env.ctx->apply_pool_members), "members")) {
    return err;
  }
  row->pool = a.positional[0];
  bool pool_known = false;
  for (const auto& p : env.ctx->pools()) {
    pool_known = pool_known || p.name == row->pool;
  }
  if (!pool_known) {
    return error_reply("not-found", "no pool named " + row->pool + " (add it with pool add)");
  }
  conf::Member parsed;
  std::string why;
  if (!conf::parse_member_address(a.positional[1], &parsed, &why)) {
    return error_reply("invalid-argument", why);
  }
  row->member = parsed.address;
  if (a.has("--weight") &&
      (!parse_int(a.get("--weight"), &row->weight) || row->weight < 1 || row->weight > 256)) {
    return error_reply("invalid-argument",
                       "--weight '" + a.get("--weight") + "' is not an integer in 1..256");
  }
  if (a.has("--tls-name")) {
    row->tls_name = a.get("--tls-name");
  }
  if (verb == "add" && env.ctx->config != nullptr) {
    for (const auto& p : env.ctx->config->pools) {  // pool settings are fixed at start
      if (p.name == row->pool) {
        why = conf::runtime_member_problem(p, parsed, row->tls_name);
      }
    }
    if (!why.empty()) {
      return error_reply("invalid-argument", why);
    }
  }
  return std::nullopt;
}

Json changes_json(const std::vector<std::string>& applied) {
  Json changes = Json::array();
  for (const auto& c : applied) {
    changes.push(Json(c));
  }
  return changes;
}

Reply member_changed(const store::PoolMemberRow& row, const std::string& what,
                     const std::vector<std::string>& applied) {
  return ok_reply(Json::object()
                      .set("message", "member " + row.pool + "/" + row.member + " " + what +
                                          "; every instance applies it within one refresh")
                      .set("pool", row.pool)
                      .set("member", row.member)
                      .set("weight", row.weight)
                      .set("tls_name", row.tls_name)
                      .set("applied", changes_json(applied)));
}

Reply cmd_member_add(CommandEnv& env, const Args& a) {
  store::PoolMemberRow row;
  if (auto err = member_row(env, a, "add", &row)) {
    return *err;
  }
  MemberView view;
  if (!find_member(env, row.pool, row.member, &view)) {
    return error_reply("conflict", "pool " + row.pool + " already has member " + row.member +
                                       " (from " + view.origin +
                                       "); change it with pool member set");
  }
  // A member removed before left its drain state behind: a new member starts ready.
  auto db = env.stores->state();
  if (!db.ok()) {
    return error_reply(db.error());
  }
  MemberRuntime ready;
  ready.pool = row.pool;
  ready.member = row.member;
  if (auto r = store_member_state(**db, ready); !r.ok()) {
    return error_reply(r.error());
  }
  auto applied = store_and_apply(env.stores, env.ctx, row);
  if (!applied.ok()) {
    return error_reply(applied.error());
  }
  env.ctx->set_member(ready);
  return member_changed(row, "added", *applied);
}

Reply cmd_member_set(CommandEnv& env, const Args& a) {
  store::PoolMemberRow row;
  if (auto err = member_row(env, a, "set", &row)) {
    return *err;
  }
  if (!a.has("--weight") && !a.has("--tls-name")) {
    return error_reply("usage", "pool member set POOL ADDRESS [--weight N] [--tls-name NAME]: "
                                "give at least one of them");
  }
  MemberView view;
  if (auto err = find_member(env, row.pool, row.member, &view)) {
    return *err;
  }
  if (!a.has("--weight")) {
    row.weight = view.base_weight;
  }
  if (!a.has("--tls-name")) {
    row.tls_name = view.tls_name;
  }
  auto applied = store_and_apply(env.stores, env.ctx, row);
  if (!applied.ok()) {
    return error_reply(applied.error());
  }
  return member_changed(row, "changed", *applied);
}

// Drains the member first (stored: every instance stops sending it new requests), waits until
// no request is in flight on it here, then stores the removal (a tombstone, so a YAML member
// stays removed) and applies it. An exchange still running on another instance when the
// removal reaches it finishes there: a removed member is retired, never cut.
Reply cmd_member_remove(CommandEnv& env, const Args& a) {
  conf::Millis timeout{30000};
  if (auto err = timeout_option(a, &timeout)) {
    return *err;
  }
  store::PoolMemberRow row;
  if (auto err = member_row(env, a, "remove", &row)) {
    return *err;
  }
  MemberView view;
  if (auto err = find_member(env, row.pool, row.member, &view)) {
    return *err;
  }
  row.weight = view.base_weight;
  row.tls_name = view.tls_name;
  row.removed = true;
  MemberRuntime drain;
  drain.pool = row.pool;
  drain.member = row.member;
  drain.admin = MemberAdmin::Drain;
  drain.weight = view.weight_override;
  Reply drained = change_member(env, drain, "is draining");
  if (!drained.ok) {
    return drained;
  }
  AdminContext* ctx = env.ctx;
  Stores* stores = env.stores;
  auto inflight = [ctx, row] {
    uint64_t n = 0;
    for (const auto& p : ctx->pools()) {
      for (const auto& m : p.members) {
        if (p.name == row.pool && m.address == row.member) {
          n = m.inflight;
        }
      }
    }
    return n;
  };
  auto finish = [ctx, stores, row](int64_t waited) {
    auto applied = store_and_apply(stores, ctx, row);
    if (!applied.ok()) {
      return error_reply(applied.error());
    }
    Reply done =
        member_changed(row, "removed after draining (" + std::to_string(waited) + " ms)", *applied);
    done.doc.set("waited_ms", waited);
    return done;
  };
  return when_drained("member " + row.pool + "/" + row.member, "it stays drained", timeout,
                      inflight, finish);
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

// --- pools at runtime (sy_pools; app/pool_sync.h) -----------------------------------------------

Result<std::vector<std::string>> store_and_apply_pool(Stores* stores, AdminContext* ctx,
                                                      const store::PoolRow& row) {
  return store_and_apply(stores, row, store::store_pool, store::load_pools, ctx->apply_pools);
}

std::optional<Reply> pools_available(CommandEnv& env, const std::string& verb) {
  return needs_state(env, verb, bool(env.ctx->apply_pools), "pools");
}

const PoolView* find_pool(const std::vector<PoolView>& pools, const std::string& name) {
  for (const auto& p : pools) {
    if (p.name == name) {
      return &p;
    }
  }
  return nullptr;
}

// |value| as a YAML scalar: plain when it is a plain word (so integers and booleans stay what
// they are), else double-quoted (then only a string setting accepts it).
std::string yaml_scalar(const std::string& value) {
  bool plain = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
           c == '/';
  });
  if (plain && value[0] != '-') {
    return value;
  }
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out + "\"";
}

// `pool add` flag -> the key of a `pools` entry it sets (docs/configuration.md).
struct PoolFlag {
  const char* flag;
  const char* key;  // "tls.ca": inside the tls mapping
};
constexpr PoolFlag kPoolFlags[] = {
    {"--version", "version"},
    {"--balance", "balance"},
    {"--protocol", "protocol"},
    {"--connect-timeout", "connect_timeout"},
    {"--response-timeout", "response_timeout"},
    {"--stream-timeout", "stream_timeout"},
    {"--tunnel-timeout", "tunnel_timeout"},
    {"--max-idle-connections", "max_idle_connections"},
    {"--retries", "retries"},
    {"--tls-ca", "tls.ca"},
    {"--tls-server-name", "tls.server_name"},
    {"--tls-verify", "tls.verify"},
    {"--tls-min-version", "tls.min_version"},
    {"--tls-cert", "tls.cert"},
    {"--tls-key", "tls.key"},
    {"--health-check", "health_check.path"},
    {"--health-check-interval", "health_check.interval"},
    {"--health-check-timeout", "health_check.timeout"},
};

// The settings of `pool add NAME [flags]` as the YAML flow mapping stored in sy_pools.
std::string pool_spec(const std::string& name, const Args& a) {
  std::string top = "name: " + yaml_scalar(name);
  std::string tls, hc;
  for (const auto& f : kPoolFlags) {
    if (!a.has(f.flag)) {
      continue;
    }
    std::string key = f.key, value = a.get(f.flag);
    if (key == "protocol" && value == "h1") {
      value = "http1";  // the YAML's word
    }
    std::string* into = &top;
    if (key.rfind("tls.", 0) == 0) {
      into = &tls;
      key = key.substr(4);
    } else if (key.rfind("health_check.", 0) == 0) {
      into = &hc;
      key = key.substr(13);
    }
    *into += (into->empty() ? "" : ", ") + key + ": " + yaml_scalar(value);
  }
  if (!tls.empty() || a.has("--tls")) {
    top += ", tls: {" + tls + "}";
  }
  if (!hc.empty()) {
    top += ", health_check: {enabled: true, " + hc + "}";
  }
  return "{" + top + "}";
}

Reply cmd_pool_add(CommandEnv& env, const Args& a) {
  if (auto err = pools_available(env, "add")) {
    return *err;
  }
  const std::string& name = a.positional[0];
  auto pools = env.ctx->pools();
  if (const PoolView* p = find_pool(pools, name)) {
    return error_reply("conflict", "pool " + name + " already exists (from " + p->origin +
                                       "); remove it first to change its settings");
  }
  store::PoolRow row;
  row.name = name;
  row.spec = pool_spec(name, a);
  conf::Pool parsed;
  std::string why;
  if (!conf::parse_pool_settings(row.spec, &parsed, &why)) {
    return error_reply("invalid-argument", why);
  }
  auto applied = store_and_apply_pool(env.stores, env.ctx, row);
  if (!applied.ok()) {
    return error_reply(applied.error());
  }
  return ok_reply(Json::object()
                      .set("message", "pool " + name +
                                          " added; every instance applies it within one refresh "
                                          "(add members with pool member add)")
                      .set("pool", name)
                      .set("spec", row.spec)
                      .set("applied", changes_json(*applied)));
}

// Refuses a referenced pool; drains every member (stored: every instance stops sending the pool
// new requests), waits until no request is in flight on it here, then stores the removal (a
// tombstone, so a YAML pool stays removed) and applies it: its members are retired on every
// worker (exchanges still running elsewhere finish there; idle connections close).
Reply cmd_pool_remove(CommandEnv& env, const Args& a) {
  conf::Millis timeout{30000};
  if (auto err = timeout_option(a, &timeout)) {
    return *err;
  }
  if (auto err = pools_available(env, "remove")) {
    return *err;
  }
  const std::string name = a.positional[0];
  auto pools = env.ctx->pools();
  const PoolView* pool = find_pool(pools, name);
  if (pool == nullptr) {
    return error_reply("not-found", "no pool named " + name);
  }
  auto refused = [name](const std::string& ref) {
    return error_reply("conflict", "pool " + name + " is referenced by " + ref +
                                       "; not removed (remove the reference first)");
  };
  if (std::string ref = env.ctx->pool_referenced_by(name); !ref.empty()) {
    return refused(ref);
  }
  for (const auto& m : pool->members) {
    MemberRuntime drain;
    drain.pool = name;
    drain.member = m.address;
    drain.admin = MemberAdmin::Drain;
    drain.weight = m.weight_override;
    if (Reply r = change_member(env, drain, "is draining"); !r.ok) {
      return r;
    }
  }
  AdminContext* ctx = env.ctx;
  Stores* stores = env.stores;
  auto inflight = [ctx, name] {
    uint64_t n = 0;
    for (const auto& p : ctx->pools()) {
      n += p.name == name ? p.active : 0;
    }
    return n;
  };
  auto finish = [ctx, stores, name, refused](int64_t waited) {
    if (std::string ref = ctx->pool_referenced_by(name); !ref.empty()) {
      return refused(ref);  // a server row may have named it meanwhile
    }
    store::PoolRow row;
    row.name = name;
    row.removed = true;
    auto applied = store_and_apply_pool(stores, ctx, row);
    if (!applied.ok()) {
      return error_reply(applied.error());
    }
    Reply done = ok_reply(Json::object()
                              .set("message", "pool " + name + " removed after draining (" +
                                                  std::to_string(waited) +
                                                  " ms); every instance applies it within one "
                                                  "refresh")
                              .set("pool", name)
                              .set("waited_ms", waited)
                              .set("applied", changes_json(*applied)));
    return done;
  };
  return when_drained("pool " + name, "its members stay drained", timeout, inflight, finish);
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
