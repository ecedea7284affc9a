// The admin commands of an upgrade (rows in admin/command_text.cpp, dispatched by
// admin/commands.cpp): the cluster state (`cluster ...`, `show cluster`; admin/cluster_state.h),
// servers and schemas (`server register|update`, `schema disable|enable|move|update`), and the
// schema-by-schema run (`upgrade schemata|status|pause|resume|abort`; admin/sequencer.h).

#include <chrono>
#include <sstream>

#include "admin/cluster_state.h"
#include "admin/command_helpers.h"
#include "admin/commands_internal.h"
#include "admin/sequencer.h"
#include "admin/update_tasks.h"
#include "common/log.h"
#include "store/db.h"

namespace sy::admin::detail {

namespace {

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

Json cluster_json(const ClusterStatus& s) {
  return Json::object()
      .set("state", to_string(s.state))
      .set("target_server_id", s.target_server_id)
      .set("target_server", s.target_server_name)
      .set("since", iso(s.since_unix_ms))
      .set("since_unix_ms", s.since_unix_ms)
      .set("reason", s.reason);
}
}  // namespace

// --- cluster -----------------------------------------------------------------------------------

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

namespace {

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
}  // namespace

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

namespace {

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
}  // namespace

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

namespace {

UpdateTaskConfig task_config(const ServerOptions& o) {
  UpdateTaskConfig t;
  t.sql_dir = o.admin.update_tasks.sql_dir;
  t.command = o.admin.update_tasks.command;
  t.command_timeout = o.admin.update_tasks.command_timeout;
  return t;
}
}  // namespace

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

// How many times one `upgrade schemata` goes on through another database server after losing
// its session (cmd_upgrade_schemata).
constexpr int kRunFailovers = 3;

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
    ProgressLine last;
    auto run_once = [&](const UpgradeOptions& opts) -> Result<UpgradeReport> {
      auto dir = own.directory();
      if (!dir.ok()) {
        return dir.error();
      }
      auto state = own.state();
      if (!state.ok()) {
        return state.error();
      }
      return run_upgrade(**dir, **state, opts, [&](const Progress& p) {
        last.done = p.schemas_done;
        last.total = p.schemas_total;
        last.schema = p.schema;
        last.step = to_string(p.step);
        last.phase = to_string(p.phase);
        last.elapsed_ms = p.elapsed_ms;
        last.eta_ms = p.eta_ms;
        last.detail = p.detail;
        progress(last);
      });
    };
    auto report = run_once(o);
    // The database server went away under the run (a Galera node killed or cut off from the
    // primary component, a primary gone): the journal and the lease are in the database, so the
    // run goes on from the next DSN that fits exactly as `upgrade schemata --continue` would
    // (the same instance takes its own lease over at once). Bounded: a database that keeps
    // failing ends the run with its error, for the operator's --continue.
    UpgradeOptions again = o;
    again.register_new = false;  // registered (or refused) by the first attempt
    again.use_existing = true;
    for (int n = 1; n <= kRunFailovers && !report.ok() && store::is_session_lost(report.error());
         ++n) {
      const std::string why = report.error().message;
      SY_LOG(Warn, "upgrade: the run's database session was lost (%s); continuing the run through "
                   "the next DSN that fits (failover %d of %d)", why.c_str(), n, kRunFailovers);
      ProgressLine line = last;
      line.step = "failover";
      line.phase = "begin";
      line.detail = "database session lost, continuing through the next DSN that fits: " + why;
      progress(line);
      own.reset(why);
      report = run_once(again);
    }
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

namespace {

Reply control(CommandEnv& env, const char* what) {
  return with_state(env, [&](store::Db& db) {
    auto r = control_run(db, what);
    if (!r.ok()) {
      return error_reply(r.error());
    }
    return message_reply(std::string("upgrade ") + what + " requested");
  });
}
}  // namespace

Reply cmd_upgrade_pause(CommandEnv& env, const Args&) { return control(env, "pause"); }
Reply cmd_upgrade_resume(CommandEnv& env, const Args&) { return control(env, "resume"); }
Reply cmd_upgrade_abort(CommandEnv& env, const Args&) { return control(env, "abort"); }

}  // namespace sy::admin::detail
