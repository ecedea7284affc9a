#include "proxy/connection.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include <event2/buffer.h>
#include <event2/bufferevent.h>  // BEV_EVENT_* flags
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/cidr.h"
#include "common/log.h"
#include "common/timeval.h"
#include "proxy/access_log.h"
#include "proxy/h2_convert.h"
#include "proxy/http1_session.h"
#include "proxy/http2_session.h"
#include "proxy/metrics.h"
#include "proxy/proxy_protocol.h"
#include "proxy/stats.h"
#include "proxy/stream.h"
#include "proxy/tls.h"
#include "proxy/worker.h"

namespace sy::proxy {
namespace {

constexpr uint64_t kLingerMs = 2000;

}  // namespace

ClientConnection::ClientConnection(const ExchangeEnv& env, ConnectionSet* set,
                                   WorkerListener* listener, ConnectionSlot slot, int fd,
                                   const sockaddr* peer)
    : ClientConnection(env, set, listener, new Stream(env.base, fd), peer) {
  slot_ = std::move(slot);
}

ClientConnection::ClientConnection(const ExchangeEnv& env, ConnectionSet* set,
                                   WorkerListener* listener, Stream* stream, const sockaddr* peer)
    : env_(env), set_(set), listener_(listener), client_(stream), timer_(env.base, timer_cb, this) {
  static thread_local uint64_t last_id = 0;  // per worker: idle upstream lists are per worker
  id_ = ++last_id;
  set_peer(peer);
  resume_ev_ = event_new(env.base, -1, 0, resume_cb, this);
  env.stats->inc(Stat::ConnectionsAccepted);
  env.stats->inc(Stat::ConnectionsActive);
  if (env.metrics != nullptr) {
    env.metrics->listener(listener->index).connections.add();
  }
}

ClientConnection::~ClientConnection() {
  session_.reset();  // exchanges first: they let go of upstreams and hold slots
  if (proxy_ev_ != nullptr) {
    event_free(proxy_ev_);
  }
  if (env_.metrics != nullptr) {
    env_.metrics->listener(listener_->index).connections.sub();
    count_tls();
  }
  delete client_;
  if (closed_ev_ != nullptr) {
    event_free(closed_ev_);
  }
  event_free(resume_ev_);
  env_.stats->dec(Stat::ConnectionsActive);
}

void ClientConnection::set_peer(const sockaddr* peer) {
  format_peer(peer, &label_, &ip_);
  std::optional<IpBytes> ip = ip_of(peer);
  peer_trusted_ = ip && any_contains(listener_->conf->trusted_proxies, *ip);
  peer_addr_ = sockaddr_storage{};
  if (peer != nullptr && (peer->sa_family == AF_INET || peer->sa_family == AF_INET6)) {
    std::memcpy(&peer_addr_, peer,
                peer->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
  }
  info_ = ClientInfo{listener_, label_, ip_, peer_trusted_, &peer_addr_, id_};
}

const sockaddr_storage& ClientConnection::local_address() {
  if (local_addr_.ss_family == AF_UNSPEC && client_ != nullptr && client_->fd() >= 0) {
    socklen_t len = sizeof(local_addr_);
    if (getsockname(client_->fd(), reinterpret_cast<sockaddr*>(&local_addr_), &len) != 0) {
      local_addr_ = sockaddr_storage{};
    }
  }
  return local_addr_;
}

void ClientConnection::use_tls(ssl_st* ssl, std::shared_ptr<const TlsContexts> pin) {
  tls_pin_ = std::move(pin);
  timeval tv = ms_to_tv(static_cast<uint64_t>(listener_->conf->tls.handshake_timeout.count()));
  client_->start_tls_server(ssl, tv);
}

void ClientConnection::start() {
  SY_ASSERT_IN(thread_);
  tune_socket(client_);
  // A new connection gets the header timeout: a client that connects and sends nothing is a
  // slowloris as much as one that dribbles a head. With a PROXY header it covers both.
  arm_timer(static_cast<uint64_t>(env_.limits->client_header_timeout.count()));
  if (listener_->conf->proxy_protocol && client_->fd() >= 0) {
    if (!peer_trusted_) {
      // Only the balancers named in trusted_proxies may say who the client is.
      env_.stats->inc(Stat::ProxyHeadersRejected);
      SY_LOG(Debug, "listener %s: %s is not in trusted_proxies; PROXY connection closed",
             listener_->conf->name.c_str(), label_.c_str());
      close();
      return;
    }
    proxy_ev_ = event_new(env_.base, client_->fd(), EV_READ | EV_PERSIST, proxy_header_cb, this);
    event_add(proxy_ev_, nullptr);
    return;
  }
  start_io();
}

void ClientConnection::start_io() {
  const conf::Limits& lim = *env_.limits;
  client_->set_write_low_water(lim.buffer_high_water / 2);
  client_->set_callbacks(read_cb, write_cb, event_cb, this);
  timeval send_tv = ms_to_tv(static_cast<uint64_t>(lim.send_timeout.count()));
  client_->set_timeouts(nullptr, &send_tv);
  client_->enable(EV_READ | EV_WRITE);
}

void ClientConnection::proxy_header_cb(int, short, void* arg) {
  auto* c = static_cast<ClientConnection*>(arg);
  ConnectionScope scope(c);
  if (c->close_requested_ || !c->read_proxy_header()) {
    return;
  }
  event_free(c->proxy_ev_);
  c->proxy_ev_ = nullptr;
  c->start_io();  // TLS (when the listener has it) starts with the next byte
}

bool ClientConnection::read_proxy_header() {
  // Peek, so that nothing after the header is taken from the socket (it may be a TLS
  // ClientHello); bytes of a header still incomplete are consumed into proxy_buf_, so a
  // level-triggered read event does not fire again for them.
  char buf[kMaxProxyHeader];
  size_t want = kMaxProxyHeader - proxy_buf_.size();
  ssize_t n = ::recv(client_->fd(), buf, want, MSG_PEEK);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    return false;
  }
  const char* why = nullptr;
  std::string error;
  ProxyHeader header;
  ProxyParse parsed = ProxyParse::Invalid;
  if (n <= 0) {
    why = n == 0 ? "closed before its PROXY header" : "failed reading its PROXY header";
  } else {
    std::string seen = proxy_buf_;
    seen.append(buf, static_cast<size_t>(n));
    parsed = parse_proxy_header(seen, &header, &error);
    if (parsed == ProxyParse::Invalid) {
      why = error.c_str();
    } else if (parsed == ProxyParse::Incomplete && seen.size() >= kMaxProxyHeader) {
      why = "PROXY header too long";
    }
  }
  if (why != nullptr) {
    env_.stats->inc(Stat::ProxyHeadersRejected);
    SY_LOG(Debug, "listener %s: %s: %s; connection closed", listener_->conf->name.c_str(),
           label_.c_str(), why);
    close();
    return false;
  }
  size_t take =
      parsed == ProxyParse::Done ? header.length - proxy_buf_.size() : static_cast<size_t>(n);
  if (::recv(client_->fd(), buf, take, 0) != static_cast<ssize_t>(take)) {
    env_.stats->inc(Stat::ProxyHeadersRejected);
    close();
    return false;
  }
  if (parsed == ProxyParse::Incomplete) {
    proxy_buf_.append(buf, take);
    return false;
  }
  proxy_buf_.clear();
  proxy_buf_.shrink_to_fit();
  if (header.has_source) {
    // The balancer's word for who the client is; trust of what the request itself claims
    // (X-Forwarded-For) is then decided for that address.
    set_peer(reinterpret_cast<const sockaddr*>(&header.source));
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Scopes: the only code that frees a connection.

ConnectionScope::ConnectionScope(ClientConnection* c, bool own) : c_(c), own_(own) { ++c_->depth_; }

ConnectionScope::~ConnectionScope() {
  if (--c_->depth_ != 0 || !c_->close_requested_) {
    return;
  }
  if (own_) {
    c_->set_->destroy(c_);
  } else {
    event_active(c_->resume_ev_, EV_WRITE, 1);  // its own callback frees it
  }
}

// ---------------------------------------------------------------------------------------------
// libevent callbacks

void ClientConnection::read_cb(Stream*, void* arg) {
  auto* c = static_cast<ClientConnection*>(arg);
  ConnectionScope scope(c);
  if (c->close_requested_) {
    return;
  }
  if (c->shutting_down_) {
    evbuffer* in = c->client_->input();
    evbuffer_drain(in, evbuffer_get_length(in));  // lingering: read and discard
    return;
  }
  if (c->session_ == nullptr) {
    if (!c->choose_session()) {
      return;
    }
    c->session_->on_read();
    // Connected before or during a drain, first bytes now: its first requests are served
    // (h1: then Connection: close; h2: GOAWAY after the streams this read opened).
    if (c->draining() && !c->closing()) {
      c->session_->on_drain();
    }
    return;
  }
  c->session_->on_read();
}

void ClientConnection::write_cb(Stream*, void* arg) {
  auto* c = static_cast<ClientConnection*>(arg);
  ConnectionScope scope(c);
  if (c->close_requested_) {
    return;
  }
  if (c->shutting_down_) {
    if (!c->lingering_ && evbuffer_get_length(c->client_->output()) == 0) {
      c->linger();
    }
    return;
  }
  if (c->session_ != nullptr) {
    c->session_->on_write();
  }
}

void ClientConnection::event_cb(Stream*, short what, void* arg) {
  auto* c = static_cast<ClientConnection*>(arg);
  ConnectionScope scope(c);
  if (what & BEV_EVENT_EOF) {
    c->eof_ = true;
  }
  if (c->close_requested_) {
    return;
  }
  if (c->shutting_down_) {
    // The client's FIN after ours (or anything else): done.
    if (!(what & BEV_EVENT_EOF) || c->lingering_ ||
        evbuffer_get_length(c->client_->output()) == 0) {
      c->close();
    }
    return;
  }
  if (c->session_ == nullptr) {
    if (what & BEV_EVENT_TIMEOUT) {
      c->env_.stats->inc(Stat::ClientTimeouts);
    }
    c->close();  // before the first byte: nothing to log
    return;
  }
  c->session_->on_event(what);
}

void ClientConnection::timer_cb(void* arg) {
  auto* c = static_cast<ClientConnection*>(arg);
  ConnectionScope scope(c);
  if (c->close_requested_) {
    return;
  }
  if (c->shutting_down_) {
    if (c->lingering_) {
      c->close();
    }
    return;
  }
  if (c->session_ == nullptr) {
    if (!c->draining()) {  // else the drain's grace ran out: not the client's fault
      c->env_.stats->inc(Stat::ClientTimeouts);
    }
    c->close();  // connected and silent: a slowloris
    return;
  }
  c->session_->on_timer();
}

void ClientConnection::resume_cb(int, short, void* arg) {
  auto* c = static_cast<ClientConnection*>(arg);
  ConnectionScope scope(c);
  if (!c->close_requested_ && !c->shutting_down_ && c->session_ != nullptr) {
    c->session_->on_resume();
  }
}

void ClientConnection::closed_cb(int, short, void* arg) {
  auto* c = static_cast<ClientConnection*>(arg);
  ConnectionScope scope(c);
  if (!c->close_requested_ && !c->shutting_down_ && c->session_ != nullptr) {
    c->session_->on_peer_closed();
  }
}

// ---------------------------------------------------------------------------------------------

// Once per TLS connection: how its handshake ended (at the first request bytes, else at close).
void ClientConnection::count_tls() {
  if (tls_counted_ || env_.metrics == nullptr || client_->ssl() == nullptr) {
    return;
  }
  tls_counted_ = true;
  TlsOutcome o = TlsOutcome::Aborted;
  if (client_->handshake_succeeded()) {
    o = TlsOutcome::Ok;
  } else if (client_->tls_timed_out()) {
    o = TlsOutcome::Timeout;
  } else if (client_->tls_error() != 0 &&
             ERR_GET_REASON(client_->tls_error()) != SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    o = TlsOutcome::Protocol;
  } else if (client_->tls_failed()) {
    o = TlsOutcome::Closed;
  }
  env_.metrics->listener(listener_->index).tls[static_cast<size_t>(o)].add();
}

bool ClientConnection::choose_session() {
  bool h2 = false;
  if (client_->ssl() != nullptr) {
    count_tls();
    const unsigned char* proto = nullptr;
    unsigned int proto_len = 0;
    SSL_get0_alpn_selected(client_->ssl(), &proto, &proto_len);
    h2 = proto_len == 2 && proto[0] == 'h' && proto[1] == '2';
  } else {
    evbuffer* in = client_->input();
    size_t n = evbuffer_get_length(in);
    size_t want = n < h2::kClientPreface.size() ? n : h2::kClientPreface.size();
    const char* p = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(want)));
    h2::PrefaceMatch m = h2::match_preface(std::string_view(p, want));
    if (m == h2::PrefaceMatch::Partial) {
      return false;  // look again with more bytes
    }
    h2 = m == h2::PrefaceMatch::Yes;
  }
  if (h2) {
    session_ = std::make_unique<Http2Session>(this);
  } else {
    session_ = std::make_unique<Http1Session>(this);
  }
  return true;
}

void ClientConnection::on_drain() {
  draining_ = true;
  if (closing()) {
    return;
  }
  if (session_ == nullptr) {
    // Connected (TLS handshake perhaps in progress), no request yet: kDrainGraceMs for it to
    // arrive (read_cb serves it), then timer_cb closes.
    uint64_t header_ms = static_cast<uint64_t>(env_.limits->client_header_timeout.count());
    arm_timer(std::min(kDrainGraceMs, header_ms));
    return;
  }
  session_->on_drain();
}

void ClientConnection::on_kill() {
  if (session_ != nullptr && !shutting_down_) {
    session_->on_kill();
  }
}

void ClientConnection::arm_timer(uint64_t ms) { timer_.arm_ms(ms); }

void ClientConnection::disarm_timer() { timer_.disarm(); }

void ClientConnection::resume_soon() { event_active(resume_ev_, EV_READ, 1); }

void ClientConnection::watch_close(bool on) {
  if (!on) {
    if (closed_ev_ != nullptr) {
      event_del(closed_ev_);
    }
    return;
  }
  if (client_->fd() < 0) {
    return;  // an in-memory stream: its EOF arrives as an event
  }
  if (closed_ev_ == nullptr) {
    closed_ev_ = event_new(env_.base, client_->fd(), EV_CLOSED, closed_cb, this);
  }
  if (closed_ev_ != nullptr) {
    event_add(closed_ev_, nullptr);
  }
}

void ClientConnection::shut_down() {
  if (shutting_down_) {
    return;
  }
  shutting_down_ = true;
  watch_close(false);
  disarm_timer();
  // Keep reading (and discarding): closing a socket with unread input makes the kernel send a
  // reset, which can destroy the response before the client has read it.
  if (!eof_) {
    client_->enable(EV_READ);
  }
  client_->set_write_low_water(0);
  if (evbuffer_get_length(client_->output()) == 0) {
    linger();
  }
  // else write_cb continues once the response is flushed
}

void ClientConnection::linger() {
  if (eof_) {
    close();
    return;
  }
  // Lingering close (as nginx and HAProxy do): send FIN, then read and discard until the
  // client closes too, for at most kLingerMs.
  lingering_ = true;
  client_->shutdown_write();  // TLS: close_notify first
  arm_timer(kLingerMs);
}

}  // namespace sy::proxy
