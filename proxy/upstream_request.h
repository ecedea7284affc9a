#pragma once
// The upstream half of one exchange (Envoy's UpstreamRequest, nghttpx's DownstreamConnection):
// pick a member of the pool, connect or reuse a connection, retry on another member while no
// byte of the request has been sent, send the head and stream the body, and turn the response
// into events for the exchange. Two codecs do the protocol work behind one interface:
//
//   UpstreamRequest ──pick, retry, timings, stats──┬─ Http1Upstream  (upstream_http1.h: one
//        │                                          │   keep-alive connection per exchange)
//        ▼ UpstreamHandler (the Exchange)           └─ Http2Upstream  (upstream_http2.h: a
//                                                       stream of a shared nghttp2 session)
//
// The pool's `protocol` picks the codec. Retries (docs/decisions.md 5): a failed connect moves
// to another member (`retries`); a request without body and with a safe method whose reused
// connection turns out closed (HTTP/1.1) or refused (HTTP/2 REFUSED_STREAM, GOAWAY) before any
// response byte is sent again on a fresh connection.
//
// Ownership: the Exchange embeds its UpstreamRequest; the codec owns its connection (HTTP/1.1)
// or holds a stream of a connection the pool owns (HTTP/2). Every event reaches the handler
// inside a ConnectionScope of the client connection (connection.h), so nothing is freed under
// the caller. Thread: the worker that owns the exchange.

#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/downstream.h"
#include "proxy/forwarding.h"
#include "proxy/http_message.h"
#include "proxy/upstream_http1.h"
#include "proxy/upstream_http2.h"

struct evbuffer;

namespace sy::proxy {

class ClientConnection;
struct ExchangeEnv;
class WorkerPool;
struct WorkerMember;

// Why the upstream side gave up.
enum class UpstreamFailure : uint8_t {
  Connect,      // no member could be connected: 502, termination SC
  Timeout,      // response_timeout: 504 sH before the head, else sD
  Closed,       // closed or reset before the response was complete: 502 SH / SD
  BadResponse,  // unparsable head or framing, a 101: 502 SH / SD
};

// What the exchange hears from its upstream request.
class UpstreamHandler {
 public:
  virtual void on_upstream_ready() = 0;    // the head is on its way: send the body now
  virtual void on_upstream_drained() = 0;  // body_full() turned false: send more body
  virtual void on_response_interim(const HttpResponse& resp) = 0;  // 1xx other than 100, 101
  virtual void on_response_head(const HttpResponse& resp) = 0;     // views valid in the call
  virtual void on_response_body(evbuffer* src, size_t n) = 0;      // move n bytes from src
  virtual void on_response_end(std::string_view trailer) = 0;      // trailer as received
  // The request failed; |message| says why (for the 502/504 body).
  virtual void on_upstream_failed(UpstreamFailure why, std::string_view message) = 0;

 protected:
  ~UpstreamHandler() = default;
};

class UpstreamRequest {
 public:
  UpstreamRequest(const ExchangeEnv& env, UpstreamHandler* handler, ClientConnection* owner);
  ~UpstreamRequest();  // releases what it holds (not reusable)
  UpstreamRequest(const UpstreamRequest&) = delete;
  UpstreamRequest& operator=(const UpstreamRequest&) = delete;

  // Builds what will be sent to a member of |pool| (the pool's protocol decides the form) from
  // |req|, whose views are not kept. |head_request|: the response has no body whatever it says.
  // In a sticky pool the member |req|'s cookie names (WorkerPool::sticky_member) is tried
  // first while it can take requests.
  void prepare(WorkerPool* pool, const HttpRequest& req, const ForwardPolicy& policy,
               bool head_request, bool safe_to_retry);
  // Picks and connects; the handler hears on_upstream_ready or on_upstream_failed (possibly
  // before start returns).
  void start();
  // Where the request body goes (valid after on_upstream_ready).
  BodySink& body() { return *codec_; }
  // The request body is complete; |trailer| ("Name: value\r\n" lines, filtered) follows it.
  void end_request(std::string_view trailer);
  // Stops / resumes reading the response (the downstream is full / drained).
  void pause_response(bool paused);
  // The exchange is over: |reusable| (response and request complete) keeps the connection
  // for another exchange, else it is closed (HTTP/1.1) or the stream reset (HTTP/2).
  void release(bool reusable);
  bool active() const { return codec_ != nullptr; }
  Stream* tunnel_stream() { return codec_ != nullptr ? codec_->tunnel_stream() : nullptr; }

  // For the access log and counters.
  WorkerPool* pool() const { return pool_; }
  const WorkerMember* member() const { return member_; }
  // Sticky pools: the member the request's cookie named (null: none, or an unknown id).
  const WorkerMember* sticky_member() const { return sticky_; }
  int attempts() const { return attempts_; }
  bool reused() const { return reused_; }
  uint64_t connect_us() const { return t_connect_us_; }      // pick of the member; 0 = none
  uint64_t connected_us() const { return t_connected_us_; }  // connection ready; 0 = never
  uint64_t sent_us() const { return t_sent_us_; }            // request complete; 0 = not yet
  uint64_t response_us() const { return t_response_us_; }    // response head; 0 = none

  // --- for the codecs (upstream_http1.cpp, upstream_http2.cpp) ---
  const ExchangeEnv& env() const { return env_; }
  ClientConnection* owner() const { return owner_; }
  UpstreamHandler* handler() const { return handler_; }
  bool head_request() const { return head_request_; }
  void codec_connected(bool reused);
  void codec_connect_failed(std::string_view why);
  // The response head arrived: counts and times it, then tells the handler.
  void codec_response_head(const HttpResponse& resp);
  // The connection failed before a response byte: retried on a fresh connection when the
  // request is safe to send again and the connection was a reused one, else reported.
  void codec_failed(UpstreamFailure why, std::string_view message, bool retry_safe);
  void codec_request_sent();

 private:
  void connect_next();
  void fail_connect(std::string_view message);
  // Tells the pool this member no longer serves this exchange.
  void detach_member();

  const ExchangeEnv& env_;
  UpstreamHandler* handler_;
  ClientConnection* owner_;
  Http1Upstream h1_;
  Http2Upstream h2_;
  UpstreamCodec* codec_ = nullptr;     // h1_ or h2_ while connecting or attached; else null
  UpstreamCodec* prepared_ = nullptr;  // the codec prepare() chose
  WorkerPool* pool_ = nullptr;
  WorkerMember* member_ = nullptr;  // pinned (WorkerPool::pin) while set: use set_member()
  void set_member(WorkerMember* m);
  static void repin(WorkerMember** slot, WorkerMember* m);
  uint64_t exclude_mask_ = 0;       // members that failed to connect for this exchange
  WorkerMember* sticky_ = nullptr;  // the member the sticky cookie names; pinned until release
  bool sticky_counted_ = false;     // counted as a sticky hit or fallback
  std::string last_connect_error_;  // "member: why" of the last failed connect
  int attempts_ = 0;
  bool reused_ = false;
  bool head_request_ = false;
  bool safe_to_retry_ = false;     // no body and a safe method: may be sent twice
  bool attached_ = false;          // counted in the member's in-flight (upstream_attached)
  bool exchange_started_ = false;  // counted in the member's active exchanges
  uint64_t t_connect_us_ = 0;
  uint64_t t_connected_us_ = 0;
  uint64_t t_sent_us_ = 0;
  uint64_t t_response_us_ = 0;
};

}  // namespace sy::proxy
