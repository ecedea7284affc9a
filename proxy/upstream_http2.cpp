#include "proxy/upstream_http2.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <event2/buffer.h>
#include <event2/bufferevent.h>  // BEV_EVENT_* flags
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/timeval.h"
#include "proxy/connection.h"
#include "proxy/exchange.h"
#include "proxy/stats.h"
#include "proxy/stream.h"
#include "proxy/tls.h"
#include "proxy/upstream_pool.h"
#include "proxy/upstream_request.h"

namespace sy::proxy {
namespace {

constexpr int32_t kStreamWindow = 256 * 1024;  // per-stream receive window for responses
constexpr int32_t kConnectionWindow = 16 * 1024 * 1024;
constexpr size_t kOutputCap = 64 * 1024;      // stop generating frames above this much output
constexpr uint32_t kDefaultMaxStreams = 100;  // until the member's SETTINGS say otherwise

Http2Upstream* upstream_of(nghttp2_session* session, int32_t id) {
  return static_cast<Http2Upstream*>(nghttp2_session_get_stream_user_data(session, id));
}

// --- nghttp2 client callbacks: each event for a stream reaches its exchange inside a scope
// of the client connection that never destroys it here (we are inside mem_recv). ---

int on_header(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
              size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void*) {
  if (frame->hd.type != NGHTTP2_HEADERS) {
    return 0;
  }
  Http2Upstream* u = upstream_of(session, frame->hd.stream_id);
  if (u != nullptr) {
    u->response_field(std::string_view(reinterpret_cast<const char*>(name), namelen),
                      std::string_view(reinterpret_cast<const char*>(value), valuelen));
  }
  return 0;
}

int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  auto* c = static_cast<H2UpstreamConnection*>(user);
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    c->on_goaway();
    return 0;
  }
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) {
    return 0;
  }
  Http2Upstream* u = upstream_of(session, frame->hd.stream_id);
  if (u == nullptr) {
    return 0;
  }
  ConnectionScope scope(u->request()->owner(), false);
  bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.type == NGHTTP2_HEADERS) {
    u->response_headers(end);
  } else if (end) {
    u->response_end();
  }
  return 0;
}

int on_data_chunk_recv(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                       size_t len, void*) {
  Http2Upstream* u = upstream_of(session, stream_id);
  if (u == nullptr) {
    nghttp2_session_consume_connection(session, len);  // a stream we let go of
    return 0;
  }
  ConnectionScope scope(u->request()->owner(), false);
  u->response_data(data, len);
  return 0;
}

int on_stream_close(nghttp2_session* session, int32_t stream_id, uint32_t error_code, void*) {
  Http2Upstream* u = upstream_of(session, stream_id);
  if (u != nullptr) {
    nghttp2_session_set_stream_user_data(session, stream_id, nullptr);
    ConnectionScope scope(u->request()->owner(), false);
    u->stream_closed(error_code);
  }
  return 0;
}

ssize_t read_request_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source* source, void*) {
  return static_cast<Http2Upstream*>(source->ptr)->read_request(buf, length, flags);
}

}  // namespace

// =============================================================================================
// H2UpstreamConnection

H2UpstreamConnection::H2UpstreamConnection(const ExchangeEnv& env, WorkerPool* pool,
                                           WorkerMember* member)
    : env_(env), pool_(pool), member_(member) {
  timer_ = evtimer_new(env.base, timer_cb, this);
  send_ev_ = event_new(env.base, -1, 0, send_cb, this);
}

H2UpstreamConnection::~H2UpstreamConnection() {
  if (session_ != nullptr) {
    nghttp2_session_del(session_);  // calls no callback
  }
  delete stream_;
  event_free(timer_);
  event_free(send_ev_);
}

bool H2UpstreamConnection::connect(std::string* why) {
  const conf::Pool& pc = pool_->conf();
  env_.stats->inc(Stat::UpstreamConnects);
  stream_ = new Stream(env_.base, -1);
  stream_->set_callbacks(read_cb, write_cb, event_cb, this);
  timeval ctv = ms_to_tv(static_cast<uint64_t>(pc.connect_timeout.count()));
  stream_->set_timeouts(nullptr, &ctv);
  if (pool_->tls() != nullptr) {
    SSL* ssl = pool_->new_tls(member_);
    if (ssl == nullptr) {
      *why = "upstream TLS: cannot create a session (out of memory)";
      return false;
    }
    stream_->start_tls_client(ssl, ctv);  // ALPN h2 (UpstreamTls of an h2 pool)
  }
  stream_->enable(EV_READ | EV_WRITE);
  if (stream_->connect(reinterpret_cast<sockaddr*>(&member_->shared->addr),
                       static_cast<int>(member_->shared->addr_len)) != 0) {
    *why = std::strerror(errno);
    return false;
  }
  return true;
}

bool H2UpstreamConnection::has_room() const {
  if (dead_ || goaway_) {
    return false;
  }
  uint32_t limit = kDefaultMaxStreams;
  if (session_ != nullptr) {
    limit = nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  }
  return attached_.size() < limit;
}

void H2UpstreamConnection::attach(Http2Upstream* r) {
  attached_.push_back(r);
  if (ready_) {
    if (submit(r)) {
      r->connection_ready(true);
    }
  }
}

bool H2UpstreamConnection::submit(Http2Upstream* r) {
  NvList& head = r->head();
  nghttp2_data_provider provider;
  provider.source.ptr = r;
  provider.read_callback = read_request_body;
  int32_t id = nghttp2_submit_request(session_, nullptr, head.nv(), head.size(),
                                      r->has_body() ? &provider : nullptr, r);
  if (id < 0) {
    detach(r, false);
    r->connection_failed(nghttp2_strerror(id), true);
    return false;
  }
  r->set_stream(id);
  schedule_send();
  return true;
}

void H2UpstreamConnection::detach(Http2Upstream* r, bool reset) {
  auto it = std::find(attached_.begin(), attached_.end(), r);
  if (it == attached_.end()) {
    return;
  }
  attached_.erase(it);
  drained_.erase(std::remove(drained_.begin(), drained_.end(), r), drained_.end());
  int32_t id = r->stream_id();
  if (session_ != nullptr && id > 0) {
    if (nghttp2_session_get_stream_user_data(session_, id) == r) {
      nghttp2_session_set_stream_user_data(session_, id, nullptr);
    }
    if (reset) {
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    }
  }
  if (attached_.empty() && (goaway_ || *env_.draining || pool_->conf().max_idle_connections == 0)) {
    dead_ = true;  // nothing more will come over it: close it from its own event
  }
  schedule_send();  // the reset, a WINDOW_UPDATE, or the deferred free
}

void H2UpstreamConnection::close_if_idle() {
  if (attached_.empty()) {
    pool_->destroy_h2(this);  // may free itself: the pool's call, outside its callbacks
  }
}

void H2UpstreamConnection::schedule_send() {
  if (!send_scheduled_) {
    send_scheduled_ = true;
    event_active(send_ev_, EV_WRITE, 1);
  }
}

// --- own callbacks: the only code that frees a connection -----------------------------------

void H2UpstreamConnection::finish() {
  in_callback_ = false;
  if (dead_ && attached_.empty()) {
    pool_->destroy_h2(this);
  }
}

void H2UpstreamConnection::send_cb(int, short, void* arg) {
  auto* c = static_cast<H2UpstreamConnection*>(arg);
  c->in_callback_ = true;
  c->send_scheduled_ = false;
  c->send_pending();
  c->finish();
}

void H2UpstreamConnection::read_cb(Stream*, void* arg) {
  auto* c = static_cast<H2UpstreamConnection*>(arg);
  c->in_callback_ = true;
  evbuffer* in = c->stream_->input();
  while (!c->dead_ && c->session_ != nullptr && evbuffer_get_length(in) > 0) {
    evbuffer_iovec vec;
    if (evbuffer_peek(in, -1, nullptr, &vec, 1) < 1) {
      break;
    }
    ssize_t n = nghttp2_session_mem_recv(c->session_, static_cast<const uint8_t*>(vec.iov_base),
                                         vec.iov_len);
    if (n < 0) {
      c->fail(std::string("HTTP/2 protocol error from the member: ") +
              nghttp2_strerror(static_cast<int>(n)));
      break;
    }
    evbuffer_drain(in, static_cast<size_t>(n));
  }
  if (c->dead_) {
    evbuffer_drain(in, evbuffer_get_length(in));
  }
  c->send_pending();
  c->finish();
}

void H2UpstreamConnection::write_cb(Stream*, void* arg) {
  auto* c = static_cast<H2UpstreamConnection*>(arg);
  c->in_callback_ = true;
  c->send_pending();  // output drained: generate more
  c->finish();
}

void H2UpstreamConnection::timer_cb(int, short, void* arg) {
  auto* c = static_cast<H2UpstreamConnection*>(arg);
  c->in_callback_ = true;
  c->check_timeouts();
  c->send_pending();
  c->finish();
}

void H2UpstreamConnection::event_cb(Stream*, short what, void* arg) {
  auto* c = static_cast<H2UpstreamConnection*>(arg);
  c->in_callback_ = true;
  if (!c->ready_ && !c->dead_) {
    if (what & BEV_EVENT_CONNECTED) {
      c->on_connected();
      c->send_pending();
      c->finish();
      return;
    }
    Stream* s = c->stream_;
    std::string why;
    if (s->ssl() != nullptr &&
        ((what & BEV_EVENT_TIMEOUT) ? s->tls_timed_out() : (what & BEV_EVENT_READING) != 0)) {
      why = s->tls_timed_out()
                ? std::string("upstream TLS handshake timeout")
                : describe_tls_client_failure(s->ssl(), s->tls_error(), s->tls_errno());
    } else {
      int err = EVUTIL_SOCKET_ERROR();
      why = (what & BEV_EVENT_TIMEOUT) ? "connect timeout"
            : (err != 0)               ? evutil_socket_error_to_string(err)
                                       : "connect failed";
    }
    c->fail(why);
    c->finish();
    return;
  }
  c->fail((what & BEV_EVENT_TIMEOUT) ? "the member stopped reading (send timeout)"
                                     : "the member closed the connection");
  c->finish();
}

void H2UpstreamConnection::on_connected() {
  if (stream_->ssl() != nullptr) {
    const unsigned char* proto = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(stream_->ssl(), &proto, &len);
    if (len != 2 || proto[0] != 'h' || proto[1] != '2') {
      fail("the member did not agree to HTTP/2 (ALPN h2)");
      return;
    }
  }
  tune_socket(stream_);
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  int rv = nghttp2_session_client_new2(&session_, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) {
    session_ = nullptr;
    fail("cannot create an HTTP/2 session");
    return;
  }
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(env_.limits->max_header_bytes)},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings,
                          sizeof(settings) / sizeof(settings[0]));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  const conf::Limits& lim = *env_.limits;
  timeval send_tv = ms_to_tv(static_cast<uint64_t>(lim.send_timeout.count()));
  stream_->set_timeouts(nullptr, &send_tv);
  stream_->set_write_low_water(kOutputCap / 2);
  ready_ = true;
  std::vector<Http2Upstream*> waiting = attached_;  // submitting may detach on failure
  for (Http2Upstream* r : waiting) {
    ConnectionScope scope(r->request()->owner(), false);
    if (submit(r)) {
      r->connection_ready(false);
    }
  }
}

void H2UpstreamConnection::fail(std::string_view why) {
  if (dead_ && attached_.empty()) {
    return;
  }
  SY_LOG(Debug, "pool %s member %s: HTTP/2 connection: %.*s", pool_->conf().name.c_str(),
         member_->shared->label.c_str(), static_cast<int>(why.size()), why.data());
  dead_ = true;
  const bool before_ready = !ready_;
  std::vector<Http2Upstream*> streams;
  streams.swap(attached_);
  for (Http2Upstream* r : streams) {
    if (session_ != nullptr && r->stream_id() > 0) {
      nghttp2_session_set_stream_user_data(session_, r->stream_id(), nullptr);
    }
    ConnectionScope scope(r->request()->owner(), false);
    r->connection_failed(why, before_ready);
  }
  stream_->disable(EV_READ);
}

void H2UpstreamConnection::send_pending() {
  if (session_ == nullptr || dead_) {
    return;
  }
  evbuffer* out = stream_->output();
  while (evbuffer_get_length(out) < kOutputCap) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      fail(std::string("HTTP/2 session error: ") + nghttp2_strerror(static_cast<int>(n)));
      return;
    }
    if (n == 0) {
      break;
    }
    evbuffer_add(out, data, static_cast<size_t>(n));
  }
  // Streams whose request buffer drained during the send: their exchanges send more body.
  std::vector<Http2Upstream*> drained;
  drained.swap(drained_);
  for (Http2Upstream* r : drained) {
    if (std::find(attached_.begin(), attached_.end(), r) != attached_.end()) {
      ConnectionScope scope(r->request()->owner(), false);
      r->request()->handler()->on_upstream_drained();
    }
  }
  if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
    fail("the member ended the session (GOAWAY)");
    return;
  }
  // Response timeouts: checked every quarter of response_timeout while streams are open.
  if (!attached_.empty() && !evtimer_pending(timer_, nullptr)) {
    uint64_t ms = static_cast<uint64_t>(pool_->conf().response_timeout.count()) / 4;
    timeval tv = ms_to_tv(std::clamp<uint64_t>(ms, 10, 5000));
    evtimer_add(timer_, &tv);
  }
}

void H2UpstreamConnection::check_timeouts() {
  const uint64_t now = monotonic_ms();
  const uint64_t limit = static_cast<uint64_t>(pool_->conf().response_timeout.count());
  std::vector<Http2Upstream*> streams = attached_;  // a timed-out stream detaches
  for (Http2Upstream* r : streams) {
    if (r->waiting_for_response() && now - r->last_activity_ms() >= limit) {
      ConnectionScope scope(r->request()->owner(), false);
      r->timed_out();
    }
  }
}

// =============================================================================================
// Http2Upstream: one stream

Http2Upstream::Http2Upstream(UpstreamRequest* req) : req_(req) {
  req_buf_ = evbuffer_new();
  resp_buf_ = evbuffer_new();
}

Http2Upstream::~Http2Upstream() {
  release(false);
  evbuffer_free(req_buf_);
  evbuffer_free(resp_buf_);
}

size_t Http2Upstream::prepare(const HttpRequest& req, const ForwardPolicy& policy) {
  has_body_ = req.body != BodySize::None;
  return make_upstream_h2_head(req, policy, &head_);
}

void Http2Upstream::connect(WorkerPool* pool, WorkerMember* m) {
  stream_id_ = -1;
  req_done_ = deferred_ = told_full_ = false;
  req_trailer_.clear();
  evbuffer_drain(req_buf_, evbuffer_get_length(req_buf_));
  reset_response();
  complete_ = false;
  paused_ = false;
  unconsumed_ = 0;
  last_activity_ms_ = monotonic_ms();
  std::string why;
  bool created = false;
  H2UpstreamConnection* c = pool->h2_connection(m, req_->env(), &created, &why);
  if (c == nullptr) {
    req_->codec_connect_failed(why);
    return;
  }
  if (!created) {
    req_->env().stats->inc(Stat::UpstreamReuses);
  }
  created_ = created;
  conn_ = c;
  c->attach(this);  // ready connections submit at once
}

void Http2Upstream::connection_ready(bool reused) {
  last_activity_ms_ = monotonic_ms();
  req_->codec_connected(reused);
}

void Http2Upstream::connection_failed(std::string_view why, bool before_ready) {
  conn_ = nullptr;  // the connection let go of us
  if (before_ready) {
    req_->codec_connect_failed(why);
    return;
  }
  std::string message = "upstream " + req_->member()->shared->label + ": ";
  message.append(why).append(head_done_ ? "\n" : " before sending a response\n");
  req_->codec_failed(UpstreamFailure::Closed, message, !head_done_ && status_ == 0);
}

void Http2Upstream::write_body(evbuffer* src, size_t n) {
  evbuffer_remove_buffer(src, req_buf_, n);
  if (deferred_ && conn_ != nullptr) {
    deferred_ = false;
    nghttp2_session_resume_data(conn_->session(), stream_id_);
    conn_->schedule_send();
  }
}

bool Http2Upstream::body_full() const {
  if (evbuffer_get_length(req_buf_) < req_->env().limits->buffer_high_water) {
    return false;
  }
  const_cast<Http2Upstream*>(this)->told_full_ = true;
  return true;
}

void Http2Upstream::end_request(std::string_view trailer) {
  if (!has_body_) {
    return;  // END_STREAM went with the HEADERS
  }
  req_done_ = true;
  req_trailer_.assign(trailer);
  req_->codec_request_sent();
  last_activity_ms_ = monotonic_ms();
  if (deferred_ && conn_ != nullptr) {
    deferred_ = false;
    nghttp2_session_resume_data(conn_->session(), stream_id_);
    conn_->schedule_send();
  }
}

ssize_t Http2Upstream::read_request(uint8_t* buf, size_t length, uint32_t* flags) {
  int n = evbuffer_remove(req_buf_, buf, length);
  size_t left = evbuffer_get_length(req_buf_);
  if (told_full_ && left < req_->env().limits->buffer_high_water / 2) {
    told_full_ = false;
    conn_->note_drained(this);  // the exchange hears it once nghttp2 is done sending
  }
  if (n <= 0 && !req_done_) {
    deferred_ = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  if (req_done_ && left == 0) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!req_trailer_.empty()) {
      NvList nv;
      trailer_to_nv(req_trailer_, &nv);
      if (nv.size() > 0 &&
          nghttp2_submit_trailer(conn_->session(), stream_id_, nv.nv(), nv.size()) == 0) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;  // the trailer HEADERS ends the stream
      }
    }
  }
  return n > 0 ? n : 0;
}

void Http2Upstream::reset_response() {
  arena_.clear();
  spans_.clear();
  fields_.clear();
  status_ = 0;
  head_done_ = false;
  has_length_ = false;
  content_length_ = 0;
  trailer_.clear();
  evbuffer_drain(resp_buf_, evbuffer_get_length(resp_buf_));
}

void Http2Upstream::response_field(std::string_view name, std::string_view value) {
  last_activity_ms_ = monotonic_ms();
  if (head_done_) {
    if (name.empty() || name[0] != ':') {
      append_trailer_line(name, value, &trailer_);
    }
    return;
  }
  if (name == ":status") {
    status_ = 0;
    for (char c : value) {
      status_ = status_ * 10 + (c - '0');  // nghttp2 checked: three digits
    }
    return;
  }
  if (name == "content-length") {
    has_length_ = true;
    content_length_ = 0;
    for (char c : value) {
      content_length_ = content_length_ * 10 + static_cast<uint64_t>(c - '0');
    }
  }
  auto keep = [this](std::string_view v) {
    uint32_t off = static_cast<uint32_t>(arena_.size());
    arena_.append(v);
    return std::make_pair(off, static_cast<uint32_t>(v.size()));
  };
  auto n = keep(name);
  spans_.emplace_back(n, keep(value));
}

void Http2Upstream::response_headers(bool end_stream) {
  if (head_done_) {
    if (end_stream) {
      response_end();  // the trailer section
    }
    return;
  }
  fields_.resize(spans_.size());
  for (size_t i = 0; i < spans_.size(); ++i) {
    fields_[i] =
        Field{std::string_view(arena_).substr(spans_[i].first.first, spans_[i].first.second),
              std::string_view(arena_).substr(spans_[i].second.first, spans_[i].second.second)};
  }
  HttpResponse resp;
  resp.status = status_;
  resp.fields = fields_.data();
  resp.num_fields = fields_.size();
  if (status_ < 200) {
    if (status_ == 101) {
      req_->codec_failed(UpstreamFailure::BadResponse,
                         "bad response from upstream " + req_->member()->shared->label +
                             ": unexpected 101 Switching Protocols\n",
                         false);
      return;
    }
    if (status_ != 100) {  // 100 is the proxy's to send
      req_->handler()->on_response_interim(resp);
    }
    arena_.clear();
    spans_.clear();
    return;
  }
  head_done_ = true;
  if (end_stream || req_->head_request() || status_ == 204 || status_ == 304 ||
      (has_length_ && content_length_ == 0)) {
    resp.body = BodySize::None;
  } else if (has_length_) {
    resp.body = BodySize::Known;
    resp.content_length = content_length_;
  } else {
    resp.body = BodySize::Unknown;
  }
  req_->codec_response_head(resp);
  if (conn_ != nullptr && end_stream) {
    response_end();
  }
}

void Http2Upstream::response_data(const uint8_t* data, size_t len) {
  last_activity_ms_ = monotonic_ms();
  evbuffer_add(resp_buf_, data, len);
  H2UpstreamConnection* c = conn_;
  req_->handler()->on_response_body(resp_buf_, len);
  if (conn_ == nullptr) {
    // Released meanwhile (the client side is gone): nobody acknowledges for this stream now,
    // so the connection window gets the bytes back here.
    nghttp2_session_consume_connection(c->session(), len);
    return;
  }
  // Acknowledge only what the client side took (it pauses us when it is full).
  if (paused_) {
    unconsumed_ += len;
  } else {
    nghttp2_session_consume(conn_->session(), stream_id_, len);
  }
}

void Http2Upstream::pause_response(bool paused) {
  paused_ = paused;
  if (!paused && unconsumed_ > 0 && conn_ != nullptr) {
    nghttp2_session_consume(conn_->session(), stream_id_, unconsumed_);
    unconsumed_ = 0;
    conn_->schedule_send();
  }
}

void Http2Upstream::response_end() {
  if (complete_) {
    return;
  }
  complete_ = true;
  req_->handler()->on_response_end(trailer_);
}

void Http2Upstream::stream_closed(uint32_t error_code) {
  H2UpstreamConnection* c = conn_;
  if (c == nullptr) {
    return;
  }
  conn_ = nullptr;
  c->detach(this, false);
  if (complete_) {
    return;
  }
  const std::string& label = req_->member()->shared->label;
  if (error_code == NGHTTP2_REFUSED_STREAM && !head_done_) {
    // Not processed by the member (RFC 9113 8.7): safe to send again.
    req_->codec_failed(UpstreamFailure::Closed, "upstream " + label + " refused the stream\n",
                       true);
    return;
  }
  std::string message =
      "upstream " + label + " reset the stream (" + nghttp2_http2_strerror(error_code) + ")";
  message += head_done_ ? "\n" : " before sending a response\n";
  req_->codec_failed(UpstreamFailure::Closed, message, false);
}

bool Http2Upstream::waiting_for_response() const {
  return conn_ != nullptr && !complete_ && (req_done_ || !has_body_) && stream_id_ > 0;
}

void Http2Upstream::timed_out() {
  char body[160];
  std::snprintf(body, sizeof(body), "upstream %s did not respond within %lld ms\n",
                req_->member()->shared->label.c_str(),
                static_cast<long long>(req_->pool()->conf().response_timeout.count()));
  req_->codec_failed(UpstreamFailure::Timeout, body, false);
}

void Http2Upstream::release(bool) {
  H2UpstreamConnection* c = conn_;
  if (c == nullptr) {
    return;
  }
  conn_ = nullptr;
  // A stream that has not ended both ways is reset: the member stops working on it.
  c->detach(this, !complete_ || (has_body_ && !req_done_));
}

}  // namespace sy::proxy
