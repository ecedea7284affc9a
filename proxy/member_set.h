#pragma once
// The member-set swap of a pool (upstream_pool.h has the picture): which members a pool should
// have, and the new MemberSet that gets there with the fewest new MemberStates.
//
//   wanted = merge_members(YAML specs, database overrides)   pure
//   plan   = plan_members(pool, current set, wanted)          no I/O (IP literals only)
//   apply  = plan.weights stored, PoolState::publish(plan.set), every worker apply()s it
//
// A member is identified by its address, TLS name and sticky route: the same triple keeps its
// MemberState (and so its health, admin state and every worker's idle connections); a changed
// weight or origin is written into it. Thread: any (the caller serialises plans of one pool).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "proxy/upstream_pool.h"

namespace sy::proxy {

// A member's database row: present with these settings, or removed (a tombstone).
struct MemberOverride {
  MemberSpec spec;  // origin Db
  bool removed = false;
};

// The YAML's members in order, each replaced by its override when there is one (the database
// wins) or dropped when the override removes it; then the overrides' members the YAML does not
// list, in their order.
std::vector<MemberSpec> merge_members(const std::vector<MemberSpec>& yaml,
                                      const std::vector<MemberOverride>& db);

// What the resolver knows of a host name: its addresses (the last good ones) and, when the
// last resolution failed, why.
struct NameAddresses {
  std::vector<std::string> ips;  // IP literals, in answer order
  std::string error;             // "" = the last resolution succeeded
};

// |wanted| with every host-name member replaced by one member per address of its name in
// |names| (origin Dns, name = the configured "name:port"); a name without addresses yet gives
// no member. An address listed twice is kept once.
std::vector<MemberSpec> expand_names(const std::vector<MemberSpec>& wanted,
                                     const std::map<std::string, NameAddresses>& names);

struct MemberPlan {
  std::shared_ptr<MemberSet> set;  // the new set (kept MemberStates + new ones)
  // Kept members whose weight or origin changes: written when the plan is applied.
  struct Update {
    std::shared_ptr<MemberState> member;
    int weight = 1;
    MemberOrigin origin = MemberOrigin::Yaml;
  };
  std::vector<Update> updates;
  bool membership_changed = false;   // members added or removed: publish the set
  std::vector<std::string> changes;  // "member 127.0.0.1:9003 added (db)", ...
};

// The plan from |current| to |wanted| for |pool|; an error names a member whose address cannot
// be used (the current set stays).
Result<MemberPlan> plan_members(const PoolState& pool, const MemberSet& current,
                                const std::vector<MemberSpec>& wanted);

// Writes the plan's weight and origin updates into the kept members. Any thread.
void apply_updates(const MemberPlan& plan);

}  // namespace sy::proxy
