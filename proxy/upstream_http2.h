#pragma once
// HTTP/2 to a member (pools with `protocol: h2`): a second upstream codec beside HTTP/1.1.
//
//   UpstreamRequest ── Http2Upstream (one stream) ──┐
//   UpstreamRequest ── Http2Upstream (one stream) ──┼── H2UpstreamConnection ══h2══▶ member
//   UpstreamRequest ── Http2Upstream (one stream) ──┘   (nghttp2 client session, owned by
//                                                        the WorkerPool, per member)
//
// An H2UpstreamConnection is one connection to one member — h2c with prior knowledge, or h2
// over TLS when the pool has `tls` (ALPN must choose h2) — driven through nghttp2's memory API
// like the server side. Requests of one worker share it, up to the member's
// SETTINGS_MAX_CONCURRENT_STREAMS; the pool opens another when it is full, going away (GOAWAY)
// or failed. Requests attached before the connection is up wait for it and are submitted
// together; a failed connect fails each of them as a connect failure (no byte sent: the next
// member is tried), and a stream the member refuses (REFUSED_STREAM, streams above a GOAWAY's
// last id) is retried like a reused HTTP/1.1 connection that turns out closed.
//
// Flow control follows backpressure: response DATA is handed to the exchange at once and
// acknowledged (nghttp2_session_consume, automatic WINDOW_UPDATE off) only while the client
// side takes it; request DATA leaves from a per-stream buffer through a deferred data provider
// and the exchange stops feeding it above limits.buffer_high_water. Trailers go both ways
// (gRPC's grpc-status arrives in one); "te: trailers" is forwarded.
//
// Timeouts: connect_timeout bounds TCP connect + TLS handshake; response_timeout a stream's
// silence once its request is complete (checked every quarter of it by the connection's
// timer); send_timeout a member that does not read.
//
// Ownership: the WorkerPool owns connections (WorkerMember::h2); a connection frees itself
// (WorkerPool::destroy_h2) only from its own callbacks, when it is dead and no stream is
// attached. Every event for a stream reaches its exchange inside a ConnectionScope that does
// not destroy (the client connection frees itself from its own callback). Thread: the worker.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "proxy/forwarding.h"
#include "proxy/upstream_codec.h"

struct event;
struct evbuffer;
struct nghttp2_session;

namespace sy::proxy {

class Http2Upstream;
class Stream;
class UpstreamRequest;
class WorkerPool;
struct WorkerMember;
struct ExchangeEnv;

class H2UpstreamConnection {
 public:
  H2UpstreamConnection(const ExchangeEnv& env, WorkerPool* pool, WorkerMember* member);
  ~H2UpstreamConnection();  // every stream must be detached
  H2UpstreamConnection(const H2UpstreamConnection&) = delete;
  H2UpstreamConnection& operator=(const H2UpstreamConnection&) = delete;

  // Starts the TCP connect (and TLS). False with *why when it failed at once.
  bool connect(std::string* why);
  // Another stream may be attached (not failed, not going away, below the member's limit).
  bool has_room() const;
  bool ready() const { return ready_; }
  bool idle() const { return attached_.empty(); }
  // Attaches |r|: submitted now when the connection is ready, else when it is.
  void attach(Http2Upstream* r);
  // Lets go of |r|; its stream is reset when |reset|. No callback follows.
  void detach(Http2Upstream* r, bool reset);
  // Closes the connection when no stream is attached (graceful shutdown, pool teardown).
  void close_if_idle();

  // --- for Http2Upstream and the nghttp2 callbacks (upstream_http2.cpp) ---
  nghttp2_session* session() const { return session_; }
  WorkerMember* member() const { return member_; }
  const ExchangeEnv& env() const { return env_; }
  void schedule_send();
  void on_goaway() { goaway_ = true; }
  // |r|'s request buffer drained below its low-water mark inside mem_send: its exchange
  // hears on_upstream_drained once the send is over.
  void note_drained(Http2Upstream* r) { drained_.push_back(r); }

 private:
  static void read_cb(Stream* s, void* arg);
  static void write_cb(Stream* s, void* arg);
  static void event_cb(Stream* s, short what, void* arg);
  static void timer_cb(int fd, short what, void* arg);
  static void send_cb(int fd, short what, void* arg);
  void on_connected();
  bool submit(Http2Upstream* r);
  // Fails every attached stream: before the connection was up as connect failures.
  void fail(std::string_view why);
  void send_pending();
  void check_timeouts();
  // The end of each own callback: frees a dead connection with nothing attached.
  void finish();

  const ExchangeEnv& env_;
  WorkerPool* pool_;
  WorkerMember* member_;
  Stream* stream_ = nullptr;
  nghttp2_session* session_ = nullptr;
  event* timer_ = nullptr;    // response timeouts of the open streams
  event* send_ev_ = nullptr;  // activated by hand: send what was submitted from outside
  std::vector<Http2Upstream*> attached_;
  std::vector<Http2Upstream*> drained_;  // note_drained() during the current send
  bool ready_ = false;   // connected (TLS done, ALPN h2), preface and SETTINGS queued
  bool dead_ = false;    // failed or closed: no new stream; freed when nothing is attached
  bool goaway_ = false;  // the member said GOAWAY: no new stream
  bool send_scheduled_ = false;
  bool in_callback_ = false;  // inside an own callback: finish() runs at its end
};

class Http2Upstream final : public UpstreamCodec {
 public:
  explicit Http2Upstream(UpstreamRequest* req);
  ~Http2Upstream();
  Http2Upstream(const Http2Upstream&) = delete;
  Http2Upstream& operator=(const Http2Upstream&) = delete;

  // Builds the request's HTTP/2 fields (kept for a retry). Returns the fields dropped for an
  // underscore.
  size_t prepare(const HttpRequest& req, const ForwardPolicy& policy);

  void connect(WorkerPool* pool, WorkerMember* m) override;
  void write_body(evbuffer* src, size_t n) override;
  bool body_full() const override;
  void end_request(std::string_view trailer) override;
  void pause_response(bool paused) override;
  void release(bool reusable) override;

  // --- for H2UpstreamConnection and the nghttp2 callbacks ---
  NvList& head() { return head_; }
  bool has_body() const { return has_body_; }
  void set_stream(int32_t id) { stream_id_ = id; }
  int32_t stream_id() const { return stream_id_; }
  void connection_ready(bool reused);
  void connection_failed(std::string_view why, bool before_ready);
  void response_field(std::string_view name, std::string_view value);
  void response_headers(bool end_stream);
  void response_data(const uint8_t* data, size_t len);
  void response_end();
  void stream_closed(uint32_t error_code);
  // The data provider: copies request body into |buf|.
  ssize_t read_request(uint8_t* buf, size_t length, uint32_t* flags);
  uint64_t last_activity_ms() const { return last_activity_ms_; }
  bool waiting_for_response() const;
  void timed_out();
  UpstreamRequest* request() const { return req_; }

 private:
  void reset_response();

  UpstreamRequest* req_;
  H2UpstreamConnection* conn_ = nullptr;
  int32_t stream_id_ = -1;
  NvList head_;
  bool has_body_ = false;
  bool created_ = false;  // this request made the connection (else it reuses one)
  // Request body.
  evbuffer* req_buf_ = nullptr;
  bool req_done_ = false;
  bool deferred_ = false;
  bool told_full_ = false;
  std::string req_trailer_;
  // Response.
  std::string arena_;  // field names and values of the head (or trailer) being received
  std::vector<std::pair<std::pair<uint32_t, uint32_t>, std::pair<uint32_t, uint32_t>>> spans_;
  std::vector<Field> fields_;
  int status_ = 0;
  bool head_done_ = false;  // the final response head was delivered
  bool complete_ = false;   // the response ended (END_STREAM)
  bool has_length_ = false;
  uint64_t content_length_ = 0;
  evbuffer* resp_buf_ = nullptr;  // DATA on its way to the exchange
  bool paused_ = false;
  uint64_t unconsumed_ = 0;  // DATA bytes held back from WINDOW_UPDATE while paused
  std::string trailer_;
  uint64_t last_activity_ms_ = 0;
};

}  // namespace sy::proxy
