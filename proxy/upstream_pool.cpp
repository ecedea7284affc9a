#include "proxy/upstream_pool.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>
#include <ctime>

#include "proxy/stream.h"
#include <event2/buffer.h>
#include <event2/bufferevent.h>  // BEV_EVENT_* flags
#include <event2/event.h>

#include "proxy/stats.h"
#include "proxy/sticky.h"
#include "proxy/upstream_http2.h"

namespace sy::proxy {

uint64_t monotonic_us() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

uint64_t monotonic_ms() { return monotonic_us() / 1000u; }

namespace {

Result<Unit> resolve(const MemberSpec& m, MemberState* out) {
  std::memset(&out->addr, 0, sizeof(out->addr));
  out->label = m.address;
  out->host_header = m.address;
  if (!m.unix_path.empty()) {  // conf::parse_member_address checked it is absolute
    auto* un = reinterpret_cast<sockaddr_un*>(&out->addr);
    if (m.unix_path.size() >= sizeof(un->sun_path)) {
      return make_error(Errc::Config, "member address " + m.address + ": path too long");
    }
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, m.unix_path.data(), m.unix_path.size());
    out->addr_len =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + m.unix_path.size() + 1);
    out->host_header = "localhost";  // "unix:/path" is no valid Host
    return ok_result();
  }
  std::string host = m.host == "localhost" ? "127.0.0.1" : m.host;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out->addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out->addr);
  if (m.port <= 0 || m.port > 65535) {
    return make_error(Errc::Config, "member address " + m.address + " has no port 1..65535");
  }
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(m.port));
    out->addr_len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(m.port));
    out->addr_len = sizeof(sockaddr_in6);
  } else {
    return make_error(Errc::Config, "member address " + m.address + " is not an IP literal");
  }
  return ok_result();
}

// Idle connection callbacks: anything happening on an idle connection (data, EOF, error)
// means it cannot be reused; free it.
void idle_event_cb(Stream* s, short /*what*/, void* arg);

void idle_read_cb(Stream* s, void* arg) { idle_event_cb(s, BEV_EVENT_READING, arg); }

void idle_event_cb(Stream* s, short /*what*/, void* arg) {
  auto* m = static_cast<WorkerMember*>(arg);
  for (size_t i = 0; i < m->idle.size(); ++i) {
    if (m->idle[i] == s) {
      m->idle.erase(m->idle.begin() + static_cast<long>(i));
      m->idle_owner.erase(m->idle_owner.begin() + static_cast<long>(i));
      break;
    }
  }
  delete s;
}

}  // namespace

const char* to_string(MemberOrigin o) {
  switch (o) {
  case MemberOrigin::Yaml: return "yaml";
  case MemberOrigin::Db: return "db";
  case MemberOrigin::Dns: return "dns";
  }
  return "?";
}

bool is_host_name(const std::string& host) {
  in_addr v4;
  in6_addr v6;
  return !host.empty() && host != "localhost" && inet_pton(AF_INET, host.c_str(), &v4) != 1 &&
         inet_pton(AF_INET6, host.c_str(), &v6) != 1;
}

std::vector<MemberSpec> yaml_specs(const conf::Pool& pool) {
  std::vector<MemberSpec> out;
  for (const auto& m : pool.members) {
    MemberSpec s;
    s.address = m.address;
    s.host = m.host;
    s.port = m.port;
    s.unix_path = m.unix_path;
    s.weight = m.weight;
    s.route = m.route;
    out.push_back(std::move(s));
  }
  return out;
}

std::shared_ptr<const MemberSet> PoolState::members() const {
  std::lock_guard<std::mutex> lock(mu_);
  return set_;
}

Result<std::shared_ptr<MemberState>> PoolState::make_member(const MemberSpec& spec) const {
  auto ms = std::make_shared<MemberState>();
  ms->address = spec.address;
  ms->origin.store(spec.origin, std::memory_order_relaxed);
  ms->spec_tls_name = spec.tls_name;
  ms->route = spec.route;
  ms->name = spec.name;
  ms->yaml_weight.store(spec.weight, std::memory_order_relaxed);
  auto r = resolve(spec, ms.get());
  if (!r) {
    return make_error(Errc::Config, "pool " + conf->name + ": " + r.error().message);
  }
  if (conf->tls.enabled) {
    ms->tls_name = !spec.tls_name.empty()           ? spec.tls_name
                   : !conf->tls.server_name.empty() ? conf->tls.server_name
                   : !spec.name_host.empty()        ? spec.name_host
                                                    : spec.host;
  }
  if (conf->sticky.mode != conf::StickyMode::Off) {
    ms->sticky_id = sticky_member_id(*conf, spec.route, spec.address);
  }
  if (conf->sticky.mode == conf::StickyMode::Insert) {
    ms->set_cookie[0] = sticky_set_cookie(conf->sticky, ms->sticky_id, false);
    ms->set_cookie[1] = sticky_set_cookie(conf->sticky, ms->sticky_id, true);
  }
  ms->slots = worker_slots;
  ms->inflight = std::make_unique<std::atomic<int64_t>[]>(worker_slots);
  ms->tunnels = std::make_unique<std::atomic<int64_t>[]>(worker_slots);
  return ms;
}

void PoolState::publish(std::shared_ptr<const MemberSet> set) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& m : *set_) {
    bool kept = false;
    for (const auto& n : *set) {
      kept = kept || n == m;
    }
    if (!kept) {
      retired_.push_back(m);
    }
  }
  set_ = std::move(set);
}

size_t PoolState::collect() {
  std::vector<std::shared_ptr<MemberState>> free_now;  // freed outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < retired_.size();) {
    if (retired_[i].use_count() == 1) {
      free_now.push_back(std::move(retired_[i]));
      retired_.erase(retired_.begin() + static_cast<long>(i));
    } else {
      ++i;
    }
  }
  return retired_.size();
}

Result<std::unique_ptr<PoolState>> PoolRegistry::make_state(const conf::Pool& p) const {
  auto ps = std::make_unique<PoolState>();
  ps->conf = &p;
  ps->worker_slots = worker_slots_;
  if (p.tls.enabled) {
    auto tls = UpstreamTls::build(p, base_dir_);
    if (!tls) {
      return tls.error();
    }
    ps->tls = std::move(*tls);
  }
  return ps;
}

Result<std::unique_ptr<PoolRegistry>> PoolRegistry::build(const conf::Config& config, int workers) {
  auto reg = std::unique_ptr<PoolRegistry>(new PoolRegistry());
  reg->pools_.reserve(kMaxPools);
  reg->worker_slots_ = workers > 0 ? static_cast<size_t>(workers) : 1;
  size_t slash = config.file.rfind('/');
  if (slash != std::string::npos) {
    reg->base_dir_ = config.file.substr(0, slash);
  }
  if (config.pools.size() > kMaxPools) {
    return make_error(Errc::Config, "pools: " + std::to_string(config.pools.size()) +
                                        " pools; at most " + std::to_string(kMaxPools));
  }
  for (const auto& p : config.pools) {
    auto made = reg->make_state(p);
    if (!made) {
      return made.error();
    }
    std::unique_ptr<PoolState> ps = std::move(*made);
    ps->index = reg->pools_.size();
    auto set = std::make_shared<MemberSet>();
    int slot = -1;
    for (const MemberSpec& spec : yaml_specs(p)) {
      ++slot;
      if (is_host_name(spec.host)) {
        continue;  // resolved by app/resolver.h before the workers start
      }
      auto ms = ps->make_member(spec);
      if (!ms) {
        return ms.error();
      }
      (*ms)->metrics_slot = slot;
      set->push_back(std::move(*ms));
    }
    ps->publish(std::move(set));
    reg->pools_.push_back(std::move(ps));
  }
  reg->count_.store(reg->pools_.size(), std::memory_order_release);
  return reg;
}

Result<PoolState*> PoolRegistry::add(const conf::Pool& pool, MemberOrigin origin) {
  if (pools_.size() >= kMaxPools) {
    return make_error(Errc::InvalidArgument,
                      "pool " + pool.name + ": all " + std::to_string(kMaxPools) +
                          " pool slots of this instance are used (removed pools keep theirs "
                          "until a restart)");
  }
  auto owned = std::make_unique<const conf::Pool>(pool);
  auto made = make_state(*owned);
  if (!made) {
    return made.error();
  }
  std::unique_ptr<PoolState> ps = std::move(*made);
  ps->owned = std::move(owned);
  ps->origin = origin;
  ps->index = pools_.size();
  PoolState* out = ps.get();
  pools_.push_back(std::move(ps));  // within the reserved capacity: never moves the others
  count_.store(pools_.size(), std::memory_order_release);
  return out;
}

PoolState* PoolRegistry::find(const std::string& name) const {
  for (const auto& p : pools()) {
    if (!p->removed.load(std::memory_order_acquire) && p->conf->name == name) {
      return p.get();
    }
  }
  return nullptr;
}

WorkerPool::WorkerPool(const PoolState* shared, event_base* base, WorkerStats* stats, size_t slot)
    : shared_(shared), base_(base), stats_(stats), slot_(slot < shared->worker_slots ? slot : 0) {
  install(shared->members());  // unchecked: built on the main thread, used on the worker's
}

WorkerPool::~WorkerPool() {
  close_idle();
  for (auto* list : {&members_, &retired_}) {
    for (auto& m : *list) {
      free_member(*m);
    }
  }
}

void WorkerPool::free_member(WorkerMember& m) {
  free_tls_session(&m.tls_session);
  for (H2UpstreamConnection* c : m.h2) {
    delete c;  // the worker's client connections (and their streams) are gone by now
  }
  m.h2.clear();
}

void WorkerPool::apply(std::shared_ptr<const MemberSet> set) {
  SY_ASSERT_IN(thread_);
  install(std::move(set));
}

void WorkerPool::install(std::shared_ptr<const MemberSet> set) {
  std::vector<std::unique_ptr<WorkerMember>> next;
  next.reserve(set->size());
  for (const auto& ms : *set) {
    std::unique_ptr<WorkerMember> wm;
    for (auto& old : members_) {
      if (old != nullptr && old->shared == ms.get()) {
        wm = std::move(old);
        break;
      }
    }
    if (wm == nullptr) {
      wm = std::make_unique<WorkerMember>();
      wm->shared = ms.get();
      wm->hold = ms;
    }
    wm->index = next.size();
    next.push_back(std::move(wm));
  }
  for (auto& old : members_) {
    if (old != nullptr) {  // gone: no new request; its exchanges in flight finish
      old->retired = true;
      close_member_idle(*old);
      retired_.push_back(std::move(old));
    }
  }
  members_ = std::move(next);
  set_ = std::move(set);
  lc_cursor_ = 0;
}

size_t WorkerPool::sweep_retired() {
  SY_ASSERT_IN(thread_);
  for (size_t i = 0; i < retired_.size();) {
    WorkerMember& m = *retired_[i];
    close_member_idle(m);  // an h2 connection whose last stream ended since
    if (m.pins == 0 && m.idle.empty() && m.h2.empty()) {
      free_member(m);
      retired_.erase(retired_.begin() + static_cast<long>(i));
    } else {
      ++i;
    }
  }
  return retired_.size();
}

H2UpstreamConnection* WorkerPool::h2_connection(WorkerMember* m, const ExchangeEnv& env,
                                                bool* created, std::string* why) {
  SY_ASSERT_IN(thread_);
  *created = false;
  for (H2UpstreamConnection* c : m->h2) {
    if (c->has_room()) {
      return c;
    }
  }
  auto* c = new H2UpstreamConnection(env, this, m);
  if (!c->connect(why)) {
    delete c;
    return nullptr;
  }
  m->h2.push_back(c);
  *created = true;
  return c;
}

void WorkerPool::destroy_h2(H2UpstreamConnection* c) {
  std::vector<H2UpstreamConnection*>& list = c->member()->h2;
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i] == c) {
      list.erase(list.begin() + static_cast<long>(i));
      break;
    }
  }
  delete c;
}

SSL* WorkerPool::new_tls(WorkerMember* m) const {
  if (shared_->tls == nullptr) {
    return nullptr;
  }
  return shared_->tls->new_ssl(m->shared->tls_name, &m->tls_session);
}

bool WorkerPool::usable(const WorkerMember& m, bool respect_health, uint64_t now_ms) const {
  if (!m.shared->in_service()) {
    return false;  // drain / maintenance: never, not even in panic mode
  }
  if (!respect_health) {
    return true;
  }
  if (!m.shared->healthy.load(std::memory_order_relaxed)) {
    return false;
  }
  return m.ejected_until_ms == 0 || m.ejected_until_ms <= now_ms;
}

WorkerMember* WorkerPool::pick_round_robin(uint64_t exclude_mask, bool respect_health,
                                           uint64_t now_ms) {
  WorkerMember* best = nullptr;
  int total = 0;
  for (size_t i = 0; i < members_.size(); ++i) {
    WorkerMember& m = *members_[i];
    if ((i < 64 && (exclude_mask >> i) & 1u) || !usable(m, respect_health, now_ms)) {
      continue;
    }
    int weight = m.shared->effective_weight();
    m.current_weight += weight;
    total += weight;
    if (best == nullptr || m.current_weight > best->current_weight) {
      best = &m;
    }
  }
  if (best != nullptr) {
    best->current_weight -= total;
  }
  return best;
}

WorkerMember* WorkerPool::pick_least_conn(uint64_t exclude_mask, bool respect_health,
                                          uint64_t now_ms) {
  WorkerMember* best = nullptr;
  size_t n = members_.size();
  for (size_t k = 0; k < n; ++k) {
    size_t i = (lc_cursor_ + k) % n;
    WorkerMember& m = *members_[i];
    if ((i < 64 && (exclude_mask >> i) & 1u) || !usable(m, respect_health, now_ms)) {
      continue;
    }
    // Compare active/weight without division: a.active * b.weight < b.active * a.weight.
    if (best == nullptr || static_cast<int64_t>(m.active) * best->shared->effective_weight() <
                               static_cast<int64_t>(best->active) * m.shared->effective_weight()) {
      best = &m;
    }
  }
  lc_cursor_ = (lc_cursor_ + 1) % (n == 0 ? 1 : n);
  return best;
}

WorkerMember* WorkerPool::pick(uint64_t exclude_mask, uint64_t now_ms, bool* panic) {
  SY_ASSERT_IN(thread_);
  bool lc = shared_->conf->balance == conf::Balance::LeastConn;
  *panic = false;
  WorkerMember* m = lc ? pick_least_conn(exclude_mask, true, now_ms)
                       : pick_round_robin(exclude_mask, true, now_ms);
  if (m == nullptr) {
    m = lc ? pick_least_conn(exclude_mask, false, now_ms)
           : pick_round_robin(exclude_mask, false, now_ms);
    *panic = m != nullptr;
  }
  return m;
}

WorkerPool::StickyTarget WorkerPool::sticky_member(const HttpRequest& req) const {
  const conf::Sticky& sticky = shared_->conf->sticky;
  if (sticky.mode == conf::StickyMode::Off) {
    return {};
  }
  std::string_view id = find_cookie(req.fields, req.num_fields, sticky.cookie);
  if (sticky.mode == conf::StickyMode::Route) {
    id = route_of(id);
  }
  if (id.empty()) {
    return {};
  }
  for (const auto& m : members_) {
    if (m->shared->sticky_id == id) {
      return {m.get(), false};
    }
  }
  return {nullptr, true};
}

WorkerMember* WorkerPool::sticky_pick(WorkerMember* m, uint64_t exclude_mask, uint64_t now_ms) {
  SY_ASSERT_IN(thread_);
  if (m == nullptr || m->retired || (m->index < 64 && (exclude_mask >> m->index) & 1u) ||
      !usable(*m, true, now_ms)) {
    return nullptr;
  }
  return m;
}

Stream* WorkerPool::take_idle(WorkerMember* m, uint64_t owner) {
  SY_ASSERT_IN(thread_);
  // Most recently parked first; without send_proxy every owner is 0 and this is the last one.
  for (size_t i = m->idle.size(); i-- > 0;) {
    if (m->idle_owner[i] != owner) {
      continue;
    }
    Stream* s = m->idle[i];
    m->idle.erase(m->idle.begin() + static_cast<long>(i));
    m->idle_owner.erase(m->idle_owner.begin() + static_cast<long>(i));
    s->set_callbacks(nullptr, nullptr, nullptr, nullptr);
    return s;
  }
  return nullptr;
}

void WorkerPool::park(WorkerMember* m, Stream* s, uint64_t owner) {
  SY_ASSERT_IN(thread_);
  const int max = shared_->conf->max_idle_connections;
  if (m->retired) {
    delete s;
    return;
  }
  if (static_cast<int>(m->idle.size()) >= max) {
    if (owner == 0 || max == 0) {
      delete s;
      return;
    }
    // Connections of clients that went away would fill the list for good: the oldest goes.
    delete m->idle.front();
    m->idle.erase(m->idle.begin());
    m->idle_owner.erase(m->idle_owner.begin());
  }
  s->set_callbacks(idle_read_cb, nullptr, idle_event_cb, m);
  s->set_timeouts(nullptr, nullptr);
  s->enable(EV_READ);
  m->idle.push_back(s);
  m->idle_owner.push_back(owner);
}

void WorkerPool::close_member_idle(WorkerMember& m) {
  for (Stream* s : m.idle) {
    delete s;
  }
  m.idle.clear();
  m.idle_owner.clear();
  std::vector<H2UpstreamConnection*> h2 = m.h2;  // closing one unlinks it
  for (H2UpstreamConnection* c : h2) {
    c->close_if_idle();
  }
}

void WorkerPool::close_idle() {
  for (auto* list : {&members_, &retired_}) {
    for (auto& m : *list) {
      close_member_idle(*m);
    }
  }
}

void WorkerPool::record_success(WorkerMember* m) { m->consecutive_failures = 0; }

void WorkerPool::record_failure(WorkerMember* m, uint64_t now_ms) {
  const auto& pe = shared_->conf->passive_ejection;
  if (pe.consecutive_failures <= 0) {
    return;
  }
  if (++m->consecutive_failures >= pe.consecutive_failures) {
    m->consecutive_failures = 0;
    m->ejected_until_ms = now_ms + static_cast<uint64_t>(pe.eject_for.count());
    stats_->inc(Stat::PassiveEjections);
  }
}

}  // namespace sy::proxy
