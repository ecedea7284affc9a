// The load generator's connections: connect, TLS handshake, speculative writes, reads into a
// per-connection buffer, clean closes and reconnects with backoff (see load_worker.h).
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

Target* Worker::target_for(const Url& u, int conns) {
  for (auto& t : targets_) {
    if (t->url.host == u.host && t->url.port == u.port && t->url.tls == u.tls) {
      return t.get();
    }
  }
  auto t = std::make_unique<Target>();
  t->url = u;
  t->authority = u.host + ":" + std::to_string(u.port);
  auto* sin = reinterpret_cast<sockaddr_in*>(&t->addr);
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&t->addr);
  if (inet_pton(AF_INET, u.host.c_str(), &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(u.port));
    t->addr_len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, u.host.c_str(), &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(u.port));
    t->addr_len = sizeof(sockaddr_in6);
  } else if (u.host == "localhost") {
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(u.port));
    inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
    t->addr_len = sizeof(sockaddr_in);
  }
  for (int i = 0; i < std::max(conns, 1); ++i) {
    add_conn(t.get());
  }
  targets_.push_back(std::move(t));
  return targets_.back().get();
}

void Worker::connect_conn(Conn* c) {
  if (c->state == Conn::State::Connecting || c->state == Conn::State::Handshake ||
      c->state == Conn::State::Ready) {
    return;
  }
  Target* t = c->tgt;
  if (t->addr_len == 0) {
    sec(now_ns()).conn_errors++;
    fail_all(c);
    return;
  }
  c->fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rc = connect(c->fd, reinterpret_cast<sockaddr*>(&t->addr), t->addr_len);
  if (rc != 0 && errno != EINPROGRESS) {
    conn_broken(c, std::string("connect: ") + std::strerror(errno));
    return;
  }
  c->answered = 0;
  c->state = Conn::State::Connecting;
  c->ev_read = event_new(base_, c->fd, EV_READ | EV_PERSIST, &Worker::on_read, c);
  c->ev_write = event_new(base_, c->fd, EV_WRITE | EV_PERSIST, &Worker::on_write, c);
  event_add(c->ev_write, nullptr);
  c->want_write = true;
}

void Worker::connected(Conn* c) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    conn_broken(c, std::string("connect: ") + std::strerror(err));
    return;
  }
  event_add(c->ev_read, nullptr);
  if (c->tgt->url.tls) {
    c->ssl = SSL_new(ssl_ctx_);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, c->tgt->url.host.c_str());
    c->state = Conn::State::Handshake;
    handshake(c);
    return;
  }
  ready(c);
}

void Worker::handshake(Conn* c) {
  int rc = SSL_connect(c->ssl);
  if (rc == 1) {
    ready(c);
    return;
  }
  int e = SSL_get_error(c->ssl, rc);
  if (e == SSL_ERROR_WANT_READ) {
    set_write(c, false);
  } else if (e == SSL_ERROR_WANT_WRITE) {
    set_write(c, true);
  } else {
    conn_broken(c, "TLS handshake: " + tls_error(e));
  }
}

void Worker::ready(Conn* c) {
  c->state = Conn::State::Ready;
  c->backoff_ms = 0;
  set_write(c, false);
  if (o_.h2) {
    start_h2(c);
  }
  fill(c);
}

void Worker::set_write(Conn* c, bool on) {
  if (on == c->want_write) {
    return;
  }
  c->want_write = on;
  if (on) {
    event_add(c->ev_write, nullptr);
  } else {
    event_del(c->ev_write);
  }
}

void Worker::flush(Conn* c) {
  if (c->state != Conn::State::Ready) {
    return;
  }
  if (c->h2 != nullptr) {
    h2_pump(c);
  }
  while (c->out_off < c->out.size()) {
    const char* p = c->out.data() + c->out_off;
    size_t n = c->out.size() - c->out_off;
    ssize_t w;
    if (c->ssl != nullptr) {
      int rc = SSL_write(c->ssl, p, static_cast<int>(n));
      if (rc <= 0) {
        int e = SSL_get_error(c->ssl, rc);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
          set_write(c, true);
          return;
        }
        conn_broken(c, "TLS write: " + tls_error(e));
        return;
      }
      w = rc;
    } else {
      w = ::send(c->fd, p, n, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EINTR) {
          set_write(c, true);
          return;
        }
        conn_broken(c, std::string("send: ") + std::strerror(errno));
        return;
      }
    }
    c->out_off += static_cast<size_t>(w);
  }
  c->out.clear();
  c->out_off = 0;
  set_write(c, false);
}

void Worker::readable(Conn* c) {
  if (c->state == Conn::State::Handshake) {
    handshake(c);
    return;
  }
  if (c->state != Conn::State::Ready) {
    return;
  }
  char buf[65536];
  bool eof = false;
  std::string why = "closed by the server";
  for (int rounds = 0; rounds < 4; ++rounds) {
    ssize_t n;
    if (c->ssl != nullptr) {
      int rc = SSL_read(c->ssl, buf, sizeof buf);
      if (rc <= 0) {
        int e = SSL_get_error(c->ssl, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
          break;
        }
        if (e != SSL_ERROR_ZERO_RETURN) {
          why = "TLS read: " + tls_error(e);
        }
        eof = true;
        break;
      }
      n = rc;
    } else {
      n = ::recv(c->fd, buf, sizeof buf, 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
          break;
        }
        why = std::string("recv: ") + std::strerror(errno);
        eof = true;
        break;
      }
      if (n == 0) {
        eof = true;
        break;
      }
    }
    if (c->h2 != nullptr) {
      ssize_t rv =
          nghttp2_session_mem_recv(c->h2, reinterpret_cast<uint8_t*>(buf), static_cast<size_t>(n));
      if (rv < 0) {
        conn_broken(c, std::string("h2: ") + nghttp2_strerror(static_cast<int>(rv)));
        return;
      }
    } else {
      c->in.append(buf, static_cast<size_t>(n));
    }
    if (static_cast<size_t>(n) < sizeof buf) {
      break;
    }
  }
  if (c->h2 == nullptr) {
    if (!parse_h1(c)) {
      close_and_reconnect(c);
      return;
    }
    if (eof && c->h1_req != nullptr && c->head_done &&
        c->body_kind == http1::BodyKind::UntilClose) {
      Req* r = c->h1_req;
      c->h1_req = nullptr;
      finish(r, c->status, c->body, c->location);
      close_and_reconnect(c);
      return;
    }
  }
  if (eof) {
    if (c->in_flight() > 0) {
      conn_broken(c, why + " with a request in flight");
    } else {
      close_and_reconnect(c);
    }
    return;
  }
  if (c->h2 != nullptr && nghttp2_session_want_read(c->h2) == 0 &&
      nghttp2_session_want_write(c->h2) == 0) {
    close_and_reconnect(c);
    return;
  }
  fill(c);
}

void Worker::conn_broken(Conn* c, const std::string& why) {
  uint64_t now = now_ns();
  sec(now).conn_errors++;
  if (stats_->error_samples.size() < kMaxErrorSamples) {
    char at[32];
    std::snprintf(at, sizeof at, "%.3f", static_cast<double>(now - std::min(now, start_ns_)) / 1e9);
    stats_->error_samples.push_back(std::string(at) + " s " + c->tgt->authority + ": " + why +
                                    " (after " + std::to_string(c->answered) +
                                    " answers on the connection)");
  }
  fail_all(c);
  close_conn(c);
  schedule_reconnect(c);
}

void Worker::close_and_reconnect(Conn* c) {
  if (c->state == Conn::State::Closed || c->state == Conn::State::Idle) {
    return;
  }
  if (c->in_flight() > 0) {
    conn_broken(c, c->h2 != nullptr ? "h2 session ended with streams open"
                                    : "bad response or Connection: close with a request in flight");
    return;
  }
  close_conn(c);
  if (sending() || !c->tgt->queue.empty()) {
    connect_conn(c);
  } else {
    c->state = Conn::State::Idle;
  }
  maybe_stop();
}

void Worker::fail_all(Conn* c, bool timeout) {
  if (c->h1_req != nullptr) {
    Req* r = c->h1_req;
    c->h1_req = nullptr;
    fail(r, timeout);
  }
  if (c->h2 != nullptr) {
    nghttp2_session* s = c->h2;
    c->h2 = nullptr;
    while (c->h2_open != nullptr) {
      H2Stream* st = c->h2_open;
      c->unlink(st);
      nghttp2_session_set_stream_user_data(s, st->id, nullptr);
      Req* r = st->req;
      release_stream(st);
      fail(r, timeout);
    }
    nghttp2_session_del(s);
  }
}

void Worker::close_conn(Conn* c) {
  if (c->h2 != nullptr) {
    fail_all(c);
  }
  if (c->ev_read != nullptr) {
    event_free(c->ev_read);
    c->ev_read = nullptr;
  }
  if (c->ev_write != nullptr) {
    event_free(c->ev_write);
    c->ev_write = nullptr;
  }
  if (c->ssl != nullptr) {
    SSL_free(c->ssl);
    c->ssl = nullptr;
  }
  if (c->fd >= 0) {
    ::close(c->fd);
    c->fd = -1;
  }
  c->want_write = false;
  c->state = Conn::State::Closed;
  c->out.clear();
  c->out_off = 0;
  c->in.clear();
  c->in_off = 0;
  c->head_done = false;
  c->h2_ready = false;
}

void Worker::schedule_reconnect(Conn* c) {
  if (!sending() && c->tgt->queue.empty()) {
    c->state = Conn::State::Idle;
    maybe_stop();
    return;
  }
  c->backoff_ms = c->backoff_ms == 0 ? 10 : std::min<uint64_t>(c->backoff_ms * 2, 1000);
  if (c->ev_retry == nullptr) {
    c->ev_retry = event_new(base_, -1, 0, &Worker::on_retry, c);
  }
  timeval tv{static_cast<time_t>(c->backoff_ms / 1000),
             static_cast<suseconds_t>((c->backoff_ms % 1000) * 1000)};
  event_add(c->ev_retry, &tv);
}

}  // namespace sy::bench
