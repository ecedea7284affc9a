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

Result<Unit> resolve(const conf::Member& m, MemberState* out) {
  std::memset(&out->addr, 0, sizeof(out->addr));
  out->label = m.address;
  out->host_header = m.address;
  if (!m.unix_path.empty()) {  // conf checked it is absolute and fits sun_path
    auto* un = reinterpret_cast<sockaddr_un*>(&out->addr);
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, m.unix_path.data(), m.unix_path.size());
    out->addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + m.unix_path.size() + 1);
    out->host_header = "localhost";  // "unix:/path" is no valid Host
    return ok_result();
  }
  std::string host = m.host == "localhost" ? "127.0.0.1" : m.host;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out->addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out->addr);
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

Result<std::unique_ptr<PoolRegistry>> PoolRegistry::build(const conf::Config& config) {
  auto reg = std::unique_ptr<PoolRegistry>(new PoolRegistry());
  std::string base_dir;
  size_t slash = config.file.rfind('/');
  if (slash != std::string::npos) {
    base_dir = config.file.substr(0, slash);
  }
  for (const auto& p : config.pools) {
    auto ps = std::make_unique<PoolState>();
    ps->conf = &p;
    if (p.tls.enabled) {
      auto tls = UpstreamTls::build(p, base_dir);
      if (!tls) {
        return tls.error();
      }
      ps->tls = std::move(*tls);
    }
    for (const auto& m : p.members) {
      auto ms = std::make_unique<MemberState>();
      ms->conf = &m;
      ms->yaml_weight.store(m.weight, std::memory_order_relaxed);
      auto r = resolve(m, ms.get());
      if (!r) {
        return r.error();
      }
      if (p.tls.enabled) {
        ms->tls_name = p.tls.server_name.empty() ? m.host : p.tls.server_name;
      }
      if (p.sticky.mode != conf::StickyMode::Off) {
        ms->sticky_id = sticky_member_id(p, m);
      }
      if (p.sticky.mode == conf::StickyMode::Insert) {
        ms->set_cookie[0] = sticky_set_cookie(p.sticky, ms->sticky_id, false);
        ms->set_cookie[1] = sticky_set_cookie(p.sticky, ms->sticky_id, true);
      }
      ps->members.push_back(std::move(ms));
    }
    reg->pools_.push_back(std::move(ps));
  }
  return reg;
}

const PoolState* PoolRegistry::find(const std::string& name) const {
  for (const auto& p : pools_) {
    if (p->conf->name == name) {
      return p.get();
    }
  }
  return nullptr;
}

WorkerPool::WorkerPool(const PoolState* shared, event_base* base, WorkerStats* stats)
    : shared_(shared), base_(base), stats_(stats) {
  members_.resize(shared->members.size());
  inflight_mirror_ = std::make_unique<std::atomic<int64_t>[]>(members_.size());
  tunnels_mirror_ = std::make_unique<std::atomic<int64_t>[]>(members_.size());
  for (size_t i = 0; i < members_.size(); ++i) {
    members_[i].shared = shared->members[i].get();
  }
}

WorkerPool::~WorkerPool() {
  close_idle();
  for (auto& m : members_) {
    free_tls_session(&m.tls_session);
    for (H2UpstreamConnection* c : m.h2) {
      delete c;  // the worker's client connections (and their streams) are gone by now
    }
    m.h2.clear();
  }
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
    WorkerMember& m = members_[i];
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
    WorkerMember& m = members_[i];
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

int WorkerPool::sticky_member(const HttpRequest& req) const {
  const conf::Sticky& sticky = shared_->conf->sticky;
  if (sticky.mode == conf::StickyMode::Off) {
    return -1;
  }
  std::string_view id = find_cookie(req.fields, req.num_fields, sticky.cookie);
  if (sticky.mode == conf::StickyMode::Route) {
    id = route_of(id);
  }
  if (id.empty()) {
    return -1;
  }
  for (size_t i = 0; i < members_.size(); ++i) {
    if (members_[i].shared->sticky_id == id) {
      return static_cast<int>(i);
    }
  }
  return kStickyUnknown;
}

WorkerMember* WorkerPool::sticky_pick(int index, uint64_t exclude_mask, uint64_t now_ms) {
  SY_ASSERT_IN(thread_);
  auto i = static_cast<size_t>(index);
  if (index < 0 || i >= members_.size() || (i < 64 && (exclude_mask >> i) & 1u) ||
      !usable(members_[i], true, now_ms)) {
    return nullptr;
  }
  return &members_[i];
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

void WorkerPool::close_idle() {
  for (auto& m : members_) {
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
