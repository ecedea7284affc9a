// The Worker's life, its requests, answers and timers (see load_worker.h).
#include "bench/load_worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "admin/protocol.h"
#include "bench/answer.h"

namespace sy::bench {

std::string tls_error(int ssl_error) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
  }
  return ssl_error == SSL_ERROR_SYSCALL ? std::string(std::strerror(errno))
                                        : "SSL error " + std::to_string(ssl_error);
}

bool parse_url(std::string_view text, Url* out) {
  std::string_view rest;
  if (text.rfind("http://", 0) == 0) {
    out->tls = false;
    rest = text.substr(7);
  } else if (text.rfind("https://", 0) == 0) {
    out->tls = true;
    rest = text.substr(8);
  } else {
    return false;
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  out->target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos) {
    out->host = std::string(authority);
    out->port = out->tls ? 443 : 80;
  } else {
    out->host = std::string(authority.substr(0, colon));
    out->port = std::atoi(std::string(authority.substr(colon + 1)).c_str());
  }
  if (!out->host.empty() && out->host.front() == '[') {
    out->host = out->host.substr(1, out->host.size() - 2);
  }
  return !out->host.empty() && out->port > 0 && out->port < 65536;
}

Worker::Worker(const LoadOptions& o, const TenantSampler& sampler, SSL_CTX* ssl_ctx, int index,
               int conns, uint64_t start_ns, ThreadSeconds* stats)
    : o_(o), sampler_(sampler), ssl_ctx_(ssl_ctx), start_ns_(start_ns), stats_(stats),
      rng_(o.seed * 7919 + static_cast<uint64_t>(index)) {
  base_ = event_base_new();
  Url u;
  parse_url(o.url, &u);
  base_target_ = u.target;
  entry_ = target_for(u, conns);
  if (o.open_loop) {
    schedule_ = OpenLoopSchedule::make(start_ns, o.rate, o.threads, index);
  }
  max_conns_per_target_ = static_cast<size_t>(
      std::max(conns, (o.max_connections > 0 ? o.max_connections : 1024) / std::max(1, o.threads)));
  for (const auto& [name, value] : o.headers) {
    extra_h1_ += name + ": " + value + "\r\n";
    std::string lower = name;
    for (char& ch : lower) {
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    extra_h2_.emplace_back(std::move(lower), value);
  }
  tenant_header_lower_ = o.tenant_header;
  for (char& ch : tenant_header_lower_) {
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
}

Worker::~Worker() {
  for (auto& t : targets_) {
    for (auto& c : t->conns) {
      close_conn(c.get());
      if (c->ev_retry != nullptr)
        event_free(c->ev_retry);
    }
    for (Req* r : t->queue)
      delete r;
  }
  for (Req* r : free_)
    delete r;
  for (H2Stream* st : free_streams_)
    delete st;
  if (tick_ != nullptr)
    event_free(tick_);
  if (sweep_ != nullptr)
    event_free(sweep_);
  event_base_free(base_);
}

void Worker::run() {
  end_send_ns_ = start_ns_ + static_cast<uint64_t>(o_.duration_s * 1e9);
  for (auto& c : entry_->conns) {
    connect_conn(c.get());
  }
  tick_ = event_new(base_, -1, 0, &Worker::on_tick, this);
  sweep_ = event_new(base_, -1, EV_PERSIST, &Worker::on_sweep, this);
  timeval tv{0, 100000};
  event_add(sweep_, &tv);
  if (o_.open_loop) {
    arm_tick();
  }
  event_base_dispatch(base_);
}

Req* Worker::new_req(uint64_t intended) {
  Req* r;
  if (free_.empty()) {
    r = new Req;
  } else {
    r = free_.back();
    free_.pop_back();
  }
  r->intended_ns = intended;
  r->tenant = sampler_.sample(rng_);
  r->login = o_.tenant_in == TenantIn::Login && o_.login_every > 0 &&
             (seq_++ % static_cast<uint64_t>(o_.login_every)) == 0;
  r->redirects = 0;
  r->target = r->login ? o_.login_path : base_target_;
  r->tgt = entry_;
  sec(intended).sent++;
  stats_->sent.fetch_add(1, std::memory_order_relaxed);
  stats_->inflight.fetch_add(1, std::memory_order_relaxed);
  return r;
}

void Worker::release(Req* r) {
  stats_->inflight.fetch_sub(1, std::memory_order_relaxed);
  free_.push_back(r);
}

void Worker::dispatch(Req* r) {
  Target* t = r->tgt;
  for (auto& c : t->conns) {
    if (c->state == Conn::State::Ready && has_room(c.get())) {
      send_req(c.get(), r);
      flush(c.get());
      return;
    }
  }
  t->queue.push_back(r);
  size_t opening = 0;
  for (auto& c : t->conns) {  // a redirect target's connections open on first use
    if (c->state == Conn::State::Idle) {
      connect_conn(c.get());
      return;
    }
    opening += c->state != Conn::State::Ready;  // connecting, or waiting to reconnect
  }
  // Open loop: users do not wait for each other's connections. While requests queue, open
  // more connections, up to --max-connections (a held request keeps its connection busy).
  if (o_.open_loop && t->queue.size() > opening && t->conns.size() < max_conns_per_target_) {
    add_conn(t);
    connect_conn(t->conns.back().get());
  }
}

void Worker::add_conn(Target* t) {
  auto c = std::make_unique<Conn>();
  c->w = this;
  c->tgt = t;
  c->state = Conn::State::Idle;
  t->conns.push_back(std::move(c));
}

bool Worker::has_room(Conn* c) const {
  if (c->h2 != nullptr) {
    // After a GOAWAY (even the shutdown notice) nghttp2 starts no new stream on |c|.
    return c->h2_ready && c->h2_count < static_cast<size_t>(o_.open_loop ? 1000 : o_.streams) &&
           nghttp2_session_check_request_allowed(c->h2) != 0;
  }
  return c->h1_req == nullptr;
}

void Worker::fill(Conn* c) {
  Target* t = c->tgt;
  while (c->state == Conn::State::Ready && has_room(c)) {
    if (!t->queue.empty()) {
      Req* r = t->queue.front();
      t->queue.pop_front();
      send_req(c, r);
    } else if (!o_.open_loop && t == entry_ && sending()) {
      Req* r = new_req(now_ns());
      send_req(c, r);
    } else {
      break;
    }
  }
  flush(c);
}

void Worker::tenant_fields(Req* r, std::string* out) {
  char id[24];
  std::string_view idv(id,
                       static_cast<size_t>(std::to_chars(id, id + sizeof id, r->tenant).ptr - id));
  switch (o_.tenant_in) {
  case TenantIn::Header:
    *out += o_.tenant_header;
    *out += ": ";
    *out += idv;
    *out += "\r\n";
    break;
  case TenantIn::Cookie:
  case TenantIn::Login:
    if (!r->login) {
      *out += "Cookie: ";
      *out += o_.cookie_name;
      *out += '=';
      *out += idv;
      *out += "\r\n";
    }
    break;
  case TenantIn::Host: break;
  }
}

std::string Worker::login_body(Req* r) {
  return "name=user%40" + std::to_string(r->tenant) + "&password=secret";
}

std::string Worker::host_for(Req* r) {
  if (o_.tenant_in == TenantIn::Host) {
    return std::to_string(r->tenant) + o_.host_suffix;
  }
  return r->tgt->authority;
}

void Worker::send_req(Conn* c, Req* r) {
  if (c->h2 != nullptr) {
    send_h2(c, r);
    return;
  }
  c->h1_req = r;
  c->head_done = false;
  std::string& o = c->out;
  o += r->login ? "POST " : "GET ";
  o += r->target;
  o += " HTTP/1.1\r\nHost: ";
  o += host_for(r);
  o += "\r\n";
  tenant_fields(r, &o);
  o += extra_h1_;
  if (r->login) {
    std::string body = login_body(r);
    o += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ";
    o += std::to_string(body.size());
    o += "\r\n\r\n";
    o += body;
  } else {
    o += "\r\n";
  }
}

void Worker::finish(Req* r, int status, std::string_view body, const std::string& location) {
  uint64_t now = now_ns();
  if (o_.follow_redirects && r->redirects < kMaxRedirects && !location.empty() &&
      (status == 301 || status == 302 || status == 303 || status == 307 || status == 308)) {
    Url u;
    if (!location.empty() && location[0] == '/') {
      u = r->tgt->url;
      u.target = location;
    } else if (!parse_url(location, &u)) {
      u.host.clear();
    }
    if (!u.host.empty()) {
      sec(now).redirects++;
      r->redirects++;
      if (status == 301 || status == 302 || status == 303) {
        r->login = false;  // a browser turns these into GET
      }
      r->target = u.target;
      r->tgt = target_for(u, static_cast<int>(entry_->conns.size()));
      dispatch(r);
      return;
    }
  }
  SecondStats& s = sec(now);
  std::string code;
  if (status >= 300 || (!body.empty() && body.front() == '{')) {
    code = find_error_code(body);
  }
  bool failed = is_failure(status, code);
  if (status != 0) {
    s.latency.record(now > r->intended_ns ? now - r->intended_ns : 0);
  }
  s.status[static_cast<size_t>(status) < s.status.size() ? static_cast<size_t>(status) : 0]++;
  if (!code.empty()) {
    s.codes[code]++;
  }
  if (failed) {
    s.failed++;
    stats_->failed.fetch_add(1, std::memory_order_relaxed);
  } else {
    s.ok++;
    stats_->ok.fetch_add(1, std::memory_order_relaxed);
  }
  release(r);
}

void Worker::fail(Req* r, bool timeout) {
  SecondStats& s = sec(now_ns());
  if (timeout) {
    s.timeouts++;
  }
  finish(r, 0, {}, {});
}

void Worker::arm_tick() {
  uint64_t now = now_ns();
  uint64_t due = schedule_.due(next_);
  uint64_t wait = due > now ? due - now : 0;
  timeval tv{static_cast<time_t>(wait / 1000000000ull),
             static_cast<suseconds_t>((wait % 1000000000ull) / 1000)};
  event_add(tick_, &tv);
}

void Worker::tick() {
  uint64_t now = now_ns();
  uint64_t limit = std::min(now, end_send_ns_ - 1);
  uint64_t count = stopping_ ? next_ : schedule_.due_count(limit);
  while (next_ < count) {
    uint64_t due = schedule_.due(next_);
    SecondStats& sd = sec(due);
    sd.max_send_lag_ns = std::max(sd.max_send_lag_ns, now > due ? now - due : 0);
    dispatch(new_req(due));
    ++next_;
  }
  if (sending() && schedule_.due(next_) < end_send_ns_) {
    arm_tick();
  } else {
    maybe_stop();
  }
}

void Worker::sweep() {
  uint64_t now = now_ns();
  if (!o_.stop_file.empty() && !stopping_) {
    struct stat st;
    if (::stat(o_.stop_file.c_str(), &st) == 0) {
      stopping_ = true;
    }
  }
  auto timeout = static_cast<uint64_t>(o_.timeout_s * 1e9);
  for (auto& t : targets_) {
    while (!t->queue.empty() && now - t->queue.front()->intended_ns > timeout) {
      Req* r = t->queue.front();
      t->queue.pop_front();
      fail(r, true);
    }
    for (auto& c : t->conns) {
      bool late = c->h1_req != nullptr && now - c->h1_req->intended_ns > timeout;
      for (H2Stream* st = c->h2_open; st != nullptr; st = st->next) {
        late = late || now - st->req->intended_ns > timeout;
      }
      if (late) {
        fail_all(c.get(), /*timeout=*/true);
        close_conn(c.get());
        schedule_reconnect(c.get());
      }
    }
  }
  maybe_stop();
}

void Worker::maybe_stop() {
  if (sending()) {
    return;
  }
  if (stats_->inflight.load(std::memory_order_relaxed) == 0) {
    event_base_loopbreak(base_);
  }
}

void Worker::on_retry(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Conn*>(arg);
  c->w->connect_conn(c);
}

void Worker::on_read(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Conn*>(arg);
  c->w->readable(c);
}

void Worker::on_write(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Conn*>(arg);
  Worker* w = c->w;
  if (c->state == Conn::State::Connecting) {
    w->connected(c);
  } else if (c->state == Conn::State::Handshake) {
    w->handshake(c);
  } else {
    w->flush(c);
    if (c->state == Conn::State::Ready) {
      w->fill(c);
    }
  }
}

}  // namespace sy::bench
