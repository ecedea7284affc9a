#pragma once
// Composition of tenant routing for the `switchyard` process (main thread, start-up only):
// config -> proxy::RoutingSetup (what workers use) and LoaderOptions (what the loader thread uses),
// plus the `switchyard db migrate` command. The proxy layer itself never sees SQL; this file
// is the composition root's helper, like main.cpp.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "admin/stores.h"
#include "common/result.h"
#include "conf/config.h"
#include "proxy/forwarder.h"
#include "store/directory_loader.h"

namespace sy::proxy {
class Worker;
}  // namespace sy::proxy

namespace sy::app {

// Converts the routing section. Fails on a key rule that does not compile (bad regex).
Result<std::unique_ptr<proxy::RoutingSetup>>
make_routing_setup(const conf::Config& config, const routing::SnapshotPublisher* pub);

// Loader options from the database section. |workers| may be empty at first; publishes are
// forwarded to each worker as on_snapshot() once |workers_started| is true.
store::LoaderOptions make_loader_options(const conf::Config& config,
                                         const std::vector<std::unique_ptr<proxy::Worker>>* workers,
                                         const std::atomic<bool>* workers_started,
                                         std::shared_ptr<store::DsnSource> dsn_source = nullptr);

// routing.instance_id, else "<hostname>:<pid>".
std::string make_instance_id(const conf::Config& config);

// Converts the YAML DSNs.
std::vector<store::Dsn> make_dsns(const conf::Database& db);
// The state database's DSNs: state_dsns, or |dsns| with database = state_database; empty = no
// separate state database (profile own: the directory database holds the state too).
std::vector<store::Dsn> make_state_dsns(const conf::Database& db);

// The writer, reader and state DSN lists (store/dsn_source.h) of the YAML.
store::DsnLists make_dsn_lists(const conf::Database& db);

// The admin server's (and the upgrade run's) databases: the directory of the profile and the
// state database. No database section: empty (database commands fail clearly). With
// |dsn_source| the sessions follow its lists (reload) and report to it (`show database`).
admin::StoreOptions make_store_options(const conf::Config& config,
                                       std::shared_ptr<store::DsnSource> dsn_source = nullptr);

// `switchyard db migrate --config FILE`: creates or upgrades Switchyard's own tables: on profile
// own the directory and state tables (in one database, or the state ones in the state
// database), on profiles ox and sql only the state tables in the state database. It never
// writes a configdb; on profile ox it checks that OX's tables are there and says what it found.
// Returns the process exit status; prints what it did.
int run_db_migrate(const conf::Config& config);

}  // namespace sy::app
