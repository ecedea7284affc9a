#include "app/tenant_setup.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>

#include "common/log.h"
#include "proxy/worker.h"
#include "store/db.h"
#include "store/db_migrate.h"
#include "store/directory_ox.h"
#include "store/directory_reader.h"
#include "store/instances.h"

namespace sy::app {

using proxy::RoutingSetup;
using proxy::Worker;

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

namespace {

std::vector<store::Dsn> convert_dsns(const std::vector<conf::Dsn>& list) {
  std::vector<store::Dsn> out;
  for (const auto& d : list) {
    store::Dsn dsn;
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

}  // namespace

std::vector<store::Dsn> make_dsns(const conf::Database& db) { return convert_dsns(db.dsns); }

store::DsnLists make_dsn_lists(const conf::Database& db) {
  return store::DsnLists{make_dsns(db), convert_dsns(db.reader_dsns), make_state_dsns(db)};
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
  d.moved =
      r.moved_action == "proxy" ? routing::MovedAction::Proxy : routing::MovedAction::Redirect;
  d.no_key = r.no_key == "default_pool" ? routing::NoKeyPolicy::DefaultPool
                                        : routing::NoKeyPolicy::NotFound;
  // Any configured pool lets decide() answer Proxy for a keyless request; the connection then
  // uses its own listener's pool (the promise of routing.no_key: default_pool).
  d.default_pool = config.listeners.empty() ? -1 : pool_index(config, config.listeners[0].pool);
  d.loop_guard_header = r.loop_guard_header;
  const bool ox = config.database.profile == conf::Profile::Ox;
  if (ox) {
    d.login_style = routing::LoginStyle::OxContextPart;
    d.default_context_login = config.database.ox.default_context;
  }
  // routing.errors: by default OX's envelope with HTTP 200 on the ox profile (what OX clients
  // expect of an OX node), Switchyard's JSON with each code's own status otherwise.
  const bool ox_envelope = r.errors.envelope.empty() ? ox : r.errors.envelope == "ox";
  setup->errors.envelope = ox_envelope ? routing::ErrorEnvelope::Ox : routing::ErrorEnvelope::Json;
  setup->errors.status = r.errors.status >= 0 ? r.errors.status : ox_envelope ? 200 : 0;
  setup->hold.max_requests = static_cast<size_t>(r.hold.max_requests);
  setup->hold.max_bytes = r.hold.max_bytes;
  setup->hold.max_wait_ms = static_cast<uint64_t>(r.hold.max_wait.count());
  return setup;
}

std::vector<store::Dsn> make_state_dsns(const conf::Database& db) {
  if (!db.state_dsns.empty()) {
    return convert_dsns(db.state_dsns);
  }
  if (db.state_database.empty()) {
    return {};
  }
  std::vector<store::Dsn> out = make_dsns(db);
  for (store::Dsn& d : out) {
    d.database = db.state_database;
  }
  return out;
}

store::LoaderOptions make_loader_options(const conf::Config& config,
                                         const std::vector<std::unique_ptr<Worker>>* workers,
                                         const std::atomic<bool>* workers_started,
                                         std::shared_ptr<store::DsnSource> dsn_source) {
  const conf::Database& db = config.database;
  store::LoaderOptions o;
  o.dsn_source = std::move(dsn_source);
  o.dsns = make_dsns(db);
  o.state_dsns = make_state_dsns(db);
  o.state = !o.state_dsns.empty()              ? store::StateStore::Separate
            : db.profile == conf::Profile::Sql ? store::StateStore::None
                                               : store::StateStore::Directory;
  o.connect_timeout = db.connect_timeout;
  o.refresh_interval = db.refresh_interval;
  o.wait_at_start = db.wait_at_start;
  o.stale_after = db.stale_after;
  for (const auto& p : config.pools) {
    o.input.pool_names.push_back(p.name);
  }
  for (const auto& s : db.servers) {
    o.overrides.push_back(store::ServerOverride{s.name, s.pool, s.version, s.redirect_url});
  }
  switch (db.profile) {
  case conf::Profile::Sql: {
    store::SqlProfileQueries q{db.servers_sql, db.contexts_sql, db.logins_sql, db.schemas_sql};
    o.make_reader = [q] { return std::make_unique<store::SqlProfileReader>(q); };
    break;
  }
  case conf::Profile::Ox: {
    store::OxProfileOptions ox;
    ox.maintenance_reason = static_cast<uint32_t>(db.ox.maintenance_reason);
    ox.checksum_interval = db.ox.checksum_interval;
    o.input.fold_login_case = true;  // login2context.login_info is utf8_unicode_ci
    o.make_reader = [ox] { return std::make_unique<store::OxProfileReader>(ox); };
    break;
  }
  case conf::Profile::Own:
    o.make_reader = [settle = db.change_settle] {
      store::OwnProfileOptions own;
      own.settle = settle;
      return std::make_unique<store::OwnProfileReader>(own);
    };
    break;
  }
  o.on_publish = [workers, workers_started] {
    if (!workers_started->load(std::memory_order_acquire)) {
      return;  // the first publish: each worker pins it at its first flush (Worker::flush_cb)
    }
    for (const auto& w : *workers) {
      Worker* worker = w.get();
      worker->post([worker] { worker->on_snapshot(); });
    }
  };
  if (config.routing.enabled && o.state != store::StateStore::None) {
    store::InstanceBeat beat;
    beat.id = make_instance_id(config);
    beat.role = config.routing.role;
    beat.version = config.routing.version;
    beat.pid = static_cast<int>(getpid());
    using Clock = std::chrono::steady_clock;
    // Called after every refresh round: beats every heartbeat_interval, and at once when every
    // worker has pinned a newer snapshot, so the sequencer's drain does not wait a whole
    // interval to learn that a disable reached this instance.
    o.on_tick = [beat, workers, workers_started, every = db.heartbeat_interval,
                 last = Clock::time_point{}](store::Db& state) mutable -> Result<Unit> {
      beat.inflight_per_schema.clear();
      uint64_t applied = 0;
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
        applied = workers->empty() ? 0 : min_seq;
      }
      const auto now = Clock::now();
      if (now - last < every && applied == beat.applied_seq) {
        return ok_result();
      }
      last = now;
      beat.applied_seq = applied;
      auto r = store::write_heartbeat(state, beat);
      if (!r.ok()) {
        SY_LOG(Warn, "heartbeat: %s", r.error().message.c_str());
      }
      return r;
    };
  }
  return o;
}

admin::StoreOptions make_store_options(const conf::Config& config,
                                       std::shared_ptr<store::DsnSource> dsn_source) {
  admin::StoreOptions o;
  const conf::Database& db = config.database;
  if (!db.enabled) {
    return o;
  }
  o.dsn_source = std::move(dsn_source);
  o.profile = db.profile;
  o.dsns = make_dsns(db);
  o.state_dsns = make_state_dsns(db);
  o.connect_timeout = db.connect_timeout;
  o.ox.maintenance_reason = static_cast<uint32_t>(db.ox.maintenance_reason);
  for (const auto& s : db.servers) {
    o.ox.overrides.push_back(store::ServerOverride{s.name, s.pool, s.version, s.redirect_url});
  }
  return o;
}

namespace {

void print_report(const char* where, const store::MigrateReport& report) {
  for (const auto& step : report.applied) {
    std::printf("%s: applied  %03d %s\n", where, step.version, step.name.c_str());
  }
  for (const auto& step : report.skipped) {
    std::printf("%s: present  %03d %s\n", where, step.version, step.name.c_str());
  }
  for (int v : report.unknown) {
    std::printf("%s: warning: version %03d is recorded but unknown to this binary (newer?)\n",
                where, v);
  }
  std::printf("%s: schema version %d\n", where, report.version);
}

// Migrates |scope| in the database of |dsns|; false (and a message) on failure.
bool migrate_one(const conf::Config& config, const std::vector<store::Dsn>& dsns,
                 store::MigrateScope scope, const char* where) {
  auto db = store::Db::connect(dsns, config.database.connect_timeout);
  if (!db.ok()) {
    std::fprintf(stderr, "switchyard: db migrate: %s database: %s\n", where,
                 db.error().message.c_str());
    return false;
  }
  auto report = store::migrate(**db, scope);
  if (!report.ok()) {
    std::fprintf(stderr, "switchyard: db migrate: %s database: %s\n", where,
                 report.error().message.c_str());
    return false;
  }
  print_report(where, *report);
  return true;
}

// Profile ox: the configdb is OX's; only say whether its tables are there.
bool check_configdb(const conf::Config& config) {
  auto db = store::Db::connect(make_dsns(config.database), config.database.connect_timeout);
  if (!db.ok()) {
    std::fprintf(stderr, "switchyard: db migrate: configdb: %s\n", db.error().message.c_str());
    return false;
  }
  std::vector<std::string> missing;
  for (const char* table : {"server", "context", "context_server2db_pool", "login2context",
                            "contexts_per_dbschema", "configdb_sequence"}) {
    uint64_t n = 0;
    auto stmt = (*db)->prepare(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND"
        " table_name = ?");
    if (!stmt || !stmt->bind(table).query([&](const store::Row& r) { n = r.u64(1); })) {
      std::fprintf(stderr, "switchyard: db migrate: configdb: cannot read its tables\n");
      return false;
    }
    if (n == 0) {
      missing.push_back(table);
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& t : missing) {
      list += (list.empty() ? "" : ", ") + t;
    }
    std::fprintf(stderr,
                 "switchyard: db migrate: %s is not an Open-Xchange configdb (missing: %s)\n",
                 (*db)->dsn().label().c_str(), list.c_str());
    return false;
  }
  std::printf("configdb: %s has OX's tables; left unchanged\n", (*db)->dsn().label().c_str());
  return true;
}

}  // namespace

int run_db_migrate(const conf::Config& config) {
  if (!config.database.enabled) {
    std::fprintf(stderr, "switchyard: %s has no database section; nothing to migrate\n",
                 config.file.c_str());
    return 1;
  }
  const conf::Database& db = config.database;
  const std::vector<store::Dsn> state = make_state_dsns(db);
  bool ok = true;
  switch (db.profile) {
  case conf::Profile::Own:
    if (state.empty()) {
      ok = migrate_one(config, make_dsns(db), store::MigrateScope::All, "directory+state");
    } else {
      ok = migrate_one(config, make_dsns(db), store::MigrateScope::Directory, "directory") &&
           migrate_one(config, state, store::MigrateScope::State, "state");
    }
    break;
  case conf::Profile::Ox:
    ok = check_configdb(config) && migrate_one(config, state, store::MigrateScope::State, "state");
    break;
  case conf::Profile::Sql:
    if (state.empty()) {
      std::printf("profile sql without a state database: nothing to migrate\n");
    } else {
      ok = migrate_one(config, state, store::MigrateScope::State, "state");
    }
    break;
  }
  return ok ? 0 : 1;
}

}  // namespace sy::app
