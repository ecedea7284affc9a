#include "proxy/upstream_http1.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include <event2/buffer.h>
#include <event2/bufferevent.h>  // BEV_EVENT_* flags
#include <event2/event.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/timeval.h"
#include "proxy/http1_chunked_body.h"
#include "proxy/connection.h"
#include "proxy/exchange.h"
#include "proxy/proxy_protocol.h"
#include "proxy/stats.h"
#include "proxy/stream.h"
#include "proxy/tls.h"
#include "proxy/upstream_pool.h"
#include "proxy/upstream_request.h"

namespace sy::proxy {

uint64_t Http1Upstream::proxy_owner() const {
  if (pool_->conf().send_proxy == conf::SendProxy::Off || req_->owner() == nullptr) {
    return 0;
  }
  return req_->owner()->info().connection_id;
}

Http1Upstream::Http1Upstream(UpstreamRequest* req)
    : req_(req), chunks_(req->env().parse_limits->max_head_bytes) {}

Http1Upstream::~Http1Upstream() { release(false); }

size_t Http1Upstream::prepare(const HttpRequest& req, const ForwardPolicy& policy) {
  // Chunked when the length is unknown, or when trailer fields are announced: HTTP/1.1 can
  // carry request trailers only after the last chunk (the content-length is then dropped).
  chunked_ =
      req.body == BodySize::Unknown || (req.body == BodySize::Known && req.announces_trailer);
  has_body_ = req.body != BodySize::None;
  upgrade_ = !policy.upgrade.empty();
  ForwardPolicy p = policy;
  p.chunked = chunked_;
  head_.clear();
  return append_upstream_h1_head(req, p, &head_);
}

void Http1Upstream::connect(WorkerPool* pool, WorkerMember* m) {
  pool_ = pool;
  member_ = m;
  resp_ = Resp::Head;
  paused_ = false;
  tunnel_ = false;
  half_close_ = false;
  const ExchangeEnv& env = req_->env();
  Stream* idle = pool->take_idle(m, proxy_owner());
  if (idle != nullptr) {
    stream_ = idle;
    reused_ = true;
    connecting_ = false;
    env.stats->inc(Stat::UpstreamReuses);
    stream_->set_callbacks(read_cb, write_cb, event_cb, this);
    on_connected();
    return;
  }
  reused_ = false;
  env.stats->inc(Stat::UpstreamConnects);
  stream_ = new Stream(env.base, -1);
  stream_->set_callbacks(read_cb, write_cb, event_cb, this);
  timeval ctv = ms_to_tv(static_cast<uint64_t>(pool->conf().connect_timeout.count()));
  stream_->set_timeouts(nullptr, &ctv);
  if (pool->tls() != nullptr) {
    // TLS member: CONNECTED arrives after the handshake, both within connect_timeout.
    SSL* ssl = pool->new_tls(m);
    if (ssl == nullptr) {
      req_->codec_connect_failed("upstream TLS: cannot create a session (out of memory)");
      return;
    }
    stream_->start_tls_client(ssl, ctv);
  }
  stream_->enable(EV_READ | EV_WRITE);
  connecting_ = true;
  if (stream_->connect(reinterpret_cast<sockaddr*>(&m->shared->addr),
                       static_cast<int>(m->shared->addr_len)) != 0) {
    req_->codec_connect_failed(std::strerror(errno));  // e.g. no route: the next member
  }
}

void Http1Upstream::on_connected() {
  connecting_ = false;
  if (!reused_) {
    tune_socket(stream_);
  }
  const conf::Limits& lim = *req_->env().limits;
  stream_->set_write_low_water(lim.buffer_high_water / 2);
  if (!reused_ && pool_->conf().send_proxy != conf::SendProxy::Off && req_->owner() != nullptr) {
    // The member learns who the client is before anything else (HAProxy's send-proxy); the
    // connection is this client connection's alone from now on (proxy_owner()).
    ClientConnection* c = req_->owner();
    std::string header = proxy_header_for_member(
        pool_->conf().send_proxy == conf::SendProxy::V1 ? 1 : 2, *c->info().peer_addr,
        c->local_address());
    evbuffer_add(stream_->output(), header.data(), header.size());
  }
  evbuffer_add(stream_->output(), head_.data(), head_.size());
  if (has_body_) {
    // While the body streams, upstream silence is normal: the response timeout starts when
    // the request is complete.
    timeval send_tv = ms_to_tv(static_cast<uint64_t>(lim.send_timeout.count()));
    stream_->set_timeouts(nullptr, &send_tv);
  } else {
    set_response_timeout();
  }
  stream_->enable(EV_READ | EV_WRITE);
  req_->codec_connected(reused_);
}

void Http1Upstream::set_response_timeout() {
  const conf::Limits& lim = *req_->env().limits;
  timeval send_tv = ms_to_tv(static_cast<uint64_t>(lim.send_timeout.count()));
  timeval resp_tv = ms_to_tv(static_cast<uint64_t>(pool_->conf().response_timeout.count()));
  stream_->set_timeouts(&resp_tv, &send_tv);
}

void Http1Upstream::set_stream_timeout() {
  const conf::Limits& lim = *req_->env().limits;
  timeval send_tv = ms_to_tv(static_cast<uint64_t>(lim.send_timeout.count()));
  timeval read_tv = ms_to_tv(static_cast<uint64_t>(pool_->conf().stream_timeout.count()));
  stream_->set_timeouts(&read_tv, &send_tv);
}

void Http1Upstream::write_body(evbuffer* src, size_t n) {
  evbuffer* out = stream_->output();
  if (chunked_) {
    add_chunk_header(out, n);
    evbuffer_remove_buffer(src, out, n);
    evbuffer_add(out, "\r\n", 2);
    return;
  }
  evbuffer_remove_buffer(src, out, n);
}

bool Http1Upstream::body_full() const {
  return stream_ == nullptr ||
         evbuffer_get_length(stream_->output()) >= req_->env().limits->buffer_high_water;
}

void Http1Upstream::end_request(std::string_view trailer) {
  if (tunnel_) {
    // The output's low-water mark at 0: on_write hears when the last byte left.
    half_close_ = true;
    stream_->set_write_low_water(0);
    if (evbuffer_get_length(stream_->output()) == 0) {
      stream_->shutdown_write();
    }
    return;
  }
  if (!has_body_) {
    return;  // the head alone was the request; its timeouts are set
  }
  if (chunked_) {
    evbuffer* out = stream_->output();
    evbuffer_add(out, "0\r\n", 3);
    evbuffer_add(out, trailer.data(), trailer.size());
    evbuffer_add(out, "\r\n", 2);
  }
  req_->codec_request_sent();
  if (resp_ == Resp::Head) {  // else the head came early: stream_timeout is set
    set_response_timeout();
  }
}

void Http1Upstream::pause_response(bool paused) {
  if (stream_ == nullptr || paused == paused_) {
    return;
  }
  paused_ = paused;
  if (paused) {
    stream_->disable(EV_READ);
    return;
  }
  stream_->enable(EV_READ);
  if (evbuffer_get_length(stream_->input()) > 0) {
    on_read();  // bytes may be waiting in the input buffer already
  }
}

void Http1Upstream::release(bool reusable) {
  if (stream_ == nullptr) {
    return;
  }
  Stream* s = stream_;
  stream_ = nullptr;
  if (reusable && keep_alive_ && resp_ == Resp::Done && !connecting_ &&
      evbuffer_get_length(s->input()) == 0) {
    pool_->park(member_, s, proxy_owner());
  } else {
    delete s;
  }
}

// ---------------------------------------------------------------------------------------------
// Stream callbacks: each one is a root of the client connection's call graph.

void Http1Upstream::read_cb(Stream*, void* arg) {
  auto* u = static_cast<Http1Upstream*>(arg);
  ConnectionScope scope(u->req_->owner());
  u->on_read();
}

void Http1Upstream::write_cb(Stream*, void* arg) {
  auto* u = static_cast<Http1Upstream*>(arg);
  ConnectionScope scope(u->req_->owner());
  u->on_write();
}

void Http1Upstream::event_cb(Stream*, short what, void* arg) {
  auto* u = static_cast<Http1Upstream*>(arg);
  ConnectionScope scope(u->req_->owner());
  u->on_event(what);
}

void Http1Upstream::on_write() {
  if (half_close_ && evbuffer_get_length(stream_->output()) == 0) {
    half_close_ = false;
    stream_->shutdown_write();
    return;
  }
  if (!connecting_ && (has_body_ || tunnel_)) {
    req_->handler()->on_upstream_drained();
  }
}

void Http1Upstream::on_read() {
  if (connecting_ || stream_ == nullptr) {
    return;
  }
  if (resp_ == Resp::Head && !parse_head()) {
    return;
  }
  if (resp_ == Resp::Body) {
    forward_body();
  }
  // Done: anything further from the member is unsolicited; it is handled at release.
}

bool Http1Upstream::parse_head() {
  const ExchangeEnv& env = req_->env();
  const http1::Limits& limits = *env.parse_limits;
  for (;;) {
    evbuffer* in = stream_->input();
    size_t len = evbuffer_get_length(in);
    if (len == 0) {
      return false;
    }
    size_t want = len < limits.max_head_bytes + 1 ? len : limits.max_head_bytes + 1;
    const char* buf =
        reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(want)));
    http1::ResponseHead head;
    head.headers = env.header_scratch;
    http1::ParseResult r = http1::parse_response(buf, want, limits, &head);
    if (r.status == http1::ParseStatus::Incomplete) {
      return false;
    }
    if (r.status == http1::ParseStatus::Error || (head.status == 101 && !upgrade_)) {
      std::string message = "bad response from upstream " + member_->shared->label + ": ";
      message += r.status == http1::ParseStatus::Error
                     ? std::string(http1::to_string(head.error))
                     : std::string("unexpected 101 Switching Protocols");
      req_->codec_failed(UpstreamFailure::BadResponse, message + "\n", false);
      return false;
    }
    HttpResponse resp;
    resp.status = head.status;
    resp.reason = head.reason;
    resp.fields = head.headers;
    resp.num_fields = head.num_headers;
    if (head.status == 101) {
      // The member switched protocols: from here on its bytes are the tunnel's.
      for (size_t i = 0; i < head.num_headers; ++i) {
        if (http1::iequals(head.headers[i].name, "upgrade")) {
          resp.upgrade = head.headers[i].value;
        }
      }
      tunnel_ = true;
      keep_alive_ = false;
      mode_ = http1::BodyKind::UntilClose;
      resp.body = BodySize::Unknown;
      resp_ = Resp::Body;
      const conf::Limits& lim = *env.limits;
      timeval send_tv = ms_to_tv(static_cast<uint64_t>(lim.send_timeout.count()));
      stream_->set_timeouts(nullptr, &send_tv);
      req_->codec_response_head(resp);  // the views stay valid: drained below
      if (stream_ == nullptr) {
        return false;
      }
      evbuffer_drain(stream_->input(), r.consumed);
      return true;
    }
    if (head.status < 200) {
      // Interim. 100 is the proxy's to send (or not: the Expect field was not forwarded);
      // others (103 Early Hints) go to the client.
      if (head.status != 100) {
        req_->handler()->on_response_interim(resp);
      }
      evbuffer_drain(stream_->input(), r.consumed);
      if (stream_ == nullptr) {
        return false;
      }
      continue;
    }
    mode_ = http1::response_body_kind(head, req_->head_request());
    keep_alive_ = head.keep_alive && mode_ != http1::BodyKind::UntilClose;
    switch (mode_) {
    case http1::BodyKind::None: resp.body = BodySize::None; break;
    case http1::BodyKind::Length:
      resp.body = head.content_length > 0 ? BodySize::Known : BodySize::None;
      resp.content_length = head.content_length;
      remaining_ = head.content_length;
      break;
    case http1::BodyKind::Chunked:
      resp.body = BodySize::Unknown;
      chunks_ = http1::ChunkedDecoder(limits.max_head_bytes);
      break;
    case http1::BodyKind::UntilClose: resp.body = BodySize::Unknown; break;
    }
    resp_ = Resp::Body;
    req_->codec_response_head(resp);  // the views stay valid: drained below
    if (stream_ == nullptr) {
      return false;  // released by the handler (the downstream went away)
    }
    evbuffer_drain(stream_->input(), r.consumed);
    if (resp.body == BodySize::None) {
      response_done({});
      return false;
    }
    set_stream_timeout();
    return true;
  }
}

void Http1Upstream::forward_body() {
  UpstreamHandler* h = req_->handler();
  const size_t max_framing = req_->env().parse_limits->max_head_bytes + 2;
  while (resp_ == Resp::Body && stream_ != nullptr) {
    evbuffer* in = stream_->input();
    size_t avail = evbuffer_get_length(in);
    if (mode_ == http1::BodyKind::Length) {
      size_t n = avail < remaining_ ? avail : static_cast<size_t>(remaining_);
      if (n == 0) {
        return;
      }
      remaining_ -= n;
      h->on_response_body(in, n);
      if (remaining_ == 0) {
        response_done({});
        return;
      }
      continue;
    }
    if (mode_ == http1::BodyKind::UntilClose) {
      if (avail == 0) {
        return;
      }
      h->on_response_body(in, avail);
      continue;
    }
    ChunkStep step = next_chunk_step(chunks_, in, avail, max_framing);
    switch (step.kind) {
    case ChunkStep::Kind::NeedMore: return;
    case ChunkStep::Kind::Bad:
    case ChunkStep::Kind::TooLong:
      req_->codec_failed(UpstreamFailure::BadResponse, "bad chunked response\n", false);
      return;
    case ChunkStep::Kind::Payload: h->on_response_body(in, step.n); break;
    case ChunkStep::Kind::Framing: evbuffer_drain(in, step.n); break;
    case ChunkStep::Kind::Done:
      // The trailer is a view into |in|: handed on before the drain.
      keep_alive_ = keep_alive_ && evbuffer_get_length(in) == step.n;
      response_done(chunks_.trailer());
      if (stream_ != nullptr) {
        evbuffer_drain(stream_->input(), step.n);
      }
      return;
    }
  }
}

void Http1Upstream::response_done(std::string_view trailer) {
  resp_ = Resp::Done;
  if (stream_ != nullptr && evbuffer_get_length(stream_->input()) > 0 &&
      mode_ != http1::BodyKind::Chunked) {
    keep_alive_ = false;  // unsolicited bytes after the response
  }
  req_->handler()->on_response_end(trailer);
}

void Http1Upstream::on_event(short what) {
  if (stream_ == nullptr) {
    return;
  }
  if (connecting_) {
    if (what & BEV_EVENT_CONNECTED) {
      on_connected();
      return;
    }
    int err = EVUTIL_SOCKET_ERROR();
    if (stream_->ssl() != nullptr &&
        ((what & BEV_EVENT_TIMEOUT) ? stream_->tls_timed_out() : (what & BEV_EVENT_READING) != 0)) {
      // The TCP connect worked and the TLS handshake did not: a connect failure all the same
      // (no request byte was sent), with the TLS reason, e.g. a refused certificate.
      std::string why = stream_->tls_timed_out()
                            ? std::string("upstream TLS handshake timeout")
                            : describe_tls_client_failure(stream_->ssl(), stream_->tls_error(),
                                                          stream_->tls_errno());
      SY_LOG(Debug, "pool %s member %s: %s", pool_->conf().name.c_str(),
             member_->shared->label.c_str(), why.c_str());
      req_->codec_connect_failed(why);
      return;
    }
    const char* why = (what & BEV_EVENT_TIMEOUT) ? "connect timeout"
                      : (err != 0)               ? evutil_socket_error_to_string(err)
                                                 : "connect failed";
    req_->codec_connect_failed(why);
    return;
  }
  if ((what & BEV_EVENT_EOF) && resp_ == Resp::Body && mode_ == http1::BodyKind::UntilClose) {
    forward_body();  // bytes that arrived with the EOF first
    if (stream_ != nullptr && resp_ == Resp::Body) {
      keep_alive_ = false;
      response_done({});
    }
    return;
  }
  const bool timeout = (what & BEV_EVENT_TIMEOUT) != 0;
  const std::string& label = member_->shared->label;
  if (timeout) {
    char body[160];
    if (resp_ == Resp::Body) {
      std::snprintf(body, sizeof(body), "upstream %s sent nothing for %lld ms (stream_timeout)\n",
                    label.c_str(), static_cast<long long>(pool_->conf().stream_timeout.count()));
    } else {
      std::snprintf(body, sizeof(body), "upstream %s did not respond within %lld ms\n",
                    label.c_str(), static_cast<long long>(pool_->conf().response_timeout.count()));
    }
    req_->codec_failed(UpstreamFailure::Timeout, body, false);
    return;
  }
  // Closed (or reset) with nothing of the response read: a reused connection the member had
  // closed may be retried by UpstreamRequest.
  bool nothing_read = resp_ == Resp::Head && evbuffer_get_length(stream_->input()) == 0;
  req_->codec_failed(UpstreamFailure::Closed,
                     "upstream " + label + " closed the connection before sending a response\n",
                     nothing_read);
}

}  // namespace sy::proxy
