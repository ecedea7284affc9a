#pragma once
// The live pools (issue 12: pools that change without restarts): which pools this instance has
// now, from
//
//   the YAML (start, `reload`)     the bootstrap
//   sy_pools (admin socket rows)   wins over the YAML: adds, changes settings, removes (tombstone)
//
// merged and planned by proxy/pool_set.h and applied without dropping a connection:
//
//   added pool     PoolRegistry::add (a new slot) -> every worker add_pools() (its inbox) ->
//                  the member sync gives it its members -> the loader maps servers naming it
//                  to the new slot (set_pool_names; one snapshot republish, no database read)
//   changed pool   the same, and the old slot is removed (below); listeners and routes follow
//                  the name to the new slot
//   removed pool   PoolState::removed: never found by name again; the member sync empties its
//                  set, so every member is retired on every worker (exchanges in flight finish,
//                  idle connections close); the slot stays (indexes held anywhere stay valid)
//
// A pool referenced here (a listener, routing.serve_pools, a server row of the directory) is
// never removed: `pool remove` refuses with the reference, and a removal arriving from the
// database or a reload keeps it with a warning (once) until the reference is gone.
//
// Threads: set_yaml() from the reloader, set_db() from the admin thread (its poll and right
// after `pool add|remove`); a mutex serialises them. Nothing here blocks a worker.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "app/member_sync.h"
#include "conf/config.h"
#include "proxy/pool_set.h"
#include "routing/publisher.h"
#include "store/member_store.h"

namespace sy::proxy {
class HealthChecker;
class PoolRegistry;
class Worker;
}  // namespace sy::proxy

namespace sy::app {

class PoolSync {
 public:
  // Every pointer must outlive the sync; |health| and |publisher| may be null. |config| is the
  // startup configuration (listeners and routing need a restart, so they are the references).
  PoolSync(const conf::Config& config, proxy::PoolRegistry* registry,
           const std::vector<std::unique_ptr<proxy::Worker>>* workers, MemberSync* members,
           proxy::HealthChecker* health, const routing::SnapshotPublisher* publisher);

  // The loader to tell about added and removed pools (null without routing). Before serving.
  void set_pool_names_sink(std::function<void(std::vector<std::string>)> sink) {
    names_sink_ = std::move(sink);
  }

  // The YAML's pools and their members (reload; the members through the member sync). Returns
  // the applied changes, "pools.P: ...".
  std::vector<std::string> set_yaml(const std::vector<conf::Pool>& pools);
  // The database's rows (all of them). A row whose settings do not parse is skipped with a
  // warning (once per row). Returns the applied changes.
  std::vector<std::string> set_db(const std::vector<store::PoolRow>& rows);
  // What references the pool |name| here ("listener main", "routing.serve_pools", "server 3
  // (app-extra)"), "" when nothing does. Any thread.
  std::string referenced_by(const std::string& name) const;

 private:
  // |yaml_changed|: hand the YAML's members to the member sync too (else it only resyncs).
  std::vector<std::string> apply_locked(bool yaml_changed);

  std::mutex mu_;
  const conf::Config& config_;
  proxy::PoolRegistry* registry_;
  const std::vector<std::unique_ptr<proxy::Worker>>* workers_;
  MemberSync* members_;
  proxy::HealthChecker* health_;
  const routing::SnapshotPublisher* publisher_;
  std::function<void(std::vector<std::string>)> names_sink_;
  std::vector<conf::Pool> yaml_;
  std::vector<proxy::PoolOverride> db_;
  std::vector<std::string> warned_;  // bad rows and kept removals already logged
};

}  // namespace sy::app
