#include "app/admin_setup.h"

#include <unistd.h>

#include <chrono>

#include "app/tenant_setup.h"
#include "common/log.h"
#include "common/version.h"
#include "conf/load.h"
#include "proxy/sd_notify.h"
#include "proxy/stats.h"
#include "proxy/tls.h"
#include "proxy/worker.h"

namespace sy::app {

using proxy::AccessLogWriter;
using proxy::MemberAdminState;
using proxy::MemberState;
using proxy::PoolRegistry;
using proxy::PoolState;
using proxy::ServiceNotifier;
using proxy::Stat;
using proxy::TlsStore;
using proxy::Worker;

namespace {

// The member now (a shared pointer: the set may be replaced meanwhile).
std::shared_ptr<MemberState> find_member(const PoolRegistry* registry, const std::string& pool,
                                         const std::string& member) {
  const PoolState* p = registry->find(pool);
  if (p == nullptr) {
    return nullptr;
  }
  for (const auto& m : *p->members()) {
    if (m->address == member) {
      return m;
    }
  }
  return nullptr;
}

admin::MemberAdmin to_admin(uint8_t state) {
  switch (static_cast<MemberAdminState>(state)) {
  case MemberAdminState::Drain: return admin::MemberAdmin::Drain;
  case MemberAdminState::Maintenance: return admin::MemberAdmin::Maintenance;
  case MemberAdminState::Ready: break;
  }
  return admin::MemberAdmin::Ready;
}

MemberAdminState from_admin(admin::MemberAdmin a) {
  switch (a) {
  case admin::MemberAdmin::Drain: return MemberAdminState::Drain;
  case admin::MemberAdmin::Maintenance: return MemberAdminState::Maintenance;
  case admin::MemberAdmin::Ready: break;
  }
  return MemberAdminState::Ready;
}

}  // namespace

Reloader::Reloader(const conf::Config& initial, MemberSync* members, PoolSync* pools,
                   std::string path, bool log_level_fixed)
    : current_(initial), members_(members), pools_(pools), path_(std::move(path)),
      log_level_fixed_(log_level_fixed) {}

Result<admin::ReloadOutcome> Reloader::reload() {
  std::lock_guard<std::mutex> lock(mu_);
  if (notifier_ != nullptr) {
    notifier_->reloading("Reloading the configuration");
  }
  auto r = reload_locked();
  if (notifier_ != nullptr) {
    // READY=1 also after a refused reload: the old configuration is serving.
    notifier_->ready(r.ok() ? "Serving; last reload: " + std::to_string(r->applied.size()) +
                                  " change(s) applied, " + std::to_string(r->needs_restart.size()) +
                                  " need a restart"
                            : "Serving; last reload refused: " + r.error().message);
  }
  return r;
}

Result<admin::ReloadOutcome> Reloader::reload_locked() {
  auto loaded = conf::load_config_file(path_);
  if (!loaded.ok()) {
    std::string msg =
        path_ + " has " + std::to_string(loaded.errors.size()) + " error(s); nothing changed:";
    for (const auto& e : loaded.errors) {
      msg += " " + conf::format(e) + ";";
    }
    msg.pop_back();
    return make_tagged_error(Errc::Config, "config", msg);
  }
  const conf::Config& next = loaded.config;
  admin::ReloadOutcome out;
  if (tls_ != nullptr) {  // first: a certificate that fails to load changes nothing at all
    auto reloaded = tls_->reload();
    if (!reloaded.ok()) {
      return make_tagged_error(Errc::Config, "tls",
                               "TLS reload failed, keeping the current certificates and "
                               "configuration: " +
                                   reloaded.error().message);
    }
    out.applied.push_back("tls: TLS certificates reloaded (live connections keep theirs)");
  }
  if (next.log_level != current_.log_level) {
    if (log_level_fixed_) {
      out.needs_restart.push_back("log_level (fixed by --log-level on the command line)");
    } else {
      log::Level level = log::Level::Info;
      log::parse_level(next.log_level.c_str(), &level);
      log::set_level(level);
      out.applied.push_back("log_level: " + current_.log_level + " -> " + next.log_level);
    }
  }
  // Pools (added, removed, settings changed) and their members, applied live under the
  // database's rows (app/pool_sync.h; a pool something references here is kept, with a
  // warning, until nothing does).
  for (auto& line : pools_->set_yaml(next.pools)) {
    out.applied.push_back(std::move(line));
  }
  if (next.workers != current_.workers)
    out.needs_restart.push_back("workers");
  if (!(next.listeners == current_.listeners))
    out.needs_restart.push_back("listeners");
  if (!(next.limits == current_.limits))
    out.needs_restart.push_back("limits");
  if (!(next.access_log == current_.access_log))
    out.needs_restart.push_back("access_log");
  conf::Database next_db = next.database;
  if (dsns_ && next_db.enabled && current_.database.enabled) {
    if (dsns_->set(make_dsn_lists(next_db))) {
      out.applied.push_back("database: dsns/reader_dsns/state_dsns changed; the loader and admin "
                            "sessions reconnect to the new lists");
    }
    current_.database.dsns = next_db.dsns;
    current_.database.reader_dsns = next_db.reader_dsns;
    current_.database.state_dsns = next_db.state_dsns;
  }
  if (!(next_db == current_.database))
    out.needs_restart.push_back("database");
  if (!(next.routing.hold == current_.routing.hold))
    out.needs_restart.push_back("routing.hold");
  conf::Routing r1 = next.routing, r0 = current_.routing;
  r1.hold = r0.hold;
  if (!(r1 == r0))
    out.needs_restart.push_back("routing");
  if (!(next.admin == current_.admin))
    out.needs_restart.push_back("admin");
  // What was applied is now current; what needs a restart keeps its running value, so it is
  // reported again on the next reload until the process restarts.
  current_.log_level = log_level_fixed_ ? current_.log_level : next.log_level;
  current_.pools = next.pools;
  return out;
}

admin::StatsView stats_view(const std::vector<std::unique_ptr<Worker>>* workers) {
  admin::StatsView v;
  auto sum = [workers](Stat s) {
    uint64_t n = 0;
    for (const auto& w : *workers) {
      n += w->stats().get(s);
    }
    return n;
  };
  for (int i = 0; i < static_cast<int>(Stat::kCount); ++i) {
    v.proxy.emplace_back(stat_name(static_cast<Stat>(i)), sum(static_cast<Stat>(i)));
  }
  v.decisions = {{"proxy", sum(Stat::RouteProxies)},
                 {"redirect", sum(Stat::RouteRedirects)},
                 {"reject", sum(Stat::RouteRejects)},
                 {"hold", sum(Stat::RouteHolds)},
                 {"hold_refused", sum(Stat::HoldRefused)}};
  for (int slot = 0; slot < proxy::kErrorCodeCount; ++slot) {
    uint64_t n = 0;
    for (const auto& w : *workers) {
      n += w->stats().get_error(slot);
    }
    v.errors.emplace_back(routing::ctx_info_at(static_cast<size_t>(slot)).id, n);
  }
  v.held_now = sum(Stat::HeldNow);
  return v;
}

std::vector<admin::PoolView> pool_views(const PoolRegistry* registry,
                                        const std::vector<std::unique_ptr<Worker>>* workers,
                                        MemberSync* members) {
  std::vector<admin::PoolView> out;
  const auto& pools = registry->pools();
  for (size_t i = 0; i < pools.size(); ++i) {
    const PoolState& ps = *pools[i];
    if (ps.removed.load(std::memory_order_acquire)) {
      continue;
    }
    admin::PoolView pv;
    pv.name = ps.conf->name;
    pv.origin = proxy::to_string(ps.origin.load(std::memory_order_relaxed));
    pv.slot = i;
    pv.version = ps.conf->version;
    pv.balance = ps.conf->balance == conf::Balance::LeastConn ? "least_conn" : "round_robin";
    for (const auto& member : *ps.members()) {
      const MemberState& ms = *member;
      admin::MemberView mv;
      mv.address = ms.address;
      mv.origin = proxy::to_string(ms.origin.load(std::memory_order_relaxed));
      mv.name = ms.name;
      if (!ms.name.empty() && members != nullptr) {
        mv.resolve_error = members->resolve_error(ms.name.substr(0, ms.name.rfind(':')));
      }
      mv.weight = ms.effective_weight();
      mv.base_weight = ms.yaml_weight.load(std::memory_order_relaxed);
      mv.tls_name = ms.spec_tls_name;
      mv.weight_override = ms.weight_override.load(std::memory_order_relaxed);
      mv.admin = to_admin(ms.admin.load(std::memory_order_relaxed));
      mv.healthy = ms.healthy.load(std::memory_order_relaxed);
      int64_t inflight = ms.inflight_total();
      int64_t tunnels = ms.tunnels_total();
      mv.inflight = inflight > 0 ? static_cast<uint64_t>(inflight) : 0;
      mv.tunnels = tunnels > 0 ? static_cast<uint64_t>(tunnels) : 0;
      pv.active += mv.inflight;
      pv.members.push_back(std::move(mv));
    }
    for (const auto& w : *workers) {
      if (i < w->pool_count()) {
        pv.requests += w->pool_view(i)->requests();
        pv.responses_5xx += w->pool_view(i)->responses_5xx();
      }
    }
    out.push_back(std::move(pv));
  }
  return out;
}

admin::AdminContext make_admin_context(const conf::Config& config, const std::string& config_path,
                                       const PoolRegistry* registry,
                                       const std::vector<std::unique_ptr<Worker>>* workers,
                                       const store::LoaderStatus* loader,
                                       const routing::SnapshotPublisher* publisher,
                                       Reloader* reloader, MemberSync* members, PoolSync* pools,
                                       AccessLogWriter* access_log) {
  admin::AdminContext c;
  c.instance_id = make_instance_id(config);
  c.role = config.routing.enabled ? config.routing.role : "";
  c.version = config.routing.version.empty() ? sy::version() : config.routing.version;
  c.config_path = config_path;
  c.workers = static_cast<int>(workers->size());
  c.started_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  c.config = &config;
  c.loader = loader;
  c.publisher = publisher;
  c.stats = [workers] { return stats_view(workers); };
  c.pools = [registry, workers, members] { return pool_views(registry, workers, members); };
  c.set_member = [registry](const admin::MemberRuntime& m) {
    auto ms = find_member(registry, m.pool, m.member);
    if (ms == nullptr) {
      return false;
    }
    uint8_t state = static_cast<uint8_t>(from_admin(m.admin));
    uint8_t before = ms->admin.exchange(state, std::memory_order_relaxed);
    int weight_before = ms->weight_override.exchange(m.weight, std::memory_order_relaxed);
    if (before != state || weight_before != m.weight) {
      SY_LOG(Info, "pool %s member %s: %s, weight override %d", m.pool.c_str(), m.member.c_str(),
             store::to_string(m.admin), m.weight);
    }
    return true;
  };
  c.cut_tunnels = [registry](const std::string& pool, const std::string& member) {
    auto ms = find_member(registry, pool, member);
    if (ms == nullptr) {
      return false;
    }
    ms->cut_tunnels.fetch_add(1, std::memory_order_relaxed);
    return true;
  };
  c.reload = [reloader] { return reloader->reload(); };
  c.apply_pool_members = [members](const std::vector<store::PoolMemberRow>& rows) {
    return members->set_db(rows);
  };
  c.apply_pools = [pools](const std::vector<store::PoolRow>& rows) { return pools->set_db(rows); };
  c.pool_referenced_by = [pools](const std::string& name) { return pools->referenced_by(name); };
  if (access_log != nullptr) {
    c.reopen_logs = [access_log] { return reopen_access_log(access_log); };
  }
  return c;
}

Result<std::string> reopen_access_log(AccessLogWriter* access_log) {
  auto r = access_log->reopen();
  if (!r.ok()) {
    return r.error();
  }
  return "access log reopened: " + access_log->path();
}

}  // namespace sy::app
