#include "proxy/http2_session.h"

#include <algorithm>
#include <cinttypes>
#include <cstring>

#include <event2/buffer.h>
#include <event2/bufferevent.h>  // BEV_EVENT_* flags
#include <nghttp2/nghttp2.h>

#include "common/log.h"
#include "proxy/forwarder.h"
#include "proxy/h2_convert.h"
#include "proxy/http2_stream.h"
#include "proxy/stats.h"
#include "proxy/stream.h"
#include "proxy/upstream_pool.h"

namespace sy::proxy {
namespace {

constexpr uint32_t kMaxConcurrentStreams = 100;
constexpr int32_t kStreamWindow = 256 * 1024;  // initial per-stream receive window
constexpr int32_t kConnectionWindow = 16 * 1024 * 1024;
constexpr size_t kOutputCap = 64 * 1024;   // stop generating frames above this much output
constexpr int kMaxContinuations = 16;      // per header block
constexpr int kMaxResetsPerWindow = 200;   // client RST_STREAMs ...
constexpr uint64_t kResetWindowMs = 1000;  // ... per this window
constexpr size_t kMaxOutboundAck = 1000;   // queued SETTINGS/PING ACKs
constexpr size_t kMaxSettingsEntries = 32;
constexpr size_t kMaxSpareStreams = 16;  // closed stream objects kept for reuse per session

using H2Stream = Http2Session::H2Stream;

H2Stream* stream_of(nghttp2_session* session, int32_t id) {
  return static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(session, id));
}

// --- nghttp2 callbacks ------------------------------------------------------------------------

int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user) {
  auto* s = static_cast<Http2Session*>(user);
  if (hd->type == NGHTTP2_HEADERS) {
    s->continuation_count_ = 0;
    if (!s->headers_stream_id_ok(hd->stream_id)) {
      return NGHTTP2_ERR_CALLBACK_FAILURE;  // GOAWAY PROTOCOL_ERROR already submitted
    }
  } else if (hd->type == NGHTTP2_CONTINUATION && ++s->continuation_count_ > kMaxContinuations) {
    return NGHTTP2_ERR_CALLBACK_FAILURE;  // CONTINUATION flood: end the session
  }
  return 0;
}

int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  auto* s = static_cast<Http2Session*>(user);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    return 0;
  }
  std::unique_ptr<H2Stream> st = s->new_stream();
  st->id = frame->hd.stream_id;
  nghttp2_session_set_stream_user_data(session, st->id, st.get());
  s->adopt_stream(std::move(st));
  return 0;
}

int on_header(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
              size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* s = static_cast<Http2Session*>(user);
  if (frame->hd.type != NGHTTP2_HEADERS) {
    return 0;
  }
  H2Stream* st = stream_of(session, frame->hd.stream_id);
  if (st == nullptr) {
    return 0;
  }
  st->header_bytes += namelen + valuelen + 32;
  if (st->header_bytes > s->conn()->env().limits->max_header_bytes) {
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // RST_STREAM; the session goes on
  }
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (st->headers_done) {
    // Request trailers; the exchange keeps only what a trailer may carry.
    append_trailer_line(n, v, &st->req_trailer);
    return 0;
  }
  if (!n.empty() && n[0] == ':') {
    if (n == ":method") {
      st->method = st->keep(v);
    } else if (n == ":path") {
      st->path = st->keep(v);
    } else if (n == ":authority") {
      st->authority = st->keep(v);
    } else if (n == ":scheme") {
      st->scheme = st->keep(v);
    } else if (n == ":protocol") {
      st->protocol = st->keep(v);  // RFC 8441; nghttp2 allows it only on CONNECT
    }
    return 0;
  }
  if (n == "content-length") {
    st->has_content_length = true;  // nghttp2 checked it is a number
    st->content_length = 0;
    for (char c : v) {
      st->content_length = st->content_length * 10 + static_cast<uint64_t>(c - '0');
    }
  } else if (n == "trailer") {
    st->announces_trailer = true;
  }
  H2Stream::Span ns = st->keep(n);
  st->spans.emplace_back(ns, st->keep(v));
  return 0;
}

int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  auto* s = static_cast<Http2Session*>(user);
  switch (frame->hd.type) {
  case NGHTTP2_SETTINGS: s->settings_received_ = true; return 0;
  case NGHTTP2_HEADERS: {
    H2Stream* st = stream_of(session, frame->hd.stream_id);
    if (st == nullptr) {
      return 0;
    }
    if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      st->headers_done = true;
      st->end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
      s->headers_complete(st);
    } else if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
      s->request_end(st);  // end of request trailers
    }
    return 0;
  }
  case NGHTTP2_DATA: {
    H2Stream* st = stream_of(session, frame->hd.stream_id);
    if (st != nullptr && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      s->request_end(st);
    }
    return 0;
  }
  case NGHTTP2_RST_STREAM:
    (void)s->on_reset_from_client();  // false: the session is being terminated
    return 0;
  default: return 0;
  }
}

int on_data_chunk_recv(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                       size_t len, void* user) {
  auto* s = static_cast<Http2Session*>(user);
  H2Stream* st = stream_of(session, stream_id);
  if (st == nullptr) {
    nghttp2_session_consume_connection(session, len);  // nobody will read it
    return 0;
  }
  s->request_data(st, data, len);
  return 0;
}

int on_frame_send(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  auto* s = static_cast<Http2Session*>(user);
  if (frame->hd.type == NGHTTP2_RST_STREAM) {
    s->remember_reset(frame->hd.stream_id);
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
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && !st->end_stream) {
    // The response is complete and the client is still sending (a request body the upstream
    // did not wait for, a body that timed out, a CONNECT): RFC 9113 8.1 lets the server end
    // the stream with RST_STREAM NO_ERROR so that the stream does not stay half-open.
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
  }
  return 0;
}

int on_stream_close(nghttp2_session* session, int32_t stream_id, uint32_t error_code, void* user) {
  auto* s = static_cast<Http2Session*>(user);
  H2Stream* st = stream_of(session, stream_id);
  if (st != nullptr) {
    nghttp2_session_set_stream_user_data(session, stream_id, nullptr);
    s->stream_closed(st, error_code);
  }
  return 0;
}

}  // namespace

// -----------------------------------------------------------------------------------------------

Http2Session::Http2Session(ClientConnection* conn)
    : conn_(conn), env_(conn->env()), client_(conn->client()) {
  if (!start()) {
    failed_ = true;
  }
}

Http2Session::~Http2Session() {
  // Streams first: their exchanges let go of upstreams; nghttp2_session_del calls no callback.
  streams_.clear();
  closed_.clear();
  spare_streams_.clear();
  if (session_ != nullptr) {
    nghttp2_session_del(session_);
  }
}

bool Http2Session::start() {
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
    return false;
  }
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(env_.limits->max_header_bytes)},
      // RFC 8441: WebSocket over HTTP/2 (extended CONNECT with :protocol websocket).
      {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings,
                          sizeof(settings) / sizeof(settings[0]));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  client_->set_write_low_water(kOutputCap / 2);
  // Until the client's SETTINGS arrive the connection is still "reading its head".
  set_timer(TimerMode::Preface);
  return true;
}

std::unique_ptr<H2Stream> Http2Session::new_stream() {
  if (!spare_streams_.empty()) {
    std::unique_ptr<H2Stream> st = std::move(spare_streams_.back());
    spare_streams_.pop_back();
    return st;
  }
  return std::make_unique<H2Stream>(this);
}

void Http2Session::adopt_stream(std::unique_ptr<H2Stream> st) {
  st->opened_ms = monotonic_ms();
  st->exchange.begin(st.get(), monotonic_us(), Protocol::Http2);
  int32_t id = st->id;
  streams_[id] = std::move(st);
}

void Http2Session::stream_closed(H2Stream* st, uint32_t error_code) {
  auto it = streams_.find(st->id);
  if (it == streams_.end()) {
    return;
  }
  if (st->exchange.in_progress()) {
    // The client reset the stream (or nghttp2 did, for a malformed request): the exchange
    // lets go of its upstream at once.
    SY_LOG(Debug, "h2: stream %d closed (error %u) with its exchange in progress", st->id,
           error_code);
    env_.stats->inc(Stat::ClientAborts);
    st->exchange.on_downstream_closed({Who::Client, st->exchange.client_phase()});
  }
  size_t unread = evbuffer_get_length(st->req_body);
  if (unread > 0) {
    nghttp2_session_consume_connection(session_, unread);  // never acknowledged: now
  }
  closed_.push_back(std::move(it->second));
  streams_.erase(it);
}

// --- requests ---------------------------------------------------------------------------------

void Http2Session::headers_complete(H2Stream* st) {
  HttpRequest req = st->request();
  st->head_request = req.method == "HEAD";
  h2::Refusal no =
      h2::check_request(req.method, st->view(st->protocol), st->view(st->scheme),
                        st->view(st->authority), st->view(st->path), req.fields, req.num_fields);
  if (no.status != 0) {
    // Turned into HTTP/1.1 it would be a different request (an absolute-form target, two
    // names) rather than a refused one: answered here, counted and logged PR.
    WorkerStats& stats = *env_.stats;
    stats.inc(Stat::Requests);
    if (no.status == 400) {
      stats.inc(Stat::BadRequests);
    }
    std::string& text = *env_.head_scratch;
    if (no.status == 501) {
      text.assign(st->protocol.len == 0 ? "CONNECT is not supported\n"
                                        : "only the websocket protocol is supported\n");
    } else {
      text.assign("bad request: ").append(no.why).append("\n");
    }
    st->exchange.count_in(st->header_bytes);
    st->exchange.refuse(no.status, text, req.method, req.target, {Who::Proxy, Phase::RequestHead});
    return;
  }
  Forwarder* fw = env_.forwarder;
  if (fw != nullptr && fw->wants_form_body(req) &&
      evbuffer_get_length(st->req_body) < req.content_length) {
    st->form_wait = true;  // the login may be in the form: route once it is all here
    return;
  }
  start_exchange(st);
}

void Http2Session::start_exchange(H2Stream* st) {
  st->form_wait = false;
  st->started = true;
  HttpRequest req = st->request();
  std::string_view form;
  Forwarder* fw = env_.forwarder;
  if (fw != nullptr && fw->wants_form_body(req)) {
    size_t n = static_cast<size_t>(req.content_length);
    form = std::string_view(
        reinterpret_cast<const char*>(evbuffer_pullup(st->req_body, static_cast<ssize_t>(n))), n);
  }
  st->exchange.count_in(st->header_bytes);
  st->exchange.start(req, form);
}

void Http2Session::request_data(H2Stream* st, const uint8_t* data, size_t len) {
  if (!st->exchange.in_progress()) {
    nghttp2_session_consume(session_, st->id, len);  // answered already: nobody reads it
    return;
  }
  evbuffer_add(st->req_body, data, len);
  st->req_total += len;
  st->body_since_ms = monotonic_ms();
  uint64_t max = env_.limits->max_body_bytes;
  if (max != 0 && st->req_total > max && !st->extended_connect) {  // a tunnel has no body
    st->too_large = true;
  }
  if (st->form_wait) {
    if (evbuffer_get_length(st->req_body) >= st->content_length) {
      start_exchange(st);
    }
    return;
  }
  if (st->started) {
    st->exchange.on_request_body();
  }
}

void Http2Session::request_end(H2Stream* st) {
  st->end_stream = true;
  if (st->form_wait) {
    start_exchange(st);
    return;
  }
  if (st->started) {
    st->exchange.on_request_body();
  }
}

bool Http2Session::on_reset_from_client() {
  uint64_t now = monotonic_ms();
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

bool Http2Session::headers_stream_id_ok(int32_t id) {
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

void Http2Session::remember_reset(int32_t id) {
  recent_resets_[next_reset_slot_] = id;
  next_reset_slot_ = (next_reset_slot_ + 1) % recent_resets_.size();
}

// --- events from the connection ---------------------------------------------------------------

void Http2Session::on_read() {
  evbuffer* in = client_->input();
  if (failed_) {
    evbuffer_drain(in, evbuffer_get_length(in));
  }
  while (!failed_ && evbuffer_get_length(in) > 0) {
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
  after_event();
}

void Http2Session::on_write() { after_event(); }  // generates more frames

void Http2Session::on_resume() {
  send_scheduled_ = false;
  after_event();
}

void Http2Session::schedule_send() {
  if (!send_scheduled_ && !in_send_) {
    send_scheduled_ = true;
    conn_->resume_soon();
  }
}

void Http2Session::response_drained(H2Stream* st) { drained_.push_back(st); }

void Http2Session::on_event(short what) {
  // EOF, error or a send timeout from the client: nothing more can be delivered.
  bool timeout = (what & BEV_EVENT_TIMEOUT) != 0;
  if (timeout) {
    env_.stats->inc(Stat::ClientTimeouts);
  }
  for (auto& [id, st] : streams_) {
    if (st->exchange.in_progress()) {
      st->exchange.on_downstream_closed(
          {timeout ? Who::ClientTimeout : Who::Client, st->exchange.client_phase()});
    }
  }
  conn_->close();
}

void Http2Session::on_timer() {
  if (final_goaway_at_ms_ != 0 && monotonic_ms() >= final_goaway_at_ms_) {
    final_goaway_at_ms_ = 0;
    draining_ = true;
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                          nullptr, 0);
    set_timer(timer_mode_);
    after_event();
    return;
  }
  switch (timer_mode_) {
  case TimerMode::Preface:
    // The client sent the preface (or ALPN chose h2) but no SETTINGS: like a silent
    // HTTP/1.1 client, closed at client_header_timeout.
    env_.stats->inc(Stat::ClientTimeouts);
    conn_->close();
    return;
  case TimerMode::Streams:
    set_timer(TimerMode::Streams);  // periodic while streams are open
    check_timeouts();
    break;
  case TimerMode::Idle:
    // Idle: say goodbye properly, then close once the GOAWAY is out.
    env_.stats->inc(Stat::ClientTimeouts);
    draining_ = true;
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                          nullptr, 0);
    break;
  }
  after_event();
}

void Http2Session::on_drain() {
  // Two phases (RFC 9113 6.8): a notice that stops new streams, then, a grace later, the
  // GOAWAY that names the last stream served. A single GOAWAY would refuse the streams the
  // client sent while it was in flight (clients that do not retry them see failures).
  if (session_ == nullptr || draining_ || final_goaway_at_ms_ != 0) {
    draining_ = true;
    after_event();
    return;
  }
  nghttp2_submit_shutdown_notice(session_);
  final_goaway_at_ms_ = monotonic_ms() + ClientConnection::kDrainGraceMs;
  set_timer(timer_mode_);
  after_event();
}

void Http2Session::on_kill() {
  for (auto& [id, st] : streams_) {
    st->exchange.on_kill();
  }
}

// --- sending ----------------------------------------------------------------------------------

bool Http2Session::send_pending() {
  // One evbuffer_add per frame. (Reserving 16 KiB of output per batch instead saved no
  // instructions, and freeing that chunk after each TLS write made glibc trim its heap with
  // madvise about once per 100 requests; the pages then faulted back in: kernel time.)
  evbuffer* out = client_->output();
  in_send_ = true;
  bool ok = true;
  while (evbuffer_get_length(out) < kOutputCap) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      ok = false;
      break;
    }
    if (n == 0) {
      break;
    }
    evbuffer_add(out, data, static_cast<size_t>(n));
  }
  in_send_ = false;
  return ok;
}

void Http2Session::after_event() {
  if (session_ == nullptr) {
    conn_->close();
    return;
  }
  if (!send_pending()) {
    failed_ = true;
  }
  // Exchanges whose response buffer drained during the send read their upstream again (what
  // that produces is sent from the loop: schedule_send).
  for (size_t i = 0; i < drained_.size(); ++i) {
    drained_[i]->exchange.on_downstream_drained();
  }
  drained_.clear();
  // Streams nghttp2 closed during this event are freed; a few are kept for reuse.
  for (std::unique_ptr<H2Stream>& st : closed_) {
    if (spare_streams_.size() < kMaxSpareStreams) {
      st->reset();
      spare_streams_.push_back(std::move(st));
    }
  }
  closed_.clear();
  bool done = failed_ ||
              (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) ||
              (draining_ && streams_.empty() && !nghttp2_session_want_write(session_));
  if (done) {
    conn_->shut_down();  // flush the last frames (GOAWAY), then a lingering close
    return;
  }
  // The one timer follows the connection's state: idle timeout without streams, periodic
  // stream checks with them (check_timeouts), the preface's header timeout until SETTINGS.
  if (timer_mode_ != TimerMode::Preface || settings_received_) {
    TimerMode want = streams_.empty() ? TimerMode::Idle : TimerMode::Streams;
    if (timer_mode_ != want) {
      set_timer(want);
    }
  }
}

// --- timeouts ---------------------------------------------------------------------------------

void Http2Session::set_timer(TimerMode mode) {
  timer_mode_ = mode;
  const conf::Limits& lim = *env_.limits;
  uint64_t ms = 0;
  switch (mode) {
  case TimerMode::Preface: ms = static_cast<uint64_t>(lim.client_header_timeout.count()); break;
  case TimerMode::Idle: ms = static_cast<uint64_t>(lim.client_idle_timeout.count()); break;
  case TimerMode::Streams: ms = sweep_interval_ms(lim); break;
  }
  if (final_goaway_at_ms_ != 0) {
    uint64_t now = monotonic_ms();
    ms = std::min(ms, final_goaway_at_ms_ > now ? final_goaway_at_ms_ - now : 1);
  }
  conn_->arm_timer(ms);
}

uint64_t Http2Session::sweep_interval_ms(const conf::Limits& lim) {
  // A stream's timeouts are checked every quarter of the shortest one, so each fires between
  // 1x and 1.25x its configured value, and a connection with open streams wakes up rarely.
  uint64_t shortest =
      static_cast<uint64_t>(std::min({lim.client_header_timeout.count(), lim.send_timeout.count(),
                                      lim.client_body_timeout.count()}));
  return std::clamp<uint64_t>(shortest / 4, 10, 5000);
}

void Http2Session::check_timeouts() {
  const conf::Limits& lim = *env_.limits;
  const uint64_t now = monotonic_ms();
  const uint64_t header_ms = static_cast<uint64_t>(lim.client_header_timeout.count());
  const uint64_t body_ms = static_cast<uint64_t>(lim.client_body_timeout.count());
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
      env_.stats->inc(Stat::ClientTimeouts);
      st->exchange.on_downstream_closed({Who::ClientTimeout, Phase::RequestHead});
      nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
      failed_ = true;
      return;
    }
    // A request body the client stopped sending (nothing of it waits here for the
    // upstream): the HTTP/1.1 client_body_timeout, per stream.
    // A tunnel's silence is the exchange's tunnel_timeout.
    if (st->body_wanted && !st->end_stream && !st->tunnel && st->exchange.proxying() &&
        !st->exchange.request_done() && evbuffer_get_length(st->req_body) == 0 &&
        now - st->body_since_ms >= body_ms) {
      env_.stats->inc(Stat::ClientTimeouts);
      st->body_wanted = false;
      st->exchange.on_body_timeout();
      continue;
    }
    // Response bytes are waiting and the client keeps its window shut (initial window 0, or
    // never a WINDOW_UPDATE): the HTTP/1.1 send_timeout, per stream. A stream whose bytes
    // wait only for the socket is the connection's send timeout (the client Stream's).
    bool waiting =
        evbuffer_get_length(st->resp_body) > 0 &&
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
      env_.stats->inc(Stat::ClientTimeouts);
      st->stalled_since_ms = 0;
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    }
  }
}

}  // namespace sy::proxy
