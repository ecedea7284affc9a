#include "proxy/http1_session.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include <event2/buffer.h>
#include <event2/bufferevent.h>  // BEV_EVENT_* flags
#include <event2/event.h>

#include "common/timeval.h"
#include "proxy/http1_chunked_body.h"
#include "proxy/forwarder.h"
#include "proxy/forwarding.h"
#include "proxy/stats.h"
#include "proxy/stream.h"
#include "proxy/upstream_pool.h"

namespace sy::proxy {
namespace {

// |value| in decimal, written into |buf| (|size| bytes, enough for any T).
template <class T>
std::string_view decimal(T value, char* buf, size_t size) {
  auto r = std::to_chars(buf, buf + size, value);
  return {buf, static_cast<size_t>(r.ptr - buf)};
}

}  // namespace

Http1Session::Http1Session(ClientConnection* conn)
    : conn_(conn), env_(conn->env()), client_(conn->client()),
      exchange_(conn->env(), conn->info(), conn),
      chunks_(conn->env().parse_limits->max_head_bytes) {}

// ---------------------------------------------------------------------------------------------
// Events from the connection

void Http1Session::on_read() {
  if (!active_) {
    parse();
    return;
  }
  if (exchange_.proxying() && !exchange_.request_done()) {
    exchange_.on_request_body();
    return;
  }
  // Pipelined bytes of the next request wait in the input buffer; stop reading when there
  // are too many of them.
  if (evbuffer_get_length(client_->input()) > env_.limits->buffer_high_water) {
    pause_reads(true);
  }
}

void Http1Session::on_write() {
  if (active_) {
    exchange_.on_downstream_drained();
  }
}

void Http1Session::on_resume() {
  if (!active_) {
    parse();
  }
}

void Http1Session::on_event(short what) {
  WorkerStats& stats = *env_.stats;
  if (what & BEV_EVENT_TIMEOUT) {
    stats.inc(Stat::ClientTimeouts);
    if (what & BEV_EVENT_WRITING) {
      // The client stopped reading what we send it.
      exchange_.on_downstream_closed({Who::ClientTimeout, Phase::ResponseBody});
      conn_->close();
      return;
    }
    // Read timeout: armed only while a request body is being received.
    if (active_ && exchange_.proxying() && !exchange_.request_done()) {
      exchange_.on_body_timeout();
      return;
    }
    exchange_.on_downstream_closed({Who::ClientTimeout, Phase::RequestBody});
    conn_->close();
    return;
  }
  if (what & BEV_EVENT_EOF) {
    if (!active_ || !exchange_.request_done()) {
      if (exchange_.tunneling()) {
        exchange_.on_downstream_closed({Who::Client, Phase::Tunnel});  // its normal end
      } else if (exchange_.in_progress()) {
        stats.inc(Stat::ClientAborts);
        exchange_.on_downstream_closed({Who::Client, exchange_.client_phase()});
      }
      conn_->close();
      return;
    }
    // The client half-closed after a complete request: answer it, then close.
    close_after_ = true;
    return;
  }
  // BEV_EVENT_ERROR: reset or other socket error.
  if (exchange_.in_progress()) {
    stats.inc(Stat::ClientAborts);
    exchange_.on_downstream_closed({Who::Client, exchange_.client_phase()});
  }
  conn_->close();
}

void Http1Session::on_timer() {
  if (active_) {
    return;  // the exchange has its own clocks
  }
  if (!head_started_ && draining()) {
    conn_->close();  // the drain's grace for an idle connection is over
    return;
  }
  env_.stats->inc(Stat::ClientTimeouts);
  if (!head_started_) {
    conn_->close();  // idle keep-alive connection: close quietly
    return;
  }
  exchange_.refuse(408, "request header timeout\n", {}, {},
                   {Who::ClientTimeout, Phase::RequestHead});
}

void Http1Session::on_peer_closed() {
  if (exchange_.held()) {
    // The client closed (or half-closed) while its request waited: like nginx with
    // EPOLLRDHUP, treat it as gone. Its hold slot is freed now; nothing was sent upstream.
    env_.stats->inc(Stat::ClientAborts);
    exchange_.on_downstream_closed({Who::Client, Phase::Held});
    conn_->close();
  }
}

void Http1Session::on_drain() {
  if (!active_ && !head_started_ && evbuffer_get_length(client_->input()) == 0) {
    // Idle keep-alive: a request already on its way (wrk and browsers reuse a connection at
    // once) is answered with "Connection: close" instead of meeting a closed connection.
    conn_->arm_timer(
        std::min<uint64_t>(ClientConnection::kDrainGraceMs,
                           static_cast<uint64_t>(env_.limits->client_idle_timeout.count())));
  }
}

void Http1Session::on_kill() { exchange_.on_kill(); }

// ---------------------------------------------------------------------------------------------
// Requests

void Http1Session::parse() {
  evbuffer* in = client_->input();
  size_t len = evbuffer_get_length(in);
  if (len == 0) {
    return;
  }
  if (!head_started_) {
    // RFC 9112 2.2: ignore empty lines before a request line.
    // Looked at in place (the first chain holds the head's start): no copy out.
    const unsigned char* first2 = nullptr;
    while (len >= 2 && (first2 = evbuffer_pullup(in, 2)) != nullptr && first2[0] == '\r' &&
           first2[1] == '\n') {
      evbuffer_drain(in, 2);
      len -= 2;
    }
    if (len == 0) {
      return;
    }
    head_started_ = true;
    exchange_.begin(this, monotonic_us(), Protocol::Http11);
    conn_->arm_timer(static_cast<uint64_t>(env_.limits->client_header_timeout.count()));
  }
  const http1::Limits& limits = *env_.parse_limits;
  size_t want = len < limits.max_head_bytes + 1 ? len : limits.max_head_bytes + 1;
  // A login_form rule reads a small form body right after the head: make it contiguous too.
  Forwarder* fw = env_.forwarder;
  size_t pull = want;
  if (fw != nullptr && fw->setup().needs_form_body) {
    size_t extra = want + kMaxFormBodyForKey;
    pull = len < extra ? len : extra;
  }
  const char* buf = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(pull)));
  http1::RequestHead head;
  head.headers = env_.header_scratch;
  http1::ParseResult r = http1::parse_request(buf, want, limits, &head);
  if (r.status == http1::ParseStatus::Incomplete) {
    return;
  }
  if (r.status == http1::ParseStatus::Error) {
    env_.stats->inc(Stat::BadRequests);
    active_ = true;
    conn_->disarm_timer();
    exchange_.count_in(want);
    // Keep what we can for the access log.
    const char* sp = static_cast<const char*>(std::memchr(buf, ' ', want < 32 ? want : 32));
    std::string_view method(buf, sp != nullptr ? static_cast<size_t>(sp - buf) : 0);
    std::string& body = *env_.head_scratch;
    body.assign("bad request: ").append(http1::to_string(head.error)).append("\n");
    exchange_.refuse(http1::status_for(head.error), body, method, {},
                     {Who::Proxy, Phase::RequestHead});
    return;
  }
  HttpRequest req;
  req.method = head.method;
  // What is routed, forwarded and logged is the origin-form target: an absolute-form target
  // is reduced to its path (its authority is head.host, routed on and sent as Host).
  http1::origin_form(head, &target_);
  req.target = target_;
  req.authority = head.host;
  req.fields = head.headers;
  req.num_fields = head.num_headers;
  req.protocol = head.minor_version == 0 ? Protocol::Http10 : Protocol::Http11;
  req.host_rule = head.absolute_form ? HostRule::FromTarget : HostRule::AsReceived;
  req.keep_alive = head.keep_alive;
  req.expect_continue = head.expect_continue;
  switch (head.body) {
  case http1::BodyKind::Length:
    req.body = head.content_length > 0 ? BodySize::Known : BodySize::None;
    req.content_length = head.content_length;
    break;
  case http1::BodyKind::Chunked: req.body = BodySize::Unknown; break;
  default: req.body = BodySize::None; break;
  }
  std::string_view upgrade;
  for (size_t i = 0; i < head.num_headers; ++i) {
    if (http1::iequals(head.headers[i].name, "content-type")) {
      req.content_type = head.headers[i].value;
    } else if (http1::iequals(head.headers[i].name, "upgrade")) {
      upgrade = head.headers[i].value;
    }
  }
  // An upgrade (WebSocket or any other token) is asked for with "Connection: upgrade" on an
  // HTTP/1.1 request without a body (RFC 9110 7.8); anything else keeps Upgrade hop-by-hop.
  if (!upgrade.empty() && head.minor_version == 1 && req.body == BodySize::None &&
      http1::connection_lists(head.headers, head.num_headers, "upgrade")) {
    req.upgrade = upgrade;
  }
  std::string_view form;  // a small urlencoded body for a login_form rule
  if (fw != nullptr && fw->wants_form_body(req)) {
    if (pull < r.consumed + req.content_length) {
      // The form may carry the login: wait until all of it is here (the header timeout
      // still runs), then parse the head again.
      return;
    }
    form = std::string_view(buf + r.consumed, req.content_length);
  }
  active_ = true;
  conn_->disarm_timer();
  head_len_ = r.consumed;
  exchange_.count_in(head_len_);
  http10_ = head.minor_version == 0;
  keep_alive_ = head.keep_alive;
  head_request_ = head.method == "HEAD";
  body_ = req.body == BodySize::None ? http1::BodyKind::None : head.body;
  remaining_ = head.content_length;
  if (body_ == http1::BodyKind::Chunked) {
    chunks_ = http1::ChunkedDecoder(env_.parse_limits->max_head_bytes);
  }
  trailer_.clear();
  chunk_out_ = false;
  pause_reads(true);  // until the upstream is ready (want_request_body) or the exchange ends
  exchange_.start(req, form);
}

void Http1Session::release_head() {
  evbuffer_drain(client_->input(), head_len_);
  head_len_ = 0;
}

void Http1Session::pause_reads(bool paused) {
  paused_ = paused;
  if (paused) {
    client_->disable(EV_READ);
  } else if (!conn_->eof()) {
    client_->enable(EV_READ);
  }
}

void Http1Session::want_request_body() {
  if (body_ != http1::BodyKind::None) {
    const conf::Limits& lim = *env_.limits;
    timeval body_tv = ms_to_tv(static_cast<uint64_t>(lim.client_body_timeout.count()));
    timeval send_tv = ms_to_tv(static_cast<uint64_t>(lim.send_timeout.count()));
    client_->set_timeouts(&body_tv, &send_tv);
  }
  pause_reads(false);  // the body, the client's EOF, pipelined bytes
}

BodyRead Http1Session::read_request_body(BodySink* sink) {
  evbuffer* in = client_->input();
  const conf::Limits& lim = *env_.limits;
  const size_t max_framing = env_.parse_limits->max_head_bytes + 2;
  for (;;) {
    if (body_ == http1::BodyKind::None) {
      break;
    }
    if (sink->body_full()) {
      pause_reads(true);  // the upstream's drain resumes us (Exchange::on_upstream_drained)
      return BodyRead::More;
    }
    size_t avail = evbuffer_get_length(in);
    if (body_ == http1::BodyKind::UntilClose) {  // a tunnel: whatever the client sends
      if (avail == 0) {
        break;
      }
      exchange_.count_in(avail);
      sink->write_body(in, avail);
      continue;
    }
    if (body_ == http1::BodyKind::Length) {
      size_t n = avail < remaining_ ? avail : static_cast<size_t>(remaining_);
      if (n == 0) {
        break;
      }
      exchange_.count_in(n);
      sink->write_body(in, n);
      remaining_ -= n;
      if (remaining_ == 0) {
        body_ = http1::BodyKind::None;
      }
      continue;
    }
    // Chunked: payload moves straight across; the framing is parsed here.
    ChunkStep step = next_chunk_step(chunks_, in, avail, max_framing);
    if (step.kind == ChunkStep::Kind::NeedMore) {
      break;
    }
    if (step.kind == ChunkStep::Kind::Bad || step.kind == ChunkStep::Kind::TooLong) {
      error_text_ = step.kind == ChunkStep::Kind::Bad ? http1::to_string(chunks_.error())
                                                      : "chunk framing too long";
      return BodyRead::Bad;
    }
    exchange_.count_in(step.n);
    if (step.kind == ChunkStep::Kind::Payload) {
      sink->write_body(in, step.n);
      continue;
    }
    if (step.kind == ChunkStep::Kind::Done) {
      trailer_.assign(chunks_.trailer());  // a view into |in|: copied before the drain
      body_ = http1::BodyKind::None;
    }
    evbuffer_drain(in, step.n);
    if (lim.max_body_bytes != 0 && chunks_.total_payload() > lim.max_body_bytes) {
      return BodyRead::TooLarge;
    }
  }
  if (body_ == http1::BodyKind::None) {
    timeval send_tv = ms_to_tv(static_cast<uint64_t>(lim.send_timeout.count()));
    client_->set_timeouts(nullptr, &send_tv);
    return BodyRead::Done;
  }
  if (paused_) {
    pause_reads(false);
  }
  return BodyRead::More;
}

uint64_t Http1Session::buffered_request_bytes() { return evbuffer_get_length(client_->input()); }

void Http1Session::hold_watch(bool on) {
  conn_->watch_close(on);
  if (on) {
    pause_reads(true);
  }
}

// ---------------------------------------------------------------------------------------------
// Responses

void Http1Session::send_interim(const HttpResponse& resp) {
  if (http10_) {
    return;  // HTTP/1.0 has no interim responses
  }
  if (resp.status == 100 && resp.num_fields == 0) {
    static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    evbuffer_add(client_->output(), kContinue, sizeof(kContinue) - 1);
    exchange_.count_out(sizeof(kContinue) - 1);
    return;
  }
  std::string& out = *env_.head_scratch;
  out.clear();
  append_downstream_h1_head(resp, H1Framing{}, true, &out);
  evbuffer_add(client_->output(), out.data(), out.size());
  exchange_.count_out(out.size());
}

void Http1Session::send_response_head(const HttpResponse& resp) {
  if (resp.status == 101) {
    // The member switched protocols: the connection is a byte tunnel from here to its end
    // (never reused). Client bytes are read as an unframed request body; the exchange keeps
    // the idle timeout (tunnel_timeout), the client's only one is send_timeout.
    close_after_ = true;
    chunk_out_ = false;
    body_ = http1::BodyKind::UntilClose;
    H1Framing framing;
    framing.upgrade = resp.upgrade;
    std::string& out = *env_.head_scratch;
    out.clear();
    append_downstream_h1_head(resp, framing, false, &out);
    evbuffer_add(client_->output(), out.data(), out.size());
    exchange_.count_out(out.size());
    timeval send_tv = ms_to_tv(static_cast<uint64_t>(env_.limits->send_timeout.count()));
    client_->set_timeouts(nullptr, &send_tv);
    pause_reads(false);
    return;
  }
  const bool unknown = resp.body == BodySize::Unknown;
  close_after_ = close_after_ || !keep_alive_ || draining() || conn_->eof() || (unknown && http10_);
  chunk_out_ = unknown && !http10_;
  H1Framing framing{chunk_out_, close_after_, !close_after_ && http10_, {}};
  std::string& out = *env_.head_scratch;
  out.clear();
  append_downstream_h1_head(resp, framing, false, &out);
  evbuffer_add(client_->output(), out.data(), out.size());
  exchange_.count_out(out.size());
}

void Http1Session::write_body(evbuffer* src, size_t n) {
  evbuffer* out = client_->output();
  if (chunk_out_) {
    size_t framing = add_chunk_header(out, n);
    evbuffer_remove_buffer(src, out, n);
    evbuffer_add(out, "\r\n", 2);
    exchange_.count_out(n + framing + 2);
    return;
  }
  evbuffer_remove_buffer(src, out, n);
  exchange_.count_out(n);
}

bool Http1Session::body_full() const {
  return evbuffer_get_length(client_->output()) >= env_.limits->buffer_high_water;
}

void Http1Session::end_response(std::string_view trailer) {
  if (!chunk_out_) {
    return;
  }
  evbuffer* out = client_->output();
  evbuffer_add(out, "0\r\n", 3);
  evbuffer_add(out, trailer.data(), trailer.size());
  evbuffer_add(out, "\r\n", 2);
  exchange_.count_out(5 + trailer.size());
}

void Http1Session::send_local_response(int status, std::string_view content_type,
                                       std::string_view extra_headers, std::string_view body,
                                       bool may_keep) {
  const bool keep = may_keep && keep_alive_ && body_ == http1::BodyKind::None && !draining();
  close_after_ = close_after_ || !keep;
  // Assembled by hand and added in one piece when it fits: snprintf alone cost about 2,400
  // instructions per answer, a quarter of a whole redirect (callgrind).
  char code[8];
  char length[24];
  const std::string_view pieces[] = {
      "HTTP/1.1 ",
      decimal(status, code, sizeof(code)),
      " ",
      reason_phrase(status),
      "\r\nContent-Type: ",
      content_type,
      "\r\nContent-Length: ",
      decimal(body.size(), length, sizeof(length)),
      "\r\n",
      close_after_ ? std::string_view("Connection: close\r\n") : std::string_view(),
      kViaLine,
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
  exchange_.count_out(total);
}

void Http1Session::exchange_done(bool request_complete) {
  active_ = false;
  head_started_ = false;
  if (!request_complete) {
    close_after_ = true;  // the rest of the body cannot be told from the next request
  }
  if (close_after_ || conn_->eof()) {
    conn_->shut_down();
    return;
  }
  close_after_ = false;
  chunk_out_ = false;
  body_ = http1::BodyKind::None;
  evbuffer* in = client_->input();
  if (draining() && evbuffer_get_length(in) == 0) {
    conn_->close();
    return;
  }
  pause_reads(false);
  conn_->arm_timer(static_cast<uint64_t>(env_.limits->client_idle_timeout.count()));
  if (evbuffer_get_length(in) > 0) {
    conn_->resume_soon();  // a pipelined request: parsed from the loop, not nested in here
  }
}

void Http1Session::abort_response() { conn_->close(); }

}  // namespace sy::proxy
