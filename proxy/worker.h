#pragma once
// A worker: one thread, one libevent event_base, and everything that thread touches
// (STYLE rule 2). It owns its listening sockets (one per listener, SO_REUSEPORT), its client
// connections, its per-pool upstream connection pools, its counters and its access-log buffer.
// Other threads talk to it only through post().

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "conf/config.h"
#include "proxy/access_log.h"
#include "proxy/connection_limits.h"
#include "proxy/http1_parser.h"
#include "proxy/stats.h"
#include "proxy/tls.h"
#include "proxy/upstream_pool.h"

struct event_base;
struct event;
struct evconnlistener;

namespace sy::proxy {

class ClientConnection;
class Forwarder;
class H2Connection;
class Stream;
struct RoutingSetup;
class Worker;

// One listening socket of one worker.
struct WorkerListener {
  Worker* worker = nullptr;
  const conf::Listener* conf = nullptr;
  size_t index = 0;            // in config.listeners (and ConnectionLimits)
  WorkerPool* pool = nullptr;  // where this listener's requests go
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

class Worker {
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

  // --- worker thread only ---
  event_base* base() const { return base_; }
  int id() const { return id_; }
  const conf::Limits& limits() const { return config_.limits; }
  WorkerStats& stats() { return stats_; }
  const WorkerStats& stats() const { return stats_; }  // any thread (relaxed reads)
  AccessLogBuffer& access_log() { return access_log_; }
  bool draining() const { return draining_; }
  // Client connections (accepted and the internal ones of HTTP/2 streams) plus HTTP/2 sessions
  // alive now.
  size_t connection_count() const { return num_conns_ + num_h2_; }
  // Reusable per-worker scratch: header array (max_headers entries) and a string for building
  // heads. Valid until the next call that uses them; never held across callbacks.
  http1::Header* header_scratch() { return headers_.data(); }
  std::string& head_scratch() { return head_scratch_; }
  const http1::Limits& parse_limits() const { return parse_limits_; }
  ConnectionLimits* connection_limits() const { return connection_limits_; }

  // Routing (nullptr when the config has no routing section).
  Forwarder* forwarder() { return forwarder_.get(); }
  // The worker's pool for config pool index |index|; nullptr when out of range.
  WorkerPool* pool_at(int index) {
    return index >= 0 && static_cast<size_t>(index) < pools_.size() ? pools_[index].get() : nullptr;
  }
  // A new routing snapshot was published: pin it and re-decide every held request. Posted by
  // main to every worker.
  void on_snapshot();
  // Requests in flight per schema name (routing only). Worker thread: the counter a proxied
  // request increments while it runs (node addresses are stable). Any thread: a copy, at
  // most kFlushInterval old, for the instance heartbeat.
  // The counter of the schema at |schema_index| of the forwarder's pinned snapshot (null when
  // there is none): an array lookup, the name is hashed once per schema and snapshot.
  int64_t* inflight_counter(uint32_t schema_index);
  // |applied_seq| (optional) receives the change_seq of the snapshot the worker had pinned when
  // it took that copy: published together, so the counts include every request decided with
  // an older snapshot (the sequencer's drain relies on it).
  std::vector<std::pair<std::string, uint64_t>>
  inflight_copy(uint64_t* applied_seq = nullptr) const;

  // Any thread: the worker's pools (the vector never changes after construction; read only
  // their atomic counters).
  size_t pool_count() const { return pools_.size(); }
  const WorkerPool* pool_view(size_t i) const { return pools_[i].get(); }

  // Takes ownership of an accepted client socket. Worker thread only.
  void adopt(WorkerListener* listener, int fd, const sockaddr* peer, int peer_len);
  // After an accept: stops accepting on |listener| while it is at its connection cap.
  void after_accept(WorkerListener* listener);
  // accept(2) failed with |err| (EMFILE, ENFILE, ENOBUFS, ...): pause with backoff instead of
  // retrying at once (the pending connection keeps the socket readable: a busy loop), and log
  // once per interval with a count.
  void on_accept_error(WorkerListener* listener, int err);
  // Takes ownership of |client|, the in-memory end of an HTTP/2 stream, as an internal
  // HTTP/1.1 ClientConnection of |listener| for the client at |peer|. Worker thread only.
  void adopt_internal(WorkerListener* listener, Stream* client, const sockaddr* peer);
  // Takes over |client| (a connection that turned out to speak HTTP/2) as an H2Connection.
  // Worker thread only.
  void adopt_h2(WorkerListener* listener, Stream* client,
                std::shared_ptr<const TlsContexts> tls_pin, ConnectionSlot slot);
  // Unlinks and deletes |conn|; called only by the H2Connection's own callbacks (rule 5).
  void destroy_h2(H2Connection* conn);
  // Unlinks and deletes |conn|. The only place a ClientConnection is destroyed; called by the
  // connection's own libevent callbacks at their very end (STYLE rule 5).
  void destroy(ClientConnection* conn);

 private:
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
  std::vector<std::function<void()>> inbox_;  // guarded by inbox_mu_
  std::vector<std::unique_ptr<WorkerPool>> pools_;
  std::unique_ptr<Forwarder> forwarder_;
  // Copies the in-flight counts and the pinned change_seq for inflight_copy(). Worker thread.
  void publish_inflight();
  std::unordered_map<std::string, int64_t> inflight_;  // worker thread only; never erased
  std::vector<int64_t*> inflight_by_index_;  // into inflight_, for inflight_index_generation_
  uint64_t inflight_index_generation_ = 0;
  mutable std::mutex inflight_mu_;
  std::vector<std::pair<std::string, uint64_t>> inflight_published_;  // guarded by inflight_mu_
  uint64_t applied_seq_published_ = 0;                                // guarded by inflight_mu_
  std::vector<std::unique_ptr<WorkerListener>> listeners_;
  ClientConnection* conns_ = nullptr;  // intrusive list head
  size_t num_conns_ = 0;
  H2Connection* h2_conns_ = nullptr;  // intrusive list head
  size_t num_h2_ = 0;
  bool draining_ = false;
  WorkerStats stats_;
  AccessLogBuffer access_log_;
  std::vector<http1::Header> headers_;
  std::string head_scratch_;
  http1::Limits parse_limits_;
  TlsView tls_view_;
  ConnectionLimits* connection_limits_;
  size_t paused_listeners_ = 0;
  std::thread thread_;
};

}  // namespace sy::proxy
