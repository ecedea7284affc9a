#pragma once
// HTTP/1.1 to a member: one keep-alive connection (a Stream, cleartext or TLS) per exchange,
// taken from the member's idle list or connected anew, and parked there again after a complete
// exchange (WorkerPool::park). The request head is serialised once by prepare() and kept for
// a retry; the body is written with its own framing (Content-Length bytes as they are, or
// chunked with the client's chunk boundaries); the response head is parsed with the pure
// HTTP/1 codec (http1::parse_response) and its body decoded (length, chunked, until close).
//
// Timeouts on the Stream: connect_timeout bounds connect (+ TLS handshake); send_timeout a
// member that does not read; response_timeout its silence once the request is complete until
// the response head; stream_timeout its silence between response body reads (SSE, long polls).
//
// Upgrade (prepare with policy.upgrade): "Connection: upgrade" and "Upgrade" go to the member;
// its 101 makes the connection a byte tunnel: the rest of its input is response "body" of
// unknown length (UntilClose), request bytes are written as they come (no framing), no read
// timeout (the exchange keeps tunnel_timeout), and the connection is never parked again. Any
// other answer is an ordinary response. The client's end of a tunnel's request side (HTTP/2
// END_STREAM of an extended CONNECT) half-closes the member's connection once every byte
// before it is written (shutdown(SHUT_WR), the TCP FIN END_STREAM stands for, RFC 8441 4).
//
// Thread: the worker owning the exchange. Owned by UpstreamRequest.

#include <cstdint>
#include <string>

#include "proxy/forwarding.h"
#include "proxy/http1_parser.h"
#include "proxy/upstream_codec.h"

namespace sy::proxy {

class Stream;
class UpstreamRequest;

class Http1Upstream final : public UpstreamCodec {
 public:
  explicit Http1Upstream(UpstreamRequest* req);
  ~Http1Upstream();
  Http1Upstream(const Http1Upstream&) = delete;
  Http1Upstream& operator=(const Http1Upstream&) = delete;

  // Serialises the head of |req| (kept until the next prepare). Returns the fields dropped for
  // an underscore.
  size_t prepare(const HttpRequest& req, const ForwardPolicy& policy);

  void connect(WorkerPool* pool, WorkerMember* m) override;
  void write_body(evbuffer* src, size_t n) override;
  bool body_full() const override;
  void end_request(std::string_view trailer) override;
  void pause_response(bool paused) override;
  void release(bool reusable) override;
  Stream* tunnel_stream() override { return tunnel_ ? stream_ : nullptr; }

 private:
  enum class Resp { Head, Body, Done };

  static void read_cb(Stream* s, void* arg);
  static void write_cb(Stream* s, void* arg);
  static void event_cb(Stream* s, short what, void* arg);
  void on_connected();
  // send_proxy pools: the client connection this upstream connection belongs to; else 0.
  uint64_t proxy_owner() const;
  void on_read();
  void on_write();
  void on_event(short what);
  // Parses response heads (interim ones too) from the input; false once the exchange failed.
  bool parse_head();
  void forward_body();
  void response_done(std::string_view trailer);
  void set_response_timeout();
  // Upstream silence between response reads once the head arrived: stream_timeout.
  void set_stream_timeout();

  UpstreamRequest* req_;
  Stream* stream_ = nullptr;
  WorkerPool* pool_ = nullptr;
  WorkerMember* member_ = nullptr;
  std::string head_;         // the serialised request head (kept for a retry)
  bool chunked_ = false;     // the request body goes chunked
  bool has_body_ = false;    // the request has a body
  bool connecting_ = false;  // a new connection, not yet connected
  bool reused_ = false;      // taken from the idle list
  bool paused_ = false;      // response reading stopped (the downstream is full)
  Resp resp_ = Resp::Head;
  http1::BodyKind mode_ = http1::BodyKind::None;
  uint64_t remaining_ = 0;
  http1::ChunkedDecoder chunks_;
  bool keep_alive_ = false;  // the member keeps the connection after this response
  bool upgrade_ = false;     // the request asks for an upgrade: a 101 opens a tunnel
  bool tunnel_ = false;      // a 101 came: the connection is a byte tunnel until it closes
  bool half_close_ = false;  // the tunnel's request side ended: shutdown(SHUT_WR) once written
};

}  // namespace sy::proxy
