#pragma once
// One stream of an Http2Session: the request as nghttp2 hands it over, the response on its way
// out, and the Exchange that carries it (as its Downstream). Private to http2_session.cpp and
// http2_stream.cpp. Thread: the owning worker.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/downstream.h"
#include "proxy/exchange.h"
#include "proxy/http2_session.h"

struct evbuffer;

namespace sy::proxy {

// Response bytes a stream holds for nghttp2 before its exchange stops reading the upstream.
inline constexpr size_t kH2BodyCap = 64 * 1024;

struct Http2Session::H2Stream final : public Downstream {
  explicit H2Stream(Http2Session* s);
  ~H2Stream();
  H2Stream(const H2Stream&) = delete;
  H2Stream& operator=(const H2Stream&) = delete;

  // Back to a fresh stream's state, keeping buffers and capacities (streams are recycled by
  // their session: fewer allocations per request). The exchange must be over.
  void reset();

  // --- the request head, collected field by field ---
  struct Span {
    uint32_t off = 0;
    uint32_t len = 0;
  };
  std::string_view view(Span s) const { return std::string_view(arena).substr(s.off, s.len); }
  Span keep(std::string_view v);
  // The HttpRequest of the complete header block (views into the arena).
  HttpRequest request();

  // Downstream
  void release_head() override;
  void want_request_body() override;
  BodyRead read_request_body(BodySink* sink) override;
  std::string_view request_trailer() override { return req_trailer; }
  std::string_view error_text() override { return {}; }
  uint64_t buffered_request_bytes() override;
  void hold_watch(bool) override {}  // a client that goes away resets the stream
  void send_interim(const HttpResponse& resp) override;
  void send_response_head(const HttpResponse& resp) override;
  void write_body(evbuffer* src, size_t n) override;
  bool body_full() const override;
  void send_local_response(int status, std::string_view content_type,
                           std::string_view extra_headers, std::string_view body,
                           bool may_keep) override;
  void end_response(std::string_view trailer) override;
  void exchange_done(bool) override {}
  void abort_response() override;

  // The member's 101 to an extended CONNECT: :status 200 without the HTTP/1.1 handshake's
  // fields, and the DATA of both directions is the tunnel's from here.
  void open_tunnel(const HttpResponse& resp);
  // Submits the head in |nv_| with the body (when |body|) from resp_body; false on failure.
  bool submit(bool body);

  Http2Session* session;
  int32_t id = 0;
  Exchange exchange;
  // Request.
  std::string arena;                         // names and values, back to back
  std::vector<std::pair<Span, Span>> spans;  // regular fields
  Span method, scheme, authority, path, protocol;
  std::vector<Field> fields;  // views, made at the end of the block
  size_t header_bytes = 0;    // name + value + 32 per field (RFC 9113 6.5.2)
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool announces_trailer = false;
  bool headers_done = false;     // the request header block is complete
  bool end_stream = false;       // the client's END_STREAM arrived
  bool started = false;          // the exchange started (not refused, not waiting for a form)
  bool form_wait = false;        // waiting for a small form body before routing
  bool too_large = false;        // more body than limits.max_body_bytes
  // RFC 8441 extended CONNECT (:protocol): no request body; DATA is the tunnel's, read from
  // the upstream's 101 on (|tunnel|), which the stream answers :status 200.
  bool extended_connect = false;
  bool tunnel = false;
  evbuffer* req_body = nullptr;  // DATA received, not yet moved upstream
  uint64_t req_total = 0;        // DATA bytes received
  std::string req_trailer;       // "name: value\r\n" lines after the body
  // Response.
  evbuffer* resp_body = nullptr;  // payload waiting for nghttp2
  std::string resp_trailer;       // filtered "Name: value\r\n" lines, sent after the body
  bool resp_done = false;         // the whole body is in resp_body
  bool deferred = false;          // the data provider returned DEFERRED
  bool told_full = false;         // body_full() said true: tell the drain
  bool head_request = false;
  // Timeouts (Http2Session::check_timeouts).
  uint64_t opened_ms = 0;         // monotonic: HEADERS began
  uint64_t body_since_ms = 0;     // the last request DATA (or the upstream became ready)
  bool body_wanted = false;       // the upstream takes the body
  uint64_t stalled_since_ms = 0;  // response bytes wait for a window the client keeps shut
};

}  // namespace sy::proxy
