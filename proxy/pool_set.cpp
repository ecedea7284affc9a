#include "proxy/pool_set.h"

#include <algorithm>

namespace sy::proxy {

std::vector<WantedPool> merge_pools(const std::vector<conf::Pool>& yaml,
                                    const std::vector<PoolOverride>& db) {
  auto row_of = [&db](const std::string& name) -> const PoolOverride* {
    for (const auto& o : db) {
      if (o.name == name) {
        return &o;
      }
    }
    return nullptr;
  };
  std::vector<WantedPool> out;
  for (const auto& p : yaml) {
    const PoolOverride* o = row_of(p.name);
    if (o == nullptr) {
      out.push_back(WantedPool{p, MemberOrigin::Yaml});
    } else if (!o->removed) {
      WantedPool w{o->settings, MemberOrigin::Db};
      w.pool.name = p.name;
      out.push_back(std::move(w));
    }
  }
  for (const auto& o : db) {
    bool in_yaml = std::any_of(yaml.begin(), yaml.end(),
                               [&o](const conf::Pool& p) { return p.name == o.name; });
    if (!in_yaml && !o.removed) {
      WantedPool w{o.settings, MemberOrigin::Db};
      w.pool.name = o.name;
      out.push_back(std::move(w));
    }
  }
  return out;
}

bool same_settings(const conf::Pool& a, const conf::Pool& b) {
  auto bare = [](conf::Pool p) {  // conf::Mark compares equal everywhere
    p.members.clear();
    return p;
  };
  return bare(a) == bare(b);
}

std::vector<PoolStep> plan_pools(const std::vector<LivePool>& live,
                                 const std::vector<WantedPool>& wanted) {
  std::vector<PoolStep> steps;
  for (const auto& w : wanted) {
    auto it = std::find_if(live.begin(), live.end(),
                           [&w](const LivePool& l) { return l.settings->name == w.pool.name; });
    PoolStep s;
    s.name = w.pool.name;
    s.wanted = w;
    if (it == live.end()) {
      s.kind = PoolStep::Kind::Add;
    } else if (!same_settings(*it->settings, w.pool)) {
      s.kind = PoolStep::Kind::Replace;
    } else if (it->origin != w.origin) {
      s.kind = PoolStep::Kind::Origin;
    } else {
      continue;
    }
    steps.push_back(std::move(s));
  }
  for (const auto& l : live) {
    bool kept = std::any_of(wanted.begin(), wanted.end(),
                            [&l](const WantedPool& w) { return w.pool.name == l.settings->name; });
    if (!kept) {
      PoolStep s;
      s.kind = PoolStep::Kind::Remove;
      s.name = l.settings->name;
      steps.push_back(std::move(s));
    }
  }
  return steps;
}

}  // namespace sy::proxy
