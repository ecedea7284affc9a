#pragma once
// A worker: one thread, one libevent event_base, and everything that thread touches
// (STYLE rule 2). It owns its listening sockets (one per listener, SO_REUSEPORT), its client
// connections, its per-pool upstream connection pools, its routing state (Forwarder: pinned
// snapshot, hold queue, in-flight counts), its counters and its access-log buffer. Other
// threads talk to it only through post().
//
// It is not a service locator: a connection gets the ExchangeEnv (exchange.h) — the limits,
// counters, log buffer, forwarder, pools and scratch its exchanges use — and the ConnectionSet
// that frees it, and nothing else of the worker.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/thread_check.h"
#include "conf/config.h"
#include "proxy/access_log.h"
#include "proxy/connection.h"
#include "proxy/connection_limits.h"
#include "proxy/exchange.h"
#include "proxy/http1_parser.h"
#include "proxy/metrics.h"
#include "proxy/stats.h"
#include "proxy/tls.h"
#include "proxy/upstream_pool.h"

struct event_base;
struct event;
struct evconnlistener;

namespace sy::proxy {

class Forwarder;
class Stream;
struct RoutingSetup;
class Worker;

// One listening socket of one worker.
struct WorkerListener {
  Worker* worker = nullptr;
  const conf::Listener* conf = nullptr;
  size_t index = 0;            // in config.listeners (and ConnectionLimits)
  WorkerPool* pool = nullptr;  // where this listener's requests go
  int pool_index = -1;         // its config index (routing's default for a request without key)
  int fd = -1;
  evconnlistener* lev = nullptr;
  // Accepting paused (connection cap reached, or accept failed: out of descriptors): the
  // listener is disabled and resume_timer looks again after backoff_ms.
  bool paused = false;
  event* resume_timer = nullptr;
  uint64_t backoff_ms = 0;       // next pause; doubles up to kMaxAcceptBackoffMs
  uint64_t last_log_ms = 0;      // monotonic: the last "accept paused" log line
  uint64_t unlogged_errors = 0;  // accept failures since that line
  uint64_t unlogged_full = 0;    // pauses at the connection cap since that line
};

class Worker final : private ConnectionSet {
 public:
  // |config|, |registry| and |log| must outlive the worker. |listener_fds| pairs each
  // configured listener with this worker's socket for it. |tls| (outlives the worker; nullptr
  // when no listener has TLS) supplies the TLS listeners' contexts. Main thread.
  // |limits| (outlives the worker; nullptr = no cap) counts client connections across workers.
  Worker(int id, const conf::Config& config, const PoolRegistry& registry, AccessLogWriter* log,
         const std::vector<std::pair<const conf::Listener*, int>>& listener_fds,
         const RoutingSetup* routing = nullptr, const TlsStore* tls = nullptr,
         ConnectionLimits* limits = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();  // main thread: spawns the thread, which runs the loop until it exits
  void join();   // main thread

  // Runs |fn| on the worker thread soon. Any thread.
  void post(std::function<void()> fn);
  // Starts a graceful drain: stop accepting, finish in-flight exchanges, close idle
  // connections, exit the loop when no connection is left or |drain_timeout| passed.
  // Any thread (posts).
  void begin_drain();

  // --- any thread (relaxed reads of single-writer atomics) ---
  int id() const { return id_; }
  const WorkerStats& stats() const { return stats_; }
  // The /metrics counters; null when admin.http is not configured (nothing is counted).
  const WorkerMetrics* metrics() const { return metrics_.get(); }
  // The pools this worker has now (slots below it are safe to read: pools_ never moves).
  size_t pool_count() const { return pool_count_.load(std::memory_order_acquire); }
  const WorkerPool* pool_view(size_t i) const { return pools_[i].get(); }
  // Requests in flight per schema name (routing only): a copy, at most kFlushInterval old,
  // for the instance heartbeat. |applied_seq| (optional) receives the change_seq of the
  // snapshot the worker had pinned when it took that copy: published together, so the counts
  // include every request decided with an older snapshot (the sequencer's drain relies on it).
  std::vector<std::pair<std::string, uint64_t>>
  inflight_copy(uint64_t* applied_seq = nullptr) const;

  // --- worker thread only ---
  event_base* base() const { return base_; }
  // The worker's pool for config pool index |index|; nullptr when out of range.
  WorkerPool* pool_at(int index) { return env_.pool_at(index); }
  // Pool |pool| has a new member set (upstream_pool.h): kept members keep their connections,
  // gone ones are retired. Posted by app/member_sync.cpp to every worker.
  void apply_members(size_t pool, std::shared_ptr<const MemberSet> set);
  // A pool was added at runtime in registry slot |shared|->index (app/pool_sync.h): this worker
  // gets its half (and every earlier slot it lacks), and listeners configured with its name
  // send their requests to it from now on (a pool whose settings changed takes a new slot).
  void add_pools(const PoolRegistry& registry);
  // A new routing snapshot was published: pin it and re-decide every held request. Posted by
  // main to every worker.
  void on_snapshot();
  // Takes ownership of an accepted client socket.
  void adopt(WorkerListener* listener, int fd, const sockaddr* peer, int peer_len);
  // Takes ownership of |stream|, an already connected client Stream (tests and fuzzing hand
  // in one end of an in-memory pair), as a client connection of |listener| from |peer|.
  // Not counted against the connection caps.
  void adopt_stream(WorkerListener* listener, Stream* stream, const sockaddr* peer);
  // After an accept: stops accepting on |listener| while it is at its connection cap.
  void after_accept(WorkerListener* listener);
  // accept(2) failed with |err| (EMFILE, ENFILE, ENOBUFS, ...): pause with backoff instead of
  // retrying at once (the pending connection keeps the socket readable: a busy loop), and log
  // once per interval with a count.
  void on_accept_error(WorkerListener* listener, int err);
  // Client connections alive now.
  size_t connection_count() const { return num_conns_; }
  // Runs the loop on the calling thread instead of start()'s (tests and fuzzing): binds the
  // worker-thread checks to it.
  void bind_to_current_thread() { thread_owner_.bind(); }

 private:
  // ConnectionSet: unlinks and deletes |conn|; called only by ConnectionScope (STYLE rule 5).
  void destroy(ClientConnection* conn) override;
  void link(ClientConnection* c);
  void run();
  void drain_now();
  void maybe_exit();
  static void inbox_cb(int, short, void* arg);
  static void flush_cb(int, short, void* arg);
  static void drain_timeout_cb(int, short, void* arg);
  static void resume_accept_cb(int, short, void* arg);
  void pause_accepting(WorkerListener* l);
  // A client connection closed: paused listeners that have room again resume now.
  void resume_accepting();

  int id_;
  const conf::Config& config_;
  event_base* base_ = nullptr;
  int inbox_fd_ = -1;  // eventfd: post() writes, the worker's loop reads
  event* inbox_event_ = nullptr;
  event* flush_timer_ = nullptr;
  event* drain_timer_ = nullptr;
  std::mutex inbox_mu_;
  std::vector<std::function<void()>> inbox_;        // guarded by inbox_mu_
  std::vector<std::unique_ptr<WorkerPool>> pools_;  // by registry slot; reserved kMaxPools
  std::vector<WorkerPool*> pool_ptrs_;  // pools_ by index, for ExchangeEnv; reserved kMaxPools
  std::atomic<size_t> pool_count_{0};   // pools_.size(), for other threads
  std::unique_ptr<Forwarder> forwarder_;
  // Copies the in-flight counts and the pinned change_seq for inflight_copy(). Worker thread.
  void publish_inflight();
  mutable std::mutex inflight_mu_;
  std::vector<std::pair<std::string, uint64_t>> inflight_published_;  // guarded by inflight_mu_
  uint64_t applied_seq_published_ = 0;                                // guarded by inflight_mu_
  std::vector<std::unique_ptr<WorkerListener>> listeners_;
  ClientConnection* conns_ = nullptr;  // intrusive list head
  size_t num_conns_ = 0;
  bool draining_ = false;
  WorkerStats stats_;
  std::unique_ptr<WorkerMetrics> metrics_;
  AccessLogBuffer access_log_;
  std::vector<http1::Header> headers_;
  std::string head_scratch_;
  http1::Limits parse_limits_;
  ExchangeEnv env_;  // what connections get: pointers into the members above
  TlsView tls_view_;
  ConnectionLimits* connection_limits_;
  size_t paused_listeners_ = 0;
  ThreadOwner thread_owner_;
  std::thread thread_;
};

}  // namespace sy::proxy
