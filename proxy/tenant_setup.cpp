#include "proxy/tenant_setup.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>

#include "admin/db_migrate.h"
#include "admin/instances.h"
#include "common/log.h"
#include "proxy/worker.h"
#include "routing/db.h"
#include "routing/directory_reader.h"

namespace sy::proxy {

namespace {

routing::KeyRuleKind kind_of(conf::KeyType t) {
  switch (t) {
  case conf::KeyType::HostRegex: return routing::KeyRuleKind::HostRegex;
  case conf::KeyType::Header: return routing::KeyRuleKind::Header;
  case conf::KeyType::Cookie: return routing::KeyRuleKind::Cookie;
  case conf::KeyType::PathSegment: return routing::KeyRuleKind::PathSegment;
  case conf::KeyType::PathRegex: return routing::KeyRuleKind::PathRegex;
  case conf::KeyType::Query: return routing::KeyRuleKind::QueryParam;
  case conf::KeyType::LoginQuery: return routing::KeyRuleKind::LoginQuery;
  case conf::KeyType::LoginForm: return routing::KeyRuleKind::LoginForm;
  }
  return routing::KeyRuleKind::Header;
}

int pool_index(const conf::Config& config, const std::string& name) {
  for (size_t i = 0; i < config.pools.size(); ++i) {
    if (config.pools[i].name == name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace

std::string make_instance_id(const conf::Config& config) {
  if (!config.routing.instance_id.empty()) {
    return config.routing.instance_id;
  }
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  return std::string(host) + ":" + std::to_string(getpid());
}

std::vector<routing::Dsn> make_dsns(const conf::Database& db) {
  std::vector<routing::Dsn> out;
  for (const auto& d : db.dsns) {
    routing::Dsn dsn;
    dsn.host = d.host;
    dsn.port = d.port;
    dsn.user = d.user;
    dsn.password = d.password;
    dsn.database = d.database;
    dsn.socket = d.socket;
    out.push_back(dsn);
  }
  return out;
}

Result<std::unique_ptr<RoutingSetup>> make_routing_setup(const conf::Config& config,
                                                         const routing::SnapshotPublisher* pub) {
  const conf::Routing& r = config.routing;
  auto setup = std::make_unique<RoutingSetup>();
  setup->publisher = pub;
  std::vector<routing::KeyRule> rules;
  for (const auto& k : r.keys) {
    routing::KeyRule rule;
    rule.kind = kind_of(k.type);
    rule.name = k.name;
    rule.segment = k.index;
    rule.pattern = k.pattern;
    rules.push_back(rule);
    setup->needs_form_body = setup->needs_form_body || k.type == conf::KeyType::LoginForm;
  }
  auto extractor = routing::KeyExtractor::compile(std::move(rules));
  if (!extractor.ok()) {
    return make_error(Errc::Config, config.file + ": routing.keys: " + extractor.error().message);
  }
  setup->extractor = std::move(extractor.value());
  routing::DecideConfig& d = setup->decide;
  d.role = r.role == "new" ? routing::Role::New : routing::Role::Old;
  for (const auto& name : r.serve_pools) {
    d.served_pools.push_back(pool_index(config, name));
  }
  d.moved = r.moved_action == "proxy" ? routing::MovedAction::Proxy : routing::MovedAction::Redirect;
  d.no_key = r.no_key == "default_pool" ? routing::NoKeyPolicy::DefaultPool
                                        : routing::NoKeyPolicy::NotFound;
  // Any configured pool lets decide() answer Proxy for a keyless request; the connection then
  // uses its own listener's pool (the promise of routing.no_key: default_pool).
  d.default_pool = config.listeners.empty() ? -1 : pool_index(config, config.listeners[0].pool);
  d.loop_guard_header = r.loop_guard_header;
  setup->hold.max_requests = static_cast<size_t>(r.hold.max_requests);
  setup->hold.max_bytes = r.hold.max_bytes;
  setup->hold.max_wait_ms = static_cast<uint64_t>(r.hold.max_wait.count());
  return setup;
}

routing::LoaderOptions make_loader_options(const conf::Config& config,
                                           const std::vector<std::unique_ptr<Worker>>* workers,
                                           const std::atomic<bool>* workers_started) {
  const conf::Database& db = config.database;
  routing::LoaderOptions o;
  o.dsns = make_dsns(db);
  o.connect_timeout = db.connect_timeout;
  o.refresh_interval = db.refresh_interval;
  o.tick_interval = db.heartbeat_interval;
  o.wait_at_start = db.wait_at_start;
  for (const auto& p : config.pools) {
    o.input.pool_names.push_back(p.name);
  }
  for (const auto& s : db.servers) {
    o.overrides.push_back(routing::ServerOverride{s.name, s.pool, s.version, s.redirect_url});
  }
  if (db.profile == conf::Profile::Sql) {
    routing::SqlProfileQueries q;
    q.servers = db.servers_sql.empty() ? std::string(routing::kConfigdbServersSql) : db.servers_sql;
    q.contexts =
        db.contexts_sql.empty() ? std::string(routing::kConfigdbContextsSql) : db.contexts_sql;
    q.logins = db.logins_sql.empty() ? std::string(routing::kConfigdbLoginsSql) : db.logins_sql;
    q.schemas = db.schemas_sql;
    o.make_reader = [q] { return std::make_unique<routing::SqlProfileReader>(q); };
  } else {
    o.make_reader = [] { return std::make_unique<routing::OwnProfileReader>(); };
  }
  o.on_publish = [workers, workers_started] {
    if (!workers_started->load(std::memory_order_acquire)) {
      return;
    }
    for (const auto& w : *workers) {
      Worker* worker = w.get();
      worker->post([worker] { worker->on_snapshot(); });
    }
  };
  if (config.routing.enabled) {
    admin::InstanceBeat beat;
    beat.id = make_instance_id(config);
    beat.role = config.routing.role;
    beat.version = config.routing.version;
    beat.pid = static_cast<int>(getpid());
    o.on_tick = [beat, workers, workers_started](routing::Db& db) mutable {
      beat.inflight_per_schema.clear();
      beat.applied_seq = 0;
      if (workers_started->load(std::memory_order_acquire)) {
        std::map<std::string, uint64_t> sum;
        uint64_t min_seq = UINT64_MAX;
        for (const auto& w : *workers) {
          uint64_t seq = 0;  // each worker's counts were taken after it pinned |seq|
          for (const auto& [schema, n] : w->inflight_copy(&seq)) {
            sum[schema] += n;
          }
          min_seq = std::min(min_seq, seq);
        }
        beat.inflight_per_schema.assign(sum.begin(), sum.end());
        beat.applied_seq = workers->empty() ? 0 : min_seq;
      }
      auto r = admin::write_heartbeat(db, beat);
      if (!r.ok()) {
        SY_LOG(Warn, "heartbeat: %s", r.error().message.c_str());
      }
    };
  }
  return o;
}

int run_db_migrate(const conf::Config& config) {
  if (!config.database.enabled) {
    std::fprintf(stderr, "switchyard: %s has no database section; nothing to migrate\n",
                 config.file.c_str());
    return 1;
  }
  auto db = routing::Db::connect(make_dsns(config.database), config.database.connect_timeout);
  if (!db.ok()) {
    std::fprintf(stderr, "switchyard: db migrate: %s\n", db.error().message.c_str());
    return 1;
  }
  auto report = admin::migrate(**db);
  if (!report.ok()) {
    std::fprintf(stderr, "switchyard: db migrate: %s\n", report.error().message.c_str());
    return 1;
  }
  for (const auto& step : report->applied) {
    std::printf("applied  %03d %s\n", step.version, step.name.c_str());
  }
  for (const auto& step : report->skipped) {
    std::printf("present  %03d %s\n", step.version, step.name.c_str());
  }
  for (int v : report->unknown) {
    std::printf("warning: version %03d is recorded but unknown to this binary (newer?)\n", v);
  }
  std::printf("schema version %d\n", report->version);
  return 0;
}

}  // namespace sy::proxy
