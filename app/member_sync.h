#pragma once
// The live member sets of the pools (issue 12): what each pool's members are now, from
//
//   the YAML (start, `reload`)            the bootstrap
//   sy_pool_members (admin socket rows)   wins over the YAML: adds, changes, removes (tombstone)
//
// merged by proxy/member_set.h and applied without dropping a connection: kept members keep
// their MemberState (health, admin state, idle connections), new ones are added, gone ones are
// retired on every worker (in-flight exchanges finish on them; upstream_pool.h). Each applied
// change is logged ("pools.new: member 127.0.0.1:9003 added (db)") and returned to the caller.
//
// Threads: set_yaml() from the reloader (admin thread or main on SIGHUP), set_db() from the
// admin thread (its sy_member_state poll and right after a `pool member` command); a mutex
// serialises them. Nothing here blocks a worker: a new set reaches each worker through its
// inbox (Worker::post) and the health checker through its own event.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "conf/config.h"
#include "proxy/member_set.h"
#include "store/member_store.h"

namespace sy::proxy {
class HealthChecker;
class PoolRegistry;
class Worker;
}  // namespace sy::proxy

namespace sy::app {

// One resolution of a host name (app/resolver.h): addresses, or why there are none.
struct DnsAnswer {
  std::vector<std::string> ips;
  std::string error;
};

class MemberSync {
 public:
  // Every pointer must outlive the sync; |health| may be null.
  MemberSync(const conf::Config& initial, proxy::PoolRegistry* registry,
             const std::vector<std::unique_ptr<proxy::Worker>>* workers,
             proxy::HealthChecker* health);

  // The YAML's pools (reload, through app/pool_sync.h): their members, by pool name; a pool
  // named in |keep| that |pools| lacks keeps its YAML members (a pool dropped from the YAML
  // but kept because something references it). Returns the applied changes, "pools.P: ...".
  std::vector<std::string> set_yaml(const std::vector<conf::Pool>& pools,
                                    const std::vector<std::string>& keep = {});
  // The database's rows (all of them). Rows with an unusable address are skipped with a
  // warning (once per row); rows of a pool this instance does not have (yet) wait for it.
  // Returns the applied changes.
  std::vector<std::string> set_db(const std::vector<store::PoolMemberRow>& rows);
  // The registry's pools changed (app/pool_sync.h): an added pool gets its members, a removed
  // one none (every member retired). Returns the applied changes.
  std::vector<std::string> resync();
  // The host names the members need now (YAML and database), for the resolver.
  std::vector<std::string> names();
  // The resolver's answers: a name with addresses replaces its members by them; a failed one
  // keeps its last good addresses, logged once per failure and shown by resolve_error().
  std::vector<std::string> set_dns(const std::map<std::string, DnsAnswer>& answers);
  // Why the last resolution of |host| failed ("" when it did not). Any thread.
  std::string resolve_error(const std::string& host);

 private:
  std::vector<std::string> apply_locked();
  // The merged YAML and database members of |pool| (names not yet expanded). mu_ held.
  std::vector<proxy::MemberSpec> wanted_locked(const std::string& pool) const;

  std::mutex mu_;
  proxy::PoolRegistry* registry_;
  const std::vector<std::unique_ptr<proxy::Worker>>* workers_;
  proxy::HealthChecker* health_;
  std::map<std::string, std::vector<proxy::MemberSpec>> yaml_;    // by pool name
  std::map<std::string, std::vector<proxy::MemberOverride>> db_;  // by pool name
  std::vector<std::string> warned_;                               // bad rows already logged
  std::map<std::string, proxy::NameAddresses> dns_;  // host name -> last good addresses
};

}  // namespace sy::app
