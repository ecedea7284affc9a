#pragma once
// One request/response exchange, whatever the protocol on either side (nghttpx's Downstream,
// Envoy's ActiveStream + router filter). A server session (Http1Session, Http2Session) parses
// a request head into an HttpRequest and calls start(); the exchange then
//
//   1. routes it (routing::decide through the Forwarder, when configured): proxy to a pool,
//      307 redirect, a CTX-00NN error, or hold while its schema is disabled (HoldQueue);
//   2. answers locally (errors, redirects, refusals) through Downstream::send_local_response,
//      or builds the forwarded head (forwarding.h) and starts its UpstreamRequest;
//   3. moves the request body Downstream -> UpstreamRequest and the response
//      UpstreamRequest -> Downstream, with backpressure both ways;
//   4. writes one access-log line, counts, and tells the session it is done.
//
//   Idle ─start─▶ (routing) ─Hold─▶ Held ─release/deadline─▶ (routing again)
//                     │ Proxy                                   │
//                     ▼                                         ▼
//                 Connecting ─ready─▶ Proxying ─response end─▶ Done ◀─ local answer, error
//                                        │ 101 to an Upgrade request      ▲
//                                        ▼                                │ either side closes,
//                                     Proxying + tunnel ──────────────────┘ tunnel_timeout, kill
//
// Tunnel (HTTP/1.1 Upgrade, docs/configuration.md "tunnel_timeout"): after the 101 both bodies
// are unframed byte streams with no end until a close: the request "body" is what the client
// sends (request_done goes false again), the response "body" what the member sends, each with
// the same backpressure as a body. The exchange's timer then ticks (every quarter of the pool's
// tunnel_timeout, at most 1 s apart) and ends the tunnel once no byte moved either way for
// tunnel_timeout (no per-byte timer updates on the hot path), or when `pool member drain`
// cut the member's tunnels (MemberState::cut_tunnels). It is logged once, at its end, with
// who closed it.
//
// State: scalar per-exchange state lives in one Record, reset by assignment in begin() (the
// only reset); the method/target strings keep their capacity across exchanges.
//
// WebSocket over HTTP/2 (RFC 8441): an extended CONNECT (HttpRequest::extended_connect) goes to
// an HTTP/1.1 member as a GET upgrade with a key made here; the member's 101 must carry the
// matching Sec-WebSocket-Accept (else 502, as for a 2xx that did not switch); the stream is
// then answered 200 and carries the same tunnel. The client's END_STREAM half-closes the
// member's connection; the member's close ends the stream.
//
// Seams for what comes next (docs/architecture.md): a plain CONNECT tunnel is the same tunnel
// started without a 101; per-route timeouts and retry policy would live in the Record
// filled from the decision; metrics histograms read the Record's timings in log().
//
// Ownership: embedded in its session (one per HTTP/1.1 connection, one per HTTP/2 stream);
// it owns its UpstreamRequest and its hold timer. Thread: the owning worker, all of it.

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "proxy/access_log.h"
#include "proxy/downstream.h"
#include "proxy/h2_convert.h"
#include "proxy/hold_queue.h"
#include "proxy/http_message.h"
#include "proxy/upstream_request.h"
#include "routing/decide.h"

struct event;
struct event_base;

namespace sy::proxy {

class AccessLogBuffer;
class ClientConnection;
class Forwarder;
class WorkerPool;
class WorkerMetrics;
class WorkerStats;
struct WorkerListener;

// What the exchanges of one worker use, handed to each connection by the worker (instead of
// the Worker itself). Every pointer outlives the connections.
struct ExchangeEnv {
  event_base* base = nullptr;
  const conf::Limits* limits = nullptr;
  const http1::Limits* parse_limits = nullptr;
  WorkerStats* stats = nullptr;
  WorkerMetrics* metrics = nullptr;  // null: no admin.http listener, nothing to count
  AccessLogBuffer* access_log = nullptr;
  Forwarder* forwarder = nullptr;      // tenant routing; nullptr without a routing section
  WorkerPool* const* pools = nullptr;  // the worker's pools, by config index
  size_t num_pools = 0;
  const bool* draining = nullptr;           // the worker is draining
  http1::Header* header_scratch = nullptr;  // limits.max_headers + 1 entries; never kept
  std::string* head_scratch = nullptr;      // a head being built; never kept

  WorkerPool* pool_at(int index) const {
    return index >= 0 && static_cast<size_t>(index) < num_pools ? pools[index] : nullptr;
  }
};

// The client side an exchange belongs to (for X-Forwarded-* and the access log).
struct ClientInfo {
  const WorkerListener* listener = nullptr;
  std::string_view label;  // "ip:port" (of the PROXY header's source when there is one)
  std::string_view ip;
  bool trusted = false;  // |ip| is a trusted proxy: its X-Forwarded-For / Forwarded are kept
  // For a PROXY header sent to a member (pools[].send_proxy): the client's address (as
  // |label|; AF_UNSPEC when unknown), and a number unique among the worker's client
  // connections, never 0 (upstream connections announcing the client are its alone).
  const sockaddr_storage* peer_addr = nullptr;
  uint64_t connection_id = 0;
};

class Exchange final : private UpstreamHandler {
 public:
  Exchange(const ExchangeEnv& env, const ClientInfo& client, ClientConnection* owner);
  ~Exchange();  // releases the upstream, leaves the hold queue and the in-flight count
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // A new request begins (its first byte arrived at |t_start_us|, monotonic) on |protocol|
  // (HTTP/1.x sessions say Http11 until the head tells): resets every per-exchange field.
  // |ds| is the session's side of it.
  void begin(Downstream* ds, uint64_t t_start_us, Protocol protocol);
  // The head is complete. |form_body|: the whole small urlencoded body when the Forwarder's
  // login_form rule needs it (Forwarder::wants_form_body), else "".
  void start(const HttpRequest& req, std::string_view form_body);
  // A request the session answers before start() (malformed head, header timeout, a
  // forbidden HTTP/2 request): |status| with a text body, logged with |term| and
  // |method|/|target| as given. Counting it is the session's.
  void refuse(int status, std::string_view message, std::string_view method,
              std::string_view target, Termination term);
  // Request bytes arrived (or the body ended): forwarded when the upstream is ready.
  void on_request_body();
  // The downstream took the response bytes it held back (below its low-water mark).
  void on_downstream_drained();
  // The client went away or timed out: logs with |term| if a request was in progress, lets go
  // of the upstream and the hold queue. The session decides what happens to its side.
  void on_downstream_closed(Termination term);
  // The client stopped sending its request body for client_body_timeout: 408, or an abort
  // when response bytes were sent already.
  void on_body_timeout();
  // A held request's schema may be enabled: decide again (it may be parked again, keeping
  // its deadline). Worker::on_snapshot, through the HoldQueue.
  void on_release();
  // The drain deadline: logs an exchange in progress as killed ('K').
  void on_kill();
  // Counts |n| request bytes received (head and body framing included) for the access log.
  void count_in(uint64_t n) { rec_.bytes_in += n; }
  ClientConnection* owner() const { return owner_; }
  void count_out(uint64_t n) { rec_.bytes_out += n; }

  bool in_progress() const { return rec_.stage != Stage::Idle && rec_.stage != Stage::Done; }
  bool held() const { return rec_.stage == Stage::Held; }
  bool proxying() const { return rec_.stage == Stage::Proxying; }
  bool tunneling() const { return rec_.tunnel && rec_.stage == Stage::Proxying; }
  bool response_started() const { return rec_.head_sent; }
  bool request_done() const { return rec_.request_done; }
  // The phase a termination now would be logged with.
  Phase phase() const;
  // The phase a client that goes away now is logged with: R, W (held), B (sending its body)
  // or D (after its request).
  Phase client_phase() const;

  HoldLink hold_link;  // HoldQueue<Exchange>'s (hold_queue.h)

 private:
  // Head: the request's first byte arrived, its head is not complete yet.
  enum class Stage : uint8_t { Idle, Head, Held, Connecting, Proxying, Done };

  // Every per-exchange field; begin() assigns a fresh one.
  struct Record {
    Stage stage = Stage::Idle;
    Termination term;
    Protocol protocol = Protocol::Http11;
    int status = 0;             // sent to the client; 0 = none
    bool head_sent = false;     // a response head went to the client
    bool request_done = false;  // the whole request body went upstream
    bool head_request = false;
    bool expect_continue = false;  // the proxy owes the client a 100 Continue
    bool held = false;             // parked at least once
    bool loop_guard = false;       // proxied to the other version: add the loop-guard field
    bool counted = false;          // counted in Stat::Requests
    bool head_released = false;    // Downstream::release_head was called
    bool no_body = false;          // the request has no body
    bool tunnel = false;           // a 101 made this exchange a byte tunnel
    bool websocket = false;        // an HTTP/2 extended CONNECT sent as a GET upgrade (ws_key_)
    uint32_t tunnel_cut_gen = 0;      // the member's cut_tunnels when the tunnel opened
    const char* closed_by = nullptr;  // a tunnel's end, for the log (AccessRecord)
    uint64_t tunnel_bytes_seen = 0;   // bytes_in + bytes_out at the last tick
    uint64_t tunnel_quiet_since_ms = 0;  // monotonic; the last tick that saw bytes
    uint64_t t_tunnel_us = 0;            // the 101 was relayed
    WorkerPool* pool = nullptr;    // of this exchange (the listener's, or routing's)
    const char* route = nullptr;   // routing decision for the access log; null = no routing
    uint32_t context = 0;
    int64_t* inflight = nullptr;    // the worker's in-flight counter of this request's schema
    uint64_t hold_deadline_ms = 0;  // monotonic; 503 when still held then
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    uint64_t t_start_us = 0;
    uint64_t hold_start_ms = 0;  // monotonic: first parked
    uint64_t hold_end_ms = 0;    // monotonic: last left the queue; 0 = parked now
  };

  // A held request's head, copied (the session's buffers move on).
  struct HeldRequest {
    std::string text;  // every view below points into it
    std::vector<Field> fields;
    HttpRequest req;
    std::string_view form;  // the form body it was decided on, if any
    void copy(const HttpRequest& from, std::string_view form_body);
  };

  // UpstreamHandler
  void on_upstream_ready() override;
  void on_upstream_drained() override;
  void on_response_interim(const HttpResponse& resp) override;
  void on_response_head(const HttpResponse& resp) override;
  void on_response_body(evbuffer* src, size_t n) override;
  void on_response_end(std::string_view trailer) override;
  void on_upstream_failed(UpstreamFailure why, std::string_view message) override;

  // Routes (when configured) and carries the decision out.
  void route(const HttpRequest& req, std::string_view form_body);
  void proxy(const HttpRequest& req);
  // Parks the request until its schema is enabled (or the directory is fresh again, |stale|);
  // past a bound answers 503: CTX-0021, or CTX-0023 for a |stale| hold.
  void hold(const HttpRequest& req, std::string_view form_body, bool stale);
  // The 307 to |location| (the tenant's instance; routing::Redirect).
  void redirect(std::string_view location);
  // A CTX-00NN answer (the one reject path: counted per code, rendered, answered).
  void reject(const routing::Reject& r, Termination term);
  void release_head();
  void pull_request_body();
  // Answers with a response made here; |may_keep| lets the connection live on.
  void respond_local(int status, std::string_view extra_headers, std::string_view content_type,
                     std::string_view body, Termination term, bool may_keep);
  // A proxy-generated error that ends the connection (HTTP/1.1) or stream (HTTP/2).
  void respond_error(int status, std::string_view body, Termination term);
  // The response cannot be completed: log, let go of the upstream, reset the downstream.
  void abort(Termination term);
  // The response is complete: log, release the upstream, tell the session.
  void finish();
  void set_termination(Who who) { rec_.term = Termination{who, phase()}; }
  void log();
  // Counts the ended exchange into env_.metrics (when there are metrics). |now_us| monotonic.
  void count_metrics(uint64_t now_us);
  void leave_hold();
  // An extended CONNECT's answer: true = go on; false = not a valid handshake (answered 502).
  bool websocket_answer_ok(const HttpResponse& resp);
  // The 101 is relayed: the exchange becomes a tunnel (see the top of this file).
  void start_tunnel(const HttpResponse& resp);
  void tunnel_tick();
  uint64_t tunnel_tick_ms() const;
  // Arms the exchange's timer (the hold deadline or the tunnel tick) |ms| from now.
  void arm_timer(uint64_t ms);
  static void timer_cb(int fd, short what, void* arg);

  const ExchangeEnv& env_;
  ClientInfo client_;
  ClientConnection* owner_;
  Downstream* ds_ = nullptr;
  Record rec_;
  std::string method_;  // copies, capacity reused
  std::string target_;
  RequestFields fields_;  // Host, User-Agent, ..., X-Request-Id for the log and upstream
  std::string trailer_;   // filtered trailer being forwarded
  UpstreamRequest up_;
  std::unique_ptr<HeldRequest> held_;  // while held (and on release)
  event* timer_ = nullptr;             // hold deadline or tunnel tick; made at first use
  char ws_key_[h2::kWebSocketKeyLen] = {};  // Sec-WebSocket-Key sent (Record::websocket)
};

}  // namespace sy::proxy
