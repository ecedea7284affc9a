#include "proxy/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <vector>

#include <event2/buffer.h>
#include <event2/bufferevent.h>  // BEV_EVENT_* flags
#include <openssl/ssl.h>

#include "proxy/forwarder.h"
#include "proxy/h2_convert.h"
#include "proxy/response_head_sink.h"
#include "proxy/stream.h"
#include "proxy/tls.h"
#include <event2/event.h>

#include "common/log.h"
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"

namespace sy::proxy {
namespace {

constexpr char kVia[] = "Via: 1.1 switchyard\r\n";

// |value| in decimal, written into |buf| (|size| bytes, enough for any T).
template <class T>
std::string_view decimal(T value, char* buf, size_t size) {
  auto r = std::to_chars(buf, buf + size, value);
  return {buf, static_cast<size_t>(r.ptr - buf)};
}

constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr uint64_t kLingerMs = 2000;
constexpr size_t kMaxSingleIo = 64 * 1024;

timeval ms_to_tv(uint64_t ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

// Per-socket set-up once connected: no Nagle delay (we always write whole messages), and
// 64 KiB reads so bulk bodies take few syscalls.
void tune_socket(Stream* s) {
  int one = 1;
  setsockopt(s->fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  s->set_max_single_read(kMaxSingleIo);
}

const char* reason_for(int status) {
  switch (status) {
  case 307: return "Temporary Redirect";
  case 400: return "Bad Request";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  case 508: return "Loop Detected";
  default: return "Error";
  }
}

bool is_idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS";
}

// Appends "<hex>\r\n" for a chunk of |n| bytes.
void add_chunk_header(evbuffer* out, uint64_t n) {
  char line[24];
  int len = std::snprintf(line, sizeof(line), "%" PRIx64 "\r\n", n);
  evbuffer_add(out, line, static_cast<size_t>(len));
}

double us_to_ms(uint64_t from, uint64_t to) {
  return (to >= from) ? static_cast<double>(to - from) / 1000.0 : 0.0;
}

}  // namespace

ClientConnection::ClientConnection(Worker* worker, WorkerListener* listener, int fd,
                                   const sockaddr* peer, int /*peer_len*/)
    : worker_(worker), listener_(listener), slot_(worker->connection_limits(), listener->index),
      req_chunks_(worker->parse_limits().max_head_bytes),
      resp_chunks_(worker->parse_limits().max_head_bytes) {
  format_peer(peer, &client_label_, &client_ip_);
  client_ = new Stream(worker->base(), fd);
  timer_ = evtimer_new(worker->base(), timer_cb, this);
  resume_ev_ = event_new(worker->base(), -1, 0, resume_cb, this);
  worker->stats().inc(Stat::ConnectionsAccepted);
  worker->stats().inc(Stat::ConnectionsActive);
}

ClientConnection::ClientConnection(Worker* worker, WorkerListener* listener, Stream* client,
                                   const sockaddr* peer)
    : worker_(worker), listener_(listener), req_chunks_(worker->parse_limits().max_head_bytes),
      resp_chunks_(worker->parse_limits().max_head_bytes) {
  format_peer(peer, &client_label_, &client_ip_);
  client_ = client;
  timer_ = evtimer_new(worker->base(), timer_cb, this);
  resume_ev_ = event_new(worker->base(), -1, 0, resume_cb, this);
  internal_ = true;
  h2_checked_ = true;
}

ClientConnection::~ClientConnection() {
  if (inflight_ != nullptr) {
    --*inflight_;
  }
  if (phase_ == Phase::Held) {
    worker_->forwarder()->hold().remove(this);
  }
  if (hold_watch_ != nullptr) {
    event_free(hold_watch_);
  }
  if (upstream_ != nullptr) {
    release_upstream(false);
  }
  if (client_ != nullptr) {
    delete client_;
  }
  if (resume_ev_ != nullptr) {
    event_free(resume_ev_);
  }
  if (timer_ != nullptr) {
    event_free(timer_);
  }
  if (!internal_) {  // an HTTP/2 stream is not a connection (its H2Connection counts itself)
    worker_->stats().dec(Stat::ConnectionsActive);
  }
}

void ClientConnection::use_tls(ssl_st* ssl, std::shared_ptr<const TlsContexts> pin) {
  tls_pin_ = std::move(pin);
  timeval tv = ms_to_tv(static_cast<uint64_t>(listener_->conf->tls.handshake_timeout.count()));
  client_->start_tls_server(ssl, tv);
}

void ClientConnection::start() {
  tune_socket(client_);
  uint64_t high = worker_->limits().buffer_high_water;
  client_->set_write_low_water(high / 2);
  client_->set_callbacks(client_read_cb, client_write_cb, client_event_cb, this);
  timeval send_tv = ms_to_tv(static_cast<uint64_t>(worker_->limits().send_timeout.count()));
  client_->set_timeouts(nullptr, &send_tv);
  client_->enable(EV_READ | EV_WRITE);
  // A new connection gets the header timeout: a client that connects and sends nothing is a
  // slowloris as much as one that dribbles a head.
  arm_timer(static_cast<uint64_t>(worker_->limits().client_header_timeout.count()));
}

// ---------------------------------------------------------------------------------------------
// libevent trampolines: the only code that destroys a connection.

void ClientConnection::finish(ClientConnection* c, Step step) {
  if (step == Step::Close) {
    c->worker_->destroy(c);
    return;
  }
  // Send what this event produced before the loop handles the rest of its batch.
  if (c->client_ != nullptr) {
    c->client_->flush_now();
  }
  if (c->upstream_ != nullptr) {
    c->upstream_->flush_now();
  }
}

void ClientConnection::client_read_cb(Stream*, void* arg) {
  auto* c = static_cast<ClientConnection*>(arg);
  finish(c, c->on_client_read());
}

void ClientConnection::client_write_cb(Stream*, void* arg) {
  auto* c = static_cast<ClientConnection*>(arg);
  finish(c, c->on_client_write());
}

void ClientConnection::client_event_cb(Stream*, short what, void* arg) {
  auto* c = static_cast<ClientConnection*>(arg);
  finish(c, c->on_client_event(what));
}

void ClientConnection::upstream_read_cb(Stream*, void* arg) {
  auto* c = static_cast<ClientConnection*>(arg);
  finish(c, c->on_upstream_read());
}

void ClientConnection::upstream_write_cb(Stream*, void* arg) {
  auto* c = static_cast<ClientConnection*>(arg);
  finish(c, c->on_upstream_write());
}

void ClientConnection::upstream_event_cb(Stream*, short what, void* arg) {
  auto* c = static_cast<ClientConnection*>(arg);
  finish(c, c->on_upstream_event(what));
}

void ClientConnection::timer_cb(int, short, void* arg) {
  auto* c = static_cast<ClientConnection*>(arg);
  finish(c, c->on_timer());
}

void ClientConnection::hold_closed_cb(int, short, void* arg) {
  auto* c = static_cast<ClientConnection*>(arg);
  if (c->phase_ != Phase::Held) {
    return;
  }
  // The client closed (or half-closed) while its request waited: like nginx with EPOLLRDHUP,
  // treat it as gone. Its hold slot is freed now; nothing was sent upstream.
  c->worker_->forwarder()->hold().remove(c);
  c->worker_->stats().inc(Stat::ClientAborts);
  c->set_termination("CW");
  c->log_exchange();
  finish(c, Step::Close);
}

void ClientConnection::watch_hold(bool on) {
  if (!on) {
    if (hold_watch_ != nullptr) {
      event_del(hold_watch_);
    }
    return;
  }
  if (client_->fd() < 0) {
    return;  // an HTTP/2 stream: its session frees the pair end on RST_STREAM, we see EOF
  }
  if (hold_watch_ == nullptr) {
    hold_watch_ = event_new(worker_->base(), client_->fd(), EV_CLOSED, hold_closed_cb, this);
  }
  if (hold_watch_ != nullptr) {
    event_add(hold_watch_, nullptr);
  }
}

// ---------------------------------------------------------------------------------------------
// Drain / kill

ClientConnection::Step ClientConnection::on_drain() {
  draining_ = true;
  if (internal_) {
    return Step::Keep;  // an HTTP/2 stream's request may not be read yet; its session ends it
  }
  if (phase_ == Phase::ReadHead && !head_started_ && evbuffer_get_length(client_->input()) == 0) {
    return Step::Close;
  }
  return Step::Keep;
}

void ClientConnection::on_kill() {
  if (request_in_progress()) {
    set_termination("K");
    log_exchange();
  }
}

bool ClientConnection::request_in_progress() const {
  return phase_ == Phase::Held || phase_ == Phase::Connecting || phase_ == Phase::Exchanging ||
         (phase_ == Phase::ReadHead && head_started_);
}

// ---------------------------------------------------------------------------------------------
// Client side

ClientConnection::Step ClientConnection::on_client_read() {
  switch (phase_) {
  case Phase::ReadHead: return parse_head();
  case Phase::Held:
  case Phase::Connecting: return Step::Keep;
  case Phase::Exchanging:
    if (!req_done_) {
      return forward_request_body();
    }
    // Pipelined bytes of the next request wait in the input buffer; stop reading when there
    // are too many of them.
    if (evbuffer_get_length(client_->input()) > worker_->limits().buffer_high_water) {
      client_->disable(EV_READ);
    }
    return Step::Keep;
  case Phase::Closing: {
    evbuffer* in = client_->input();
    evbuffer_drain(in, evbuffer_get_length(in));
    return Step::Keep;
  }
  }
  return Step::Keep;
}

ClientConnection::Step ClientConnection::on_client_write() {
  if (phase_ == Phase::Closing) {
    return evbuffer_get_length(client_->output()) == 0 ? linger() : Step::Keep;
  }
  if (upstream_paused_ && upstream_ != nullptr) {
    upstream_paused_ = false;
    upstream_->enable(EV_READ);
    // Bytes may be waiting in the upstream input buffer already.
    if (evbuffer_get_length(upstream_->input()) > 0) {
      return on_upstream_read();
    }
  }
  return Step::Keep;
}

ClientConnection::Step ClientConnection::on_client_event(short what) {
  if (what & BEV_EVENT_TIMEOUT) {
    worker_->stats().inc(Stat::ClientTimeouts);
    if (what & BEV_EVENT_WRITING) {
      // The client stopped reading what we send it.
      if (request_in_progress()) {
        set_termination("cD");
        log_exchange();
      }
      return Step::Close;
    }
    // Read timeout: only armed while a request body is being received.
    if (!resp_head_sent_ && phase_ == Phase::Exchanging) {
      return respond_error(408, "request body timeout\n", "cB");
    }
    if (request_in_progress()) {
      set_termination("cB");
      log_exchange();
    }
    return Step::Close;
  }
  if (what & BEV_EVENT_EOF) {
    client_eof_ = true;
    if (phase_ == Phase::Closing) {
      return (lingering_ || evbuffer_get_length(client_->output()) == 0) ? Step::Close : Step::Keep;
    }
    if (phase_ == Phase::ReadHead) {
      if (head_started_) {
        worker_->stats().inc(Stat::ClientAborts);
        set_termination("CR");
        log_exchange();
      }
      return Step::Close;
    }
    if (!req_done_) {
      worker_->stats().inc(Stat::ClientAborts);
      set_termination("CB");
      log_exchange();
      return Step::Close;
    }
    // The client half-closed after a complete request: answer it, then close.
    close_after_ = true;
    return Step::Keep;
  }
  // BEV_EVENT_ERROR: reset or other socket error.
  if (request_in_progress()) {
    worker_->stats().inc(Stat::ClientAborts);
    set_termination(phase_ == Phase::ReadHead ? "CR" : (req_done_ ? "CD" : "CB"));
    log_exchange();
  }
  return Step::Close;
}

ClientConnection::Step ClientConnection::on_timer() {
  if (phase_ == Phase::Closing) {
    return lingering_ ? Step::Close : Step::Keep;
  }
  if (phase_ == Phase::Held) {
    // Held past routing.hold.max_wait: re-deciding parks nothing and answers 503.
    worker_->forwarder()->hold().remove(this);
    watch_hold(false);
    phase_ = Phase::ReadHead;
    return parse_head();
  }
  if (phase_ != Phase::ReadHead) {
    return Step::Keep;
  }
  worker_->stats().inc(Stat::ClientTimeouts);
  if (!head_started_) {
    return Step::Close;  // idle keep-alive connection: close quietly
  }
  return respond_error(408, "request header timeout\n", "cR");
}

void ClientConnection::arm_timer(uint64_t ms) {
  timeval tv = ms_to_tv(ms);
  evtimer_add(timer_, &tv);
}

ClientConnection::Step ClientConnection::check_h2(bool* handed_over) {
  *handed_over = false;
  evbuffer* in = client_->input();
  bool h2 = false;
  if (client_->ssl() != nullptr) {
    const unsigned char* proto = nullptr;
    unsigned int proto_len = 0;
    SSL_get0_alpn_selected(client_->ssl(), &proto, &proto_len);
    h2 = proto_len == 2 && proto[0] == 'h' && proto[1] == '2';
  } else {
    size_t n = evbuffer_get_length(in);
    size_t want = n < h2::kClientPreface.size() ? n : h2::kClientPreface.size();
    const char* p = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(want)));
    h2::PrefaceMatch m = h2::match_preface(std::string_view(p, want));
    if (m == h2::PrefaceMatch::Partial) {
      return Step::Keep;  // h2_checked_ stays false: look again with more bytes
    }
    h2 = m == h2::PrefaceMatch::Yes;
  }
  h2_checked_ = true;
  if (h2) {
    // The session takes the Stream with its buffered bytes; this connection goes away.
    evtimer_del(timer_);
    Stream* s = client_;
    client_ = nullptr;
    worker_->adopt_h2(listener_, s, std::move(tls_pin_), std::move(slot_));
    *handed_over = true;
    return Step::Close;
  }
  return Step::Keep;
}

ClientConnection::Step ClientConnection::parse_head() {
  evbuffer* in = client_->input();
  size_t len = evbuffer_get_length(in);
  if (len == 0) {
    return Step::Keep;
  }
  if (!h2_checked_) {
    bool handed_over = false;
    Step s = check_h2(&handed_over);
    if (handed_over || !h2_checked_) {
      return s;
    }
  }
  if (!head_started_) {
    // RFC 9112 2.2: ignore empty lines before a request line.
    unsigned char first2[2];
    while (evbuffer_copyout(in, first2, 2) == 2 && first2[0] == '\r' && first2[1] == '\n') {
      evbuffer_drain(in, 2);
    }
    len = evbuffer_get_length(in);
    if (len == 0) {
      return Step::Keep;
    }
    head_started_ = true;
    t_start_us_ = monotonic_us();
    arm_timer(static_cast<uint64_t>(worker_->limits().client_header_timeout.count()));
  }
  const http1::Limits& limits = worker_->parse_limits();
  size_t want = len < limits.max_head_bytes + 1 ? len : limits.max_head_bytes + 1;
  // A login_form rule reads a small form body right after the head: make it contiguous too.
  Forwarder* fw = worker_->forwarder();
  size_t pull = want;
  if (fw != nullptr && fw->setup().needs_form_body) {
    size_t extra = want + kMaxFormBodyForKey;
    pull = len < extra ? len : extra;
  }
  const char* buf = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(pull)));
  http1::RequestHead head;
  head.headers = worker_->header_scratch();
  http1::ParseResult r = http1::parse_request(buf, want, limits, &head);
  if (r.status == http1::ParseStatus::Incomplete) {
    return Step::Keep;
  }
  if (r.status == http1::ParseStatus::Error) {
    worker_->stats().inc(Stat::BadRequests);
    // Keep what we can for the access log.
    bytes_in_ = want;
    const char* sp = static_cast<const char*>(std::memchr(buf, ' ', want < 32 ? want : 32));
    method_.assign(buf, sp != nullptr ? static_cast<size_t>(sp - buf) : 0);
    target_.clear();
    int status = http1::status_for(head.error);
    std::string body = std::string("bad request: ") + http1::to_string(head.error) + "\n";
    return respond_error(status, body, "PR");
  }
  return begin_exchange(head, r.consumed, std::string_view(buf, pull));
}

ClientConnection::Step ClientConnection::begin_exchange(const http1::RequestHead& head,
                                                        size_t head_len,
                                                        std::string_view contiguous) {
  Forwarder* fw = worker_->forwarder();
  std::string_view form;  // a small urlencoded body for a login_form rule
  if (fw != nullptr && fw->setup().needs_form_body && head.body == http1::BodyKind::Length &&
      head.content_length <= kMaxFormBodyForKey) {
    if (contiguous.size() < head_len + head.content_length) {
      // The form may carry the login: wait until all of it is here (the header timeout
      // still runs), then parse the head again.
      return Step::Keep;
    }
    form = contiguous.substr(head_len, head.content_length);
  }
  if (!held_) {
    worker_->stats().inc(Stat::Requests);
  }
  evtimer_del(timer_);
  method_.assign(head.method.data(), head.method.size());
  fields_.capture(head.headers, head.num_headers);
  // What is routed, forwarded and logged is the origin-form target: an absolute-form target
  // is reduced to its path (its authority is head.host, routed on and sent as Host).
  http1::origin_form(head, &target_);
  minor_version_ = head.minor_version;
  keep_alive_ = head.keep_alive;
  head_request_ = head.method == "HEAD";
  idempotent_ = is_idempotent(head.method) && head.body == http1::BodyKind::None;
  bytes_in_ = head_len;
  evbuffer* in = client_->input();

  if (head.method == "CONNECT") {
    evbuffer_drain(in, head_len);
    return respond_error(501, "CONNECT is not supported\n", "PR");
  }
  req_done_ = false;
  switch (head.body) {
  case http1::BodyKind::Length:
    req_mode_ = head.content_length > 0 ? BodyMode::Length : BodyMode::None;
    req_remaining_ = head.content_length;
    break;
  case http1::BodyKind::Chunked:
    req_mode_ = BodyMode::Chunked;
    req_chunks_ = http1::ChunkedDecoder(worker_->parse_limits().max_head_bytes);
    break;
  default: req_mode_ = BodyMode::None; break;
  }
  uint64_t max_body = worker_->limits().max_body_bytes;
  if (max_body != 0 && req_mode_ == BodyMode::Length && head.content_length > max_body) {
    evbuffer_drain(in, head_len);
    return respond_error(413, "request body larger than " + std::to_string(max_body) + " bytes\n",
                         "PR");
  }
  expect_continue_ = head.expect_continue && req_mode_ != BodyMode::None;
  pool_ = listener_->pool;
  if (fw != nullptr) {
    bool proceed = false;
    http1::RequestHead routed = head;
    routed.target = target_;
    Step s = route(routed, head_len, form, &proceed);
    if (!proceed) {
      return s;
    }
  }
  WorkerPool* pool = pool_;
  std::string fallback_host = pool->size() > 0 ? pool->member(0).shared->label : std::string();
  build_upstream_head(head, fallback_host);
  evbuffer_drain(in, head_len);

  phase_ = Phase::Connecting;
  client_->disable(EV_READ);
  attempts_ = 0;
  exclude_mask_ = 0;
  pool->count_request();
  last_connect_error_.clear();
  return connect_upstream();
}

// ---------------------------------------------------------------------------------------------
// Routing: carry out routing::decide() (DESIGN decisions 4 and 5)

ClientConnection::Step ClientConnection::route(const http1::RequestHead& head, size_t head_len,
                                               std::string_view form, bool* proceed) {
  Forwarder* fw = worker_->forwarder();
  routing::Decision d = fw->decide(head, form, &context_id_);
  if (const auto* p = std::get_if<routing::Proxy>(&d)) {
    // No tenant key and no_key: default_pool -> this listener's pool.
    WorkerPool* pool = p->schema == routing::kNoSchema && p->context == 0
                           ? listener_->pool
                           : worker_->pool_at(p->pool);
    if (pool == nullptr) {
      route_ = "reject";
      worker_->stats().inc(Stat::RouteRejects);
      return respond_reject(routing::Reject{routing::CtxCode::NoPool, p->context}, head_len, "--");
    }
    route_ = p->moved ? "proxy-moved" : (held_ ? "held-proxy" : "proxy");
    worker_->stats().inc(Stat::RouteProxies);
    pool_ = pool;
    if (p->schema != routing::kNoSchema) {
      inflight_ = worker_->inflight_counter(p->schema);
      if (inflight_ != nullptr) {
        ++*inflight_;
      }
    }
    // Forwarded to the other version's pool: mark it, so that an instance there that would
    // send it back stops with CTX-0013 instead of looping.
    add_loop_guard_ = p->moved && !fw->setup().decide.loop_guard_header.empty();
    *proceed = true;
    return Step::Keep;
  }
  if (const auto* r = std::get_if<routing::Redirect>(&d)) {
    route_ = "redirect";
    worker_->stats().inc(Stat::RouteRedirects);
    std::string& location = fw->header_scratch();
    location.assign("Location: ").append(r->location).append("\r\n");
    std::string& body = fw->body_scratch();
    body.assign("this tenant has moved to ").append(r->location).append("\n");
    return respond_local(307, location, "text/plain; charset=utf-8", body, head_len, "--");
  }
  if (const auto* j = std::get_if<routing::Reject>(&d)) {
    route_ = "reject";
    worker_->stats().inc(Stat::RouteRejects);
    return respond_reject(*j, head_len, "--");
  }
  return hold_request(head_len);
}

ClientConnection::Step ClientConnection::respond_reject(const routing::Reject& reject,
                                                        size_t head_len, const char* termination) {
  worker_->stats().inc_error(reject.code);
  LocalAnswer a = worker_->forwarder()->render(reject);
  return respond_local(a.status, a.extra_headers, "application/json", a.body, head_len,
                       termination);
}

ClientConnection::Step ClientConnection::hold_request(size_t head_len) {
  Forwarder* fw = worker_->forwarder();
  uint64_t now = monotonic_ms();
  if (!held_) {
    held_ = true;
    hold_deadline_ms_ = now + fw->hold().limits().max_wait_ms;
    worker_->stats().inc(Stat::RouteHolds);
  }
  // What the proxy holds in memory for this request: its head plus whatever body (and
  // pipelined bytes) arrived with it; reading stops below, so the rest stays in the kernel.
  const uint64_t buffered = evbuffer_get_length(client_->input());
  if (now >= hold_deadline_ms_ || !fw->hold().park(this, buffered)) {
    route_ = "hold-refused";
    worker_->stats().inc(Stat::HoldRefused);
    return respond_reject(routing::Reject{routing::CtxCode::HoldRefused, context_id_}, head_len,
                          "H-");
  }
  // The head stays in the client input; reading stops until the schema is enabled.
  phase_ = Phase::Held;
  client_->disable(EV_READ);
  watch_hold(true);
  arm_timer(hold_deadline_ms_ - now);
  return Step::Keep;
}

ClientConnection::Step ClientConnection::on_release() {
  if (phase_ != Phase::Held) {
    return Step::Keep;
  }
  watch_hold(false);
  phase_ = Phase::ReadHead;
  return parse_head();
}

ClientConnection::Step ClientConnection::respond_local(int status, std::string_view extra_headers,
                                                       std::string_view content_type,
                                                       std::string_view body, size_t head_len,
                                                       const char* termination, bool may_keep) {
  evtimer_del(timer_);
  bool keep =
      may_keep && keep_alive_ && req_mode_ == BodyMode::None && !draining_ && !worker_->draining();
  status_ = status;
  count_status(worker_->stats(), status);
  set_termination(termination);
  // Assembled by hand and added in one piece when it fits: snprintf alone cost about 2,400
  // instructions per answer, a quarter of a whole redirect (callgrind).
  char code[8];
  char length[24];
  const std::string_view pieces[] = {
      "HTTP/1.1 ",
      decimal(status, code, sizeof(code)),
      " ",
      reason_for(status),
      "\r\nContent-Type: ",
      content_type,
      "\r\nContent-Length: ",
      decimal(body.size(), length, sizeof(length)),
      "\r\n",
      keep ? std::string_view() : std::string_view("Connection: close\r\n"),
      kVia,
      extra_headers,
      "\r\n",
      head_request_ ? std::string_view() : body,
  };
  size_t total = 0;
  for (std::string_view piece : pieces) {
    total += piece.size();
  }
  evbuffer* out = client_->output();
  char buf[2048];
  if (total <= sizeof(buf)) {
    char* p = buf;
    for (std::string_view piece : pieces) {
      if (!piece.empty()) {  // an empty view may hold nullptr: memcpy(p, nullptr, 0) is UB
        std::memcpy(p, piece.data(), piece.size());
        p += piece.size();
      }
    }
    evbuffer_add(out, buf, total);
  } else {
    for (std::string_view piece : pieces) {
      evbuffer_add(out, piece.data(), piece.size());
    }
  }
  bytes_out_ += total;
  resp_head_sent_ = true;
  evbuffer_drain(client_->input(), head_len);
  log_exchange();
  if (!keep) {
    return enter_closing();
  }
  // Pipelined requests answered locally would otherwise recurse here once per request.
  if (local_depth_ >= 8) {
    return start_next_request(false);
  }
  ++local_depth_;
  Step s = start_next_request();
  --local_depth_;
  return s;
}

void ClientConnection::build_upstream_head(const http1::RequestHead& head,
                                           const std::string& fallback_host) {
  std::string& out = up_head_;
  out.clear();
  out.append(head.method).append(" ").append(target_).append(" HTTP/1.1\r\n");
  const http1::ConnectionListed listed(head.headers, head.num_headers);
  const bool drop_underscores = !worker_->limits().underscores_in_headers;
  bool has_host = false;
  std::string_view xff;
  std::string xff_joined;
  int xff_count = 0;
  for (size_t i = 0; i < head.num_headers; ++i) {
    const http1::Header& h = head.headers[i];
    if (!listed.forwards(h.name)) {
      continue;
    }
    if (drop_underscores && h.name.find('_') != std::string_view::npos) {
      // CGI-style back ends read X_Forwarded_For as X-Forwarded-For: a client could pass one
      // for the other (nginx's underscores_in_headers off does the same).
      worker_->stats().inc(Stat::UnderscoreFieldsDropped);
      continue;
    }
    if (http1::iequals(h.name, "expect") && expect_continue_) {
      continue;  // the proxy answers 100-continue itself
    }
    if (http1::iequals(h.name, "x-forwarded-for")) {
      if (xff_count++ == 0) {
        xff = h.value;
      } else {
        if (xff_count == 2) {
          xff_joined.assign(xff);
        }
        xff_joined.append(", ").append(h.value);
        xff = xff_joined;
      }
      continue;
    }
    if (http1::iequals(h.name, "x-forwarded-proto")) {
      continue;
    }
    if (http1::iequals(h.name, "host")) {
      has_host = true;
      if (head.absolute_form) {
        // RFC 9112 3.2.2: a proxy forwarding an absolute-form request sends the target's
        // authority as Host, never the Host it received (which may name another tenant).
        out.append("Host: ").append(head.host).append("\r\n");
        continue;
      }
    }
    out.append(h.name).append(": ").append(h.value).append("\r\n");
  }
  if (!has_host) {  // HTTP/1.0 may omit it: the target's authority, else the member
    out.append("Host: ")
        .append(head.absolute_form ? head.host : std::string_view(fallback_host))
        .append("\r\n");
  }
  out.append("X-Forwarded-For: ");
  if (!xff.empty()) {
    out.append(xff).append(", ");
  }
  out.append(client_ip_)
      .append(listener_->conf->tls.enabled ? "\r\nX-Forwarded-Proto: https\r\n"
                                           : "\r\nX-Forwarded-Proto: http\r\n")
      .append(kVia);
  fields_.append_generated_id(&out);
  if (add_loop_guard_) {
    out.append(worker_->forwarder()->setup().decide.loop_guard_header).append(": 1\r\n");
  }
  if (req_mode_ == BodyMode::Chunked) {
    out.append("Transfer-Encoding: chunked\r\n");
  }
  out.append("\r\n");
}

// ---------------------------------------------------------------------------------------------
// Upstream connection

ClientConnection::Step ClientConnection::connect_upstream() {
  WorkerPool* pool = pool_;
  const conf::Pool& pc = pool->conf();
  for (;;) {
    bool panic = false;
    uint64_t now_ms = monotonic_ms();
    WorkerMember* m = pool->pick(exclude_mask_, now_ms, &panic);
    if (m == nullptr) {
      std::string body = "no member of pool '" + pc.name + "' could be connected";
      if (!last_connect_error_.empty()) {
        body += " (last: " + last_connect_error_ + ")";
      }
      return respond_error(502, body + "\n", "SC");
    }
    if (panic) {
      worker_->stats().inc(Stat::NoHealthyMember);
    }
    member_ = m;
    ++attempts_;
    t_connect_us_ = monotonic_us();
    pool->upstream_attached(m);  // paired with upstream_released() in release_upstream()
    Stream* idle = pool->take_idle(m);
    if (idle != nullptr) {
      reused_ = true;
      upstream_ = idle;
      worker_->stats().inc(Stat::UpstreamReuses);
      upstream_->set_callbacks(upstream_read_cb, upstream_write_cb, upstream_event_cb, this);
      return on_upstream_connected();
    }
    reused_ = false;
    worker_->stats().inc(Stat::UpstreamConnects);
    upstream_ = new Stream(worker_->base(), -1);
    upstream_->set_callbacks(upstream_read_cb, upstream_write_cb, upstream_event_cb, this);
    timeval ctv = ms_to_tv(static_cast<uint64_t>(pc.connect_timeout.count()));
    upstream_->set_timeouts(nullptr, &ctv);
    if (pool->tls() != nullptr) {
      // TLS member: CONNECTED arrives after the handshake, both within connect_timeout.
      SSL* ssl = pool->new_tls(m);
      if (ssl == nullptr) {
        Step s = on_connect_failed("upstream TLS: cannot create a session (out of memory)");
        if (s == Step::Close || phase_ != Phase::Connecting || upstream_ != nullptr) {
          return s;
        }
        continue;
      }
      upstream_->start_tls_client(ssl, ctv);
    }
    upstream_->enable(EV_READ | EV_WRITE);
    if (upstream_->connect(reinterpret_cast<sockaddr*>(&m->shared->addr),
                           static_cast<int>(m->shared->addr_len)) == 0) {
      return Step::Keep;  // on_upstream_event(CONNECTED) continues
    }
    // Immediate failure (e.g. no route): try the next member.
    Step s = on_connect_failed(std::strerror(errno));
    if (s == Step::Close || phase_ != Phase::Connecting || upstream_ != nullptr) {
      return s;
    }
  }
}

ClientConnection::Step ClientConnection::on_connect_failed(const char* why) {
  worker_->stats().inc(Stat::UpstreamConnectFailures);
  WorkerPool* pool = pool_;
  pool->record_failure(member_, monotonic_ms());
  std::string label = member_->shared->label;
  last_connect_error_ = label + ": " + why;
  release_upstream(false);
  for (size_t i = 0; i < pool->size() && i < 64; ++i) {
    if (&pool->member(i) == member_) {
      exclude_mask_ |= (uint64_t{1} << i);
    }
  }
  member_ = nullptr;
  if (attempts_ <= pool->conf().retries) {
    worker_->stats().inc(Stat::UpstreamRetries);
    SY_LOG(Debug, "connect to %s failed (%s); retrying on another member", label.c_str(), why);
    return connect_upstream();
  }
  return respond_error(502, "cannot connect to upstream " + label + ": " + why + "\n", "SC");
}

ClientConnection::Step ClientConnection::on_upstream_connected() {
  phase_ = Phase::Exchanging;
  pool_->exchange_started(member_);
  t_connected_us_ = monotonic_us();
  if (!reused_) {
    tune_socket(upstream_);
  }
  const conf::Pool& pc = pool_->conf();
  const conf::Limits& lim = worker_->limits();
  uint64_t high = lim.buffer_high_water;
  upstream_->set_write_low_water(high / 2);
  timeval send_tv = ms_to_tv(static_cast<uint64_t>(lim.send_timeout.count()));
  timeval resp_tv = ms_to_tv(static_cast<uint64_t>(pc.response_timeout.count()));
  resp_state_ = RespState::Head;
  evbuffer* up_out = upstream_->output();
  evbuffer_add(up_out, up_head_.data(), up_head_.size());
  t_sent_us_ = t_connected_us_;
  if (req_mode_ == BodyMode::None) {
    req_done_ = true;
    upstream_->set_timeouts(&resp_tv, &send_tv);
    client_->set_timeouts(nullptr, &send_tv);
  } else {
    // While the body streams, upstream silence is normal: the response timeout starts when
    // the request is complete.
    upstream_->set_timeouts(nullptr, &send_tv);
    timeval body_tv = ms_to_tv(static_cast<uint64_t>(lim.client_body_timeout.count()));
    client_->set_timeouts(&body_tv, &send_tv);
    if (expect_continue_ && minor_version_ == 1) {
      evbuffer_add(client_->output(), kContinue, sizeof(kContinue) - 1);
    }
  }
  upstream_->enable(EV_READ | EV_WRITE);
  if (!client_eof_) {
    client_->enable(EV_READ);
  }
  if (req_mode_ != BodyMode::None) {
    return forward_request_body();
  }
  // Pipelined bytes may be waiting; they are parsed when this exchange finishes.
  return Step::Keep;
}

ClientConnection::Step ClientConnection::forward_request_body() {
  evbuffer* in = client_->input();
  evbuffer* out = upstream_->output();
  const conf::Limits& lim = worker_->limits();
  while (!req_done_) {
    size_t avail = evbuffer_get_length(in);
    if (req_mode_ == BodyMode::Length) {
      size_t n = avail < req_remaining_ ? avail : static_cast<size_t>(req_remaining_);
      if (n == 0) {
        break;
      }
      evbuffer_remove_buffer(in, out, n);
      req_remaining_ -= n;
      bytes_in_ += n;
      if (req_remaining_ == 0) {
        req_done_ = true;
      }
      continue;
    }
    // Chunked: payload moves straight across; framing is parsed and re-emitted.
    uint64_t data_left = req_chunks_.data_remaining();
    if (data_left > 0) {
      size_t n = avail < data_left ? avail : static_cast<size_t>(data_left);
      if (n == 0) {
        break;
      }
      evbuffer_remove_buffer(in, out, n);
      req_chunks_.consume_data(n);
      bytes_in_ += n;
      if (req_chunks_.data_remaining() == 0) {
        evbuffer_add(out, "\r\n", 2);
      }
      continue;
    }
    if (avail == 0) {
      break;
    }
    size_t want = avail < worker_->parse_limits().max_head_bytes + 2
                      ? avail
                      : worker_->parse_limits().max_head_bytes + 2;
    const char* buf =
        reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(want)));
    http1::ParseResult r = req_chunks_.parse_framing(buf, want);
    if (r.status == http1::ParseStatus::Error) {
      worker_->stats().inc(Stat::BadRequests);
      std::string body =
          std::string("bad request body: ") + http1::to_string(req_chunks_.error()) + "\n";
      if (!resp_head_sent_) {
        return respond_error(400, body, "PB");
      }
      return abort_exchange("PB");
    }
    if (r.status == http1::ParseStatus::Complete) {
      if (req_chunks_.done()) {
        evbuffer_add(out, "0\r\n", 3);
        add_trailer(out, req_chunks_.trailer(), !lim.underscores_in_headers);
        evbuffer_add(out, "\r\n", 2);
        req_done_ = true;
      } else {
        add_chunk_header(out, req_chunks_.data_remaining());
      }
    }
    bytes_in_ += r.consumed;
    evbuffer_drain(in, r.consumed);
    if (r.status == http1::ParseStatus::Incomplete && r.consumed == 0) {
      if (want > worker_->parse_limits().max_head_bytes) {
        return respond_error(400, "bad request body: chunk framing too long\n", "PB");
      }
      break;
    }
    if (lim.max_body_bytes != 0 && req_chunks_.total_payload() > lim.max_body_bytes) {
      if (!resp_head_sent_) {
        return respond_error(
            413, "request body larger than " + std::to_string(lim.max_body_bytes) + " bytes\n",
            "PB");
      }
      return abort_exchange("PB");
    }
  }
  if (req_done_) {
    t_sent_us_ = monotonic_us();
    timeval send_tv = ms_to_tv(static_cast<uint64_t>(lim.send_timeout.count()));
    timeval resp_tv = ms_to_tv(static_cast<uint64_t>(pool_->conf().response_timeout.count()));
    upstream_->set_timeouts(&resp_tv, &send_tv);
    client_->set_timeouts(nullptr, &send_tv);
    if (resp_state_ == RespState::Done) {
      return finish_exchange();
    }
    return Step::Keep;
  }
  if (evbuffer_get_length(out) >= lim.buffer_high_water) {
    pause_client_reads();
  }
  return Step::Keep;
}

size_t ClientConnection::add_trailer(evbuffer* out, std::string_view trailer,
                                     bool drop_underscores) {
  if (trailer.empty()) {
    return 0;
  }
  std::string& kept = worker_->head_scratch();
  kept.clear();
  size_t dropped = http1::append_allowed_trailer(trailer, drop_underscores, &kept);
  if (dropped > 0) {
    worker_->stats().inc(Stat::TrailerFieldsDropped, dropped);
  }
  evbuffer_add(out, kept.data(), kept.size());
  return kept.size();
}

void ClientConnection::pause_client_reads() {
  client_paused_ = true;
  client_->disable(EV_READ);
}

void ClientConnection::resume_client_reads() {
  client_paused_ = false;
  if (!client_eof_) {
    client_->enable(EV_READ);
  }
}

ClientConnection::Step ClientConnection::on_upstream_write() {
  if (client_paused_ && phase_ == Phase::Exchanging) {
    resume_client_reads();
    if (!req_done_ && evbuffer_get_length(client_->input()) > 0) {
      return forward_request_body();
    }
  }
  return Step::Keep;
}

ClientConnection::Step ClientConnection::on_upstream_read() {
  if (phase_ != Phase::Exchanging) {
    return Step::Keep;
  }
  while (resp_state_ == RespState::Head) {
    size_t before = evbuffer_get_length(upstream_->input());
    Step s = parse_response_head();
    if (s == Step::Close || phase_ != Phase::Exchanging) {
      return s;
    }
    if (resp_state_ == RespState::Head && evbuffer_get_length(upstream_->input()) == before) {
      return Step::Keep;  // incomplete (an interim response consumed bytes: parse on)
    }
  }
  if (resp_state_ == RespState::Body) {
    ResponseHeadSink* handed = head_handed_to_;
    head_handed_to_ = nullptr;
    Step s = forward_response_body();
    if (handed != nullptr && s == Step::Keep && evbuffer_get_length(client_->output()) == 0) {
      // No body bytes came with the head: its HEADERS frame must not wait for them. (When
      // some did, the pair delivers them and the stream sends HEADERS and DATA together.)
      handed->send_head_now();
    }
    return s;
  }
  // Done: anything further from the upstream is unsolicited; it is handled at release.
  return Step::Keep;
}

ClientConnection::Step ClientConnection::parse_response_head() {
  evbuffer* in = upstream_->input();
  size_t len = evbuffer_get_length(in);
  if (len == 0) {
    return Step::Keep;
  }
  const http1::Limits& limits = worker_->parse_limits();
  size_t want = len < limits.max_head_bytes + 1 ? len : limits.max_head_bytes + 1;
  const char* buf = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(want)));
  http1::ResponseHead head;
  head.headers = worker_->header_scratch();
  http1::ParseResult r = http1::parse_response(buf, want, limits, &head);
  if (r.status == http1::ParseStatus::Incomplete) {
    return Step::Keep;
  }
  WorkerPool* pool = pool_;
  if (r.status == http1::ParseStatus::Error || head.status == 101) {
    worker_->stats().inc(Stat::UpstreamErrors);
    pool->record_failure(member_, monotonic_ms());
    std::string why = r.status == http1::ParseStatus::Error
                          ? std::string(http1::to_string(head.error))
                          : std::string("unexpected 101 Switching Protocols");
    return respond_error(
        502, "bad response from upstream " + member_->shared->label + ": " + why + "\n", "SH");
  }
  if (head.status < 200) {
    // Interim response. 100 is ours to send (or not: the Expect field was not forwarded);
    // others (103 Early Hints) go to HTTP/1.1 clients as they are.
    if (head.status != 100 && minor_version_ == 1) {
      evbuffer_remove_buffer(in, client_->output(), r.consumed);
      bytes_out_ += r.consumed;
    } else {
      evbuffer_drain(in, r.consumed);
    }
    return Step::Keep;
  }
  t_resp_us_ = monotonic_us();
  pool->record_success(member_);
  status_ = head.status;
  count_status(worker_->stats(), status_);

  http1::BodyKind kind = http1::response_body_kind(head, head_request_);
  bool client_11 = minor_version_ == 1;
  close_after_ = close_after_ || !keep_alive_ || draining_ || worker_->draining() || client_eof_;
  chunk_to_client_ = false;
  upstream_reusable_ = head.keep_alive;
  switch (kind) {
  case http1::BodyKind::None: resp_mode_ = BodyMode::None; break;
  case http1::BodyKind::Length:
    resp_mode_ = head.content_length > 0 ? BodyMode::Length : BodyMode::None;
    resp_remaining_ = head.content_length;
    break;
  case http1::BodyKind::Chunked:
    resp_mode_ = BodyMode::Chunked;
    resp_chunks_ = http1::ChunkedDecoder(limits.max_head_bytes);
    chunk_to_client_ = client_11;
    close_after_ = close_after_ || !client_11;
    break;
  case http1::BodyKind::UntilClose:
    resp_mode_ = BodyMode::UntilClose;
    upstream_reusable_ = false;
    chunk_to_client_ = client_11;
    close_after_ = close_after_ || !client_11;
    break;
  }

  if (internal_ && resp_mode_ != BodyMode::None && hand_head_over(head)) {
    evbuffer_drain(in, r.consumed);  // the HTTP/2 stream has taken the head as it is
    resp_head_sent_ = true;
    resp_state_ = RespState::Body;
    return Step::Keep;
  }

  std::string& out = worker_->head_scratch();
  out.clear();
  char status_line[13] = {'H',
                          'T',
                          'T',
                          'P',
                          '/',
                          '1',
                          '.',
                          '1',
                          ' ',  // no snprintf per response
                          static_cast<char>('0' + head.status / 100 % 10),
                          static_cast<char>('0' + head.status / 10 % 10),
                          static_cast<char>('0' + head.status % 10),
                          ' '};
  out.append(status_line, sizeof(status_line)).append(head.reason).append("\r\n");
  const http1::ConnectionListed listed(head.headers, head.num_headers);
  for (size_t i = 0; i < head.num_headers; ++i) {
    const http1::Header& h = head.headers[i];
    if (!listed.forwards(h.name)) {
      continue;
    }
    out.append(h.name).append(": ").append(h.value).append("\r\n");
  }
  out.append(kVia);
  if (chunk_to_client_) {
    out.append("Transfer-Encoding: chunked\r\n");
  }
  if (close_after_) {
    out.append("Connection: close\r\n");
  } else if (!client_11) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
  evbuffer_drain(in, r.consumed);
  evbuffer_add(client_->output(), out.data(), out.size());
  bytes_out_ += out.size();
  resp_head_sent_ = true;
  resp_state_ = RespState::Body;
  if (resp_mode_ == BodyMode::None) {
    return response_done();
  }
  return Step::Keep;
}

bool ClientConnection::hand_head_over(const http1::ResponseHead& head) {
  ResponseHeadSink* sink = client_->peer_head_sink();
  if (sink == nullptr || evbuffer_get_length(client_->output()) != 0) {
    return false;  // no HTTP/2 stream there, or bytes queued that the head must not overtake
  }
  ResponseHeadSink::Body body;
  if (resp_mode_ == BodyMode::Length) {
    body = ResponseHeadSink::Body::Length;
  } else if (chunk_to_client_) {
    body = ResponseHeadSink::Body::Chunked;
  } else {
    return false;
  }
  // The same fields the serialised head would carry; its size is what bytes_out counts.
  thread_local std::vector<HeadField> fields;
  fields.clear();
  size_t h1_bytes = 13 + head.reason.size() + 2 + (sizeof(kVia) - 1) + 2;
  const http1::ConnectionListed listed(head.headers, head.num_headers);
  for (size_t i = 0; i < head.num_headers; ++i) {
    const http1::Header& h = head.headers[i];
    if (!listed.forwards(h.name)) {
      continue;
    }
    fields.push_back(HeadField{h.name, h.value});
    h1_bytes += h.name.size() + 2 + h.value.size() + 2;
  }
  fields.push_back(HeadField{"Via", "1.1 switchyard"});
  h1_bytes += chunk_to_client_ ? sizeof("Transfer-Encoding: chunked\r\n") - 1 : 0;
  h1_bytes += close_after_ ? sizeof("Connection: close\r\n") - 1 : 0;
  if (!sink->take_response_head(head.status, fields.data(), fields.size(), body, resp_remaining_,
                                !close_after_)) {
    return false;
  }
  bytes_out_ += h1_bytes;
  head_handed_to_ = sink;
  return true;
}

ClientConnection::Step ClientConnection::forward_response_body() {
  evbuffer* in = upstream_->input();
  evbuffer* out = client_->output();
  while (resp_state_ == RespState::Body) {
    size_t avail = evbuffer_get_length(in);
    if (resp_mode_ == BodyMode::Length) {
      size_t n = avail < resp_remaining_ ? avail : static_cast<size_t>(resp_remaining_);
      if (n == 0) {
        break;
      }
      evbuffer_remove_buffer(in, out, n);
      bytes_out_ += n;
      resp_remaining_ -= n;
      if (resp_remaining_ == 0) {
        return response_done();
      }
      continue;
    }
    if (resp_mode_ == BodyMode::UntilClose) {
      if (avail == 0) {
        break;
      }
      if (chunk_to_client_) {
        add_chunk_header(out, avail);
      }
      evbuffer_remove_buffer(in, out, avail);
      bytes_out_ += avail;
      if (chunk_to_client_) {
        evbuffer_add(out, "\r\n", 2);
      }
      continue;
    }
    // Chunked.
    uint64_t data_left = resp_chunks_.data_remaining();
    if (data_left > 0) {
      size_t n = avail < data_left ? avail : static_cast<size_t>(data_left);
      if (n == 0) {
        break;
      }
      evbuffer_remove_buffer(in, out, n);
      resp_chunks_.consume_data(n);
      bytes_out_ += n;
      if (chunk_to_client_ && resp_chunks_.data_remaining() == 0) {
        evbuffer_add(out, "\r\n", 2);
      }
      continue;
    }
    if (avail == 0) {
      break;
    }
    size_t max = worker_->parse_limits().max_head_bytes + 2;
    size_t want = avail < max ? avail : max;
    const char* buf =
        reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(want)));
    http1::ParseResult r = resp_chunks_.parse_framing(buf, want);
    if (r.status == http1::ParseStatus::Error ||
        (r.status == http1::ParseStatus::Incomplete && r.consumed == 0 && want >= max)) {
      worker_->stats().inc(Stat::UpstreamErrors);
      return abort_exchange("SD");
    }
    if (r.status == http1::ParseStatus::Complete) {
      if (resp_chunks_.done()) {
        if (chunk_to_client_) {
          evbuffer_add(out, "0\r\n", 3);
          bytes_out_ += 5 + add_trailer(out, resp_chunks_.trailer(), false);
          evbuffer_add(out, "\r\n", 2);
        }
        evbuffer_drain(in, r.consumed);
        return response_done();
      }
      if (chunk_to_client_) {
        add_chunk_header(out, resp_chunks_.data_remaining());
      }
    }
    evbuffer_drain(in, r.consumed);
    if (r.status == http1::ParseStatus::Incomplete && r.consumed == 0) {
      break;
    }
  }
  if (evbuffer_get_length(out) >= worker_->limits().buffer_high_water) {
    upstream_paused_ = true;
    upstream_->disable(EV_READ);
  }
  return Step::Keep;
}

ClientConnection::Step ClientConnection::response_done() {
  resp_state_ = RespState::Done;
  if (resp_mode_ == BodyMode::UntilClose && chunk_to_client_) {
    evbuffer_add(client_->output(), "0\r\n\r\n", 5);
    bytes_out_ += 5;
  }
  if (evbuffer_get_length(upstream_->input()) > 0) {
    upstream_reusable_ = false;  // unsolicited bytes after the response
  }
  if (!req_done_) {
    // The upstream answered before the request body was complete: the rest of the body can't
    // be forwarded, so neither connection can be reused.
    upstream_reusable_ = false;
    close_after_ = true;
  }
  return finish_exchange();
}

ClientConnection::Step ClientConnection::finish_exchange() {
  log_exchange();
  release_upstream(upstream_reusable_ && req_done_);
  if (close_after_ || client_eof_) {
    return enter_closing();
  }
  return start_next_request();
}

void ClientConnection::resume_cb(int, short, void* arg) {
  auto* c = static_cast<ClientConnection*>(arg);
  finish(c, c->phase_ == Phase::ReadHead ? c->parse_head() : Step::Keep);
}

ClientConnection::Step ClientConnection::start_next_request(bool parse_now) {
  phase_ = Phase::ReadHead;
  head_started_ = false;
  req_done_ = false;
  req_mode_ = BodyMode::None;
  resp_state_ = RespState::Head;
  resp_mode_ = BodyMode::None;
  status_ = 0;
  resp_head_sent_ = false;
  head_handed_to_ = nullptr;
  close_after_ = false;
  chunk_to_client_ = false;
  upstream_reusable_ = false;
  expect_continue_ = false;
  head_request_ = false;
  bytes_in_ = bytes_out_ = 0;
  t_start_us_ = t_connect_us_ = t_connected_us_ = t_sent_us_ = t_resp_us_ = 0;
  termination_[0] = termination_[1] = '-';
  client_paused_ = false;
  route_ = nullptr;
  context_id_ = 0;
  attempts_ = 0;
  add_loop_guard_ = false;
  held_ = false;
  hold_deadline_ms_ = 0;
  fields_.clear();
  if (worker_->draining()) {
    draining_ = true;
  }
  if (draining_ && evbuffer_get_length(client_->input()) == 0) {
    return Step::Close;
  }
  client_->enable(EV_READ);
  arm_timer(static_cast<uint64_t>(worker_->limits().client_idle_timeout.count()));
  if (evbuffer_get_length(client_->input()) > 0) {
    if (!parse_now) {
      event_active(resume_ev_, EV_READ, 1);
      return Step::Keep;
    }
    return parse_head();
  }
  return Step::Keep;
}

ClientConnection::Step ClientConnection::on_upstream_event(short what) {
  if (phase_ == Phase::Connecting) {
    if (what & BEV_EVENT_CONNECTED) {
      return on_upstream_connected();
    }
    int err = EVUTIL_SOCKET_ERROR();
    if (upstream_->ssl() != nullptr &&
        ((what & BEV_EVENT_TIMEOUT) ? upstream_->tls_timed_out()
                                    : (what & BEV_EVENT_READING) != 0)) {
      // The TCP connect worked and the TLS handshake did not: a connect failure all the same
      // (no request byte was sent), with the TLS reason, e.g. a refused certificate.
      std::string why = upstream_->tls_timed_out()
                            ? std::string("upstream TLS handshake timeout")
                            : describe_tls_client_failure(upstream_->ssl(), upstream_->tls_error(),
                                                          upstream_->tls_errno());
      SY_LOG(Debug, "pool %s member %s: %s", pool_->conf().name.c_str(),
             member_->shared->label.c_str(), why.c_str());
      return on_connect_failed(why.c_str());
    }
    const char* why = (what & BEV_EVENT_TIMEOUT) ? "connect timeout"
                      : (err != 0)               ? evutil_socket_error_to_string(err)
                                                 : "connect failed";
    return on_connect_failed(why);
  }
  if (phase_ != Phase::Exchanging) {
    return Step::Keep;
  }
  if ((what & BEV_EVENT_EOF) && resp_state_ == RespState::Body &&
      resp_mode_ == BodyMode::UntilClose) {
    // Bytes that arrived with the EOF are forwarded first.
    Step s = forward_response_body();
    if (s == Step::Close) {
      return s;
    }
    upstream_reusable_ = false;
    return response_done();
  }
  bool timeout = (what & BEV_EVENT_TIMEOUT) != 0;
  if (!timeout && reused_ && resp_state_ == RespState::Head && !resp_head_sent_ && idempotent_ &&
      evbuffer_get_length(upstream_->input()) == 0) {
    // A pooled keep-alive connection the upstream had closed: the request never reached the
    // application, and it has no body, so it is sent again on a fresh connection.
    release_upstream(false);
    phase_ = Phase::Connecting;
    --attempts_;
    return connect_upstream();
  }
  pool_->record_failure(member_, monotonic_ms());
  if (timeout) {
    worker_->stats().inc(Stat::UpstreamTimeouts);
    if (!resp_head_sent_) {
      char body[160];
      std::snprintf(body, sizeof(body), "upstream %s did not respond within %lld ms\n",
                    member_->shared->label.c_str(),
                    static_cast<long long>(pool_->conf().response_timeout.count()));
      return respond_error(504, body, "sH");
    }
    return abort_exchange("sD");
  }
  worker_->stats().inc(Stat::UpstreamErrors);
  if (!resp_head_sent_) {
    return respond_error(502,
                         "upstream " + member_->shared->label +
                             " closed the connection before sending a response\n",
                         "SH");
  }
  return abort_exchange("SD");
}

void ClientConnection::release_upstream(bool reusable) {
  if (upstream_ == nullptr) {
    return;
  }
  if (phase_ == Phase::Exchanging && member_ != nullptr && member_->active > 0) {
    pool_->exchange_finished(member_);
  }
  if (member_ != nullptr) {
    pool_->upstream_released(member_);
  }
  if (reusable && member_ != nullptr && !worker_->draining()) {
    pool_->park(member_, upstream_);
  } else {
    delete upstream_;
  }
  upstream_ = nullptr;
  upstream_paused_ = false;
}

// ---------------------------------------------------------------------------------------------
// Errors and logging

ClientConnection::Step ClientConnection::respond_error(int status, const std::string& body,
                                                       const char* termination) {
  release_upstream(false);
  return respond_local(status, status == 503 ? "Retry-After: 1\r\n" : "",
                       "text/plain; charset=utf-8", body, 0, termination, false);
}

ClientConnection::Step ClientConnection::enter_closing() {
  evtimer_del(timer_);
  phase_ = Phase::Closing;
  // Keep reading (and discarding): closing a socket with unread input makes the kernel send a
  // reset, which can destroy the response before the client has read it.
  if (!client_eof_) {
    client_->enable(EV_READ);
  }
  client_->set_write_low_water(0);
  if (evbuffer_get_length(client_->output()) == 0) {
    return linger();
  }
  return Step::Keep;  // on_client_write continues once the response is flushed
}

ClientConnection::Step ClientConnection::linger() {
  if (client_eof_) {
    return Step::Close;
  }
  // Lingering close (as nginx and HAProxy do): send FIN, then read and discard until the
  // client closes too, for at most kLingerMs.
  lingering_ = true;
  client_->shutdown_write();  // TLS: close_notify first
  arm_timer(kLingerMs);
  return Step::Keep;
}

ClientConnection::Step ClientConnection::abort_exchange(const char* termination) {
  set_termination(termination);
  log_exchange();
  release_upstream(false);
  return Step::Close;
}

void ClientConnection::set_termination(const char* code) {
  termination_[0] = code[0];
  termination_[1] = code[1] != 0 ? code[1] : termination_[1];
  if (code[1] == 0) {
    // Only the "who" was given: derive the phase from where the exchange is.
    char phase = 'R';
    if (phase_ == Phase::Connecting) {
      phase = 'C';
    } else if (phase_ == Phase::Exchanging) {
      phase = !req_done_ ? 'B' : (resp_state_ == RespState::Head ? 'H' : 'D');
    }
    termination_[1] = phase;
  }
}

void ClientConnection::log_exchange() {
  if (inflight_ != nullptr) {  // every exchange is logged exactly once, however it ends
    --*inflight_;
    inflight_ = nullptr;
  }
  if (pool_ != nullptr && attempts_ > 0 && status_ >= 500) {  // proxied (or tried), then 5xx
    pool_->count_5xx();
  }
  AccessLogBuffer& log = worker_->access_log();
  if (!log.enabled()) {
    return;
  }
  uint64_t now = monotonic_us();
  AccessRecord r;
  r.client = client_label_;
  r.listener = listener_->conf->name;
  r.method = method_;
  r.target = target_;
  r.minor_version = minor_version_;
  r.h2 = internal_;  // an internal connection is always an HTTP/2 stream's
  r.tls = listener_->conf->tls.enabled;
  r.status = status_;
  r.bytes_in = bytes_in_;
  r.bytes_out = bytes_out_;
  r.pool = pool_ != nullptr ? std::string_view(pool_->conf().name) : std::string_view();
  r.route = route_;
  r.context = context_id_;
  r.upstream = member_ != nullptr ? std::string_view(member_->shared->label) : std::string_view();
  r.duration_ms = t_start_us_ != 0 ? us_to_ms(t_start_us_, now) : 0.0;
  r.connect_ms =
      (t_connected_us_ != 0 && !reused_) ? us_to_ms(t_connect_us_, t_connected_us_) : -1.0;
  r.response_ms = t_resp_us_ != 0 ? us_to_ms(t_sent_us_, t_resp_us_) : -1.0;
  r.termination[0] = termination_[0];
  r.termination[1] = termination_[1];
  r.fields = &fields_;
  log.append(r);
}

}  // namespace sy::proxy
