#pragma once
// Composition of the admin server for the `switchyard` process: the AdminContext hooks that
// let admin/ read the proxy's counters and pools and change member state, and the reload
// logic shared by the `reload` command and SIGHUP. Like tenant_setup, this is the composition
// root's helper: admin/ never includes proxy/ headers, sy_proxy never includes admin/.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "admin/server.h"
#include "app/member_sync.h"
#include "app/pool_sync.h"
#include "common/result.h"
#include "conf/config.h"
#include "proxy/access_log.h"
#include "proxy/upstream_pool.h"
#include "store/dsn_source.h"

namespace sy::proxy {
class Worker;
class TlsStore;
class ServiceNotifier;
}  // namespace sy::proxy

namespace sy::app {

// Re-reads the YAML with the startup code (conf::load_config_file: the main file and its
// overlays) and applies what can change at runtime: log_level (unless --log-level was given)
// pools (added, removed, settings changed: through |pools|) and their members and weights
// (through |members|), both under the database's rows.
// Everything else that differs is listed as needing a restart. A file with errors changes nothing.
// Any thread (serialised by a mutex); the registry must outlive it. With a notifier, each reload is
// bracketed by RELOADING=1 and READY=1 (systemd).
class Reloader {
 public:
  Reloader(const conf::Config& initial, MemberSync* members, PoolSync* pools, std::string path,
           bool log_level_fixed);
  Result<admin::ReloadOutcome> reload();
  // TLS listeners: reload() also re-reads every certificate and key first; if that fails the
  // reload fails and nothing changes. Main thread, before the admin server starts.
  void set_tls(proxy::TlsStore* tls) { tls_ = tls; }
  // systemd: RELOADING=1 before, READY=1 + STATUS (the outcome) after every reload. Main
  // thread, before the admin server starts; |notifier| must outlive the reloader.
  void set_notifier(const proxy::ServiceNotifier* notifier) { notifier_ = notifier; }
  // The database DSN lists (dsns, reader_dsns, state_dsns) apply live through |source|: the
  // loader and the admin sessions reconnect to the new lists. Main thread, before the admin
  // server starts.
  void set_dsn_source(std::shared_ptr<store::DsnSource> source) { dsns_ = std::move(source); }

 private:
  std::mutex mu_;
  Result<admin::ReloadOutcome> reload_locked();

  proxy::TlsStore* tls_ = nullptr;
  const proxy::ServiceNotifier* notifier_ = nullptr;
  std::shared_ptr<store::DsnSource> dsns_;
  conf::Config current_;  // guarded by mu_: the last configuration applied
  MemberSync* members_;
  PoolSync* pools_;
  std::string path_;
  bool log_level_fixed_;
};

// The proxy's counters (proxy/stats.h) summed over |workers|, with the routing decisions and
// CTX answers by name (`show stats`, /metrics). Any thread, once the workers exist.
admin::StatsView stats_view(const std::vector<std::unique_ptr<proxy::Worker>>* workers);

// Pools and members as the proxy sees them now: state, health, weights, in-flight counts and
// request counters summed over |workers| (relaxed reads); with |members|, why a host name's
// last resolution failed. Any thread, once the workers exist.
std::vector<admin::PoolView> pool_views(const proxy::PoolRegistry* registry,
                                        const std::vector<std::unique_ptr<proxy::Worker>>* workers,
                                        MemberSync* members = nullptr);

// The hooks; every pointer must outlive the admin server. |loader| and |publisher| may be null
// (no routing), |access_log| too (none configured).
admin::AdminContext make_admin_context(const conf::Config& config, const std::string& config_path,
                                       const proxy::PoolRegistry* registry,
                                       const std::vector<std::unique_ptr<proxy::Worker>>* workers,
                                       const store::LoaderStatus* loader,
                                       const routing::SnapshotPublisher* publisher,
                                       Reloader* reloader, MemberSync* members, PoolSync* pools,
                                       proxy::AccessLogWriter* access_log);

// Reopens |access_log| (SIGUSR1 and the admin `reopen-logs`): "access log reopened: PATH",
// or the error. Main or admin thread.
Result<std::string> reopen_access_log(proxy::AccessLogWriter* access_log);

}  // namespace sy::app
