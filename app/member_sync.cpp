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
    yaml_.push_back(proxy::yaml_specs(p));
  }
  db_.resize(yaml_.size());
}

std::vector<std::string> MemberSync::set_yaml(const std::vector<conf::Pool>& pools) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < pools.size() && i < yaml_.size(); ++i) {
    yaml_[i] = proxy::yaml_specs(pools[i]);
  }
  return apply_locked();
}

std::vector<std::string> MemberSync::set_db(const std::vector<store::PoolMemberRow>& rows) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::vector<MemberOverride>> next(yaml_.size());
  for (const auto& row : rows) {
    const proxy::PoolState* ps = registry_->find(row.pool);
    conf::Member parsed;
    std::string why;
    if (ps == nullptr) {
      why = "no pool named " + row.pool + " here";
    } else if (conf::parse_member_address(row.member, &parsed, &why)) {
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
    next[ps->index].push_back(std::move(o));
  }
  db_ = std::move(next);
  return apply_locked();
}

std::vector<std::string> MemberSync::names() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (size_t i = 0; i < yaml_.size(); ++i) {
    for (const auto& spec : proxy::merge_members(yaml_[i], db_[i])) {
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

std::vector<std::string> MemberSync::apply_locked() {
  std::vector<std::string> applied;
  for (const auto& ps : registry_->pools()) {
    size_t i = ps->index;
    auto wanted = proxy::expand_names(proxy::merge_members(yaml_[i], db_[i]), dns_);
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
