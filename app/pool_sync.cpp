#include "app/pool_sync.h"

#include <algorithm>

#include "common/log.h"
#include "conf/load.h"
#include "proxy/health_check.h"
#include "proxy/worker.h"

namespace sy::app {

using proxy::MemberOrigin;
using proxy::PoolStep;

PoolSync::PoolSync(const conf::Config& config, proxy::PoolRegistry* registry,
                   const std::vector<std::unique_ptr<proxy::Worker>>* workers, MemberSync* members,
                   proxy::HealthChecker* health, const routing::SnapshotPublisher* publisher)
    : config_(config), registry_(registry), workers_(workers), members_(members), health_(health),
      publisher_(publisher), yaml_(config.pools) {}

std::vector<std::string> PoolSync::set_yaml(const std::vector<conf::Pool>& pools) {
  std::lock_guard<std::mutex> lock(mu_);
  yaml_ = pools;
  return apply_locked(true);
}

std::vector<std::string> PoolSync::set_db(const std::vector<store::PoolRow>& rows) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<proxy::PoolOverride> next;
  for (const auto& row : rows) {
    proxy::PoolOverride o;
    o.name = row.name;
    o.removed = row.removed;
    std::string why;
    if (!row.removed && !conf::parse_pool_settings(row.spec, &o.settings, &why)) {
      std::string key = row.name + ": " + why;
      if (std::find(warned_.begin(), warned_.end(), key) == warned_.end()) {
        SY_LOG(Warn, "sy_pools: skipping %s", key.c_str());
        warned_.push_back(key);
      }
      continue;
    }
    next.push_back(std::move(o));
  }
  db_ = std::move(next);
  return apply_locked(false);
}

std::string PoolSync::referenced_by(const std::string& name) const {
  for (const auto& l : config_.listeners) {
    if (l.pool == name) {
      return "listener " + l.name;
    }
  }
  if (config_.routing.enabled) {
    const auto& served = config_.routing.serve_pools;
    if (std::find(served.begin(), served.end(), name) != served.end()) {
      return "routing.serve_pools (role " + config_.routing.role + ")";
    }
  }
  if (publisher_ != nullptr) {
    if (auto snap = publisher_->current()) {
      for (const auto& s : snap->server_rows()) {
        if (s.pool == name) {
          return "server " + std::to_string(s.id) + " (" + s.name + ")";
        }
      }
    }
  }
  return "";
}

std::vector<std::string> PoolSync::apply_locked(bool yaml_changed) {
  std::vector<std::string> applied;
  std::vector<std::string> kept;  // removals refused: a reference
  std::vector<proxy::LivePool> live;
  for (const auto& ps : registry_->pools()) {
    if (!ps->removed.load(std::memory_order_acquire)) {
      live.push_back(proxy::LivePool{ps->conf, ps->origin.load(std::memory_order_relaxed)});
    }
  }
  auto steps = proxy::plan_pools(live, proxy::merge_pools(yaml_, db_));
  bool slots_added = false;
  std::vector<proxy::PoolState*> to_remove;
  for (const auto& step : steps) {
    proxy::PoolState* old = registry_->find(step.name);
    const char* origin = proxy::to_string(step.wanted.origin);
    switch (step.kind) {
    case PoolStep::Kind::Origin:
      old->origin.store(step.wanted.origin, std::memory_order_relaxed);
      continue;
    case PoolStep::Kind::Remove: {
      std::string ref = referenced_by(step.name);
      if (!ref.empty()) {
        std::string key = step.name + " kept: " + ref;
        if (std::find(warned_.begin(), warned_.end(), key) == warned_.end()) {
          SY_LOG(Warn, "pools.%s: not removed: referenced by %s", step.name.c_str(), ref.c_str());
          warned_.push_back(key);
        }
        kept.push_back(step.name);
        continue;
      }
      to_remove.push_back(old);
      applied.push_back("pools." + step.name + ": removed (draining)");
      continue;
    }
    case PoolStep::Kind::Add:
    case PoolStep::Kind::Replace: break;
    }
    auto added = registry_->add(step.wanted.pool, step.wanted.origin);
    if (!added.ok()) {
      SY_LOG(Warn, "pools.%s: not %s: %s", step.name.c_str(),
             step.kind == PoolStep::Kind::Add ? "added" : "changed", added.error().message.c_str());
      continue;
    }
    slots_added = true;
    if (step.kind == PoolStep::Kind::Replace) {
      to_remove.push_back(old);
      applied.push_back("pools." + step.name + ": settings changed (" + origin +
                        "); the old settings drain");
    } else {
      applied.push_back("pools." + step.name + ": added (" + origin + ")");
    }
  }
  // Removed before the workers hear of new slots, so that a worker repoints a listener and the
  // routes of a replaced pool's name at once (Worker::add_pools).
  for (proxy::PoolState* ps : to_remove) {
    ps->removed.store(true, std::memory_order_release);
  }
  const bool changed = slots_added || !to_remove.empty();
  if (changed) {
    for (const auto& w : *workers_) {
      proxy::Worker* worker = w.get();
      proxy::PoolRegistry* registry = registry_;
      worker->post([worker, registry] { worker->add_pools(*registry); });
    }
    if (names_sink_) {
      std::vector<std::string> names;
      for (const auto& ps : registry_->pools()) {
        names.push_back(ps->removed.load(std::memory_order_acquire) ? "" : ps->conf->name);
      }
      names_sink_(std::move(names));
    }
    for (const auto& line : applied) {
      SY_LOG(Info, "%s", line.c_str());
    }
  }
  if (yaml_changed || changed) {
    // An added pool gets its members, a removed one none (logged there).
    auto lines = yaml_changed ? members_->set_yaml(yaml_, kept) : members_->resync();
    for (auto& line : lines) {
      applied.push_back(std::move(line));
    }
  }
  if (changed && health_ != nullptr) {
    health_->members_changed();
  }
  return applied;
}

}  // namespace sy::app
