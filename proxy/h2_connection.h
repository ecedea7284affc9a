#pragma once
// A downstream HTTP/2 connection (h2 negotiated by ALPN on a TLS listener, or h2c with prior
// knowledge on a cleartext one): one nghttp2 server session driven through the memory API
// (mem_recv/mem_send) into the client Stream's output, which stops growing above kOutputCap.
//
// Each HTTP/2 stream is carried out by the HTTP/1.1 path itself, so routing (proxy, 307,
// CTX errors, hold), upstream pools, retries, timeouts and the access log are the same code
// for every protocol (nothing is copied):
//
//   client ══h2══▶ H2Connection ── stream 1: Stream ◀═pair═▶ Stream: ClientConnection ──▶ pool
//                               └─ stream 3: Stream ◀═pair═▶ Stream: ClientConnection ──▶ pool
//
// For each request the session writes an HTTP/1.1 head (h2_convert.h) and the body (chunked
// unless content-length was given) into its end of an in-memory Stream pair
// (Stream::make_pair: evbuffer moves, no fd, no syscall); the worker adopts the other end as an
// internal ClientConnection with the client's address. The HTTP/1.1 response coming back is
// parsed with the HTTP/1 codec and submitted as HTTP/2 HEADERS + DATA.
//
// Flow control follows backpressure on both sides: request DATA is acknowledged to the client
// (nghttp2_session_consume, automatic WINDOW_UPDATE off) only while the pair is below its
// high-water mark, and again as it drains; response DATA is produced by a deferred data
// provider from a per-stream buffer, and the pair is not read while that buffer holds
// more than kBodyCap (64 KiB) — which in turn stops the ClientConnection reading the upstream.
//
// Timeouts (the HTTP/1.1 client timeouts, per connection and per stream): until the client's
// SETTINGS arrive, client_header_timeout; with no stream open, client_idle_timeout (then
// GOAWAY); with streams open, a periodic check (check_timeouts): a request header block not
// complete within client_header_timeout ends the connection (GOAWAY: nothing else may be sent
// before its end), and a stream whose response waits for a window the client keeps shut gets
// RST_STREAM(CANCEL) after send_timeout. Request bodies are timed by the internal connection
// (client_body_timeout: 408), and a stream whose response is complete while the client is
// still sending is ended with RST_STREAM(NO_ERROR) (RFC 9113 8.1). A client that does not
// read the socket meets the client Stream's send timeout.
//
// Protection: SETTINGS_MAX_CONCURRENT_STREAMS (100), a header list size limit
// (limits.max_header_bytes, enforced per stream), at most kMaxContinuations CONTINUATION frames
// per header block, nghttp2's caps on queued SETTINGS/PING ACKs (max_outbound_ack) and on
// SETTINGS entries, and a rapid-reset guard (CVE-2023-44487): more than kMaxResetsPerWindow
// RST_STREAM frames from the client within kResetWindowMs ends the session with GOAWAY
// ENHANCE_YOUR_CALM.
//
// Ownership (STYLE rule 5): the worker owns H2Connections (its h2 list) and destroys one only
// when a static callback here returns Close. Streams closed by nghttp2 are moved to a
// deferred-delete list and freed at the end of the callback that closed them.
// Thread: worker thread only.

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "conf/config.h"
#include "proxy/connection_limits.h"
#include "proxy/h2_convert.h"
#include "proxy/http1_parser.h"
#include "proxy/response_head_sink.h"

struct event;
struct evbuffer;
struct nghttp2_session;

namespace sy::proxy {

class Stream;
class Worker;
struct WorkerListener;
struct TlsContexts;

class H2Connection {
 public:
  enum class Step { Keep, Close };

  // Takes ownership of |client| (connected, TLS done when TLS) and |tls_pin|. Its bytes not
  // yet consumed (the preface onwards) are processed from the loop soon after start().
  H2Connection(Worker* worker, WorkerListener* listener, Stream* client,
               std::shared_ptr<const TlsContexts> tls_pin, ConnectionSlot slot);
  ~H2Connection();  // frees every stream (its pair end: the internal side sees EOF) and the session
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  // Close = could not set up the session (the caller destroys it).
  Step start();
  // Graceful drain: GOAWAY (NO_ERROR) now; streams in flight finish. Close = nothing left.
  Step on_drain();

  H2Connection* prev_ = nullptr;  // Worker's intrusive list
  H2Connection* next_ = nullptr;

  struct H2Stream;  // one request/response (h2_connection.cpp)

 private:
  static void client_read_cb(Stream* s, void* arg);
  static void client_write_cb(Stream* s, void* arg);
  static void client_event_cb(Stream* s, short what, void* arg);
  static void pipe_read_cb(Stream* s, void* arg);
  static void pipe_write_cb(Stream* s, void* arg);
  static void pipe_event_cb(Stream* s, short what, void* arg);
  static void idle_pipe_read_cb(Stream* s, void* arg);
  static void idle_pipe_event_cb(Stream* s, short what, void* arg);
  static void timer_cb(int fd, short what, void* arg);
  static void resume_cb(int fd, short what, void* arg);
  static void send_cb(int fd, short what, void* arg);
  static void finish(H2Connection* c, Step step);

 public:  // for the nghttp2 callbacks in the .cpp (file-local functions)
  Step on_client_read();
  std::unique_ptr<H2Stream> new_stream();           // a fresh or recycled stream object
  void adopt_stream(std::unique_ptr<H2Stream> st);  // a new request stream (HEADERS begun)
  bool send_pending();                              // false: session error
  void stream_closed(H2Stream* st);
  bool start_request(H2Stream* st);  // headers complete: open the pair, write the head
  void request_data(H2Stream* st, const uint8_t* data, size_t len);
  void request_end(H2Stream* st);
  void consume_request_data(H2Stream* st);
  bool on_reset_from_client();  // false: rapid reset, session terminated
  void schedule_send();         // after_event() soon, from the loop (send_ev_)
  // A response head handed over by |st|'s internal connection (response_head_sink.h):
  // submitted as HEADERS with the body to follow through the pair. False = not taken.
  bool take_response_head(H2Stream* st, int status, const HeadField* fields, size_t num_fields,
                          ResponseHeadSink::Body body, uint64_t content_length, bool keep_alive);
  // A HEADERS frame for stream |id| begins: false (after submitting GOAWAY PROTOCOL_ERROR)
  // when |id| is below a stream the client already opened and is no open stream's trailers.
  bool headers_stream_id_ok(int32_t id);
  void remember_reset(int32_t id);  // a RST_STREAM for |id| was sent
  int continuation_count_ = 0;      // CONTINUATION frames in the current header block
  bool settings_received_ = false;  // the client's first SETTINGS frame arrived
  Worker* worker() const { return worker_; }

 private:
  Step on_pipe_read(H2Stream* st);
  Step on_pipe_event(H2Stream* st, short what);
  Step after_event();  // flush nghttp2's output, free closed streams, decide whether to close
  bool parse_response_head(H2Stream* st);
  // After a complete keep-alive exchange, keeps |st|'s pair (and its internal connection) for
  // the session's next stream.
  void maybe_recycle_pipe(H2Stream* st);
  void drop_idle_pipe(Stream* pipe);
  void move_response_body(H2Stream* st);
  // A request the proxy answers itself (h2::check_request): |status| with a short text body,
  // counted and logged like an HTTP/1.1 local answer.
  void answer_locally(H2Stream* st, int status, const char* why);
  // One access-log line for a stream that never reached an internal connection.
  void log_stream(const H2Stream* st, int status, uint64_t bytes_out, const char* termination);

  // What timer_ is counting down (one timer per connection); after_event() moves it:
  //
  //   Preface ──first SETTINGS──▶ Idle ◀────last stream closed──── Streams
  //      │                         │ └──────HEADERS begins──────▶    │
  //      │ client_header_timeout   │ client_idle_timeout             │ every sweep_interval_ms:
  //      ▼                         ▼                                 ▼ check_timeouts()
  //    close                    GOAWAY
  //   (any) ──session done, last frame out──▶ Linger ──client's FIN or 2 s──▶ close
  enum class TimerMode { Preface, Idle, Streams, Linger };
  void set_timer(TimerMode mode);  // (re)arms timer_ for |mode|
  static uint64_t sweep_interval_ms(const conf::Limits& limits);
  Step check_timeouts();  // the per-stream timeouts (TimerMode::Streams)

  Worker* worker_;
  WorkerListener* listener_;
  Stream* client_;
  std::shared_ptr<const TlsContexts> tls_pin_;
  ConnectionSlot slot_;  // the client connection's place in ConnectionLimits
  sockaddr_storage peer_{};
  int peer_len_ = 0;
  nghttp2_session* session_ = nullptr;
  event* timer_ = nullptr;  // see TimerMode
  TimerMode timer_mode_ = TimerMode::Preface;
  event* resume_ev_ = nullptr;  // process bytes that arrived before the hand-over
  event* send_ev_ = nullptr;    // activated by hand: send what a handed-over head submitted
  std::unordered_map<int32_t, std::unique_ptr<H2Stream>> streams_;
  std::vector<std::unique_ptr<H2Stream>> closed_;         // deferred delete
  std::vector<std::unique_ptr<H2Stream>> spare_streams_;  // reset, for the next streams
  std::vector<Stream*> idle_pipes_;           // owned: pair ends whose internal connection is idle
  std::string scratch_;                       // request head being built
  std::string client_label_;                  // "ip:port" for the access log, made on first use
  int32_t max_headers_stream_id_ = 0;         // highest stream id a HEADERS frame opened
  std::array<int32_t, 128> recent_resets_{};  // ids this side reset lately (ring)
  size_t next_reset_slot_ = 0;
  uint64_t reset_window_start_ms_ = 0;
  int resets_in_window_ = 0;
  bool draining_ = false;
  bool failed_ = false;     // session error: flush what is queued, then close
  bool lingering_ = false;  // FIN sent; discarding input until the client closes (or 2 s)
};

}  // namespace sy::proxy
