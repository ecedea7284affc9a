#pragma once
// Which pools an instance should have (issue 12: pools that change without restarts), the pure
// half of app/pool_sync.h:
//
//   wanted = merge_pools(YAML pools, database rows)          pure
//   plan   = plan_pools(the registry's live pools, wanted)   pure
//   apply  = PoolRegistry::add for Add / Replace, PoolState::removed for Remove / Replace,
//            every worker add_pools()s, the member sync fills / empties the member sets
//
// A pool is identified by its name. The same name with the same settings keeps its PoolState
// (members, health, idle connections on every worker); other settings take a new registry slot
// (Replace: the old one drains like a removed pool; listeners and routes follow the name).
// Members are not settings: they change through proxy/member_set.h. Thread: any.

#include <string>
#include <vector>

#include "conf/config.h"
#include "proxy/upstream_pool.h"

namespace sy::proxy {

// A pool's database row, parsed: present with these settings, or removed (a tombstone).
struct PoolOverride {
  std::string name;
  conf::Pool settings;  // ignored when removed
  bool removed = false;
};

struct WantedPool {
  conf::Pool pool;  // settings (and the YAML's members, unused here)
  MemberOrigin origin = MemberOrigin::Yaml;
};

// The YAML's pools in order, each replaced by its database row's settings when there is one
// (origin Db; the database wins) or dropped when the row removes it; then the rows' pools the
// YAML does not list, in their order.
std::vector<WantedPool> merge_pools(const std::vector<conf::Pool>& yaml,
                                    const std::vector<PoolOverride>& db);

// True when |a| and |b| have the same settings: members and source positions are ignored.
bool same_settings(const conf::Pool& a, const conf::Pool& b);

// A live pool of the registry, as plan_pools sees it.
struct LivePool {
  const conf::Pool* settings = nullptr;
  MemberOrigin origin = MemberOrigin::Yaml;
};

struct PoolStep {
  enum class Kind {
    Add,      // a new pool: |wanted| in a new slot
    Replace,  // settings changed: |wanted| in a new slot, the old one removed
    Remove,   // gone (unless something references it: app/pool_sync.h checks)
    Origin,   // same settings, now from |wanted.origin| (e.g. a YAML pool stored in the db)
  };
  Kind kind = Kind::Add;
  std::string name;
  WantedPool wanted;  // Add, Replace, Origin
};

// The steps from |live| (the registry's pools that are not removed) to |wanted|, in |wanted|'s
// order, then the removals in |live|'s order.
std::vector<PoolStep> plan_pools(const std::vector<LivePool>& live,
                                 const std::vector<WantedPool>& wanted);

}  // namespace sy::proxy
