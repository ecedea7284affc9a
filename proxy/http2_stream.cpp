#include "proxy/http2_stream.h"

#include <charconv>

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include "proxy/stats.h"
#include "proxy/upstream_pool.h"

namespace sy::proxy {
namespace {

// Response fields being submitted; per thread (a worker's sessions take turns).
thread_local NvList nv_scratch;

// Bytes an HTTP/1.1 head with the same fields would have: what bytes_out counts for a head,
// whatever the protocol (docs/access-log.md).
uint64_t head_bytes(NvList& nv) {
  uint64_t n = 17;  // "HTTP/1.1 200 OK\r\n" less the reason, plus the blank line
  for (size_t i = 1; i < nv.size(); ++i) {
    n += nv.name(i).size() + nv.value(i).size() + 4;
  }
  return n;
}

ssize_t read_response_body(nghttp2_session* session, int32_t, uint8_t* buf, size_t length,
                           uint32_t* flags, nghttp2_data_source* source, void*) {
  auto* st = static_cast<Http2Session::H2Stream*>(source->ptr);
  int n = evbuffer_remove(st->resp_body, buf, length);
  size_t left = evbuffer_get_length(st->resp_body);
  if (st->told_full && left < kH2BodyCap / 2) {
    st->told_full = false;
    st->session->response_drained(st);
  }
  if (n <= 0 && !st->resp_done) {
    st->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  if (st->resp_done && left == 0) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!st->resp_trailer.empty()) {
      NvList& nv = nv_scratch;
      nv.clear();
      trailer_to_nv(st->resp_trailer, &nv);
      if (nv.size() > 0 && nghttp2_submit_trailer(session, st->id, nv.nv(), nv.size()) == 0) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;  // the trailer HEADERS ends the stream
      }
    }
  }
  return n > 0 ? n : 0;
}

}  // namespace

Http2Session::H2Stream::H2Stream(Http2Session* s)
    : session(s), exchange(s->conn()->env(), s->conn()->info(), s->conn()) {
  req_body = evbuffer_new();
  resp_body = evbuffer_new();
}

Http2Session::H2Stream::~H2Stream() {
  evbuffer_free(req_body);
  evbuffer_free(resp_body);
}

void Http2Session::H2Stream::reset() {
  id = 0;
  arena.clear();
  spans.clear();
  method = scheme = authority = path = protocol = Span{};
  fields.clear();
  header_bytes = 0;
  has_content_length = false;
  content_length = 0;
  announces_trailer = false;
  headers_done = end_stream = started = form_wait = too_large = false;
  extended_connect = tunnel = false;
  evbuffer_drain(req_body, evbuffer_get_length(req_body));
  req_total = 0;
  req_trailer.clear();
  evbuffer_drain(resp_body, evbuffer_get_length(resp_body));
  resp_trailer.clear();
  resp_done = deferred = told_full = head_request = false;
  opened_ms = body_since_ms = stalled_since_ms = 0;
  body_wanted = false;
}

Http2Session::H2Stream::Span Http2Session::H2Stream::keep(std::string_view v) {
  Span s{static_cast<uint32_t>(arena.size()), static_cast<uint32_t>(v.size())};
  arena.append(v);
  return s;
}

HttpRequest Http2Session::H2Stream::request() {
  fields.resize(spans.size());
  std::string_view host;
  HttpRequest req;
  for (size_t i = 0; i < spans.size(); ++i) {
    fields[i] = Field{view(spans[i].first), view(spans[i].second)};
    if (fields[i].name == "host") {
      host = fields[i].value;
    } else if (fields[i].name == "content-type") {
      req.content_type = fields[i].value;
    } else if (fields[i].name == "expect") {
      req.expect_continue = http1::iequals(fields[i].value, "100-continue");
    }
  }
  std::string_view target = view(path);
  target = target.substr(0, target.find('#'));  // a fragment is not part of a request-target
  req.method = view(method);
  req.target = target;
  req.scheme = view(scheme);
  req.authority = authority.len > 0 ? view(authority) : host;
  req.host_rule = authority.len > 0 ? HostRule::FromPseudoField : HostRule::AsReceived;
  req.fields = fields.data();
  req.num_fields = fields.size();
  req.protocol = Protocol::Http2;
  req.announces_trailer = announces_trailer;
  if (protocol.len > 0) {
    // RFC 8441: the stream is the tunnel; the forwarded GET has no body.
    extended_connect = true;
    req.extended_connect = true;
    req.upgrade = view(protocol);
    req.body = BodySize::None;
  } else if (end_stream || (has_content_length && content_length == 0)) {
    req.body = BodySize::None;
  } else if (has_content_length) {
    req.body = BodySize::Known;
    req.content_length = content_length;
  } else {
    req.body = BodySize::Unknown;
  }
  return req;
}

// ---------------------------------------------------------------------------------------------
// The request side of the Downstream

void Http2Session::H2Stream::release_head() {
  arena.clear();
  spans.clear();
  fields.clear();
}

void Http2Session::H2Stream::want_request_body() {
  body_wanted = true;
  body_since_ms = monotonic_ms();
}

BodyRead Http2Session::H2Stream::read_request_body(BodySink* sink) {
  if (too_large) {
    return BodyRead::TooLarge;
  }
  if (extended_connect && !tunnel) {
    return BodyRead::Done;  // the GET has no body; DATA sent early waits for the tunnel
  }
  size_t moved = 0;
  size_t len;
  while ((len = evbuffer_get_length(req_body)) > 0 && !sink->body_full()) {
    sink->write_body(req_body, len);
    moved += len;
  }
  if (moved > 0) {
    // Acknowledge (open the client's window again) only what the upstream took.
    exchange.count_in(moved);
    nghttp2_session_consume(session->session(), id, moved);
    session->schedule_send();
  }
  return evbuffer_get_length(req_body) == 0 && end_stream ? BodyRead::Done : BodyRead::More;
}

uint64_t Http2Session::H2Stream::buffered_request_bytes() { return evbuffer_get_length(req_body); }

// ---------------------------------------------------------------------------------------------
// The response side

bool Http2Session::H2Stream::submit(bool body) {
  NvList& nv = nv_scratch;
  nghttp2_data_provider provider;
  provider.source.ptr = this;
  provider.read_callback = read_response_body;
  int rv = nghttp2_submit_response(session->session(), id, nv.nv(), nv.size(),
                                   body ? &provider : nullptr);
  exchange.count_out(head_bytes(nv));
  session->schedule_send();
  return rv == 0;
}

void Http2Session::H2Stream::send_interim(const HttpResponse& resp) {
  // A HEADERS frame without END_STREAM before the final one (RFC 9113 8.1): 103 Early Hints
  // from the upstream, the proxy's own 100 Continue. Never 101 (the upstream codecs refuse it).
  NvList& nv = nv_scratch;
  make_downstream_h2_head(resp, true, &nv);
  nghttp2_submit_headers(session->session(), NGHTTP2_FLAG_NONE, id, nullptr, nv.nv(), nv.size(),
                         nullptr);
  exchange.count_out(head_bytes(nv));
  session->schedule_send();
}

void Http2Session::H2Stream::send_response_head(const HttpResponse& resp) {
  if (resp.status == 101) {
    open_tunnel(resp);
    return;
  }
  make_downstream_h2_head(resp, false, &nv_scratch);
  if (!submit(resp.body != BodySize::None)) {
    nghttp2_submit_rst_stream(session->session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
  }
}

void Http2Session::H2Stream::open_tunnel(const HttpResponse& resp) {
  // Sec-WebSocket-Accept answered the proxy's key (Exchange::websocket_answer_ok); Connection
  // and Upgrade are connection-specific and dropped by make_downstream_h2_head. The rest
  // (Sec-WebSocket-Protocol, -Extensions, cookies) goes to the client.
  thread_local std::vector<Field> fields;
  fields.clear();
  for (size_t i = 0; i < resp.num_fields; ++i) {
    if (!http1::iequals(resp.fields[i].name, "sec-websocket-accept")) {
      fields.push_back(resp.fields[i]);
    }
  }
  HttpResponse ok;
  ok.status = 200;
  ok.fields = fields.data();
  ok.num_fields = fields.size();
  ok.body = BodySize::Unknown;
  make_downstream_h2_head(ok, false, &nv_scratch);
  tunnel = true;
  if (!submit(true)) {
    nghttp2_submit_rst_stream(session->session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
  }
}

void Http2Session::H2Stream::write_body(evbuffer* src, size_t n) {
  evbuffer_remove_buffer(src, resp_body, n);
  exchange.count_out(n);
  if (deferred) {
    deferred = false;
    nghttp2_session_resume_data(session->session(), id);
    session->schedule_send();
  }
}

bool Http2Session::H2Stream::body_full() const {
  if (evbuffer_get_length(resp_body) <= kH2BodyCap) {
    return false;
  }
  const_cast<H2Stream*>(this)->told_full = true;
  return true;
}

void Http2Session::H2Stream::end_response(std::string_view trailer) {
  resp_done = true;
  resp_trailer.assign(trailer);
  if (deferred) {
    deferred = false;
    nghttp2_session_resume_data(session->session(), id);
    session->schedule_send();
  }
}

void Http2Session::H2Stream::send_local_response(int status, std::string_view content_type,
                                                 std::string_view extra_headers,
                                                 std::string_view body, bool) {
  NvList& nv = nv_scratch;
  nv.clear();
  char code[3] = {static_cast<char>('0' + status / 100 % 10),
                  static_cast<char>('0' + status / 10 % 10), static_cast<char>('0' + status % 10)};
  char length[24];
  auto r = std::to_chars(length, length + sizeof(length), body.size());
  nv.add(":status", std::string_view(code, 3));
  nv.add("content-type", content_type);
  nv.add("content-length", std::string_view(length, static_cast<size_t>(r.ptr - length)));
  nv.add("via", kViaValue);
  trailer_to_nv(extra_headers, &nv);  // "Location: ...\r\n" lines: the same shape
  bool with_body = !head_request && !body.empty();
  if (with_body) {
    evbuffer_add(resp_body, body.data(), body.size());
    exchange.count_out(body.size());
  }
  resp_done = true;
  if (!submit(with_body)) {
    nghttp2_submit_rst_stream(session->session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
  }
}

void Http2Session::H2Stream::abort_response() {
  // A tunnel cut (member error, tunnel_timeout, drain): RFC 9113 8.5's CONNECT_ERROR.
  nghttp2_submit_rst_stream(session->session(), NGHTTP2_FLAG_NONE, id,
                            tunnel ? NGHTTP2_CONNECT_ERROR : NGHTTP2_INTERNAL_ERROR);
  session->schedule_send();
}

}  // namespace sy::proxy
