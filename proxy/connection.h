#pragma once
// A downstream (client) HTTP/1.1 connection and the exchange in flight on it.
//
// Life of an exchange:
//
//   ReadHead ──head parsed──▶ Connecting ──upstream ready──▶ Exchanging ──both sides done──┐
//      ▲  │                        │ all members failed            │ error / timeout       │
//      │  └─bad head / timeout─▶ Closing ◀──────────────────────────┘                       │
//      └──────────────────── keep-alive (pipelined bytes are parsed at once) ◀─────────────┘
//
// Requests on one connection are served one at a time, in order, which answers pipelined
// requests in order by construction: the next head is parsed only when the previous exchange
// has finished. Request and response bodies are streamed with evbuffer moves; each direction
// stops reading its source while the destination holds more than limits.buffer_high_water
// bytes and resumes at half of it.
//
// Ownership (STYLE rule 5): the connection owns its client Stream, its header/idle timer
// and, during an exchange, the upstream Stream. Only its static libevent callbacks destroy
// it (through Worker::destroy) when a handler returns Step::Close.
//
// Thread: worker thread only, all of it.

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>

#include "proxy/access_log.h"
#include "proxy/connection_limits.h"
#include "proxy/http1_parser.h"
#include "routing/decide.h"

struct event;
struct evbuffer;
struct ssl_st;

namespace sy::proxy {

class ResponseHeadSink;
class Stream;
struct TlsContexts;

class Worker;
struct WorkerListener;
struct WorkerMember;
class WorkerPool;

class ClientConnection {
 public:
  ClientConnection(Worker* worker, WorkerListener* listener, int fd, const sockaddr* peer,
                   int peer_len);
  // An internal connection over an in-memory |client| Stream (an HTTP/2 stream's other end;
  // see h2_connection.h), owned from now on; |peer| is the HTTP/2 client's address.
  ClientConnection(Worker* worker, WorkerListener* listener, Stream* client, const sockaddr* peer);
  ~ClientConnection();  // frees both Streams and the timer; never logs
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  enum class Step { Keep, Close };

  // Makes the client side TLS: takes ownership of |ssl| (a server SSL in accept state) and
  // keeps |pin| (the contexts it came from) until the connection closes. Before start().
  void use_tls(ssl_st* ssl, std::shared_ptr<const TlsContexts> pin);
  void start();
  // Graceful drain. Close = the connection is idle and the caller should destroy it now;
  // otherwise it finishes its exchange and closes after the response.
  Step on_drain();
  // Forced close at the drain deadline: logs the exchange in flight as killed ('K').
  void on_kill();
  // A held request's schema may have been enabled: decide it again with the worker's current
  // snapshot (it may be parked again, keeping its deadline). Worker::on_snapshot calls this.
  Step on_release();

  // Worker's intrusive list.
  ClientConnection* prev_ = nullptr;
  ClientConnection* next_ = nullptr;

 private:
  // Held: a complete request head waits in the client input while its schema is disabled.
  enum class Phase { ReadHead, Held, Connecting, Exchanging, Closing };
  enum class RespState { Head, Body, Done };
  enum class BodyMode { None, Length, Chunked, UntilClose };

  static void client_read_cb(Stream* s, void* arg);
  static void client_write_cb(Stream* s, void* arg);
  static void client_event_cb(Stream* s, short what, void* arg);
  static void upstream_read_cb(Stream* s, void* arg);
  static void upstream_write_cb(Stream* s, void* arg);
  static void upstream_event_cb(Stream* s, short what, void* arg);
  static void timer_cb(int fd, short what, void* arg);
  static void finish(ClientConnection* c, Step step);

  Step on_client_read();
  Step on_client_write();
  Step on_client_event(short what);
  Step on_upstream_read();
  Step on_upstream_write();
  Step on_upstream_event(short what);
  Step on_timer();

  Step parse_head();
  // HTTP/2 on this connection (ALPN h2, or the h2c preface)? Keep with *handed_over = true:
  // the client Stream now belongs to an H2Connection and this connection must be destroyed.
  Step check_h2(bool* handed_over);
  // |contiguous|: the pulled-up start of the input (head, and for a login_form rule up to
  // kMaxFormBodyForKey bytes of body).
  Step begin_exchange(const http1::RequestHead& head, size_t head_len, std::string_view contiguous);
  // Routing (when configured): sets pool_ and returns Keep to proxy, or answers/parks itself.
  // |form|: the complete small form body when a login_form rule needs it, else "".
  Step route(const http1::RequestHead& head, size_t head_len, std::string_view form, bool* proceed);
  Step hold_request(size_t head_len);
  // Answers |reject| locally (counted per code, rendered in the deployment's envelope).
  Step respond_reject(const routing::Reject& reject, size_t head_len, const char* termination);
  // A response made by the proxy itself (error, redirect, routing error); drains |head_len|
  // bytes of request head. Keeps the connection when |may_keep| and the request has no body;
  // otherwise answers with Connection: close and closes after it.
  Step respond_local(int status, std::string_view extra_headers, std::string_view content_type,
                     std::string_view body, size_t head_len, const char* termination,
                     bool may_keep = true);
  void build_upstream_head(const http1::RequestHead& head, const std::string& fallback_host);
  Step connect_upstream();
  Step on_upstream_connected();
  Step on_connect_failed(const char* why);
  Step forward_request_body();
  Step parse_response_head();
  // Internal connections: gives the parsed response head to the HTTP/2 stream at the other
  // end of the pair (response_head_sink.h) instead of serialising it. False = not taken;
  // write it as bytes. Call after resp_mode_, chunk_to_client_ and close_after_ are set.
  bool hand_head_over(const http1::ResponseHead& head);
  Step forward_response_body();
  Step response_done();
  Step finish_exchange();
  // |parse_now| false: reset for the next request but leave buffered pipelined bytes for the
  // resume event (bounds recursion when many pipelined requests get local answers).
  Step start_next_request(bool parse_now = true);
  static void resume_cb(int fd, short what, void* arg);
  // While held, reading is off; this EV_CLOSED watch (EPOLLRDHUP) notices a client that gives
  // up, so its hold slot is freed at once instead of at max_wait.
  static void hold_closed_cb(int fd, short what, void* arg);
  void watch_hold(bool on);
  // Sends a proxy-generated error response and closes after it. |termination| is 2 chars.
  Step respond_error(int status, const std::string& body, const char* termination);
  // Ends the exchange abnormally after response bytes were already sent: logs and closes now.
  Step abort_exchange(const char* termination);
  // Stops the exchange, flushes what is queued for the client, then closes (lingering).
  Step enter_closing();
  Step linger();
  void release_upstream(bool reusable);
  void log_exchange();
  void set_termination(const char* code);
  void arm_timer(uint64_t ms);
  // Adds the trailer fields of |trailer| (ChunkedDecoder::trailer()) that may be forwarded
  // (http1::append_allowed_trailer; the others are counted); returns the bytes added.
  size_t add_trailer(evbuffer* out, std::string_view trailer, bool drop_underscores);
  void pause_client_reads();
  void resume_client_reads();
  bool request_in_progress() const;

  Worker* worker_;
  WorkerListener* listener_;
  Stream* client_ = nullptr;
  Stream* upstream_ = nullptr;
  std::shared_ptr<const TlsContexts> tls_pin_;  // TLS listeners: keeps the SNI table alive
  ConnectionSlot slot_;  // counted against the connection caps (not for internal ones)
  event* timer_ = nullptr;
  event* hold_watch_ = nullptr;  // EV_CLOSED on the client fd while Held (not for h2 streams)
  event* resume_ev_ = nullptr;   // activated by hand: parse buffered pipelined input later
  int local_depth_ = 0;          // nested local answers on the current call stack
  std::string client_label_;     // "ip:port"
  std::string client_ip_;        // for X-Forwarded-For
  Phase phase_ = Phase::ReadHead;
  bool draining_ = false;
  bool client_eof_ = false;
  bool lingering_ = false;        // FIN sent; discarding input until the client closes
  bool client_paused_ = false;    // client reads stopped by backpressure
  bool internal_ = false;         // an HTTP/2 stream's in-memory end (always HTTP/1.1)
  bool h2_checked_ = false;       // the first bytes were checked for HTTP/2
  bool upstream_paused_ = false;  // upstream reads stopped by backpressure

  // --- the exchange in flight (reset by start_next_request) ---
  bool head_started_ = false;  // bytes of a new request head have arrived
  std::string method_;         // copies (capacity reused across requests)
  std::string target_;
  RequestFields fields_;  // Host, User-Agent, ..., X-Request-Id for the log and upstream
  std::string up_head_;   // serialized upstream request head (kept for a retry)
  int minor_version_ = 1;
  bool keep_alive_ = true;  // client side
  bool head_request_ = false;
  bool expect_continue_ = false;
  bool idempotent_ = false;
  BodyMode req_mode_ = BodyMode::None;
  uint64_t req_remaining_ = 0;
  http1::ChunkedDecoder req_chunks_;
  bool req_done_ = false;
  WorkerPool* pool_ = nullptr;   // pool of this exchange (the listener's, or routing's)
  const char* route_ = nullptr;  // routing decision for the access log; null = no routing
  uint32_t context_id_ = 0;
  bool held_ = false;              // this request has been parked at least once
  bool add_loop_guard_ = false;    // proxied to the other version: add the loop-guard header
  int64_t* inflight_ = nullptr;    // the worker's in-flight counter of this request's schema
  uint64_t hold_deadline_ms_ = 0;  // monotonic; 503 when still held then
  WorkerMember* member_ = nullptr;
  uint64_t exclude_mask_ = 0;       // members that failed to connect for this exchange
  std::string last_connect_error_;  // "member: why" of the last failed connect (error path only)
  int attempts_ = 0;
  bool reused_ = false;
  RespState resp_state_ = RespState::Head;
  BodyMode resp_mode_ = BodyMode::None;
  uint64_t resp_remaining_ = 0;
  http1::ChunkedDecoder resp_chunks_;
  bool chunk_to_client_ = false;  // re-encode the response body as chunked
  bool upstream_reusable_ = false;
  bool close_after_ = false;  // close the client connection after this response
  int status_ = 0;
  bool resp_head_sent_ = false;
  ResponseHeadSink* head_handed_to_ = nullptr;  // took this response's head, this read only
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  uint64_t t_start_us_ = 0;
  uint64_t t_connect_us_ = 0;
  uint64_t t_connected_us_ = 0;
  uint64_t t_sent_us_ = 0;
  uint64_t t_resp_us_ = 0;
  char termination_[3] = {'-', '-', 0};
};

}  // namespace sy::proxy
