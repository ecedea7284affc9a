#pragma once
// The HTTP/2 server session of a client connection (h2 by ALPN on a TLS listener, h2c with
// prior knowledge on a cleartext one): one nghttp2 server session driven through the memory
// API (mem_recv/mem_send) into the client Stream's output, which stops growing above
// kOutputCap. Each stream is an Exchange with the stream as its Downstream, exactly like the
// one exchange of an HTTP/1.1 connection — no HTTP/1.1 text in between:
//
//   client ══h2══▶ Http2Session ─┬─ stream 1: H2Stream (Downstream) ─ Exchange ─▶ upstream
//                                └─ stream 3: H2Stream (Downstream) ─ Exchange ─▶ upstream
//
// Request fields are collected into the stream's arena as nghttp2 hands them over and turned
// into an HttpRequest when the header block is complete; h2::check_request refuses what must
// not be routed. DATA is copied into the stream's request buffer and moved to the upstream
// from there; the response head is submitted as HEADERS (forwarding.h), the body from a
// per-stream buffer through a deferred data provider, trailers as a trailing HEADERS frame.
//
// Flow control follows backpressure on both sides: request DATA is acknowledged to the client
// (nghttp2_session_consume, automatic WINDOW_UPDATE off) only as it leaves the stream's buffer
// for the upstream, which takes it only below its high-water mark; the exchange stops reading
// the upstream while the stream's response buffer holds more than kBodyCap, and resumes when
// nghttp2 has taken it down to half.
//
// Timeouts (the HTTP/1.1 client timeouts, per connection and per stream), on the connection's
// one timer (TimerMode): until the client's SETTINGS arrive, client_header_timeout; with no
// stream open, client_idle_timeout (then GOAWAY); with streams open, a periodic check
// (check_timeouts): a request header block not complete within client_header_timeout ends the
// connection (GOAWAY: nothing else may be sent before its end); a request body silent for
// client_body_timeout gets 408 (or a reset once the response began); a stream whose response
// waits for a window the client keeps shut gets RST_STREAM(CANCEL) after send_timeout. A
// stream whose response is complete while the client is still sending is ended with
// RST_STREAM(NO_ERROR) (RFC 9113 8.1). A client that does not read the socket meets the client
// Stream's send timeout.
//
// Protection: SETTINGS_MAX_CONCURRENT_STREAMS (100), a header list size limit
// (limits.max_header_bytes, enforced per stream), at most kMaxContinuations CONTINUATION frames
// per header block, nghttp2's caps on queued SETTINGS/PING ACKs (max_outbound_ack) and on
// SETTINGS entries, and a rapid-reset guard (CVE-2023-44487): more than kMaxResetsPerWindow
// RST_STREAM frames from the client within kResetWindowMs ends the session with GOAWAY
// ENHANCE_YOUR_CALM.
//
// Ownership: the connection owns the session, the session its streams. Streams closed by
// nghttp2 move to a deferred-delete list freed at the end of the callback that closed them
// (after_event); a few are kept for reuse. Thread: the owning worker, all of it.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "proxy/connection.h"
#include "proxy/forwarding.h"

struct nghttp2_session;

namespace sy::proxy {

class Http2Session final : public ServerSession {
 public:
  explicit Http2Session(ClientConnection* conn);
  ~Http2Session() override;  // frees every stream (their exchanges let go of upstreams)
  Http2Session(const Http2Session&) = delete;
  Http2Session& operator=(const Http2Session&) = delete;

  void on_read() override;
  void on_write() override;
  void on_event(short what) override;
  void on_timer() override;
  void on_resume() override;
  void on_peer_closed() override {}
  void on_drain() override;
  void on_kill() override;

  struct H2Stream;  // one request/response (http2_session.cpp)

  // --- for the nghttp2 callbacks and the streams (file-local code in the .cpp) ---
  ClientConnection* conn() const { return conn_; }
  nghttp2_session* session() const { return session_; }
  std::unique_ptr<H2Stream> new_stream();
  void adopt_stream(std::unique_ptr<H2Stream> st);
  void stream_closed(H2Stream* st, uint32_t error_code);
  // The header block of |st| is complete: refuse it, wait for a form body, or start it.
  void headers_complete(H2Stream* st);
  void request_data(H2Stream* st, const uint8_t* data, size_t len);
  void request_end(H2Stream* st);
  bool on_reset_from_client();  // false: rapid reset, session terminated
  // A HEADERS frame for stream |id| begins: false (after submitting GOAWAY PROTOCOL_ERROR)
  // when |id| is below a stream the client already opened and is no open stream's trailers.
  bool headers_stream_id_ok(int32_t id);
  void remember_reset(int32_t id);  // a RST_STREAM for |id| was sent
  // Frames were submitted outside a session callback: send them from the loop soon.
  void schedule_send();
  // |st|'s response buffer drained below half of kBodyCap inside mem_send: its exchange hears
  // on_downstream_drained once the send is over.
  void response_drained(H2Stream* st);
  int continuation_count_ = 0;      // CONTINUATION frames in the current header block
  bool settings_received_ = false;  // the client's first SETTINGS frame arrived

 private:
  // What the connection timer is counting down; after_event() moves it:
  //
  //   Preface ──first SETTINGS──▶ Idle ◀────last stream closed──── Streams
  //      │                         │ └──────HEADERS begins──────▶    │
  //      │ client_header_timeout   │ client_idle_timeout             │ every sweep_interval_ms:
  //      ▼                         ▼                                 ▼ check_timeouts()
  //    close                    GOAWAY
  //   (any) ──session done, last frame out──▶ ClientConnection::shut_down (lingering close)
  enum class TimerMode { Preface, Idle, Streams };
  bool start();  // false: nghttp2 could not be set up
  // Sends what nghttp2 has queued, frees streams closed meanwhile, tells drained streams, and
  // decides whether the session is over.
  void after_event();
  bool send_pending();  // false: session error
  void set_timer(TimerMode mode);
  static uint64_t sweep_interval_ms(const conf::Limits& limits);
  void check_timeouts();  // the per-stream timeouts (TimerMode::Streams)
  void start_exchange(H2Stream* st);

  ClientConnection* conn_;
  const ExchangeEnv& env_;
  Stream* client_;
  nghttp2_session* session_ = nullptr;
  TimerMode timer_mode_ = TimerMode::Preface;
  std::unordered_map<int32_t, std::unique_ptr<H2Stream>> streams_;
  std::vector<std::unique_ptr<H2Stream>> closed_;         // deferred delete
  std::vector<std::unique_ptr<H2Stream>> spare_streams_;  // reset, for the next streams
  std::vector<H2Stream*> drained_;            // response_drained() during the current send
  int32_t max_headers_stream_id_ = 0;         // highest stream id a HEADERS frame opened
  std::array<int32_t, 128> recent_resets_{};  // ids this side reset lately (ring)
  size_t next_reset_slot_ = 0;
  uint64_t reset_window_start_ms_ = 0;
  int resets_in_window_ = 0;
  bool draining_ = false;
  // Drain, first phase: a GOAWAY notice (last stream id 2^31-1) went out; at this monotonic
  // time (ms; 0 = none) the final GOAWAY with the last processed stream follows, so a stream
  // the client opened before it saw the notice is still served, not refused.
  uint64_t final_goaway_at_ms_ = 0;
  bool failed_ = false;   // session error: flush what is queued, then close
  bool in_send_ = false;  // inside send_pending (mem_send)
  bool send_scheduled_ = false;
};

}  // namespace sy::proxy
