#pragma once
// The HTTP/1.1 server session of a client connection: parses request heads with the pure
// codec (http1::parse_request), decodes request bodies (length, chunked) into the exchange's
// upstream, encodes responses (length as is, chunked re-framed, a body of unknown length
// chunked for HTTP/1.1 clients and close-delimited for HTTP/1.0), and keeps the connection for
// the next request when both sides allow it.
//
//   Idle ──first byte──▶ Head ──head parsed──▶ Active (the Exchange runs) ──exchange_done──┐
//    ▲  (idle timeout)    │ (header timeout: 408)      │ abort / close / not keep-alive    │
//    │                    └─bad head: 4xx──────────────┴──▶ ClientConnection::shut_down   │
//    └────────────── keep-alive; buffered pipelined bytes are parsed next ◀────────────────┘
//
// Requests on one connection are served one at a time, in order, which answers pipelined
// requests in order by construction: the next head is parsed only after the previous exchange
// is done (from the connection's resume event, so that many pipelined local answers do not
// nest). Client reads stop while a request waits for its upstream or is held, while its body
// is above the upstream's high-water mark, and while pipelined bytes above it wait.
//
// Timeouts on the connection's timer: client_header_timeout from a head's first byte,
// client_idle_timeout between requests; on the client Stream: client_body_timeout while a
// body is read, send_timeout throughout.
//
// Thread: the owning worker. Owned by its ClientConnection.

#include <cstdint>
#include <string>

#include "proxy/connection.h"
#include "proxy/downstream.h"
#include "proxy/exchange.h"
#include "proxy/http1_parser.h"

namespace sy::proxy {

class Http1Session final : public ServerSession, private Downstream {
 public:
  explicit Http1Session(ClientConnection* conn);

  void on_read() override;
  void on_write() override;
  void on_event(short what) override;
  void on_timer() override;
  void on_resume() override;
  void on_peer_closed() override;
  void on_drain() override;
  void on_kill() override;

 private:
  // Downstream
  void release_head() override;
  void want_request_body() override;
  BodyRead read_request_body(BodySink* sink) override;
  std::string_view request_trailer() override { return trailer_; }
  std::string_view error_text() override { return error_text_; }
  uint64_t buffered_request_bytes() override;
  void hold_watch(bool on) override;
  void send_interim(const HttpResponse& resp) override;
  void send_response_head(const HttpResponse& resp) override;
  Stream* tunnel_stream() override { return client_; }
  void write_body(evbuffer* src, size_t n) override;
  bool body_full() const override;
  void send_local_response(int status, std::string_view content_type,
                           std::string_view extra_headers, std::string_view body,
                           bool may_keep) override;
  void end_response(std::string_view trailer) override;
  void exchange_done(bool request_complete) override;
  void abort_response() override;

  // Parses the next request head from the input and starts its exchange.
  void parse();
  void pause_reads(bool paused);
  bool draining() const { return conn_->draining(); }

  ClientConnection* conn_;
  const ExchangeEnv& env_;
  Stream* client_;
  Exchange exchange_;
  bool head_started_ = false;  // bytes of a new request head arrived (exchange_.begin())
  bool active_ = false;        // a head was parsed; its exchange is not done
  bool paused_ = false;        // client reads stopped (backpressure, waiting)
  // --- the request in flight ---
  size_t head_len_ = 0;  // bytes of the head still in the input (release_head drains them)
  std::string target_;   // origin-form target (capacity reused)
  bool http10_ = false;
  bool keep_alive_ = true;
  bool head_request_ = false;
  http1::BodyKind body_ = http1::BodyKind::None;
  uint64_t remaining_ = 0;  // Length: body bytes not yet read
  http1::ChunkedDecoder chunks_;
  std::string trailer_;  // request trailer, as received
  std::string_view error_text_;
  // --- the response ---
  bool chunk_out_ = false;    // framing the body as chunked for the client
  bool close_after_ = false;  // close the connection after this response
};

}  // namespace sy::proxy
