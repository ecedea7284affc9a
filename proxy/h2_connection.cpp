#include "proxy/h2_connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include <event2/buffer.h>
#include <event2/bufferevent.h>  // BEV_EVENT_* flags
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "common/log.h"
#include "proxy/response_head_sink.h"
#include "proxy/stream.h"
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"

namespace sy::proxy {

namespace {

constexpr uint32_t kMaxConcurrentStreams = 100;
constexpr int32_t kStreamWindow = 256 * 1024;  // initial per-stream receive window
constexpr int32_t kConnectionWindow = 16 * 1024 * 1024;
constexpr size_t kOutputCap = 64 * 1024;   // stop generating frames above this much output
constexpr size_t kBodyCap = 64 * 1024;     // per stream: response bytes waiting for nghttp2
constexpr int kMaxContinuations = 16;      // per header block
constexpr int kMaxResetsPerWindow = 200;   // client RST_STREAMs ...
constexpr uint64_t kResetWindowMs = 1000;  // ... per this window
constexpr size_t kMaxOutboundAck = 1000;   // queued SETTINGS/PING ACKs
constexpr size_t kMaxSettingsEntries = 32;
constexpr size_t kMaxIdlePipes = 16;     // idle internal connections kept per session
constexpr size_t kMaxSpareStreams = 16;  // closed stream objects kept for reuse per session
constexpr uint64_t kLingerMs = 2000;     // lingering close: wait this long for the client's FIN

// Response fields being submitted; per thread (a worker's sessions take turns), capacity reused.
thread_local std::vector<nghttp2_nv> nv_scratch;

timeval ms_to_tv(uint64_t ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

}  // namespace

// One request/response exchanged through an in-memory Stream pair with an internal
// ClientConnection.
struct H2Connection::H2Stream final : public ResponseHeadSink {
  bool take_response_head(int status, const HeadField* fields, size_t num_fields, Body body,
                          uint64_t content_length, bool keep_alive) override {
    return conn->take_response_head(this, status, fields, num_fields, body, content_length,
                                    keep_alive);
  }
  void send_head_now() override { conn->schedule_send(); }

  H2Connection* conn = nullptr;
  int32_t id = 0;
  h2::Request req;
  size_t header_bytes = 0;  // name + value + 32 per field (RFC 9113 6.5.2)
  bool chunked_request = false;
  bool request_done = false;
  Stream* pipe = nullptr;   // our end of the pair (owned)
  uint64_t unconsumed = 0;  // request DATA bytes not yet acknowledged to the client
  // Response.
  bool head_done = false;
  bool head_request = false;
  http1::BodyKind body_kind = http1::BodyKind::None;
  uint64_t remaining = 0;
  http1::ChunkedDecoder chunks{16 * 1024};
  evbuffer* body = nullptr;  // decoded response payload waiting for nghttp2
  bool body_done = false;
  bool deferred = false;  // the data provider returned DEFERRED
  bool pipe_eof = false;
  bool pipe_paused = false;      // reading the pair stopped (body above kBodyCap)
  bool keep_alive = false;       // the internal connection keeps going after this response
  std::string request_trailer;   // "name: value\r\n"... for the last chunk (chunked only)
  std::string response_trailer;  // as received after the last chunk
  // Timeouts (H2Connection::check_timeouts).
  uint64_t opened_ms = 0;         // monotonic: HEADERS began
  bool headers_done = false;      // the request header block is complete
  uint64_t stalled_since_ms = 0;  // response bytes wait for a window the client keeps shut

  // Back to a fresh stream's state, keeping the body buffer and string capacities (streams
  // are recycled by their session: one allocation less per request). The pair end is freed.
  void reset() {
    delete pipe;
    pipe = nullptr;
    conn = nullptr;
    id = 0;
    req.method.clear();
    req.scheme.clear();
    req.authority.clear();
    req.path.clear();
    req.fields.clear();
    req.has_content_length = false;
    req.announces_trailer = false;
    header_bytes = 0;
    chunked_request = false;
    request_done = false;
    unconsumed = 0;
    head_done = false;
    head_request = false;
    body_kind = http1::BodyKind::None;
    remaining = 0;
    chunks = http1::ChunkedDecoder{16 * 1024};
    evbuffer_drain(body, evbuffer_get_length(body));
    body_done = false;
    deferred = false;
    pipe_eof = false;
    pipe_paused = false;
    keep_alive = false;
    request_trailer.clear();
    response_trailer.clear();
    opened_ms = 0;
    headers_done = false;
    stalled_since_ms = 0;
  }

  ~H2Stream() {
    delete pipe;
    if (body != nullptr) {
      evbuffer_free(body);
    }
  }
};

namespace {

using H2Stream = H2Connection::H2Stream;

H2Stream* stream_of(nghttp2_session* session, int32_t id) {
  return static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(session, id));
}

// --- nghttp2 callbacks ------------------------------------------------------------------------

int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user) {
  auto* c = static_cast<H2Connection*>(user);
  if (hd->type == NGHTTP2_HEADERS) {
    c->continuation_count_ = 0;
    if (!c->headers_stream_id_ok(hd->stream_id)) {
      return NGHTTP2_ERR_CALLBACK_FAILURE;  // GOAWAY PROTOCOL_ERROR already submitted
    }
  } else if (hd->type == NGHTTP2_CONTINUATION && ++c->continuation_count_ > kMaxContinuations) {
    return NGHTTP2_ERR_CALLBACK_FAILURE;  // CONTINUATION flood: end the session
  }
  return 0;
}

int on_header(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
              size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* c = static_cast<H2Connection*>(user);
  if (frame->hd.type != NGHTTP2_HEADERS) {
    return 0;
  }
  H2Stream* st = stream_of(session, frame->hd.stream_id);
  if (st == nullptr) {
    return 0;
  }
  st->header_bytes += namelen + valuelen + 32;
  if (st->header_bytes > c->worker()->limits().max_header_bytes) {
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // RST_STREAM; the session goes on
  }
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (st->headers_done) {
    // Request trailers: HTTP/1.1 can carry them only after the last chunk. Fields that must
    // not appear in a trailer section (framing, routing, ...) are dropped and counted.
    if (!http1::allowed_in_trailer(n)) {
      c->worker()->stats().inc(Stat::TrailerFieldsDropped);
    } else if (st->chunked_request) {
      st->request_trailer.append(n).append(": ").append(v).append("\r\n");
    }
    return 0;
  }
  h2::Request& r = st->req;
  if (!n.empty() && n[0] == ':') {
    if (n == ":method") {
      r.method.assign(v);
    } else if (n == ":path") {
      r.path.assign(v);
    } else if (n == ":authority") {
      r.authority.assign(v);
    } else if (n == ":scheme") {
      r.scheme.assign(v);
    }
    return 0;
  }
  if (n == "content-length") {
    r.has_content_length = true;
  } else if (n == "trailer") {
    r.announces_trailer = true;
  }
  r.fields.push_back(h2::Field{std::string(n), std::string(v)});
  return 0;
}

int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  auto* c = static_cast<H2Connection*>(user);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    return 0;
  }
  std::unique_ptr<H2Stream> st = c->new_stream();
  st->conn = c;
  st->id = frame->hd.stream_id;
  nghttp2_session_set_stream_user_data(session, st->id, st.get());
  c->adopt_stream(std::move(st));
  return 0;
}

int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  auto* c = static_cast<H2Connection*>(user);
  switch (frame->hd.type) {
  case NGHTTP2_SETTINGS: c->settings_received_ = true; return 0;
  case NGHTTP2_HEADERS: {
    H2Stream* st = stream_of(session, frame->hd.stream_id);
    if (st == nullptr) {
      return 0;
    }
    if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      st->headers_done = true;
      st->request_done = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
      if (!c->start_request(st)) {
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
      }
    } else if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
      c->request_end(st);  // end of request trailers
    }
    return 0;
  }
  case NGHTTP2_DATA: {
    H2Stream* st = stream_of(session, frame->hd.stream_id);
    if (st != nullptr && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      c->request_end(st);
    }
    return 0;
  }
  case NGHTTP2_RST_STREAM:
    (void)c->on_reset_from_client();  // false: the session is being terminated
    return 0;
  default: return 0;
  }
}

int on_data_chunk_recv(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                       size_t len, void* user) {
  auto* c = static_cast<H2Connection*>(user);
  H2Stream* st = stream_of(session, stream_id);
  if (st == nullptr || st->pipe == nullptr) {
    nghttp2_session_consume_connection(session, len);  // nobody will read it
    return 0;
  }
  c->request_data(st, data, len);
  return 0;
}

int on_frame_send(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  auto* c = static_cast<H2Connection*>(user);
  if (frame->hd.type == NGHTTP2_RST_STREAM) {
    c->remember_reset(frame->hd.stream_id);
    return 0;
  }
  if (frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS) {
    return 0;
  }
  H2Stream* st = stream_of(session, frame->hd.stream_id);
  if (st == nullptr) {
    return 0;
  }
  st->stalled_since_ms = 0;  // the response moved
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && !st->request_done) {
    // The response is complete and the client is still sending (a request body the upstream
    // did not wait for, a body that timed out, a CONNECT): RFC 9113 8.1 lets the server end
    // the stream with RST_STREAM NO_ERROR so that the stream does not stay half-open.
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
  }
  return 0;
}

int on_stream_close(nghttp2_session* session, int32_t stream_id, uint32_t, void* user) {
  auto* c = static_cast<H2Connection*>(user);
  H2Stream* st = stream_of(session, stream_id);
  if (st != nullptr) {
    nghttp2_session_set_stream_user_data(session, stream_id, nullptr);
    c->stream_closed(st);
  }
  return 0;
}

// Submits |st|'s response trailer ("Name: value\r\n"...) as a HEADERS frame ending the stream;
// false when there is none worth sending (then DATA ends the stream).
bool submit_response_trailer(nghttp2_session* session, H2Stream* st) {
  std::vector<std::string> parts;  // lower-case names and values, kept until submit returns
  std::string_view text = st->response_trailer;
  while (!text.empty()) {
    size_t eol = text.find("\r\n");
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      continue;
    }
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
      value.remove_suffix(1);
    }
    if (!http1::allowed_in_trailer(name)) {
      continue;  // the internal connection dropped (and counted) these already
    }
    parts.push_back(lower(name));
    parts.emplace_back(value);
  }
  if (parts.empty()) {
    return false;
  }
  std::vector<nghttp2_nv> nv;
  for (size_t i = 0; i + 1 < parts.size(); i += 2) {
    nv.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(parts[i].data()),
                            reinterpret_cast<uint8_t*>(parts[i + 1].data()), parts[i].size(),
                            parts[i + 1].size(), NGHTTP2_NV_FLAG_NONE});
  }
  return nghttp2_submit_trailer(session, st->id, nv.data(), nv.size()) == 0;
}

ssize_t read_response_body(nghttp2_session* session, int32_t, uint8_t* buf, size_t length,
                           uint32_t* flags, nghttp2_data_source* source, void*) {
  auto* st = static_cast<H2Stream*>(source->ptr);
  int n = evbuffer_remove(st->body, buf, length);
  size_t left = evbuffer_get_length(st->body);
  if (st->pipe_paused && left < kBodyCap / 2 && st->pipe != nullptr) {
    st->pipe_paused = false;
    st->pipe->enable(EV_READ);
  }
  if (n <= 0) {
    if (st->body_done) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!st->response_trailer.empty() && submit_response_trailer(session, st)) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;  // the trailer HEADERS ends the stream
      }
      return 0;
    }
    if (st->pipe_eof) {
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // truncated response: reset the stream
    }
    st->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  if (st->body_done && left == 0) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!st->response_trailer.empty() && submit_response_trailer(session, st)) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
  }
  return n;
}

}  // namespace

// -----------------------------------------------------------------------------------------------

H2Connection::H2Connection(Worker* worker, WorkerListener* listener, Stream* client,
                           std::shared_ptr<const TlsContexts> tls_pin, ConnectionSlot slot)
    : worker_(worker), listener_(listener), client_(client), tls_pin_(std::move(tls_pin)),
      slot_(std::move(slot)) {
  socklen_t len = sizeof(peer_);
  if (getpeername(client_->fd(), reinterpret_cast<sockaddr*>(&peer_), &len) == 0) {
    peer_len_ = static_cast<int>(len);
  }
  timer_ = evtimer_new(worker->base(), timer_cb, this);
  resume_ev_ = event_new(worker->base(), -1, 0, resume_cb, this);
  send_ev_ = event_new(worker->base(), -1, 0, send_cb, this);
  // The ClientConnection that handed over counted the accept and has left the gauge.
  worker->stats().inc(Stat::ConnectionsActive);
}

H2Connection::~H2Connection() {
  if (session_ != nullptr) {
    nghttp2_session_del(session_);  // calls no callback
  }
  streams_.clear();
  closed_.clear();
  spare_streams_.clear();
  for (Stream* p : idle_pipes_) {
    delete p;
  }
  delete client_;
  event_free(timer_);
  event_free(resume_ev_);
  event_free(send_ev_);
  worker_->stats().dec(Stat::ConnectionsActive);
}

std::unique_ptr<H2Connection::H2Stream> H2Connection::new_stream() {
  if (!spare_streams_.empty()) {
    std::unique_ptr<H2Stream> st = std::move(spare_streams_.back());
    spare_streams_.pop_back();
    return st;
  }
  auto st = std::make_unique<H2Stream>();
  st->body = evbuffer_new();
  return st;
}

void H2Connection::adopt_stream(std::unique_ptr<H2Stream> st) {
  int32_t id = st->id;
  st->opened_ms = monotonic_ms();
  streams_[id] = std::move(st);
}

H2Connection::Step H2Connection::start() {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, on_begin_frame);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_outbound_ack(opt, kMaxOutboundAck);
  nghttp2_option_set_max_settings(opt, kMaxSettingsEntries);
  int rv = nghttp2_session_server_new2(&session_, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) {
    session_ = nullptr;
    return Step::Close;
  }
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       static_cast<uint32_t>(worker_->limits().max_header_bytes)},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings,
                          sizeof(settings) / sizeof(settings[0]));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  client_->set_callbacks(client_read_cb, client_write_cb, client_event_cb, this);
  client_->set_write_low_water(kOutputCap / 2);
  client_->enable(EV_READ | EV_WRITE);
  // Until the client's SETTINGS arrive the connection is still "reading its head".
  set_timer(TimerMode::Preface);
  event_active(resume_ev_, EV_READ, 1);  // bytes already in the input (preface onwards)
  return Step::Keep;
}

H2Connection::Step H2Connection::on_drain() {
  draining_ = true;
  if (session_ != nullptr) {
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                          nullptr, 0);
  }
  return after_event();
}

void H2Connection::set_timer(TimerMode mode) {
  timer_mode_ = mode;
  const conf::Limits& lim = worker_->limits();
  uint64_t ms = 0;
  switch (mode) {
  case TimerMode::Preface: ms = static_cast<uint64_t>(lim.client_header_timeout.count()); break;
  case TimerMode::Idle: ms = static_cast<uint64_t>(lim.client_idle_timeout.count()); break;
  case TimerMode::Streams: ms = sweep_interval_ms(lim); break;
  case TimerMode::Linger: ms = kLingerMs; break;
  }
  timeval tv = ms_to_tv(ms);
  evtimer_add(timer_, &tv);
}

uint64_t H2Connection::sweep_interval_ms(const conf::Limits& lim) {
  // A stream's timeouts are checked every quarter of the shortest one, so each fires between
  // 1x and 1.25x its configured value, and a connection with open streams wakes up rarely.
  uint64_t shortest =
      static_cast<uint64_t>(std::min(lim.client_header_timeout.count(), lim.send_timeout.count()));
  return std::clamp<uint64_t>(shortest / 4, 10, 5000);
}

H2Connection::Step H2Connection::check_timeouts() {
  const conf::Limits& lim = worker_->limits();
  const uint64_t now = monotonic_ms();
  const uint64_t header_ms = static_cast<uint64_t>(lim.client_header_timeout.count());
  const uint64_t send_ms = static_cast<uint64_t>(lim.send_timeout.count());
  const bool conn_window_shut = nghttp2_session_get_remote_window_size(session_) <= 0;
  for (auto& [id, st] : streams_) {
    if (!st->headers_done) {
      if (now - st->opened_ms < header_ms) {
        continue;
      }
      // A header block (HEADERS without END_HEADERS and no CONTINUATION, or a HEADERS frame
      // cut short) blocks the whole connection: no other frame may come before its end. As
      // for an HTTP/1.1 head, client_header_timeout ends it, here with GOAWAY.
      SY_LOG(Debug, "h2: stream %d: request header block not complete after %" PRIu64 " ms", id,
             now - st->opened_ms);
      worker_->stats().inc(Stat::ClientTimeouts);
      log_stream(st.get(), 0, 0, "cR");
      nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
      failed_ = true;
      return Step::Keep;
    }
    // Response bytes are waiting and the client keeps its window shut (initial window 0, or
    // never a WINDOW_UPDATE): the HTTP/1.1 send_timeout, per stream. A stream whose bytes
    // wait only for the socket is the connection's send timeout (the client Stream's).
    bool waiting =
        st->head_done && evbuffer_get_length(st->body) > 0 &&
        (conn_window_shut || nghttp2_session_get_stream_remote_window_size(session_, id) <= 0);
    if (!waiting) {
      st->stalled_since_ms = 0;
      continue;
    }
    if (st->stalled_since_ms == 0) {
      st->stalled_since_ms = now;
    } else if (now - st->stalled_since_ms >= send_ms) {
      SY_LOG(Debug, "h2: stream %d: client window shut for %" PRIu64 " ms: RST_STREAM", id,
             now - st->stalled_since_ms);
      worker_->stats().inc(Stat::ClientTimeouts);
      st->stalled_since_ms = 0;
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    }
  }
  return Step::Keep;
}

// --- trampolines: the only code that destroys an H2Connection ---------------------------------

void H2Connection::finish(H2Connection* c, Step step) {
  if (step == Step::Keep) {
    step = c->after_event();
  }
  if (step == Step::Close) {
    c->worker_->destroy_h2(c);
    return;
  }
  // No flush_now() here (unlike HTTP/1.1): the scheduled flush runs after the rest of this
  // loop batch, so frames of every stream answered in the batch leave in one TLS write.
}

void H2Connection::client_read_cb(Stream*, void* arg) {
  auto* c = static_cast<H2Connection*>(arg);
  finish(c, c->on_client_read());
}

void H2Connection::resume_cb(int, short, void* arg) {
  auto* c = static_cast<H2Connection*>(arg);
  finish(c, c->on_client_read());
}

void H2Connection::schedule_send() { event_active(send_ev_, EV_WRITE, 1); }

void H2Connection::send_cb(int, short, void* arg) {
  finish(static_cast<H2Connection*>(arg), Step::Keep);  // after_event() sends what was submitted
}

void H2Connection::client_write_cb(Stream*, void* arg) {
  finish(static_cast<H2Connection*>(arg), Step::Keep);  // after_event() generates more
}

void H2Connection::client_event_cb(Stream*, short, void* arg) {
  // EOF, error or a send timeout from the client: nothing more can be delivered.
  finish(static_cast<H2Connection*>(arg), Step::Close);
}

void H2Connection::timer_cb(int, short, void* arg) {
  auto* c = static_cast<H2Connection*>(arg);
  switch (c->timer_mode_) {
  case TimerMode::Linger: finish(c, Step::Close); return;
  case TimerMode::Preface:
    // The client sent the preface (or ALPN chose h2) but no SETTINGS: like a silent
    // HTTP/1.1 client, closed at client_header_timeout.
    c->worker_->stats().inc(Stat::ClientTimeouts);
    finish(c, Step::Close);
    return;
  case TimerMode::Streams:
    c->set_timer(TimerMode::Streams);  // periodic while streams are open
    finish(c, c->check_timeouts());
    return;
  case TimerMode::Idle: break;
  }
  // Idle: say goodbye properly, then close once the GOAWAY is out.
  c->worker_->stats().inc(Stat::ClientTimeouts);
  c->draining_ = true;
  nghttp2_submit_goaway(c->session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(c->session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
  finish(c, Step::Keep);
}

void H2Connection::pipe_read_cb(Stream*, void* arg) {
  auto* st = static_cast<H2Stream*>(arg);
  H2Connection* c = st->conn;
  finish(c, c->on_pipe_read(st));
}

void H2Connection::pipe_write_cb(Stream*, void* arg) {
  auto* st = static_cast<H2Stream*>(arg);
  H2Connection* c = st->conn;
  c->consume_request_data(st);
  finish(c, Step::Keep);
}

void H2Connection::pipe_event_cb(Stream*, short what, void* arg) {
  auto* st = static_cast<H2Stream*>(arg);
  H2Connection* c = st->conn;
  finish(c, c->on_pipe_event(st, what));
}

// --- client side ------------------------------------------------------------------------------

H2Connection::Step H2Connection::on_client_read() {
  evbuffer* in = client_->input();
  if (failed_ || lingering_) {
    evbuffer_drain(in, evbuffer_get_length(in));
    return Step::Keep;
  }
  while (evbuffer_get_length(in) > 0) {
    evbuffer_iovec vec;
    if (evbuffer_peek(in, -1, nullptr, &vec, 1) < 1) {
      break;
    }
    ssize_t n =
        nghttp2_session_mem_recv(session_, static_cast<const uint8_t*>(vec.iov_base), vec.iov_len);
    if (n < 0) {
      SY_LOG(Debug, "h2: session error: %s", nghttp2_strerror(static_cast<int>(n)));
      failed_ = true;  // nghttp2 queued a GOAWAY where the protocol calls for one
      evbuffer_drain(in, evbuffer_get_length(in));
      break;
    }
    evbuffer_drain(in, static_cast<size_t>(n));
  }
  return Step::Keep;
}

bool H2Connection::send_pending() {
  // One evbuffer_add per frame. (Reserving 16 KiB of output per batch instead saved no
  // instructions, and freeing that chunk after each TLS write made glibc trim its heap with
  // madvise about once per 100 requests; the pages then faulted back in: kernel time.)
  evbuffer* out = client_->output();
  while (evbuffer_get_length(out) < kOutputCap) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      return false;
    }
    if (n == 0) {
      break;
    }
    evbuffer_add(out, data, static_cast<size_t>(n));
  }
  return true;
}

H2Connection::Step H2Connection::after_event() {
  if (session_ == nullptr) {
    return Step::Close;
  }
  if (!send_pending()) {
    failed_ = true;
  }
  // Streams nghttp2 closed during this event: their pairs close; a few are kept for reuse.
  for (std::unique_ptr<H2Stream>& st : closed_) {
    if (spare_streams_.size() < kMaxSpareStreams) {
      st->reset();
      spare_streams_.push_back(std::move(st));
    }
  }
  closed_.clear();
  bool out_empty = evbuffer_get_length(client_->output()) == 0;
  bool done = failed_ ||
              (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) ||
              (draining_ && streams_.empty() && !nghttp2_session_want_write(session_));
  if (done) {
    if (lingering_) {
      return Step::Keep;
    }
    if (!out_empty) {
      client_->set_write_low_water(0);  // write_cb once everything is out
      return Step::Keep;
    }
    // Lingering close, as for HTTP/1.1: closing with unread input (e.g. the rest of a rapid-
    // reset burst) would send a reset that can destroy the GOAWAY before the client reads it.
    lingering_ = true;
    client_->shutdown_write();
    set_timer(TimerMode::Linger);
    return Step::Keep;
  }
  // The one timer follows the connection's state: idle timeout without streams, periodic
  // stream checks with them (check_timeouts), the preface's header timeout until SETTINGS.
  if (timer_mode_ != TimerMode::Preface || settings_received_) {
    TimerMode want = streams_.empty() ? TimerMode::Idle : TimerMode::Streams;
    if (timer_mode_ != want) {
      set_timer(want);
    }
  }
  return Step::Keep;
}

bool H2Connection::headers_stream_id_ok(int32_t id) {
  if (id > max_headers_stream_id_) {
    max_headers_stream_id_ = id;  // a new stream (nghttp2 checks parity and the rest)
    return true;
  }
  // RFC 9113 5.1.1: a new stream's id must be above every id the client used before; a
  // HEADERS frame on a lower one is a connection error PROTOCOL_ERROR. nghttp2 ignores it
  // instead (it cannot tell a new stream from trailers racing a RST_STREAM it sent), so it is
  // checked here: trailers of an open stream, and trailers of a stream this side reset
  // recently (the client may not have seen the reset yet) are the legitimate cases. After a
  // GOAWAY nghttp2 ignores streams on its own.
  if (nghttp2_session_find_stream(session_, id) != nullptr || draining_) {
    return true;
  }
  for (int32_t reset : recent_resets_) {
    if (reset == id) {
      return true;
    }
  }
  SY_LOG(Debug, "h2: HEADERS on stream %d after stream %d: GOAWAY PROTOCOL_ERROR", id,
         max_headers_stream_id_);
  nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
  failed_ = true;
  return false;
}

void H2Connection::remember_reset(int32_t id) {
  recent_resets_[next_reset_slot_] = id;
  next_reset_slot_ = (next_reset_slot_ + 1) % recent_resets_.size();
}

void H2Connection::answer_locally(H2Stream* st, int status, const char* why) {
  std::string text = status == 501 ? std::string("CONNECT is not supported\n")
                                   : std::string("bad request: ") + why + "\n";
  evbuffer_add(st->body, text.data(), text.size());
  st->head_done = true;
  st->body_kind = http1::BodyKind::Length;
  st->remaining = 0;
  st->body_done = true;
  char code[3] = {static_cast<char>('0' + status / 100 % 10),
                  static_cast<char>('0' + status / 10 % 10), static_cast<char>('0' + status % 10)};
  std::string length = std::to_string(text.size());
  static constexpr char kType[] = "text/plain; charset=utf-8";
  nghttp2_nv nv[] = {
      {reinterpret_cast<uint8_t*>(const_cast<char*>(":status")), reinterpret_cast<uint8_t*>(code),
       7, 3, NGHTTP2_NV_FLAG_NONE},
      {reinterpret_cast<uint8_t*>(const_cast<char*>("content-type")),
       reinterpret_cast<uint8_t*>(const_cast<char*>(kType)), 12, sizeof(kType) - 1,
       NGHTTP2_NV_FLAG_NONE},
      {reinterpret_cast<uint8_t*>(const_cast<char*>("content-length")),
       reinterpret_cast<uint8_t*>(length.data()), 14, length.size(), NGHTTP2_NV_FLAG_NONE},
  };
  nghttp2_data_provider provider;
  provider.source.ptr = st;
  provider.read_callback = read_response_body;
  nghttp2_submit_response(session_, st->id, nv, 3, &provider);
  WorkerStats& stats = worker_->stats();
  stats.inc(Stat::Requests);
  if (status == 400) {
    stats.inc(Stat::BadRequests);
  }
  count_status(stats, status);
  log_stream(st, status, text.size(), "PR");
}

void H2Connection::log_stream(const H2Stream* st, int status, uint64_t bytes_out,
                              const char* termination) {
  AccessLogBuffer& log = worker_->access_log();
  if (!log.enabled()) {
    return;
  }
  if (client_label_.empty()) {
    std::string ip;
    format_peer(reinterpret_cast<const sockaddr*>(&peer_), &client_label_, &ip);
  }
  AccessRecord r;
  r.client = client_label_;
  r.listener = listener_->conf->name;
  r.method = st->req.method;
  r.target = st->req.path;
  r.h2 = true;
  r.tls = listener_->conf->tls.enabled;
  r.status = status;
  r.bytes_in = st->header_bytes;
  r.bytes_out = bytes_out;
  r.duration_ms = static_cast<double>(monotonic_ms() - st->opened_ms);
  r.termination[0] = termination[0];
  r.termination[1] = termination[1];
  log.append(r);
}

bool H2Connection::on_reset_from_client() {
  uint64_t now = monotonic_us() / 1000;
  if (now - reset_window_start_ms_ >= kResetWindowMs) {
    reset_window_start_ms_ = now;
    resets_in_window_ = 0;
  }
  if (++resets_in_window_ > kMaxResetsPerWindow) {
    SY_LOG(Warn,
           "h2: %d stream resets within %" PRIu64 " ms from one client: GOAWAY "
           "ENHANCE_YOUR_CALM",
           resets_in_window_, kResetWindowMs);
    nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
    failed_ = true;
    return false;
  }
  return true;
}

void H2Connection::stream_closed(H2Stream* st) {
  auto it = streams_.find(st->id);
  if (it == streams_.end()) {
    return;
  }
  if (st->unconsumed > 0) {
    nghttp2_session_consume_connection(session_, st->unconsumed);
    st->unconsumed = 0;
  }
  closed_.push_back(std::move(it->second));
  streams_.erase(it);
}

// --- requests ---------------------------------------------------------------------------------

bool H2Connection::start_request(H2Stream* st) {
  const h2::Request& r = st->req;
  if (h2::Refusal no = h2::check_request(r); no.status != 0) {
    answer_locally(st, no.status, no.why);
    return true;
  }
  st->head_request = r.method == "HEAD";
  // Chunked when the length is unknown, or when trailer fields are announced: HTTP/1.1 can
  // carry request trailers only after the last chunk (the content-length is then dropped).
  st->chunked_request = !st->request_done && (!r.has_content_length || r.announces_trailer);
  scratch_.clear();
  h2::build_h1_request(r, st->chunked_request, &scratch_);
  // The write callback only acknowledges request DATA as the pair drains; a request without a
  // body (most) does without it, and so without one callback and session round per request.
  Stream::DataCb body_cb = st->request_done ? nullptr : pipe_write_cb;
  if (!idle_pipes_.empty()) {
    // An internal connection that finished an earlier stream of this session: reuse it.
    st->pipe = idle_pipes_.back();
    idle_pipes_.pop_back();
    st->pipe->set_callbacks(pipe_read_cb, body_cb, pipe_event_cb, st);
    st->pipe->set_head_sink(st);
    evbuffer_add(st->pipe->output(), scratch_.data(), scratch_.size());
    st->pipe->enable(EV_READ | EV_WRITE);
  } else {
    Stream* inner = nullptr;
    Stream::make_pair(worker_->base(), &st->pipe, &inner);
    st->pipe->set_callbacks(pipe_read_cb, body_cb, pipe_event_cb, st);
    st->pipe->set_head_sink(st);
    uint64_t high = worker_->limits().buffer_high_water;
    st->pipe->set_write_low_water(high / 2);
    evbuffer_add(st->pipe->output(), scratch_.data(), scratch_.size());
    st->pipe->enable(EV_READ | EV_WRITE);
    // The other end is an ordinary HTTP/1.1 client connection of this listener, with the
    // client's address (X-Forwarded-For, access log). It reads the head when the flush runs.
    worker_->adopt_internal(listener_, inner, reinterpret_cast<const sockaddr*>(&peer_));
  }
  // Free the request fields now: a long-lived stream keeps no copy of its head.
  st->req.fields.clear();
  st->req.fields.shrink_to_fit();
  return true;
}

void H2Connection::request_data(H2Stream* st, const uint8_t* data, size_t len) {
  evbuffer* out = st->pipe->output();
  if (st->chunked_request) {
    char line[24];
    int n = std::snprintf(line, sizeof(line), "%zx\r\n", len);
    evbuffer_add(out, line, static_cast<size_t>(n));
    evbuffer_add(out, data, len);
    evbuffer_add(out, "\r\n", 2);
  } else {
    evbuffer_add(out, data, len);
  }
  st->unconsumed += len;
  consume_request_data(st);
}

void H2Connection::request_end(H2Stream* st) {
  st->request_done = true;
  if (st->pipe != nullptr && st->chunked_request) {
    evbuffer* out = st->pipe->output();
    evbuffer_add(out, "0\r\n", 3);
    evbuffer_add(out, st->request_trailer.data(), st->request_trailer.size());
    evbuffer_add(out, "\r\n", 2);
  }
}

void H2Connection::consume_request_data(H2Stream* st) {
  // Acknowledge (open the client's window again) only what the HTTP/1.1 side can take.
  if (st->unconsumed == 0 || st->pipe == nullptr ||
      evbuffer_get_length(st->pipe->output()) >= worker_->limits().buffer_high_water) {
    return;
  }
  nghttp2_session_consume(session_, st->id, st->unconsumed);
  st->unconsumed = 0;
}

// --- responses --------------------------------------------------------------------------------

H2Connection::Step H2Connection::on_pipe_read(H2Stream* st) {
  if (!st->head_done && !parse_response_head(st)) {
    return Step::Keep;
  }
  if (st->head_done) {
    move_response_body(st);
    maybe_recycle_pipe(st);
  }
  return Step::Keep;
}

void H2Connection::maybe_recycle_pipe(H2Stream* st) {
  Stream* p = st->pipe;
  if (!st->body_done || !st->request_done || !st->keep_alive || st->pipe_eof || p == nullptr ||
      draining_ || idle_pipes_.size() >= kMaxIdlePipes || evbuffer_get_length(p->input()) != 0 ||
      evbuffer_get_length(p->output()) != 0) {
    return;
  }
  st->pipe = nullptr;  // the stream no longer touches it (its body is all in st->body)
  p->set_callbacks(idle_pipe_read_cb, nullptr, idle_pipe_event_cb, this);
  p->set_head_sink(nullptr);
  p->enable(EV_READ);  // notice the internal connection closing (idle timeout, drain)
  idle_pipes_.push_back(p);
}

void H2Connection::drop_idle_pipe(Stream* pipe) {
  for (size_t i = 0; i < idle_pipes_.size(); ++i) {
    if (idle_pipes_[i] == pipe) {
      idle_pipes_[i] = idle_pipes_.back();
      idle_pipes_.pop_back();
      break;
    }
  }
  delete pipe;
}

void H2Connection::idle_pipe_read_cb(Stream* s, void* arg) {
  // Bytes from an idle HTTP/1.1 connection (e.g. a 408): it is of no use any more.
  static_cast<H2Connection*>(arg)->drop_idle_pipe(s);
}

void H2Connection::idle_pipe_event_cb(Stream* s, short, void* arg) {
  static_cast<H2Connection*>(arg)->drop_idle_pipe(s);
}

H2Connection::Step H2Connection::on_pipe_event(H2Stream* st, short what) {
  (void)what;
  // The internal connection closed (after its response, or aborting it).
  st->pipe_eof = true;
  if (st->head_done) {
    move_response_body(st);  // a close-delimited body ends here
    if (!st->body_done && st->deferred) {
      st->deferred = false;
      nghttp2_session_resume_data(session_, st->id);  // the provider resets the stream
    }
  } else if (streams_.count(st->id) != 0) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
  }
  return Step::Keep;
}

bool H2Connection::take_response_head(H2Stream* st, int status, const HeadField* fields,
                                      size_t num_fields, ResponseHeadSink::Body body,
                                      uint64_t content_length, bool keep_alive) {
  if (session_ == nullptr || failed_ || st->head_done || st->pipe == nullptr ||
      evbuffer_get_length(st->pipe->input()) != 0 || stream_of(session_, st->id) != st) {
    return false;  // the bytes path handles it (or finds the stream gone)
  }
  // Field names lower-cased into one per-thread buffer, sized first so that the nv pointers
  // into it stay valid; nghttp2 copies names and values in submit.
  thread_local std::string names;
  size_t total = 0;
  for (size_t i = 0; i < num_fields; ++i) {
    total += fields[i].name.size();
  }
  names.resize(total);  // lower-cased names, back to back
  size_t at = 0;
  std::vector<nghttp2_nv>& nv = nv_scratch;
  nv.clear();
  char code[3] = {static_cast<char>('0' + status / 100 % 10),
                  static_cast<char>('0' + status / 10 % 10), static_cast<char>('0' + status % 10)};
  nv.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(":status")),
                          reinterpret_cast<uint8_t*>(code), 7, 3, NGHTTP2_NV_FLAG_NONE});
  // |fields| were filtered by ClientConnection::hand_head_over (hop-by-hop and Connection-
  // listed fields dropped), a superset of HTTP/2's connection-specific fields.
  for (size_t i = 0; i < num_fields; ++i) {
    std::string_view n = fields[i].name;
    char* lowered = names.data() + at;
    for (size_t k = 0; k < n.size(); ++k) {
      char c = n[k];
      lowered[k] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    }
    at += n.size();
    nv.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(lowered),
                            reinterpret_cast<uint8_t*>(const_cast<char*>(fields[i].value.data())),
                            n.size(), fields[i].value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  nghttp2_data_provider provider;
  provider.source.ptr = st;
  provider.read_callback = read_response_body;
  if (nghttp2_submit_response(session_, st->id, nv.data(), nv.size(), &provider) != 0) {
    return false;
  }
  st->body_kind =
      body == ResponseHeadSink::Body::Length ? http1::BodyKind::Length : http1::BodyKind::Chunked;
  st->remaining = content_length;
  st->keep_alive = keep_alive;
  st->head_done = true;
  st->body_done = false;
  return true;  // HEADERS leave with the body's first DATA, or on send_head_now()
}

bool H2Connection::parse_response_head(H2Stream* st) {
  evbuffer* in = st->pipe->input();
  for (;;) {
    size_t len = evbuffer_get_length(in);
    if (len == 0) {
      return false;
    }
    const http1::Limits& limits = worker_->parse_limits();
    size_t want = len < limits.max_head_bytes + 1 ? len : limits.max_head_bytes + 1;
    const char* buf =
        reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(want)));
    http1::ResponseHead head;
    head.headers = worker_->header_scratch();
    http1::ParseResult r = http1::parse_response(buf, want, limits, &head);
    if (r.status == http1::ParseStatus::Incomplete) {
      return false;
    }
    if (r.status == http1::ParseStatus::Error) {
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
      return false;
    }
    // The head sits contiguous in |in| (pulled up) until the drain below: field names are
    // lower-cased there in place (HTTP/2 requires lower case) and nghttp2 copies the nv array
    // in submit, so no per-field string is allocated.
    std::vector<nghttp2_nv>& nv = nv_scratch;
    nv.clear();
    char status[3] = {static_cast<char>('0' + head.status / 100 % 10),
                      static_cast<char>('0' + head.status / 10 % 10),
                      static_cast<char>('0' + head.status % 10)};
    nv.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(":status")),
                            reinterpret_cast<uint8_t*>(status), 7, 3, NGHTTP2_NV_FLAG_NONE});
    const http1::ConnectionListed listed(head.headers, head.num_headers);
    for (size_t i = 0; i < head.num_headers; ++i) {
      const http1::Header& h = head.headers[i];
      if (h2::is_connection_specific(h.name) || listed(h.name)) {
        continue;
      }
      char* name = const_cast<char*>(h.name.data());  // inside the pulled-up head
      for (size_t k = 0; k < h.name.size(); ++k) {
        if (name[k] >= 'A' && name[k] <= 'Z') {
          name[k] = static_cast<char>(name[k] + 32);
        }
      }
      nv.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(name),
                              reinterpret_cast<uint8_t*>(const_cast<char*>(h.value.data())),
                              h.name.size(), h.value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    if (head.status < 200) {
      // Interim response (100 Continue from the internal connection, 103 Early Hints from
      // the upstream): a HEADERS frame without END_STREAM before the final one (RFC 9113
      // 8.1). 101 never gets here: the HTTP/1.1 side answers an upstream's 101 with a 502.
      if (head.status != 101) {
        nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, st->id, nullptr, nv.data(), nv.size(),
                               nullptr);
      }
      evbuffer_drain(in, r.consumed);
      continue;
    }
    st->body_kind = http1::response_body_kind(head, st->head_request);
    st->keep_alive = head.keep_alive;
    st->remaining = head.content_length;
    st->head_done = true;
    nghttp2_data_provider provider;
    provider.source.ptr = st;
    provider.read_callback = read_response_body;
    bool has_body = st->body_kind != http1::BodyKind::None;
    st->body_done = !has_body;
    nghttp2_submit_response(session_, st->id, nv.data(), nv.size(), has_body ? &provider : nullptr);
    evbuffer_drain(in, r.consumed);
    return true;
  }
}

void H2Connection::move_response_body(H2Stream* st) {
  evbuffer* in = st->pipe->input();
  size_t before = evbuffer_get_length(st->body);
  while (!st->body_done && evbuffer_get_length(in) > 0) {
    if (st->body_kind == http1::BodyKind::Length) {
      size_t avail = evbuffer_get_length(in);
      size_t n = st->remaining < avail ? static_cast<size_t>(st->remaining) : avail;
      evbuffer_remove_buffer(in, st->body, n);
      st->remaining -= n;
      st->body_done = st->remaining == 0;
    } else if (st->body_kind == http1::BodyKind::Chunked) {
      if (st->chunks.data_remaining() > 0) {
        size_t avail = evbuffer_get_length(in);
        uint64_t left = st->chunks.data_remaining();
        size_t n = left < avail ? static_cast<size_t>(left) : avail;
        evbuffer_remove_buffer(in, st->body, n);
        st->chunks.consume_data(n);
        continue;
      }
      size_t avail = evbuffer_get_length(in);
      size_t max = worker_->parse_limits().max_head_bytes + 2;
      size_t want = avail < max ? avail : max;
      const char* buf =
          reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(want)));
      http1::ParseResult r = st->chunks.parse_framing(buf, want);
      if (r.status == http1::ParseStatus::Error) {
        st->pipe_eof = true;  // treat as truncated: the stream is reset
        evbuffer_drain(in, evbuffer_get_length(in));
        break;
      }
      if (st->chunks.done()) {
        st->response_trailer.assign(st->chunks.trailer());  // valid until the drain
      }
      evbuffer_drain(in, r.consumed);
      if (st->chunks.done()) {
        st->body_done = true;
      } else if (r.status == http1::ParseStatus::Incomplete && r.consumed == 0) {
        break;
      }
    } else {  // UntilClose
      evbuffer_remove_buffer(in, st->body, evbuffer_get_length(in));
    }
  }
  if (st->pipe_eof && st->body_kind == http1::BodyKind::UntilClose) {
    st->body_done = true;
  }
  if (!st->pipe_paused && evbuffer_get_length(st->body) > kBodyCap) {
    st->pipe_paused = true;
    st->pipe->disable(EV_READ);
  }
  if (st->deferred && (evbuffer_get_length(st->body) > before || st->body_done)) {
    st->deferred = false;
    nghttp2_session_resume_data(session_, st->id);
  }
}

}  // namespace sy::proxy
