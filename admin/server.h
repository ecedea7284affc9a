#pragma once
// The admin server (DESIGN: admin thread): one thread with its own poll loop serving the Unix
// socket and, optionally, the loopback TCP listener, in the line protocol of admin/protocol.h
// with the command table of admin/commands.h.
//
//   admin thread   accepts, reads lines, runs one command at a time (blocking database work on
//                  its own Stores: directory and state sessions, connected lazily, dropped and
//                  reconnected after a failure), polls sy_pool_members and sy_member_state
//                  every ~2 s and applies them (members first, then their admin state)
//   upgrade thread `upgrade schemata` runs here, one at a time, with its own Stores; its
//                  progress lines are queued to the connection that started it (mutex + eventfd
//                  wake-up), so `upgrade status|pause|abort` and `show *` from other
//                  connections keep working during a run
//
// The proxy side is reached only through AdminContext (admin/ never includes proxy/ headers;
// app/main.cpp composes both).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "admin/protocol.h"
#include "admin/stores.h"
#include "common/result.h"
#include "conf/config.h"
#include "routing/publisher.h"
#include "store/db.h"
#include "store/directory_loader.h"
#include "store/member_store.h"

namespace sy::admin {

// A member's runtime state is stored by store/member_store.h; the admin context speaks it.
using store::MemberAdmin;
using store::MemberRuntime;

// One pool member as the proxy sees it now.
struct MemberView {
  std::string address;      // "host:port" as in the YAML or the `pool member add`
  std::string origin;       // where it came from: "yaml", "db" (sy_pool_members), "dns"
  std::string name;         // dns: the configured "name:port" it was resolved from
  std::string resolve_error;  // dns: why the last resolution failed (the last good set stays)
  int weight = 1;           // effective weight (override, else the configured one)
  int base_weight = 1;      // the configured weight (YAML or `pool member add|set`)
  std::string tls_name;     // TLS name given to `pool member add|set` ("" = the pool's)
  int weight_override = 0;  // 0 = none
  MemberAdmin admin = MemberAdmin::Ready;
  bool healthy = true;
  uint64_t inflight = 0;  // requests holding a connection to this member (picked, connecting
                          // or exchanging), summed over workers
  uint64_t tunnels = 0;   // upgraded connections (101) open to this member, of |inflight|
};

struct PoolView {
  std::string name;
  std::string version;
  std::string balance;
  std::string origin = "yaml";  // where the pool came from: yaml | db
  size_t slot = 0;              // the registry slot (per-worker metrics index)
  uint64_t requests = 0;       // exchanges started on this pool (all workers)
  uint64_t responses_5xx = 0;  // 5xx answered for requests of this pool
  uint64_t active = 0;         // exchanges in flight now
  std::vector<MemberView> members;
};

// Counters summed over workers (relaxed reads).
struct StatsView {
  std::vector<std::pair<std::string, uint64_t>> proxy;      // proxy/stats.h names
  std::vector<std::pair<std::string, uint64_t>> decisions;  // proxies, redirects, ...
  std::vector<std::pair<std::string, uint64_t>> errors;     // "CTX-0012" -> count
  uint64_t held_now = 0;                                    // requests parked now
};

// What a successful reload did.
struct ReloadOutcome {
  std::vector<std::string> applied;        // e.g. "log_level: info -> debug"
  std::vector<std::string> needs_restart;  // e.g. "listeners changed"
};

// The proxy's side, filled by app/admin_setup.cpp. Every hook may be called from the admin thread
// (reload also from main on SIGHUP); each must be thread-safe against the workers.
struct AdminContext {
  std::string instance_id;
  std::string role;     // routing role, "" without routing
  std::string version;  // Switchyard version
  std::string config_path;
  int workers = 0;
  int64_t started_unix_ms = 0;
  const conf::Config* config = nullptr;                   // as loaded at start (immutable)
  const store::LoaderStatus* loader = nullptr;            // null without routing
  const routing::SnapshotPublisher* publisher = nullptr;  // null without routing
  std::function<StatsView()> stats;
  std::function<std::vector<PoolView>()> pools;
  // Applies a member's runtime state; false when pool/member is unknown here.
  std::function<bool(const MemberRuntime&)> set_member;
  // Applies the rows of sy_pool_members (all of them) over the YAML's members; returns the
  // changes made ("pools.new: member 127.0.0.1:9003 added (db)"). Admin thread.
  std::function<std::vector<std::string>(const std::vector<store::PoolMemberRow>&)>
      apply_pool_members;
  // Applies the rows of sy_pools (all of them) over the YAML's pools; returns the changes made
  // ("pools.extra: added (db)"). Admin thread.
  std::function<std::vector<std::string>(const std::vector<store::PoolRow>&)> apply_pools;
  // What references pool |name| here ("listener main", "server 3 (app-extra)"); "" = nothing.
  std::function<std::string(const std::string& name)> pool_referenced_by;
  // Closes every tunnel open to the member (each at its next tick, within 1 s); false when
  // pool/member is unknown here. Null = no proxy (tests of the admin alone).
  std::function<bool(const std::string& pool, const std::string& member)> cut_tunnels;
  // Validates and applies the YAML at config_path (same code as startup).
  std::function<Result<ReloadOutcome>()> reload;
  // Reopens the access log at its path (after logrotate moved it); the message says which
  // file. Null = no access log configured.
  std::function<Result<std::string>()> reopen_logs;
  // Starts a successor process (the hitless self-upgrade, proxy/successor.h); the message names
  // its pid. Null = not possible here.
  std::function<Result<std::string>()> upgrade_binary;
};

struct ServerOptions {
  conf::Admin admin;    // socket, tcp, timeouts, update tasks, event hook
  StoreOptions stores;  // directory and state databases (stores.dsns empty = no database:
                        // database commands fail)
  std::chrono::milliseconds member_poll_interval{2000};
  // stop(): how long a running upgrade job gets to reach its next step boundary (it is told to
  // stop there) before the server gives up waiting and detaches it.
  std::chrono::milliseconds job_stop_wait{60000};
  // Listening sockets taken over from a predecessor (the self-upgrade, proxy/handover.h): used
  // as they are instead of binding; -1 = bind. The server owns them from start() on.
  int inherited_unix_fd = -1;
  int inherited_tcp_fd = -1;
};

class AdminServer {
 public:
  AdminServer(ServerOptions options, AdminContext context);
  ~AdminServer();  // stops
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds the listeners (the Unix socket with its mode, replacing a stale file; TCP on its
  // loopback address), reads the token file, then starts the admin thread. Main thread.
  Result<Unit> start();
  // Stops the threads, tells an upgrade run in progress to stop at its next step boundary and
  // waits for that (up to ServerOptions::job_stop_wait; the run journals "stopped" and is
  // resumed from its journal by the next driver), closes every connection, unlinks the socket
  // file. Idempotent. Main thread.
  void stop();

  // The listening sockets (-1 = none), to pass to a successor; they stay owned by the server.
  // Valid after start(); any thread (set once before the admin thread starts).
  int unix_fd() const;
  int tcp_fd() const;
  // The socket was handed to a successor, which serves it now: stop() closes this process's
  // copy but leaves the socket file alone. Any thread.
  void keep_socket_file();

  // "ip:port" of the TCP listener ("" without one), valid after start().
  const std::string& tcp_address() const { return tcp_address_; }

  // Connection counters, written by the admin thread, readable from any thread.
  struct Counters {
    std::atomic<uint64_t> open{0};     // connections open now (both listeners)
    std::atomic<uint64_t> paused{0};   // of those, not read: their unsent replies reached
                                       // the output bound (a client that does not read)
    std::atomic<uint64_t> refused{0};  // refused with `ERR busy` (max_connections), ever
    struct Snapshot {
      uint64_t open, paused, refused;
    };
  };
  Counters::Snapshot counters() const;

  // The latest progress line of the `upgrade schemata` run driven here (its schema, step and
  // phase, schemas done of total); nullopt when none runs. Any thread (two short mutexes).
  std::optional<ProgressLine> upgrade_progress() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::string tcp_address_;
};

}  // namespace sy::admin
