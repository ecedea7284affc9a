#include "proxy/health_check.h"

#include <cstring>
#include <string>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"

namespace sy::proxy {

struct HealthChecker::Target {
  const PoolState* pool = nullptr;
  MemberState* member = nullptr;
  const conf::HealthCheck* hc = nullptr;
  event_base* base = nullptr;
  event* interval_timer = nullptr;
  event* timeout_timer = nullptr;
  bufferevent* bev = nullptr;  // the check in flight, if any
  std::string request;
  SSL_SESSION* tls_session = nullptr;  // TLS pools: resumed by the next check
  int passes = 0;
  int failures = 0;
};

namespace {

using Target = HealthChecker::Target;

timeval to_timeval(conf::Millis ms) {
  timeval tv;
  tv.tv_sec = ms.count() / 1000;
  tv.tv_usec = static_cast<long>((ms.count() % 1000) * 1000);
  return tv;
}

void finish_check(Target* t, bool pass, const std::string& why) {
  if (t->bev != nullptr) {
    bufferevent_free(t->bev);  // BEV_OPT_CLOSE_ON_FREE: frees the SSL too
    t->bev = nullptr;
  }
  evtimer_del(t->timeout_timer);
  bool up = t->member->healthy.load(std::memory_order_relaxed);
  if (pass) {
    t->failures = 0;
    if (!up && ++t->passes >= t->hc->rise) {
      t->member->healthy.store(true, std::memory_order_relaxed);
      SY_LOG(Info, "health: pool %s member %s is UP", t->pool->conf->name.c_str(),
             t->member->label.c_str());
    }
  } else {
    t->passes = 0;
    if (up && ++t->failures >= t->hc->fall) {
      t->member->healthy.store(false, std::memory_order_relaxed);
      SY_LOG(Warn, "health: pool %s member %s is DOWN (%s)", t->pool->conf->name.c_str(),
             t->member->label.c_str(), why.c_str());
    }
  }
  timeval tv = to_timeval(t->hc->interval);
  evtimer_add(t->interval_timer, &tv);
}

// Looks for a complete status line; returns 1 pass, 0 fail, -1 need more.
int judge_status_line(evbuffer* in) {
  evbuffer_ptr eol = evbuffer_search_eol(in, nullptr, nullptr, EVBUFFER_EOL_CRLF_STRICT);
  if (eol.pos < 0) {
    return evbuffer_get_length(in) > 1024 ? 0 : -1;
  }
  const char* line = reinterpret_cast<const char*>(evbuffer_pullup(in, eol.pos));
  if (eol.pos < 12 || std::memcmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ') {
    return 0;
  }
  char cls = line[9];
  return (cls == '2' || cls == '3') ? 1 : 0;
}

void check_read_cb(bufferevent* bev, void* arg) {
  auto* t = static_cast<Target*>(arg);
  int verdict = judge_status_line(bufferevent_get_input(bev));
  if (verdict >= 0) {
    finish_check(t, verdict == 1, "bad status");
  }
}

// A TLS member whose handshake did not complete (a refused certificate, a member that does
// not speak TLS, a close during the handshake): finishes the check as failed with the reason
// and returns true. False for a cleartext member or an established TLS stream.
bool tls_failed(Target* t, bufferevent* bev) {
  if (t->pool->tls == nullptr) {
    return false;
  }
  SSL* ssl = bufferevent_openssl_get_ssl(bev);
  unsigned long e = bufferevent_get_openssl_error(bev);
  // SSL_in_before: no ClientHello left yet, i.e. the TCP connect itself failed.
  if (ssl == nullptr || (e == 0 && (SSL_is_init_finished(ssl) || SSL_in_before(ssl)))) {
    return false;
  }
  int err = EVUTIL_SOCKET_ERROR();
  finish_check(t, false, describe_tls_client_failure(ssl, e, e == 0 ? err : 0));
  return true;
}

void check_event_cb(bufferevent* bev, short what, void* arg) {
  auto* t = static_cast<Target*>(arg);
  if (what & BEV_EVENT_CONNECTED) {
    bufferevent_write(bev, t->request.data(), t->request.size());
    return;
  }
  if (tls_failed(t, bev)) {
    return;
  }
  if (what & BEV_EVENT_EOF) {
    int verdict = judge_status_line(bufferevent_get_input(bev));
    finish_check(t, verdict == 1, "closed without a good status line");
    return;
  }
  finish_check(t, false, (what & BEV_EVENT_TIMEOUT) ? "timeout" : "connect/read error");
}

void timeout_cb(evutil_socket_t, short, void* arg) {
  finish_check(static_cast<Target*>(arg), false, "timeout");
}

void interval_cb(evutil_socket_t, short, void* arg) {
  auto* t = static_cast<Target*>(arg);
  if (t->pool->tls != nullptr) {
    // The same client context, name check and session reuse as the workers' connections.
    SSL* ssl = t->pool->tls->new_ssl(t->member->tls_name, &t->tls_session);
    if (ssl == nullptr) {
      finish_check(t, false, "cannot create a TLS session");
      return;
    }
    t->bev = bufferevent_openssl_socket_new(t->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (t->bev == nullptr) {
      SSL_free(ssl);
      finish_check(t, false, "cannot create a TLS session");
      return;
    }
    // The check asks for Connection: close; a member may close without close_notify.
    bufferevent_openssl_set_allow_dirty_shutdown(t->bev, 1);
  } else {
    t->bev = bufferevent_socket_new(t->base, -1, BEV_OPT_CLOSE_ON_FREE);
  }
  bufferevent_setcb(t->bev, check_read_cb, nullptr, check_event_cb, t);
  bufferevent_enable(t->bev, EV_READ | EV_WRITE);
  timeval tv = to_timeval(t->hc->timeout);
  evtimer_add(t->timeout_timer, &tv);
  if (bufferevent_socket_connect(t->bev, reinterpret_cast<sockaddr*>(&t->member->addr),
                                 static_cast<int>(t->member->addr_len)) != 0) {
    finish_check(t, false, "connect failed");
  }
}

void stop_cb(evutil_socket_t, short, void* arg) {
  event_base_loopexit(static_cast<event_base*>(arg), nullptr);
}

}  // namespace

HealthChecker::HealthChecker(PoolRegistry* registry) : registry_(registry) {}

HealthChecker::~HealthChecker() {
  stop();
  for (auto& t : targets_) {
    if (t->bev != nullptr) {
      bufferevent_free(t->bev);
    }
    free_tls_session(&t->tls_session);
    if (t->interval_timer != nullptr) {
      event_free(t->interval_timer);
    }
    if (t->timeout_timer != nullptr) {
      event_free(t->timeout_timer);
    }
  }
  targets_.clear();
  if (stop_event_ != nullptr) {
    event_free(stop_event_);
  }
  if (base_ != nullptr) {
    event_base_free(base_);
  }
}

void HealthChecker::start() {
  base_ = event_base_new();
  for (const auto& pool : registry_->pools()) {
    const conf::HealthCheck& hc = pool->conf->health_check;
    if (!hc.enabled) {
      continue;
    }
    for (const auto& m : pool->members) {
      auto t = std::make_unique<Target>();
      t->pool = pool.get();
      t->member = m.get();
      t->hc = &hc;
      t->base = base_;
      std::string host = hc.host.empty() ? m->label : hc.host;
      t->request = "GET " + hc.path + " HTTP/1.1\r\nHost: " + host +
                   "\r\nUser-Agent: switchyard-health-check\r\nConnection: close\r\n\r\n";
      t->interval_timer = evtimer_new(base_, interval_cb, t.get());
      t->timeout_timer = evtimer_new(base_, timeout_cb, t.get());
      timeval now{0, 0};
      evtimer_add(t->interval_timer, &now);
      targets_.push_back(std::move(t));
    }
  }
  if (targets_.empty()) {
    return;
  }
  stop_event_ = event_new(base_, -1, 0, stop_cb, base_);
  thread_ = std::thread([this] { event_base_dispatch(base_); });
}

void HealthChecker::stop() {
  if (thread_.joinable()) {
    event_active(stop_event_, EV_READ, 0);
    thread_.join();
  }
}

}  // namespace sy::proxy
