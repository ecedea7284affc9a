#include "app/member_sync.h"

#include <algorithm>

#include "common/log.h"
#include "conf/load.h"
#include "proxy/health_check.h"
#include "proxy/worker.h"

namespace sy::app {

using proxy::MemberOverride;
using proxy::MemberSpec;

MemberSync::MemberSync(const conf::Config& initial, proxy::PoolRegistry* registry,
                       const std::vector<std::unique_ptr<proxy::Worker>>* workers,
                       proxy::HealthChecker* health)
    : registry_(registry), workers_(workers), health_(health) {
  for (const auto& p : initial.pools) {
    yaml_[p.name] = proxy::yaml_specs(p);
  }
}

std::vector<std::string> MemberSync::set_yaml(const std::vector<conf::Pool>& pools,
                                              const std::vector<std::string>& keep) {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, std::vector<MemberSpec>> next;
  for (const auto& name : keep) {
    if (auto it = yaml_.find(name); it != yaml_.end()) {
      next[name] = it->second;
    }
  }
  for (const auto& p : pools) {
    next[p.name] = proxy::yaml_specs(p);
  }
  yaml_ = std::move(next);
  return apply_locked();
}

std::vector<std::string> MemberSync::resync() {
  std::lock_guard<std::mutex> lock(mu_);
  return apply_locked();
}

std::vector<std::string> MemberSync::set_db(const std::vector<store::PoolMemberRow>& rows) {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, std::vector<MemberOverride>> next;
  for (const auto& row : rows) {
    conf::Member parsed;
    std::string why;
    // A row of a pool this instance does not have (yet) waits for it; it is checked against
    // the pool at the first poll that finds the pool (every poll calls this with every row).
    const proxy::PoolState* ps = registry_->find(row.pool);
    if (conf::parse_member_address(row.member, &parsed, &why) && ps != nullptr) {
      why = conf::runtime_member_problem(*ps->conf, parsed, row.tls_name);
    }
    if (!why.empty()) {
      std::string key = row.pool + "/" + row.member + ": " + why;
      if (std::find(warned_.begin(), warned_.end(), key) == warned_.end()) {
        SY_LOG(Warn, "sy_pool_members: skipping %s", key.c_str());
        warned_.push_back(key);
      }
      continue;
    }
    MemberOverride o;
    o.spec.address = parsed.address;
    o.spec.host = parsed.host;
    o.spec.port = parsed.port;
    o.spec.unix_path = parsed.unix_path;
    o.spec.weight = row.weight;
    o.spec.tls_name = row.tls_name;
    o.spec.origin = proxy::MemberOrigin::Db;
    o.removed = row.removed;
    next[row.pool].push_back(std::move(o));
  }
  db_ = std::move(next);
  return apply_locked();
}

std::vector<std::string> MemberSync::names() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& ps : registry_->pools()) {
    if (ps->removed.load(std::memory_order_acquire)) {
      continue;
    }
    for (const auto& spec : wanted_locked(ps->conf->name)) {
      if (proxy::is_host_name(spec.host) &&
          std::find(out.begin(), out.end(), spec.host) == out.end()) {
        out.push_back(spec.host);
      }
    }
  }
  return out;
}

std::vector<std::string> MemberSync::set_dns(const std::map<std::string, DnsAnswer>& answers) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [host, answer] : answers) {
    proxy::NameAddresses& known = dns_[host];
    if (answer.ips.empty()) {
      if (known.error != answer.error) {
        SY_LOG(Warn, "resolver: %s: %s; keeping the last good set (%zu address(es))",
               host.c_str(), answer.error.c_str(), known.ips.size());
      }
      known.error = answer.error;
      continue;
    }
    if (!known.error.empty()) {
      SY_LOG(Info, "resolver: %s resolves again", host.c_str());
    }
    known.error.clear();
    known.ips = answer.ips;
  }
  return apply_locked();
}

std::string MemberSync::resolve_error(const std::string& host) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = dns_.find(host);
  return it == dns_.end() ? std::string() : it->second.error;
}

std::vector<MemberSpec> MemberSync::wanted_locked(const std::string& pool) const {
  static const std::vector<MemberSpec> kNoSpecs;
  static const std::vector<MemberOverride> kNoOverrides;
  auto y = yaml_.find(pool);
  auto d = db_.find(pool);
  return proxy::merge_members(y == yaml_.end() ? kNoSpecs : y->second,
                              d == db_.end() ? kNoOverrides : d->second);
}

std::vector<std::string> MemberSync::apply_locked() {
  std::vector<std::string> applied;
  for (const auto& ps : registry_->pools()) {
    size_t i = ps->index;
    // A removed pool keeps its slot with no member: each is retired (drained) on every worker.
    std::vector<MemberSpec> wanted;
    if (!ps->removed.load(std::memory_order_acquire)) {
      wanted = proxy::expand_names(wanted_locked(ps->conf->name), dns_);
    }
    auto current = ps->members();
    auto plan = proxy::plan_members(*ps, *current, wanted);
    if (!plan.ok()) {
      SY_LOG(Warn, "pools.%s: members unchanged: %s", ps->conf->name.c_str(),
             plan.error().message.c_str());
      continue;
    }
    proxy::apply_updates(*plan);
    if (plan->membership_changed) {
      std::shared_ptr<const proxy::MemberSet> set = plan->set;
      ps->publish(set);
      for (const auto& w : *workers_) {
        proxy::Worker* worker = w.get();
        worker->post([worker, i, set] { worker->apply_members(i, set); });
      }
      if (health_ != nullptr) {
        health_->members_changed();
      }
    }
    ps->collect();
    for (const auto& c : plan->changes) {
      SY_LOG(Info, "pools.%s: %s", ps->conf->name.c_str(), c.c_str());
      applied.push_back("pools." + ps->conf->name + ": " + c);
    }
  }
  return applied;
}

}  // namespace sy::app
