#include "proxy/worker.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <stdexcept>
#include <string>

#include <event2/event.h>
#include <event2/listener.h>

#include "common/log.h"
#include "common/timeval.h"
#include "proxy/connection.h"
#include "proxy/forwarder.h"
#include "proxy/listener.h"
#include "proxy/stream.h"
#include "proxy/upstream_pool.h"

namespace sy::proxy {
namespace {

constexpr timeval kFlushInterval = {0, 100 * 1000};  // access-log hand-off

// The worker's intrusive list of client connections: O(1) link and unlink, no allocation.
template <class T>
void list_push_front(T*& head, T* n) {
  n->next_ = head;
  if (head != nullptr) {
    head->prev_ = n;
  }
  head = n;
}

template <class T>
void list_unlink(T*& head, T* n) {
  if (n->prev_ != nullptr) {
    n->prev_->next_ = n->next_;
  } else {
    head = n->next_;
  }
  if (n->next_ != nullptr) {
    n->next_->prev_ = n->prev_;
  }
}

constexpr uint64_t kMinAcceptBackoffMs = 20;
constexpr uint64_t kMaxAcceptBackoffMs = 1000;
constexpr uint64_t kAcceptLogIntervalMs = 10000;

void accept_cb(evconnlistener*, evutil_socket_t fd, sockaddr* peer, int peer_len, void* arg) {
  auto* l = static_cast<WorkerListener*>(arg);
  l->backoff_ms = kMinAcceptBackoffMs;  // accepting works: the next pause starts short again
  l->worker->adopt(l, fd, peer, peer_len);
  l->worker->after_accept(l);
}

void accept_error_cb(evconnlistener*, void* arg) {
  auto* l = static_cast<WorkerListener*>(arg);
  l->worker->on_accept_error(l, EVUTIL_SOCKET_ERROR());
}

}  // namespace

Worker::Worker(int id, const conf::Config& config, const PoolRegistry& registry,
               AccessLogWriter* log,
               const std::vector<std::pair<const conf::Listener*, int>>& listener_fds,
               const RoutingSetup* routing, const TlsStore* tls, ConnectionLimits* limits)
    : id_(id), config_(config), access_log_(log), tls_view_(tls), connection_limits_(limits) {
  // The base is touched only by this worker's thread (other threads reach it through the
  // eventfd inbox), so it needs no lock; the changelist folds an add and a delete of the same
  // fd within one loop iteration into one epoll_ctl (or none).
  event_config* cfg = event_config_new();
  event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
  event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
  base_ = event_base_new_with_config(cfg);
  event_config_free(cfg);
  if (base_ == nullptr) {
    throw std::runtime_error("worker: cannot create an event base");
  }
  inbox_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (inbox_fd_ < 0) {
    throw std::runtime_error(std::string("worker: eventfd: ") + std::strerror(errno));
  }
  inbox_event_ = event_new(base_, inbox_fd_, EV_READ | EV_PERSIST, inbox_cb, this);
  flush_timer_ = event_new(base_, -1, EV_PERSIST, flush_cb, this);
  drain_timer_ = evtimer_new(base_, drain_timeout_cb, this);
  pools_.reserve(kMaxPools);
  pool_ptrs_.reserve(kMaxPools);
  for (const auto& p : registry.pools()) {
    pools_.push_back(
        std::make_unique<WorkerPool>(p.get(), base_, &stats_, static_cast<size_t>(id)));
  }
  pool_count_.store(pools_.size(), std::memory_order_release);
  for (const auto& [lconf, fd] : listener_fds) {
    auto wl = std::make_unique<WorkerListener>();
    wl->worker = this;
    wl->conf = lconf;
    wl->index = static_cast<size_t>(lconf - config.listeners.data());
    wl->fd = fd;
    wl->resume_timer = evtimer_new(base_, resume_accept_cb, wl.get());
    wl->backoff_ms = kMinAcceptBackoffMs;
    for (size_t i = 0; i < registry.pools().size(); ++i) {
      if (registry.pools()[i]->conf->name == lconf->pool) {
        wl->pool = pools_[i].get();
        wl->pool_index = static_cast<int>(i);
      }
    }
    listeners_.push_back(std::move(wl));
  }
  if (routing != nullptr) {
    forwarder_ = std::make_unique<Forwarder>(routing, id_);
  }
  headers_.resize(static_cast<size_t>(config.limits.max_headers) + 1);
  head_scratch_.reserve(4096);
  parse_limits_.max_head_bytes = config.limits.max_header_bytes;
  parse_limits_.max_headers = static_cast<size_t>(config.limits.max_headers);
  parse_limits_.max_uri_bytes = config.limits.max_uri_bytes;
  for (auto& p : pools_) {
    pool_ptrs_.push_back(p.get());
  }
  env_.base = base_;
  env_.limits = &config_.limits;
  env_.parse_limits = &parse_limits_;
  env_.stats = &stats_;
  if (config.admin.http.enabled) {
    metrics_ = std::make_unique<WorkerMetrics>(config);
  }
  env_.metrics = metrics_.get();
  env_.access_log = &access_log_;
  env_.forwarder = forwarder_.get();
  env_.pools = pool_ptrs_.data();
  env_.num_pools = pool_ptrs_.size();
  env_.draining = &draining_;
  env_.header_scratch = headers_.data();
  env_.head_scratch = &head_scratch_;
}

Worker::~Worker() {
  while (conns_ != nullptr) {
    destroy(conns_);
  }
  for (auto& l : listeners_) {
    if (l->lev != nullptr) {
      evconnlistener_free(l->lev);  // closes the fd
    } else if (l->fd >= 0) {
      ::close(l->fd);
    }
    event_free(l->resume_timer);
  }
  pools_.clear();
  event_free(inbox_event_);
  ::close(inbox_fd_);
  event_free(flush_timer_);
  event_free(drain_timer_);
  event_base_free(base_);
}

void Worker::start() {
  thread_ = std::thread([this] { run(); });
}

void Worker::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Worker::run() {
  thread_owner_.bind();
  for (auto& l : listeners_) {
    // Backlog 0: the socket already listens with the configured backlog (listener.cpp); -1
    // made libevent call listen(fd, 128) again, silently capping every listener at 128.
    l->lev = evconnlistener_new(base_, accept_cb, l.get(), LEV_OPT_CLOSE_ON_FREE, 0, l->fd);
    evconnlistener_set_error_cb(l->lev, accept_error_cb);
  }
  event_add(flush_timer_, &kFlushInterval);
  event_add(inbox_event_, nullptr);
  event_base_dispatch(base_);
  access_log_.flush();
}

void Worker::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    inbox_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  ssize_t n = ::write(inbox_fd_, &one, sizeof one);  // wakes the worker's loop
  (void)n;  // EAGAIN only when the counter is saturated: the worker is awake anyway
}

void Worker::inbox_cb(int, short, void* arg) {
  auto* w = static_cast<Worker*>(arg);
  uint64_t count = 0;
  ssize_t n = ::read(w->inbox_fd_, &count, sizeof count);
  (void)n;
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(w->inbox_mu_);
    batch.swap(w->inbox_);
  }
  for (auto& fn : batch) {
    fn();
  }
}

void Worker::on_snapshot() {
  SY_ASSERT_IN(thread_owner_);
  if (forwarder_ == nullptr || !forwarder_->refresh()) {
    return;
  }
  std::vector<Exchange*> released;
  forwarder_->hold().release_all(&released);
  for (Exchange* x : released) {
    ConnectionScope scope(x->owner());
    x->on_release();
  }
  // At once, not at the next flush: the heartbeat reports this snapshot as applied, and the
  // sequencer's drain waits for that.
  publish_inflight();
}

void Worker::flush_cb(int, short, void* arg) {
  auto* w = static_cast<Worker*>(arg);
  w->access_log_.flush();
  for (auto& p : w->pools_) {
    p->sweep_retired();  // members removed at runtime, once their last exchange ended
  }
  if (w->forwarder_ != nullptr) {
    // Pins a snapshot published since the last look even when no request came: the one the
    // loader published before this worker started (its on_snapshot post is dropped then) or
    // one whose post is still queued. Else an idle or restarted instance reports applied seq
    // 0 and an upgrade's drain waits on it in vain (issue 17 item 4).
    w->on_snapshot();
    w->stats_.set(Stat::HeldNow, w->forwarder_->hold().size());
    w->publish_inflight();
  }
}

void Worker::apply_members(size_t pool, std::shared_ptr<const MemberSet> set) {
  if (pool < pools_.size()) {
    pools_[pool]->apply(std::move(set));
  }
}

void Worker::add_pools(const PoolRegistry& registry) {
  auto slots = registry.pools();
  for (size_t i = pools_.size(); i < slots.size(); ++i) {
    pools_.push_back(
        std::make_unique<WorkerPool>(slots[i].get(), base_, &stats_, static_cast<size_t>(id_)));
    pool_ptrs_.push_back(pools_.back().get());  // reserved: data() stays what env_ holds
  }
  // A name's live slot, or -1.
  auto live = [&](const std::string& name) {
    for (size_t i = 0; i < pools_.size(); ++i) {
      if (!slots[i]->removed.load(std::memory_order_acquire) && slots[i]->conf->name == name) {
        return static_cast<int>(i);
      }
    }
    return -1;
  };
  for (auto& l : listeners_) {  // a listener's pool is never removed, but may be replaced
    int i = live(l->conf->pool);
    if (i >= 0) {
      l->pool = pools_[static_cast<size_t>(i)].get();
      l->pool_index = i;
    }
  }
  // Routing still names a replaced pool's old slot until the loader republishes: send those
  // requests to the new one. In-flight exchanges keep the old WorkerPool (it drains).
  for (size_t j = 0; j < pools_.size(); ++j) {
    if (slots[j]->removed.load(std::memory_order_acquire)) {
      int i = live(slots[j]->conf->name);
      pool_ptrs_[j] = pools_[static_cast<size_t>(i >= 0 ? i : static_cast<int>(j))].get();
    }
  }
  env_.num_pools = pool_ptrs_.size();
  pool_count_.store(pools_.size(), std::memory_order_release);
}

void Worker::publish_inflight() {
  // The seq first, then the counts: both read on this thread, so every request decided with a
  // snapshot older than |seq| is still counted below.
  uint64_t seq = forwarder_->pinned_seq();
  std::vector<std::pair<std::string, uint64_t>> now;
  forwarder_->inflight_now(&now);
  std::lock_guard<std::mutex> lock(inflight_mu_);
  inflight_published_.swap(now);
  applied_seq_published_ = seq;
}

std::vector<std::pair<std::string, uint64_t>> Worker::inflight_copy(uint64_t* applied_seq) const {
  std::lock_guard<std::mutex> lock(inflight_mu_);
  if (applied_seq != nullptr) {
    *applied_seq = applied_seq_published_;
  }
  return inflight_published_;
}

void Worker::begin_drain() {
  post([this] { drain_now(); });
}

void Worker::drain_now() {
  if (draining_) {
    return;
  }
  draining_ = true;
  // Serve what the kernel already queued on our sockets, then stop listening: with
  // SO_REUSEPORT, closing a socket resets the connections still in its accept queue.
  for (auto& l : listeners_) {
    if (l->lev == nullptr) {
      continue;
    }
    for (int fd : accept_pending(l->fd)) {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len);
      adopt(l.get(), fd, reinterpret_cast<sockaddr*>(&ss), static_cast<int>(len));
    }
    evconnlistener_free(l->lev);
    l->lev = nullptr;
    l->fd = -1;
    evtimer_del(l->resume_timer);
    l->paused = false;
  }
  paused_listeners_ = 0;
  for (auto& p : pools_) {
    p->close_idle();
  }
  ClientConnection* c = conns_;
  while (c != nullptr) {
    ClientConnection* next = c->next_;
    ConnectionScope scope(c);  // frees an idle connection as the scope ends
    c->on_drain();
    c = next;
  }
  timeval tv = ms_to_tv(config_.limits.drain_timeout);
  evtimer_add(drain_timer_, &tv);
  maybe_exit();
}

void Worker::drain_timeout_cb(int, short, void* arg) {
  auto* w = static_cast<Worker*>(arg);
  if (w->num_conns_ > 0) {
    SY_LOG(Warn, "worker %d: drain timeout, closing %zu connection(s)", w->id_, w->num_conns_);
  }
  while (w->conns_ != nullptr) {
    w->conns_->on_kill();
    w->destroy(w->conns_);
  }
  w->maybe_exit();
}

void Worker::maybe_exit() {
  if (draining_ && num_conns_ == 0) {
    event_base_loopexit(base_, nullptr);
  }
}

void Worker::adopt(WorkerListener* listener, int fd, const sockaddr* peer, int /*peer_len*/) {
  SY_ASSERT_IN(thread_owner_);
  SSL* ssl = nullptr;
  std::shared_ptr<const TlsContexts> tls_pin;
  if (listener->conf->tls.enabled) {
    ssl = tls_view_.new_ssl(listener->conf, &tls_pin);
    if (ssl == nullptr) {
      SY_LOG(Error, "worker %d: listener %s: no TLS context; connection closed", id_,
             listener->conf->name.c_str());
      ::close(fd);
      return;
    }
  }
  auto* c = new ClientConnection(env_, this, listener,
                                 ConnectionSlot(connection_limits_, listener->index), fd, peer);
  if (ssl != nullptr) {
    c->use_tls(ssl, std::move(tls_pin));
  }
  link(c);
}

void Worker::adopt_stream(WorkerListener* listener, Stream* stream, const sockaddr* peer) {
  link(new ClientConnection(env_, this, listener, stream, peer));
}

void Worker::link(ClientConnection* c) {
  list_push_front(conns_, c);
  ++num_conns_;
  ConnectionScope scope(c);
  c->start();
  // Accepted during a drain (from the kernel's queue): it gets the chance to send its request,
  // bounded by the header timeout and the drain deadline, and closes after one response.
  if (draining_) {
    c->on_drain();
  }
}

void Worker::destroy(ClientConnection* c) {
  list_unlink(conns_, c);
  --num_conns_;
  delete c;
  resume_accepting();
  maybe_exit();
}

void Worker::after_accept(WorkerListener* l) {
  if (connection_limits_ == nullptr || l->paused || l->lev == nullptr ||
      connection_limits_->has_room(l->index)) {
    return;
  }
  ++l->unlogged_full;
  uint64_t now = monotonic_ms();
  if (l->last_log_ms == 0 || now - l->last_log_ms >= kAcceptLogIntervalMs) {
    int cap = connection_limits_->listener_cap(l->index);
    SY_LOG(Warn,
           "worker %d: listener %s: at the connection cap (%d open; max %d, listener max "
           "%d) %" PRIu64 " time(s) in the last %" PRIu64 " s: new connections wait in "
           "the backlog",
           id_, l->conf->name.c_str(), connection_limits_->total(), connection_limits_->max_total(),
           cap, l->unlogged_full, l->last_log_ms == 0 ? 0 : (now - l->last_log_ms) / 1000);
    l->last_log_ms = now;
    l->unlogged_full = 0;
  }
  pause_accepting(l);
}

void Worker::on_accept_error(WorkerListener* l, int err) {
  ++l->unlogged_errors;
  uint64_t now = monotonic_ms();
  if (l->last_log_ms == 0 || now - l->last_log_ms >= kAcceptLogIntervalMs) {
    SY_LOG(Warn,
           "worker %d: listener %s: accept failed %" PRIu64 " time(s) in the last %" PRIu64
           " s (last: %s); accepting pauses for up to %" PRIu64 " ms at a time",
           id_, l->conf->name.c_str(), l->unlogged_errors,
           l->last_log_ms == 0 ? 0 : (now - l->last_log_ms) / 1000,
           evutil_socket_error_to_string(err), kMaxAcceptBackoffMs);
    l->last_log_ms = now;
    l->unlogged_errors = 0;
  }
  pause_accepting(l);
}

void Worker::pause_accepting(WorkerListener* l) {
  if (l->lev == nullptr) {
    return;  // draining: the listener is gone
  }
  if (!l->paused) {
    evconnlistener_disable(l->lev);
    l->paused = true;
    ++paused_listeners_;
  }
  timeval tv = {static_cast<time_t>(l->backoff_ms / 1000),
                static_cast<suseconds_t>((l->backoff_ms % 1000) * 1000)};
  evtimer_add(l->resume_timer, &tv);
  l->backoff_ms = std::min(l->backoff_ms * 2, kMaxAcceptBackoffMs);
}

void Worker::resume_accept_cb(int, short, void* arg) {
  auto* l = static_cast<WorkerListener*>(arg);
  Worker* w = l->worker;
  if (!l->paused || l->lev == nullptr) {
    return;
  }
  if (w->connection_limits_ != nullptr && !w->connection_limits_->has_room(l->index)) {
    w->pause_accepting(l);  // still full: look again later
    return;
  }
  l->paused = false;
  --w->paused_listeners_;
  evconnlistener_enable(l->lev);  // a failing accept pauses it again, with a longer backoff
}

void Worker::resume_accepting() {
  if (paused_listeners_ == 0) {
    return;
  }
  for (auto& l : listeners_) {
    if (l->paused && l->lev != nullptr &&
        (connection_limits_ == nullptr || connection_limits_->has_room(l->index))) {
      evtimer_del(l->resume_timer);
      l->paused = false;
      --paused_listeners_;
      evconnlistener_enable(l->lev);
    }
  }
}

}  // namespace sy::proxy
