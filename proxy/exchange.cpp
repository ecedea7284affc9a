#include "proxy/exchange.h"

#include <charconv>
#include <cstring>

#include <event2/event.h>

#include "common/timeval.h"
#include "proxy/access_log.h"
#include "proxy/connection.h"
#include "proxy/forwarder.h"
#include "proxy/h2_convert.h"
#include "proxy/metrics.h"
#include "proxy/stats.h"
#include "proxy/stream.h"
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"

namespace sy::proxy {
namespace {

constexpr char kTextPlain[] = "text/plain; charset=utf-8";
constexpr char kJson[] = "application/json";
constexpr char kRetryAfter[] = "Retry-After: 1\r\n";

double us_to_ms(uint64_t from, uint64_t to) {
  return (to >= from) ? static_cast<double>(to - from) / 1000.0 : 0.0;
}

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

void Exchange::HeldRequest::copy(const HttpRequest& from, std::string_view form_body) {
  // One string for every view, sized first so that appending never moves it.
  size_t total = from.method.size() + from.target.size() + from.authority.size() +
                 from.scheme.size() + from.content_type.size() + from.upgrade.size() +
                 form_body.size();
  for (size_t i = 0; i < from.num_fields; ++i) {
    total += from.fields[i].name.size() + from.fields[i].value.size();
  }
  text.clear();
  text.reserve(total);
  auto keep = [this](std::string_view v) {
    size_t at = text.size();
    text.append(v);
    return std::string_view(text).substr(at, v.size());
  };
  req = from;
  req.method = keep(from.method);
  req.target = keep(from.target);
  req.authority = keep(from.authority);
  req.scheme = keep(from.scheme);
  req.content_type = keep(from.content_type);
  req.upgrade = keep(from.upgrade);
  fields.resize(from.num_fields);
  for (size_t i = 0; i < from.num_fields; ++i) {
    fields[i] = Field{keep(from.fields[i].name), keep(from.fields[i].value)};
  }
  req.fields = fields.data();
  form = keep(form_body);
}

Exchange::Exchange(const ExchangeEnv& env, const ClientInfo& client, ClientConnection* owner)
    : env_(env), client_(client), owner_(owner), up_(env, this, owner) {}

Exchange::~Exchange() {
  leave_hold();
  if (rec_.inflight != nullptr) {
    --*rec_.inflight;
  }
  if (timer_ != nullptr) {
    event_free(timer_);
  }
}

void Exchange::begin(Downstream* ds, uint64_t t_start_us, Protocol protocol) {
  ds_ = ds;
  rec_ = Record{};  // the one place per-exchange state is reset
  rec_.stage = Stage::Head;
  rec_.t_start_us = t_start_us;
  rec_.protocol = protocol;
  method_.clear();
  target_.clear();
  fields_.clear();
}

Phase Exchange::phase() const {
  switch (rec_.stage) {
  case Stage::Idle:
  case Stage::Head: return Phase::RequestHead;
  case Stage::Held: return Phase::Held;
  case Stage::Connecting: return Phase::Connect;
  case Stage::Proxying:
    if (rec_.tunnel) {
      return Phase::Tunnel;
    }
    return !rec_.request_done ? Phase::RequestBody
                              : (rec_.head_sent ? Phase::ResponseBody : Phase::ResponseHead);
  case Stage::Done: return Phase::Done;
  }
  return Phase::Done;
}

Phase Exchange::client_phase() const {
  switch (rec_.stage) {
  case Stage::Idle:
  case Stage::Head: return Phase::RequestHead;
  case Stage::Held: return Phase::Held;
  default:
    if (rec_.tunnel) {
      return Phase::Tunnel;
    }
    return rec_.request_done ? Phase::ResponseBody : Phase::RequestBody;
  }
}

// ---------------------------------------------------------------------------------------------
// The request

void Exchange::start(const HttpRequest& req, std::string_view form_body) {
  rec_.protocol = req.protocol;
  rec_.head_request = req.method == "HEAD";
  method_.assign(req.method);
  target_.assign(req.target);
  fields_.capture(req.fields, req.num_fields);
  if (client_.trusted) {  // else the peer's own address, logged as "client"
    fields_.client_ip.assign(
        trusted_client_ip(req, client_.ip, true, client_.listener->conf->trusted_proxies));
  }
  if (fields_.host.empty()) {
    fields_.host.assign(req.authority);  // HTTP/2's :authority, an absolute-form target's
  }
  if (!rec_.counted) {
    rec_.counted = true;
    env_.stats->inc(Stat::Requests);
  }
  if (req.method == "CONNECT" && !req.extended_connect) {
    release_head();
    respond_error(501, "CONNECT is not supported\n", {Who::Proxy, Phase::RequestHead});
    return;
  }
  uint64_t max_body = env_.limits->max_body_bytes;
  if (max_body != 0 && req.body == BodySize::Known && req.content_length > max_body) {
    release_head();
    std::string& body = *env_.head_scratch;
    body.assign("request body larger than ").append(std::to_string(max_body)).append(" bytes\n");
    respond_error(413, body, {Who::Proxy, Phase::RequestHead});
    return;
  }
  rec_.no_body = req.body == BodySize::None;
  rec_.expect_continue = req.expect_continue && !rec_.no_body;
  rec_.pool = client_.listener->pool;
  if (env_.forwarder != nullptr) {
    route(req, form_body);
  } else {
    proxy(req);
  }
}

void Exchange::refuse(int status, std::string_view message, std::string_view method,
                      std::string_view target, Termination term) {
  method_.assign(method);
  target_.assign(target);
  rec_.head_released = true;  // the session keeps nothing of a refused head
  respond_local(status, {}, kTextPlain, message, term, false);
}

void Exchange::release_head() {
  if (!rec_.head_released) {
    rec_.head_released = true;
    ds_->release_head();
  }
}

// ---------------------------------------------------------------------------------------------
// Routing: carry out routing::decide() (DESIGN decisions 4 and 5)

void Exchange::route(const HttpRequest& req, std::string_view form_body) {
  Forwarder* fw = env_.forwarder;
  routing::ContextId context = 0;
  routing::Decision d = fw->decide(req, client_.listener->pool_index, form_body, &context);
  rec_.context = context;
  WorkerStats& stats = *env_.stats;
  std::visit(Overloaded{
                 [&](const routing::Proxy& p) {
                   WorkerPool* pool = env_.pool_at(p.pool);
                   if (pool == nullptr) {
                     rec_.route = "reject";
                     stats.inc(Stat::RouteRejects);
                     reject(routing::Reject{routing::CtxCode::NoPool, p.context}, {});
                     return;
                   }
                   rec_.route = p.moved ? "proxy-moved" : (rec_.held ? "held-proxy" : "proxy");
                   stats.inc(Stat::RouteProxies);
                   rec_.pool = pool;
                   if (p.schema != routing::kNoSchema) {
                     rec_.inflight = fw->inflight_counter(p.schema);
                     if (rec_.inflight != nullptr) {
                       ++*rec_.inflight;
                     }
                   }
                   // Forwarded to the other version's pool: mark it, so that an instance there that
                   // would send it back stops with CTX-0013 instead of looping.
                   rec_.loop_guard = p.moved && !fw->setup().decide.loop_guard_header.empty();
                   proxy(req);
                 },
                 [&](const routing::Redirect& r) {
                   rec_.route = "redirect";
                   stats.inc(Stat::RouteRedirects);
                   std::string& location = fw->header_scratch();
                   location.assign("Location: ").append(r.location).append("\r\n");
                   std::string& body = fw->body_scratch();
                   body.assign("this tenant has moved to ").append(r.location).append("\n");
                   release_head();
                   respond_local(307, location, "text/plain; charset=utf-8", body, {}, true);
                 },
                 [&](const routing::Reject& j) {
                   rec_.route = "reject";
                   stats.inc(Stat::RouteRejects);
                   reject(j, {});
                 },
                 [&](const routing::Hold& h) { hold(req, form_body, h.stale); },
             },
             d);
}

void Exchange::reject(const routing::Reject& r, Termination term) {
  env_.stats->inc_error(r.code);
  LocalAnswer a = env_.forwarder->render(r);
  release_head();
  respond_local(a.status, a.extra_headers, kJson, a.body, term, true);
}

void Exchange::hold(const HttpRequest& req, std::string_view form_body, bool stale) {
  Forwarder* fw = env_.forwarder;
  uint64_t now = monotonic_ms();
  if (!rec_.held) {
    rec_.held = true;
    rec_.hold_deadline_ms = now + fw->hold().limits().max_wait_ms;
    rec_.hold_start_ms = now;
    env_.stats->inc(Stat::RouteHolds);
  }
  rec_.hold_end_ms = 0;
  if (held_ == nullptr || &req != &held_->req) {
    // The first park: keep a copy of the head; the session's buffer moves on.
    if (held_ == nullptr) {
      held_ = std::make_unique<HeldRequest>();
    }
    held_->copy(req, form_body);
    release_head();
  }
  // What the proxy holds in memory for this request: its head plus whatever body arrived with
  // it; reading stops below, so the rest stays in the kernel.
  const uint64_t buffered = held_->text.size() + ds_->buffered_request_bytes();
  if (now >= rec_.hold_deadline_ms || !fw->hold().park(this, buffered)) {
    if (stale) {
      // Not a hold bound but the directory: this instance cannot tell where the tenant lives
      // now, so it says that (CTX-0023) rather than "being migrated" (docs/decisions.md 67).
      rec_.route = "stale-refused";
      reject(routing::Reject{routing::CtxCode::DirectoryStale, rec_.context},
             {Who::Directory, Phase::Held});
      return;
    }
    rec_.route = "hold-refused";
    env_.stats->inc(Stat::HoldRefused);
    reject(routing::Reject{routing::CtxCode::HoldRefused, rec_.context}, {Who::Hold, Phase::Done});
    return;
  }
  rec_.stage = Stage::Held;
  ds_->hold_watch(true);
  arm_timer(rec_.hold_deadline_ms - now);
}

void Exchange::arm_timer(uint64_t ms) {
  if (timer_ == nullptr) {
    timer_ = evtimer_new(env_.base, timer_cb, this);
  }
  timeval tv = ms_to_tv(ms);
  evtimer_add(timer_, &tv);
}

void Exchange::leave_hold() {
  if (hold_link.parked) {
    env_.forwarder->hold().remove(this);
  }
  if (timer_ != nullptr) {
    evtimer_del(timer_);
  }
}

void Exchange::timer_cb(int, short, void* arg) {
  auto* x = static_cast<Exchange*>(arg);
  ConnectionScope scope(x->owner_);
  if (x->rec_.tunnel) {
    x->tunnel_tick();
    return;
  }
  // Held past routing.hold.max_wait: deciding again parks nothing and answers 503.
  x->on_release();
}

void Exchange::on_release() {
  if (rec_.stage != Stage::Held) {
    return;
  }
  leave_hold();
  rec_.hold_end_ms = monotonic_ms();
  ds_->hold_watch(false);
  rec_.stage = Stage::Head;
  route(held_->req, held_->form);
}

void Exchange::proxy(const HttpRequest& req) {
  WorkerPool* pool = rec_.pool;
  const conf::Limits& lim = *env_.limits;
  ForwardPolicy policy;
  policy.client_ip = client_.ip;
  policy.keep_received = client_.trusted;
  policy.proto = client_.listener->conf->tls.enabled ? "https" : "http";
  policy.loop_guard = rec_.loop_guard
                          ? std::string_view(env_.forwarder->setup().decide.loop_guard_header)
                          : std::string_view();
  policy.drop_underscores = !lim.underscores_in_headers;
  policy.request_id = fields_.generated_id();
  policy.strip_expect = rec_.expect_continue;
  policy.fallback_host = pool->size() > 0
                             ? std::string_view(pool->member(0).shared->host_header)
                             : std::string_view();
  if (pool->conf().protocol == conf::PoolProtocol::Http1) {
    policy.upgrade = req.upgrade;  // an HTTP/2 member cannot switch protocols: dropped
  }
  const HttpRequest* fwd = &req;
  HttpRequest websocket_get;
  if (req.extended_connect) {
    // RFC 8441 to an HTTP/1.1 member: the RFC 6455 opening handshake the client did not make
    // (a GET with Upgrade and the proxy's own Sec-WebSocket-Key; the other Sec-WebSocket-*
    // fields pass as they came). An HTTP/2 member would need the extended CONNECT forwarded
    // as such, which the upstream codec does not do.
    if (pool->conf().protocol != conf::PoolProtocol::Http1) {
      release_head();
      respond_error(501, "WebSocket over HTTP/2 needs a pool of HTTP/1.1 members\n",
                    {Who::Proxy, Phase::RequestHead});
      return;
    }
    websocket_get = req;
    websocket_get.method = "GET";
    fwd = &websocket_get;
    h2::make_websocket_key(ws_key_);
    policy.websocket_key = std::string_view(ws_key_, sizeof ws_key_);
    rec_.websocket = true;
  }
  if (pool->conf().sticky.mode == conf::StickyMode::Insert) {
    policy.strip_cookie = pool->conf().sticky.cookie;  // the member never sees our cookie
  }
  bool safe = (fwd->method == "GET" || fwd->method == "HEAD" || fwd->method == "OPTIONS") &&
              fwd->body == BodySize::None;
  up_.prepare(pool, *fwd, policy, rec_.head_request, safe);
  release_head();
  rec_.stage = Stage::Connecting;
  pool->count_request();
  up_.start();
}

// ---------------------------------------------------------------------------------------------
// Bodies

void Exchange::on_upstream_ready() {
  rec_.stage = Stage::Proxying;
  if (rec_.expect_continue) {
    HttpResponse cont;
    cont.status = 100;
    cont.reason = "Continue";
    ds_->send_interim(cont);
  }
  ds_->want_request_body();
  pull_request_body();
}

void Exchange::on_upstream_drained() { pull_request_body(); }

void Exchange::on_request_body() { pull_request_body(); }

void Exchange::pull_request_body() {
  if (rec_.stage != Stage::Proxying || rec_.request_done) {
    return;
  }
  switch (ds_->read_request_body(&up_.body())) {
  case BodyRead::More: return;
  case BodyRead::Done: {
    rec_.request_done = true;
    trailer_.clear();
    size_t dropped = http1::append_allowed_trailer(ds_->request_trailer(),
                                                   !env_.limits->underscores_in_headers, &trailer_);
    if (dropped > 0) {
      env_.stats->inc(Stat::TrailerFieldsDropped, dropped);
    }
    up_.end_request(trailer_);
    return;
  }
  case BodyRead::Bad: {
    env_.stats->inc(Stat::BadRequests);
    if (rec_.head_sent) {
      abort({Who::Proxy, Phase::RequestBody});
      return;
    }
    std::string& body = *env_.head_scratch;
    body.assign("bad request body: ").append(ds_->error_text()).append("\n");
    respond_error(400, body, {Who::Proxy, Phase::RequestBody});
    return;
  }
  case BodyRead::TooLarge: {
    if (rec_.head_sent) {
      abort({Who::Proxy, Phase::RequestBody});
      return;
    }
    std::string& body = *env_.head_scratch;
    body.assign("request body larger than ")
        .append(std::to_string(env_.limits->max_body_bytes))
        .append(" bytes\n");
    respond_error(413, body, {Who::Proxy, Phase::RequestBody});
    return;
  }
  }
}

void Exchange::on_response_interim(const HttpResponse& resp) { ds_->send_interim(resp); }

void Exchange::on_response_head(const HttpResponse& resp) {
  if (rec_.websocket && !websocket_answer_ok(resp)) {
    return;  // answered 502
  }
  // An HTTP/2 client's WebSocket tunnel is opened with 200 (RFC 8441 5): logged as sent.
  rec_.status = rec_.websocket && resp.status == 101 ? 200 : resp.status;
  count_status(*env_.stats, rec_.status);
  // Sticky insert mode: a response from another member than the cookie named (or to a request
  // without one) sticks the client to the member that answered.
  const WorkerMember* m = up_.member();
  const HttpResponse* head = &resp;
  HttpResponse stuck;
  if (rec_.pool->conf().sticky.mode == conf::StickyMode::Insert && m != nullptr &&
      m != up_.sticky_member()) {
    stuck = resp;
    stuck.set_cookie = m->shared->set_cookie[client_.listener->conf->tls.enabled ? 1 : 0];
    head = &stuck;
  }
  if (resp.status == 101) {
    start_tunnel(*head);
    return;
  }
  ds_->send_response_head(*head);
  rec_.head_sent = true;
}

bool Exchange::websocket_answer_ok(const HttpResponse& resp) {
  std::string& body = *env_.head_scratch;
  if (resp.status == 101) {
    // RFC 6455 4.1: a client fails the connection unless the 101 carries the accept value of
    // its key; the proxy is that client here.
    char want[h2::kWebSocketAcceptLen];
    h2::websocket_accept(std::string_view(ws_key_, sizeof ws_key_), want);
    for (size_t i = 0; i < resp.num_fields; ++i) {
      if (http1::iequals(resp.fields[i].name, "sec-websocket-accept") &&
          resp.fields[i].value == std::string_view(want, sizeof want)) {
        return true;
      }
    }
    body.assign("bad response from upstream: 101 without the Sec-WebSocket-Accept of the key\n");
  } else if (resp.status >= 200 && resp.status < 300) {
    // A 2xx on the stream of an extended CONNECT opens the client's tunnel: a member that
    // answered the upgrade with a plain response must not look like one that switched.
    body.assign("bad response from upstream: ")
        .append(std::to_string(resp.status))
        .append(" to a WebSocket upgrade\n");
  } else {
    return true;  // any other answer is relayed as it is
  }
  env_.stats->inc(Stat::UpstreamErrors);
  respond_error(502, body, {Who::Server, Phase::ResponseHead});
  return false;
}

// ---------------------------------------------------------------------------------------------
// Tunnels (HTTP/1.1 Upgrade, HTTP/2 extended CONNECT)

void Exchange::start_tunnel(const HttpResponse& resp) {
  env_.stats->inc(Stat::Tunnels);
  rec_.tunnel = true;
  rec_.request_done = false;  // the client's bytes are the tunnel's request "body" from now on
  rec_.t_tunnel_us = monotonic_us();
  ds_->send_response_head(resp);  // the session switches its side to a tunnel
  rec_.head_sent = true;
  rec_.tunnel_bytes_seen = rec_.bytes_in + rec_.bytes_out;
  rec_.tunnel_quiet_since_ms = monotonic_ms();
  const WorkerMember* m = up_.member();
  rec_.tunnel_cut_gen = m->shared->cut_tunnels.load(std::memory_order_relaxed);
  rec_.pool->tunnel_opened(m);
  arm_timer(tunnel_tick_ms());
  pull_request_body();  // bytes the client sent after its request, before the 101
  if (tunneling()) {
    // Plain sockets both sides: each read is relayed straight to the other socket.
    Stream::splice(ds_->tunnel_stream(), up_.tunnel_stream(), &rec_.bytes_in, &rec_.bytes_out,
                   env_.limits->buffer_high_water);
  }
}

uint64_t Exchange::tunnel_tick_ms() const {
  const uint64_t quarter = static_cast<uint64_t>(rec_.pool->conf().tunnel_timeout.count()) / 4;
  return quarter < 1 ? 1 : (quarter > 1000 ? 1000 : quarter);
}

void Exchange::tunnel_tick() {
  if (!tunneling()) {
    return;
  }
  if (up_.member()->shared->cut_tunnels.load(std::memory_order_relaxed) != rec_.tunnel_cut_gen) {
    env_.stats->inc(Stat::TunnelsCut);
    rec_.closed_by = "drain";
    abort({Who::Killed, Phase::Tunnel});
    return;
  }
  const uint64_t now = monotonic_ms();
  const uint64_t seen = rec_.bytes_in + rec_.bytes_out;
  if (seen != rec_.tunnel_bytes_seen) {
    rec_.tunnel_bytes_seen = seen;
    rec_.tunnel_quiet_since_ms = now;
  } else if (now - rec_.tunnel_quiet_since_ms >=
             static_cast<uint64_t>(rec_.pool->conf().tunnel_timeout.count())) {
    env_.stats->inc(Stat::TunnelTimeouts);
    rec_.closed_by = "timeout";
    abort({Who::ClientTimeout, Phase::Tunnel});
    return;
  }
  arm_timer(tunnel_tick_ms());
}

void Exchange::on_response_body(evbuffer* src, size_t n) {
  ds_->write_body(src, n);
  if (ds_->body_full()) {
    up_.pause_response(true);
  }
}

void Exchange::on_downstream_drained() {
  if (rec_.stage == Stage::Proxying) {
    up_.pause_response(false);
  }
}

void Exchange::on_response_end(std::string_view trailer) {
  trailer_.clear();
  size_t dropped = http1::append_allowed_trailer(trailer, false, &trailer_);
  if (dropped > 0) {
    env_.stats->inc(Stat::TrailerFieldsDropped, dropped);
  }
  if (rec_.tunnel) {
    // The member closed its side: the tunnel ends. After an HTTP/2 client's END_STREAM (the
    // member saw a FIN) that close answers the client's.
    rec_.closed_by = rec_.request_done ? "client" : "server";
  }
  ds_->end_response(trailer_);
  finish();
}

void Exchange::finish() {
  rec_.stage = Stage::Done;
  log();
  up_.release(rec_.request_done);
  ds_->exchange_done(rec_.request_done);
}

void Exchange::on_upstream_failed(UpstreamFailure why, std::string_view message) {
  WorkerStats& stats = *env_.stats;
  // A failed connect was counted per attempt (UpstreamRequest); these are the member's answer.
  if (why != UpstreamFailure::Connect && env_.metrics != nullptr && up_.member() != nullptr) {
    WorkerMetrics& m = *env_.metrics;
    if (MemberMetrics* mm =
            m.member(rec_.pool->shared().index, up_.member()->shared->metrics_slot)) {
      mm->errors.add();
    }
  }
  switch (why) {
  case UpstreamFailure::Connect: respond_error(502, message, {Who::Server, Phase::Connect}); return;
  case UpstreamFailure::Timeout:
    stats.inc(Stat::UpstreamTimeouts);
    if (rec_.head_sent) {
      abort({Who::ServerTimeout, Phase::ResponseBody});
    } else {
      respond_error(504, message, {Who::ServerTimeout, Phase::ResponseHead});
    }
    return;
  case UpstreamFailure::Closed:
  case UpstreamFailure::BadResponse:
    stats.inc(Stat::UpstreamErrors);
    if (rec_.head_sent) {
      abort({Who::Server, Phase::ResponseBody});
    } else {
      respond_error(502, message, {Who::Server, Phase::ResponseHead});
    }
    return;
  }
}

// ---------------------------------------------------------------------------------------------
// Endings

void Exchange::respond_local(int status, std::string_view extra_headers,
                             std::string_view content_type, std::string_view body, Termination term,
                             bool may_keep) {
  rec_.status = status;
  count_status(*env_.stats, status);
  rec_.term = term;
  ds_->send_local_response(status, content_type, extra_headers, body, may_keep);
  rec_.head_sent = true;
  rec_.stage = Stage::Done;
  log();
  ds_->exchange_done(rec_.request_done || rec_.no_body);
}

void Exchange::respond_error(int status, std::string_view body, Termination term) {
  up_.release(false);
  respond_local(status, status == 503 ? kRetryAfter : "", kTextPlain, body, term, false);
}

void Exchange::abort(Termination term) {
  rec_.term = term;
  rec_.stage = Stage::Done;
  log();
  up_.release(false);
  ds_->abort_response();
}

void Exchange::on_downstream_closed(Termination term) {
  if (!in_progress()) {
    return;
  }
  leave_hold();
  rec_.term = term;
  if (tunneling() && term.who == Who::Client) {
    rec_.closed_by = "client";  // closing a tunnel is how a client ends it: not an abort
    rec_.term = Termination{};
  }
  rec_.stage = Stage::Done;
  log();
  up_.release(false);
}

void Exchange::on_body_timeout() {
  if (rec_.stage != Stage::Proxying || rec_.request_done) {
    return;
  }
  if (rec_.head_sent) {
    abort({Who::ClientTimeout, Phase::RequestBody});
    return;
  }
  respond_error(408, "request body timeout\n", {Who::ClientTimeout, Phase::RequestBody});
}

void Exchange::on_kill() {
  if (in_progress()) {
    set_termination(Who::Killed);
    rec_.stage = Stage::Done;
    log();
  }
}

void Exchange::log() {
  if (rec_.inflight != nullptr) {  // every exchange is logged exactly once, however it ends
    --*rec_.inflight;
    rec_.inflight = nullptr;
  }
  if (rec_.tunnel) {
    if (timer_ != nullptr) {
      evtimer_del(timer_);  // the tunnel tick
    }
    rec_.pool->tunnel_closed(up_.member());
  }
  WorkerPool* pool = rec_.pool;
  if (pool != nullptr && up_.attempts() > 0 && rec_.status >= 500) {  // proxied, then 5xx
    pool->count_5xx();
  }
  AccessLogBuffer& log = *env_.access_log;
  if (!log.enabled() && env_.metrics == nullptr) {
    return;
  }
  uint64_t now = monotonic_us();
  if (env_.metrics != nullptr) {
    count_metrics(now);
  }
  if (!log.enabled()) {
    return;
  }
  AccessRecord r;
  r.client = client_.label;
  r.listener = client_.listener->conf->name;
  r.method = method_;
  r.target = target_;
  r.minor_version = rec_.protocol == Protocol::Http10 ? 0 : 1;
  r.h2 = rec_.protocol == Protocol::Http2;
  r.tls = client_.listener->conf->tls.enabled;
  r.status = rec_.status;
  r.bytes_in = rec_.bytes_in;
  r.bytes_out = rec_.bytes_out;
  r.pool = pool != nullptr ? std::string_view(pool->conf().name) : std::string_view();
  r.route = rec_.route;
  r.context = rec_.context;
  const WorkerMember* m = up_.member();
  r.upstream = m != nullptr ? std::string_view(m->shared->label) : std::string_view();
  r.duration_ms = rec_.t_start_us != 0 ? us_to_ms(rec_.t_start_us, now) : 0.0;
  r.connect_ms = (up_.connected_us() != 0 && !up_.reused())
                     ? us_to_ms(up_.connect_us(), up_.connected_us())
                     : -1.0;
  r.response_ms = up_.response_us() != 0 ? us_to_ms(up_.sent_us(), up_.response_us()) : -1.0;
  r.termination[0] = static_cast<char>(rec_.term.who);
  r.termination[1] = static_cast<char>(rec_.term.phase);
  r.fields = &fields_;
  if (rec_.tunnel) {
    r.tunnel_closed_by = rec_.closed_by;
    if (r.tunnel_closed_by == nullptr) {
      switch (rec_.term.who) {
      case Who::Client:
      case Who::ClientTimeout: r.tunnel_closed_by = "client"; break;
      case Who::Server:
      case Who::ServerTimeout: r.tunnel_closed_by = "server"; break;
      case Who::Killed: r.tunnel_closed_by = "killed"; break;
      default: r.tunnel_closed_by = "proxy"; break;
      }
    }
    r.tunnel_ms = us_to_ms(rec_.t_tunnel_us, now);
  }
  log.append(r);
}

void Exchange::count_metrics(uint64_t now_us) {
  WorkerMetrics& m = *env_.metrics;
  ListenerMetrics& l = m.listener(client_.listener->index);
  const size_t cls = status_class(rec_.status);
  const bool answered = rec_.status != 0;
  l.requests.add();
  if (answered) {
    l.responses[cls].add();
  }
  l.bytes_in.add(rec_.bytes_in);
  l.bytes_out.add(rec_.bytes_out);
  if (rec_.t_start_us != 0 && now_us >= rec_.t_start_us) {
    l.latency.observe_us(now_us - rec_.t_start_us);
  }
  if (rec_.held) {
    uint64_t end_ms = rec_.hold_end_ms != 0 ? rec_.hold_end_ms : now_us / 1000;
    m.hold_time().observe_us(end_ms >= rec_.hold_start_ms ? (end_ms - rec_.hold_start_ms) * 1000
                                                          : 0);
  }
  const WorkerMember* member = up_.member();
  if (rec_.pool == nullptr || member == nullptr) {
    return;
  }
  PoolMetrics& p = m.pool(rec_.pool->shared().index);
  if (up_.response_us() != 0 && up_.response_us() >= up_.sent_us()) {
    p.upstream_latency.observe_us(up_.response_us() - up_.sent_us());
  }
  if (MemberMetrics* mm = m.member(rec_.pool->shared().index, member->shared->metrics_slot)) {
    mm->requests.add();
    if (answered) {
      mm->responses[cls].add();
    }
  }
}

}  // namespace sy::proxy
