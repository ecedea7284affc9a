#include "proxy/health_check.h"

#include <cstring>
#include <string>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/timeval.h"
#include "proxy/proxy_protocol.h"

namespace sy::proxy {

struct HealthChecker::Target {
  const PoolState* pool = nullptr;
  MemberState* member = nullptr;
  std::shared_ptr<MemberState> hold;  // keeps |member| alive while it is checked
  const conf::HealthCheck* hc = nullptr;
  event_base* base = nullptr;
  event* interval_timer = nullptr;
  event* timeout_timer = nullptr;
  bufferevent* bev = nullptr;  // the check in flight, if any
  std::string request;
  std::string host;                    // Host / :authority of the check
  SSL_SESSION* tls_session = nullptr;  // TLS pools: resumed by the next check
  nghttp2_session* h2 = nullptr;       // protocol: h2 pools: the check's client session
  int h2_status = 0;                   // :status of the check's response; 0 = none yet
  int passes = 0;
  int failures = 0;
};

namespace {

using Target = HealthChecker::Target;

void finish_check(Target* t, bool pass, const std::string& why) {
  if (t->bev != nullptr) {
    bufferevent_free(t->bev);  // BEV_OPT_CLOSE_ON_FREE: frees the SSL too
    t->bev = nullptr;
  }
  if (t->h2 != nullptr) {
    nghttp2_session_del(t->h2);
    t->h2 = nullptr;
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
  timeval tv = ms_to_tv(t->hc->interval);
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

// --- HTTP/2 pools: the same GET as an HTTP/2 request (h2c prior knowledge, or h2 by ALPN) ---

int h2_on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                 const uint8_t* value, size_t valuelen, uint8_t, void* arg) {
  auto* t = static_cast<Target*>(arg);
  if (frame->hd.type == NGHTTP2_HEADERS && frame->hd.stream_id == 1 && namelen == 7 &&
      std::memcmp(name, ":status", 7) == 0 && valuelen == 3) {
    int status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
    if (status >= 200) {  // interim responses are not the verdict
      t->h2_status = status;
    }
  }
  return 0;
}

// Moves what the session has to send into the bufferevent; false on a session error.
bool h2_flush(Target* t) {
  for (;;) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(t->h2, &data);
    if (n < 0) {
      return false;
    }
    if (n == 0) {
      return true;
    }
    bufferevent_write(t->bev, data, static_cast<size_t>(n));
  }
}

// Connected (TLS done): the preface, SETTINGS and one GET on stream 1.
void h2_start(Target* t) {
  if (t->pool->tls != nullptr) {
    const unsigned char* proto = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(bufferevent_openssl_get_ssl(t->bev), &proto, &len);
    if (len != 2 || proto[0] != 'h' || proto[1] != '2') {
      finish_check(t, false, "the member did not agree to HTTP/2 (ALPN h2)");
      return;
    }
  }
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_header_callback(cbs, h2_on_header);
  int rv = nghttp2_session_client_new(&t->h2, cbs, t);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) {
    t->h2 = nullptr;
    finish_check(t, false, "cannot create an HTTP/2 session");
    return;
  }
  t->h2_status = 0;
  nghttp2_submit_settings(t->h2, NGHTTP2_FLAG_NONE, nullptr, 0);
  const char* scheme = t->pool->tls != nullptr ? "https" : "http";
  auto nv = [](const char* n, const std::string& v) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(n)),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), std::strlen(n),
                      v.size(), NGHTTP2_NV_FLAG_NONE};
  };
  static const std::string kGet = "GET";
  static const std::string kAgent = "switchyard-health-check";
  std::string scheme_s = scheme;
  nghttp2_nv head[] = {nv(":method", kGet), nv(":scheme", scheme_s), nv(":authority", t->host),
                       nv(":path", t->hc->path), nv("user-agent", kAgent)};
  if (nghttp2_submit_request(t->h2, nullptr, head, 5, nullptr, nullptr) < 0 || !h2_flush(t)) {
    finish_check(t, false, "cannot send the HTTP/2 check");
  }
}

// Feeds the response to the session; true when the check is decided (and finished).
bool h2_read(Target* t, evbuffer* in) {
  size_t len = evbuffer_get_length(in);
  const uint8_t* data = evbuffer_pullup(in, static_cast<ev_ssize_t>(len));
  ssize_t n = nghttp2_session_mem_recv(t->h2, data, len);
  evbuffer_drain(in, len);
  if (n < 0) {
    finish_check(t, false, std::string("HTTP/2 error: ") + nghttp2_strerror(static_cast<int>(n)));
    return true;
  }
  if (t->h2_status != 0) {
    int cls = t->h2_status / 100;
    finish_check(t, cls == 2 || cls == 3, "bad status");
    return true;
  }
  if (!h2_flush(t)) {  // SETTINGS ACK, PING ACK, ...
    finish_check(t, false, "HTTP/2 session error");
    return true;
  }
  return false;
}

void check_read_cb(bufferevent* bev, void* arg) {
  auto* t = static_cast<Target*>(arg);
  if (t->h2 != nullptr) {
    (void)h2_read(t, bufferevent_get_input(bev));
    return;
  }
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
    if (t->pool->conf->protocol == conf::PoolProtocol::Http2) {
      h2_start(t);
    } else {
      bufferevent_write(bev, t->request.data(), t->request.size());
    }
    return;
  }
  if (tls_failed(t, bev)) {
    return;
  }
  if ((what & BEV_EVENT_EOF) && t->h2 != nullptr) {
    if (!h2_read(t, bufferevent_get_input(bev))) {
      finish_check(t, false, "closed without a response");
    }
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
  timeval tv = ms_to_tv(t->hc->timeout);
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
    free_target(t.get());
  }
  targets_.clear();
  for (event* e : {stop_event_, sync_event_}) {
    if (e != nullptr) {
      event_free(e);
    }
  }
  if (base_ != nullptr) {
    event_base_free(base_);
  }
}

void HealthChecker::free_target(Target* t) {
  if (t->bev != nullptr) {
    bufferevent_free(t->bev);
  }
  if (t->h2 != nullptr) {
    nghttp2_session_del(t->h2);
  }
  free_tls_session(&t->tls_session);
  if (t->interval_timer != nullptr) {
    event_free(t->interval_timer);
  }
  if (t->timeout_timer != nullptr) {
    event_free(t->timeout_timer);
  }
}

void HealthChecker::sync_targets() {
  std::vector<std::unique_ptr<Target>> next;
  for (const auto& pool : registry_->pools()) {
    const conf::HealthCheck& hc = pool->conf->health_check;
    if (!hc.enabled) {
      continue;
    }
    for (const auto& m : *pool->members()) {
      std::unique_ptr<Target> t;
      for (auto& old : targets_) {
        if (old != nullptr && old->member == m.get()) {
          t = std::move(old);  // kept member: its check goes on, rise/fall counts too
          break;
        }
      }
      if (t == nullptr) {
        t = std::make_unique<Target>();
        t->pool = pool.get();
        t->member = m.get();
        t->hold = m;
        t->hc = &hc;
        t->base = base_;
        std::string host = hc.host.empty() ? m->host_header : hc.host;
        t->host = host;
        t->request = "GET " + hc.path + " HTTP/1.1\r\nHost: " + host +
                     "\r\nUser-Agent: switchyard-health-check\r\nConnection: close\r\n\r\n";
        if (pool->conf->send_proxy != conf::SendProxy::Off) {
          // A member that expects a PROXY header gets one naming no client (v1 UNKNOWN, v2
          // LOCAL: what the specification reserves for a balancer's own health checks).
          t->request.insert(0, proxy_header_for_member(
                                   pool->conf->send_proxy == conf::SendProxy::V1 ? 1 : 2,
                                   sockaddr_storage{}, sockaddr_storage{}));
        }
        t->interval_timer = evtimer_new(base_, interval_cb, t.get());
        t->timeout_timer = evtimer_new(base_, timeout_cb, t.get());
        timeval now{0, 0};
        evtimer_add(t->interval_timer, &now);
      }
      next.push_back(std::move(t));
    }
  }
  for (auto& old : targets_) {
    if (old != nullptr) {  // a member gone from its pool: its check (if one runs) is cut
      free_target(old.get());
    }
  }
  targets_ = std::move(next);
}

void HealthChecker::start() {
  base_ = event_base_new();
  sync_targets();
  // Always a thread, even with no check configured yet: a pool added at runtime may have one.
  stop_event_ = event_new(base_, -1, 0, stop_cb, base_);
  sync_event_ = event_new(
      base_, -1, 0,
      [](evutil_socket_t, short, void* arg) { static_cast<HealthChecker*>(arg)->sync_targets(); },
      this);
  thread_ = std::thread([this] { event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY); });
}

void HealthChecker::members_changed() {
  if (thread_.joinable() && sync_event_ != nullptr) {
    event_active(sync_event_, EV_READ, 0);
  }
}

void HealthChecker::stop() {
  if (thread_.joinable()) {
    event_active(stop_event_, EV_READ, 0);
    thread_.join();
  }
}

}  // namespace sy::proxy
