#include "proxy/member_set.h"

namespace sy::proxy {

std::vector<MemberSpec> merge_members(const std::vector<MemberSpec>& yaml,
                                      const std::vector<MemberOverride>& db) {
  auto find = [&db](const std::string& address) -> const MemberOverride* {
    for (const auto& o : db) {
      if (o.spec.address == address) {
        return &o;
      }
    }
    return nullptr;
  };
  std::vector<MemberSpec> out;
  for (const auto& y : yaml) {
    const MemberOverride* o = find(y.address);
    if (o == nullptr) {
      out.push_back(y);
    } else if (!o->removed) {
      out.push_back(o->spec);
    }
  }
  for (const auto& o : db) {
    bool in_yaml = false;
    for (const auto& y : yaml) {
      in_yaml = in_yaml || y.address == o.spec.address;
    }
    if (!in_yaml && !o.removed) {
      out.push_back(o.spec);
    }
  }
  return out;
}

std::vector<MemberSpec> expand_names(const std::vector<MemberSpec>& wanted,
                                     const std::map<std::string, NameAddresses>& names) {
  std::vector<MemberSpec> out;
  auto add = [&out](MemberSpec s) {
    for (const auto& have : out) {
      if (have.address == s.address) {
        return;
      }
    }
    out.push_back(std::move(s));
  };
  for (const auto& spec : wanted) {
    if (!is_host_name(spec.host)) {
      add(spec);
      continue;
    }
    auto it = names.find(spec.host);
    if (it == names.end()) {
      continue;
    }
    for (const auto& ip : it->second.ips) {
      MemberSpec s = spec;
      s.name = spec.address;
      s.name_host = spec.host;
      s.host = ip;
      s.address = (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" +
                  std::to_string(spec.port);
      s.origin = MemberOrigin::Dns;
      add(std::move(s));
    }
  }
  return out;
}

Result<MemberPlan> plan_members(const PoolState& pool, const MemberSet& current,
                                const std::vector<MemberSpec>& wanted) {
  MemberPlan plan;
  plan.set = std::make_shared<MemberSet>();
  for (const auto& spec : wanted) {
    std::shared_ptr<MemberState> kept;
    for (const auto& m : current) {
      if (m->address == spec.address && m->spec_tls_name == spec.tls_name &&
          m->route == spec.route) {
        kept = m;
        break;
      }
    }
    if (kept != nullptr) {
      int weight = kept->yaml_weight.load(std::memory_order_relaxed);
      MemberOrigin origin = kept->origin.load(std::memory_order_relaxed);
      if (weight != spec.weight || origin != spec.origin) {
        plan.updates.push_back({kept, spec.weight, spec.origin});
        std::string what = "member " + spec.address;
        if (weight != spec.weight) {
          what += " weight: " + std::to_string(weight) + " -> " + std::to_string(spec.weight);
        }
        if (origin != spec.origin) {
          what +=
              std::string(weight != spec.weight ? "," : "") + " now from " + to_string(spec.origin);
        }
        plan.changes.push_back(what);
      }
      plan.set->push_back(std::move(kept));
      continue;
    }
    auto made = pool.make_member(spec);
    if (!made) {
      return made.error();
    }
    plan.set->push_back(std::move(*made));
    plan.membership_changed = true;
    plan.changes.push_back("member " + spec.address + " added (" + to_string(spec.origin) + ")");
  }
  for (const auto& m : current) {
    bool kept = false;
    for (const auto& n : *plan.set) {
      kept = kept || n == m;
    }
    if (!kept) {
      plan.membership_changed = true;
      plan.changes.push_back("member " + m->address + " removed (in-flight requests finish)");
    }
  }
  return plan;
}

void apply_updates(const MemberPlan& plan) {
  for (const auto& u : plan.updates) {
    u.member->yaml_weight.store(u.weight, std::memory_order_relaxed);
    u.member->origin.store(u.origin, std::memory_order_relaxed);
  }
}

}  // namespace sy::proxy
