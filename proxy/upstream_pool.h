#pragma once
// Upstream pools in two halves:
//
//   PoolRegistry (shared, built once on the main thread from the Config)
//     └─ PoolState ── MemberSet (immutable, replaced whole when members change at runtime)
//                       └─ MemberState: resolved address + `healthy` (atomic, written by the
//                          health checker thread, read by workers with a relaxed load)
//   WorkerPool (one per pool per worker, worker thread only)
//     └─ WorkerMember: balancing state, active count, passive-ejection state and the idle
//                      keep-alive connections to that member
//
// Nothing on the hot path takes a lock: workers only read the shared half.
//
// Member sets change at runtime (admin socket, database, YAML reload; app/member_sync.h):
//
//   admin thread                              worker thread (its inbox, between events)
//   set = {kept MemberStates + new ones}      WorkerPool::apply(set):
//   PoolState::publish(set)  ───post────▶       kept members keep their WorkerMember (idle
//                                               connections, balancing and ejection state);
//                                               new ones get one; gone ones are *retired*:
//                                               never picked again, idle connections closed,
//                                               exchanges in flight finish on them
//                                             sweep_retired() (worker's 100 ms timer) frees a
//                                               retired WorkerMember nothing pins any more
//   PoolState::collect(): a replaced MemberState is freed by the admin thread once no worker
//   holds it (use_count() == 1), never by a worker (the owner destroys).

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/thread_check.h"
#include "conf/config.h"
#include "proxy/http_message.h"
#include "proxy/tls.h"

struct event_base;

namespace sy::proxy {

class H2UpstreamConnection;
class Stream;
struct ExchangeEnv;

class WorkerStats;

// Runtime admin state of a member (admin socket, stored in sy_member_state).
enum class MemberAdminState : uint8_t {
  Ready = 0,        // in service
  Drain = 1,        // no new requests; exchanges in flight finish
  Maintenance = 2,  // out of service (no new requests either)
};

// Where a member came from (`show pools`).
enum class MemberOrigin : uint8_t { Yaml, Db, Dns };
const char* to_string(MemberOrigin o);  // "yaml", "db", "dns"

// What a member is: the key of a MemberState. A member whose spec changes (address, TLS name,
// sticky route) is a new MemberState; a weight change is applied to the existing one.
struct MemberSpec {
  std::string address;  // "host:port" or "unix:/path" as configured (the member's name)
  std::string host;     // IP literal, "localhost", or a DNS name (expand_names() turns that
                        // into one spec per address before it becomes a MemberState); "" for
                        // a unix: member
  int port = 0;          // 0 for a unix: member
  std::string unix_path;  // unix: members: the socket's path; "" = a TCP member
  int weight = 1;        // the configured weight (YAML or database)
  std::string tls_name;  // TLS pools: SNI / name to verify; empty = pool's server_name or host
  std::string route;     // sticky pools: the member's id in the cookie; "" = a keyed hash
  MemberOrigin origin = MemberOrigin::Yaml;
  // Dns: the configured "name:port" this address was resolved from, and its host part (the
  // TLS name when neither tls_name nor the pool's server_name is set).
  std::string name;
  std::string name_host;
  bool operator==(const MemberSpec&) const = default;
};

struct MemberState {
  std::string address;                                   // MemberSpec::address
  std::atomic<MemberOrigin> origin{MemberOrigin::Yaml};  // may change (a YAML member set in the db)
  std::string spec_tls_name;  // MemberSpec::tls_name (what the spec asked for)
  std::string route;          // MemberSpec::route
  std::string name;           // MemberSpec::name: "app.internal:8080" for a DNS member, else ""
  int metrics_slot = -1;      // index of its YAML member at start (per-member metrics); -1: none
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string label;                // "127.0.0.1:9001" or "unix:/run/app.sock" (logs)
  std::string host_header;          // Host when nothing else gives one: the label, "localhost"
                                    // for a unix: member
  std::string tls_name;             // TLS pools: SNI / name to verify (server_name or host)
  // Sticky pools: the member's id in the cookie (proxy/sticky.h), and for insert mode the
  // Set-Cookie value naming it, [0] for cleartext listeners and [1] (Secure) for TLS ones.
  std::string sticky_id;
  std::string set_cookie[2];
  std::atomic<bool> healthy{true};  // health checker writes; workers read
  // Written by the admin thread (and reload), read by workers with relaxed loads.
  std::atomic<uint8_t> admin{0};        // MemberAdminState
  std::atomic<int> weight_override{0};  // 1..256; 0 = use yaml_weight
  std::atomic<int> yaml_weight{1};      // the configured weight (YAML or database; may change)
  // Bumped by the admin thread (`pool member drain` past its tunnel bound): every tunnel to
  // this member opened before is closed at its next tick (Exchange::tunnel_tick).
  std::atomic<uint32_t> cut_tunnels{0};
  // Per worker (slot = worker id), single writer each: requests holding a connection to this
  // member, and tunnels open to it. Summed by the admin thread.
  size_t slots = 0;
  std::unique_ptr<std::atomic<int64_t>[]> inflight;
  std::unique_ptr<std::atomic<int64_t>[]> tunnels;

  int64_t inflight_total() const { return sum(inflight); }
  int64_t tunnels_total() const { return sum(tunnels); }
  int effective_weight() const {
    int w = weight_override.load(std::memory_order_relaxed);
    return w > 0 ? w : yaml_weight.load(std::memory_order_relaxed);
  }
  bool in_service() const {
    return admin.load(std::memory_order_relaxed) == static_cast<uint8_t>(MemberAdminState::Ready);
  }

 private:
  int64_t sum(const std::unique_ptr<std::atomic<int64_t>[]>& a) const {
    int64_t n = 0;
    for (size_t i = 0; i < slots; ++i) {
      n += a[i].load(std::memory_order_relaxed);
    }
    return n;
  }
};

// A pool's members at one moment; immutable once published.
using MemberSet = std::vector<std::shared_ptr<MemberState>>;

struct PoolState {
  const conf::Pool* conf = nullptr;  // the config's, or |owned| (a pool added at runtime)
  std::unique_ptr<const conf::Pool> owned;
  size_t index = 0;  // in the registry: a slot, never reused (routing, workers
                     // and metrics index pools by it)
  // Where the pool's settings came from (`show pools`): Yaml or Db (may change: a YAML pool
  // stored in the database).
  std::atomic<MemberOrigin> origin{MemberOrigin::Yaml};
  // Removed at runtime (`pool remove`, a reload without it): never found by name again, its
  // member set is empty (every member retired: exchanges in flight finish, idle connections
  // closed); the slot stays, so indexes held anywhere stay valid. Written by the thread that
  // owns the registry's changes, read anywhere.
  std::atomic<bool> removed{false};
  std::unique_ptr<UpstreamTls> tls;  // null: cleartext to the members
  size_t worker_slots = 1;

  // The current member set. Any thread (a mutex; never on a request's path: workers get sets
  // through their inbox).
  std::shared_ptr<const MemberSet> members() const;
  // A new MemberState for |spec| (address resolved: an IP literal, "localhost" or a unix:
  // path; no DNS here), with its sticky id and Set-Cookie in a sticky pool; the error names
  // the member. Any thread.
  Result<std::shared_ptr<MemberState>> make_member(const MemberSpec& spec) const;
  // Makes |set| current (the caller then hands it to every worker) and frees replaced members
  // no worker holds any more. Admin / main thread.
  void publish(std::shared_ptr<const MemberSet> set);
  // Frees replaced members no worker holds any more; returns how many are still held.
  size_t collect();

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const MemberSet> set_ = std::make_shared<MemberSet>();
  std::vector<std::shared_ptr<MemberState>> retired_;
};

// Pool slots an instance can hold over its lifetime (pools added at runtime take a new slot,
// a removed pool keeps its own): the registry's and each worker's arrays are reserved at this
// size once, so readers on other threads never see them move.
inline constexpr size_t kMaxPools = 64;

class PoolRegistry {
 public:
  // Resolves every member address (numeric or "localhost"; no DNS on the hot path ever) and
  // builds the client TLS context of each pool with `tls` (reads its CA / certificate files;
  // the error names the pool and the file). |workers| sizes the per-worker counters. Main
  // thread; |config| must outlive the registry.
  static Result<std::unique_ptr<PoolRegistry>> build(const conf::Config& config, int workers = 1);
  // Adds |pool| (settings only; its members come through the member sync) in a new slot,
  // published to readers of pools() when this returns. Fails when every slot is taken or its
  // TLS context cannot be built. One thread at a time (app/pool_sync.h holds a mutex).
  Result<PoolState*> add(const conf::Pool& pool, MemberOrigin origin);
  // The pool named |name| that is not removed; nullptr when there is none. Any thread.
  PoolState* find(const std::string& name) const;
  // Every slot, removed ones included (check PoolState::removed). Any thread: the slots are
  // reserved up front and a new one becomes visible only once built (acquire/release).
  std::span<const std::unique_ptr<PoolState>> pools() const {
    return {pools_.data(), count_.load(std::memory_order_acquire)};
  }

 private:
  Result<std::unique_ptr<PoolState>> make_state(const conf::Pool& p) const;
  std::vector<std::unique_ptr<PoolState>> pools_;  // reserved kMaxPools; grows only
  std::atomic<size_t> count_{0};
  size_t worker_slots_ = 1;
  std::string base_dir_;  // the config file's directory (relative TLS file names)
};

// True for a DNS name (not an IP literal, not "localhost", not "" (a unix: member)): resolved
// off the workers.
bool is_host_name(const std::string& host);
// The YAML members of |pool| as specs.
std::vector<MemberSpec> yaml_specs(const conf::Pool& pool);

struct WorkerMember {
  MemberState* shared = nullptr;
  std::shared_ptr<MemberState> hold;  // keeps |shared| alive while this worker uses it
  size_t index = 0;                   // position in the pool now (retry exclusion masks)
  int pins = 0;                       // UpstreamRequests pointing at this member
  bool retired = false;               // gone from the member set: never picked, freed unpinned
  int current_weight = 0;             // smooth weighted round robin (nginx's algorithm)
  int active = 0;                     // exchanges in flight on this member (least_conn)
  int consecutive_failures = 0;       // passive ejection
  uint64_t ejected_until_ms = 0;      // monotonic ms; 0 = not ejected
  // Idle keep-alive connections, most recently used last. While parked a Stream's callbacks
  // point at the member's idle handler, which frees it if the upstream closes it or sends
  // anything unsolicited. Parking and taking allocate nothing once the vector has grown.
  std::vector<Stream*> idle;
  // send_proxy pools: the client connection (ClientInfo::connection_id) each idle connection
  // announced in its PROXY header, parallel to |idle|: only that client may reuse it.
  std::vector<uint64_t> idle_owner;
  // TLS pools: the last session this member's server handed out on this worker, offered by
  // the next connection (abbreviated handshake). Owned; freed with the WorkerPool.
  SSL_SESSION* tls_session = nullptr;
  // protocol: h2 pools: this worker's connections to the member, each multiplexing streams
  // (upstream_http2.h). Owned by the WorkerPool.
  std::vector<H2UpstreamConnection*> h2;
};

class WorkerPool {
 public:
  // |slot|: this worker's slot in MemberState's per-worker counters.
  WorkerPool(const PoolState* shared, event_base* base, WorkerStats* stats, size_t slot = 0);
  ~WorkerPool();  // frees idle connections
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  const conf::Pool& conf() const { return *shared_->conf; }

  // Picks a member by the pool's balance algorithm among healthy, non-ejected members whose
  // bit in |exclude_mask| is clear; when none qualify it ignores health and ejection (panic
  // mode, like Envoy's panic threshold) so that a wrong health check cannot black-hole a pool.
  // Members an operator set to drain or maintenance are never picked, not even in panic mode:
  // that is an explicit decision, not a possibly wrong health check. Weights are the admin
  // override when set, else the configured weight. nullptr when every member is excluded.
  // |now_ms| is monotonic. Worker thread only.
  WorkerMember* pick(uint64_t exclude_mask, uint64_t now_ms, bool* panic);

  // Sticky pools: the member |req|'s cookie names (null when the pool is not sticky or the
  // request has no such cookie, or it names no member: forged, stale, gone; |unknown| says
  // that). No allocation. Worker thread only.
  struct StickyTarget {
    WorkerMember* member = nullptr;
    bool unknown = false;
  };
  StickyTarget sticky_member(const HttpRequest& req) const;
  // |m| when it may take a request now (a member of the current set, in service, healthy, not
  // ejected, not in |exclude_mask|); nullptr sends the request to the balancer (pick) instead.
  WorkerMember* sticky_pick(WorkerMember* m, uint64_t exclude_mask, uint64_t now_ms);

  // Takes the most recently parked idle connection to |m| (of client connection |owner| in a
  // send_proxy pool), or nullptr. The caller owns it and must install its own callbacks.
  // Worker thread only.
  Stream* take_idle(WorkerMember* m, uint64_t owner = 0);
  // Parks |s| (keep-alive, no pending bytes; |owner| as above) on |m|; when the idle list is
  // full, frees |s| (or, in a send_proxy pool, the oldest one).
  void park(WorkerMember* m, Stream* s, uint64_t owner = 0);
  // Frees every idle connection (graceful shutdown); HTTP/2 connections close once their
  // last stream is done.
  void close_idle();

  // Replaces the member set (see the top of this file). Worker thread.
  void apply(std::shared_ptr<const MemberSet> set);
  // Frees retired members nothing uses any more; returns how many remain. Worker thread, from
  // the event loop (never below a callback that may still hold a member).
  size_t sweep_retired();
  // An UpstreamRequest points at |m| (pinned members are not freed when retired).
  static void pin(WorkerMember* m) { ++m->pins; }
  static void unpin(WorkerMember* m) { --m->pins; }

  // protocol: h2 pools: a connection to |m| that can take one more stream — an existing one,
  // or a new one, connecting (*created true). nullptr with *why when a new one failed at once.
  H2UpstreamConnection* h2_connection(WorkerMember* m, const ExchangeEnv& env, bool* created,
                                      std::string* why);
  // Unlinks and frees |c|; called only by the connection's own callbacks.
  void destroy_h2(H2UpstreamConnection* c);

  // TLS pools: a new client SSL for a connection to |m| (offering |m|'s last session); the
  // caller owns it and hands it to Stream::start_tls_client. nullptr for a cleartext pool or
  // on out-of-memory (tls() tells which). Worker thread only.
  SSL* new_tls(WorkerMember* m) const;
  const UpstreamTls* tls() const { return shared_->tls.get(); }

  // Passive health: record the outcome of an exchange with |m|.
  void record_success(WorkerMember* m);
  void record_failure(WorkerMember* m, uint64_t now_ms);

  size_t size() const { return members_.size(); }
  // The position of |m|, one of this pool's members.
  size_t index_of(const WorkerMember* m) const { return m->index; }
  WorkerMember& member(size_t i) { return *members_[i]; }

  // Counters. Worker thread writes (single writer, relaxed); any thread reads.
  void count_request() { bump(requests_); }
  void count_5xx() { bump(responses_5xx_); }
  // An exchange starts / ends on |m| (WorkerMember::active, used by least_conn).
  void exchange_started(WorkerMember* m) { ++m->active; }
  void exchange_finished(WorkerMember* m) { --m->active; }
  // A request holds an upstream connection to |m| (from the pick, through connecting, until
  // the connection is released): what `pool member wait` waits for.
  void upstream_attached(WorkerMember* m) { add_inflight(m, 1); }
  void upstream_released(WorkerMember* m) { add_inflight(m, -1); }
  // An upgraded exchange (a tunnel) opened / ended on |m|: what `pool member drain` waits for.
  void tunnel_opened(const WorkerMember* m) { add(m->shared->tunnels, 1); }
  void tunnel_closed(const WorkerMember* m) { add(m->shared->tunnels, -1); }
  uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }
  uint64_t responses_5xx() const { return responses_5xx_.load(std::memory_order_relaxed); }
  const PoolState& shared() const { return *shared_; }

 private:
  WorkerMember* pick_round_robin(uint64_t exclude_mask, bool respect_health, uint64_t now_ms);
  WorkerMember* pick_least_conn(uint64_t exclude_mask, bool respect_health, uint64_t now_ms);
  bool usable(const WorkerMember& m, bool respect_health, uint64_t now_ms) const;

  static void bump(std::atomic<uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void add_inflight(WorkerMember* m, int64_t delta) { add(m->shared->inflight, delta); }
  void add(const std::unique_ptr<std::atomic<int64_t>[]>& slots, int64_t delta) const {
    auto& c = slots[slot_];  // this worker's slot: single writer
    c.store(c.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  }
  void install(std::shared_ptr<const MemberSet> set);
  void close_member_idle(WorkerMember& m);
  void free_member(WorkerMember& m);

  const PoolState* shared_;
  event_base* base_;
  WorkerStats* stats_;
  size_t slot_;
  std::shared_ptr<const MemberSet> set_;                // what members_ mirrors
  std::vector<std::unique_ptr<WorkerMember>> members_;  // stable addresses
  std::vector<std::unique_ptr<WorkerMember>> retired_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> responses_5xx_{0};
  size_t lc_cursor_ = 0;  // least_conn tie breaker rotates
  ThreadOwner thread_;    // the worker's
};

// Monotonic clock in milliseconds / microseconds (vDSO, no syscall).
uint64_t monotonic_ms();
uint64_t monotonic_us();

}  // namespace sy::proxy
