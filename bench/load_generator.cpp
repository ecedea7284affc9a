// switchyard-bench's load generator (see load_generator.h for the contract).
//
//   thread (Worker) ── event_base ── Target (one per host:port: the entry, redirect targets)
//                                     ├── Conn × n   (socket [+ SSL] [+ nghttp2 session])
//                                     └── queue      (open loop: requests waiting for a Conn)
//
// A Req lives from its intended send time to its final answer; it moves between Targets when a
// redirect is followed. Conns write speculatively (EV_WRITE only after EAGAIN) and read into a
// per-connection buffer that is parsed in place (sy::http1::parse_response, the proxy's own
// strict codec).

#include "bench/load_generator.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <memory>
#include <thread>

#include "admin/protocol.h"
#include "bench/answer.h"
#include "bench/tenant_sampler.h"
#include "proxy/http1_parser.h"

namespace sy::bench {

namespace {

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

constexpr size_t kCaptureBytes = 4096;  // body bytes kept to look for an error code
constexpr int kMaxRedirects = 5;
constexpr size_t kMaxErrorSamples = 20;  // connection errors described in the results, per thread

std::string tls_error(int ssl_error) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
  }
  return ssl_error == SSL_ERROR_SYSCALL ? std::string(std::strerror(errno))
                                        : "SSL error " + std::to_string(ssl_error);
}

struct Url {
  bool tls = false;
  std::string host;
  int port = 0;
  std::string target = "/";  // path and query
};

bool parse_url(std::string_view text, Url* out) {
  std::string_view rest;
  if (text.rfind("http://", 0) == 0) {
    out->tls = false;
    rest = text.substr(7);
  } else if (text.rfind("https://", 0) == 0) {
    out->tls = true;
    rest = text.substr(8);
  } else {
    return false;
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  out->target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos) {
    out->host = std::string(authority);
    out->port = out->tls ? 443 : 80;
  } else {
    out->host = std::string(authority.substr(0, colon));
    out->port = std::atoi(std::string(authority.substr(colon + 1)).c_str());
  }
  if (!out->host.empty() && out->host.front() == '[') {
    out->host = out->host.substr(1, out->host.size() - 2);
  }
  return !out->host.empty() && out->port > 0 && out->port < 65536;
}

// Per-thread, per-second counters. |sent|/|ok|/|failed| totals are atomics so the main thread
// can show progress while the worker runs; the rest is read after the join.
struct ThreadSeconds {
  std::vector<SecondStats> seconds;
  std::atomic<uint64_t> sent{0}, ok{0}, failed{0}, inflight{0};
  std::vector<std::string> error_samples;  // "12.345 s host:port: why (after N answers ...)"
  SecondStats& at(uint64_t t_ns_since_start) {
    size_t i = t_ns_since_start / 1000000000ull;
    if (i >= seconds.size()) {
      seconds.resize(i + 1);
    }
    return seconds[i];
  }
};

struct Target;
struct Conn;
class Worker;

struct Req {
  uint64_t intended_ns = 0;
  uint64_t tenant = 0;
  bool login = false;
  int redirects = 0;
  std::string target;  // path and query on |tgt|
  Target* tgt = nullptr;
};

struct Target {
  Url url;
  std::string authority;  // for Host / :authority
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::vector<std::unique_ptr<Conn>> conns;
  std::deque<Req*> queue;  // open loop and redirects: waiting for a free connection
};

// One HTTP/2 request on a connection. Pooled per worker; linked into its connection's list of
// open streams. The header values live here until the stream ends (nghttp2 gets them with
// NO_COPY flags, so no per-request copies).
struct H2Stream {
  Req* req = nullptr;
  int32_t id = 0;
  int status = 0;
  std::string location;
  std::string body;
  std::string req_body;
  size_t req_body_off = 0;
  std::string tenant;  // header value / cookie, kept for nghttp2
  std::string host;
  H2Stream* prev = nullptr;
  H2Stream* next = nullptr;
};

struct Conn {
  enum class State { Idle, Connecting, Handshake, Ready, Closed };
  Worker* w = nullptr;
  Target* tgt = nullptr;
  int fd = -1;
  State state = State::Closed;
  event* ev_read = nullptr;
  event* ev_write = nullptr;
  SSL* ssl = nullptr;
  bool want_write = false;
  std::string out;
  size_t out_off = 0;
  std::string in;
  size_t in_off = 0;
  uint64_t backoff_ms = 0;
  uint64_t answered = 0;  // responses completed on this connection since it connected
  event* ev_retry = nullptr;
  // HTTP/1.1: one request in flight and the state of its answer.
  Req* h1_req = nullptr;
  bool head_done = false;
  int status = 0;
  bool keep_alive = true;
  http1::BodyKind body_kind = http1::BodyKind::None;
  uint64_t body_left = 0;
  http1::ChunkedDecoder chunked;
  bool capture = false;
  std::string body;
  std::string location;
  // HTTP/2.
  nghttp2_session* h2 = nullptr;
  H2Stream* h2_open = nullptr;  // streams whose answer is still due (intrusive list)
  size_t h2_count = 0;
  bool h2_ready = false;

  size_t in_flight() const { return h2 != nullptr ? h2_count : (h1_req != nullptr ? 1 : 0); }
  void link(H2Stream* st) {
    st->prev = nullptr;
    st->next = h2_open;
    if (h2_open != nullptr)
      h2_open->prev = st;
    h2_open = st;
    ++h2_count;
  }
  void unlink(H2Stream* st) {
    (st->prev != nullptr ? st->prev->next : h2_open) = st->next;
    if (st->next != nullptr)
      st->next->prev = st->prev;
    --h2_count;
  }
};

class Worker {
 public:
  Worker(const LoadOptions& o, const TenantSampler& sampler, SSL_CTX* ssl_ctx, int index, int conns,
         uint64_t start_ns, ThreadSeconds* stats)
      : o_(o), sampler_(sampler), ssl_ctx_(ssl_ctx), start_ns_(start_ns), stats_(stats),
        rng_(o.seed * 7919 + static_cast<uint64_t>(index)) {
    base_ = event_base_new();
    Url u;
    parse_url(o.url, &u);
    base_target_ = u.target;
    entry_ = target_for(u, conns);
    if (o.open_loop) {
      schedule_ = OpenLoopSchedule::make(start_ns, o.rate, o.threads, index);
    }
    max_conns_per_target_ = static_cast<size_t>(std::max(
        conns, (o.max_connections > 0 ? o.max_connections : 1024) / std::max(1, o.threads)));
    for (const auto& [name, value] : o.headers) {
      extra_h1_ += name + ": " + value + "\r\n";
      std::string lower = name;
      for (char& ch : lower) {
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      }
      extra_h2_.emplace_back(std::move(lower), value);
    }
    tenant_header_lower_ = o.tenant_header;
    for (char& ch : tenant_header_lower_) {
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
  }
  ~Worker() {
    for (auto& t : targets_) {
      for (auto& c : t->conns) {
        close_conn(c.get());
        if (c->ev_retry != nullptr)
          event_free(c->ev_retry);
      }
      for (Req* r : t->queue)
        delete r;
    }
    for (Req* r : free_)
      delete r;
    for (H2Stream* st : free_streams_)
      delete st;
    if (tick_ != nullptr)
      event_free(tick_);
    if (sweep_ != nullptr)
      event_free(sweep_);
    event_base_free(base_);
  }

  void run() {
    end_send_ns_ = start_ns_ + static_cast<uint64_t>(o_.duration_s * 1e9);
    for (auto& c : entry_->conns) {
      connect_conn(c.get());
    }
    tick_ = event_new(base_, -1, 0, &Worker::on_tick, this);
    sweep_ = event_new(base_, -1, EV_PERSIST, &Worker::on_sweep, this);
    timeval tv{0, 100000};
    event_add(sweep_, &tv);
    if (o_.open_loop) {
      arm_tick();
    }
    event_base_dispatch(base_);
  }

  // ---- requests ---------------------------------------------------------------------------

  // The counters of the second |now| falls in (connections open before second 0: they count
  // in second 0).
  SecondStats& sec(uint64_t now) { return stats_->at(now > start_ns_ ? now - start_ns_ : 0); }

  Req* new_req(uint64_t intended) {
    Req* r;
    if (free_.empty()) {
      r = new Req;
    } else {
      r = free_.back();
      free_.pop_back();
    }
    r->intended_ns = intended;
    r->tenant = sampler_.sample(rng_);
    r->login = o_.tenant_in == TenantIn::Login && o_.login_every > 0 &&
               (seq_++ % static_cast<uint64_t>(o_.login_every)) == 0;
    r->redirects = 0;
    r->target = r->login ? o_.login_path : base_target_;
    r->tgt = entry_;
    sec(intended).sent++;
    stats_->sent.fetch_add(1, std::memory_order_relaxed);
    stats_->inflight.fetch_add(1, std::memory_order_relaxed);
    return r;
  }
  void release(Req* r) {
    stats_->inflight.fetch_sub(1, std::memory_order_relaxed);
    free_.push_back(r);
  }

  bool sending() const { return !stopping_ && now_ns() < end_send_ns_; }

  // Puts |r| on a connection of its target, or queues it.
  void dispatch(Req* r) {
    Target* t = r->tgt;
    for (auto& c : t->conns) {
      if (c->state == Conn::State::Ready && has_room(c.get())) {
        send_req(c.get(), r);
        flush(c.get());
        return;
      }
    }
    t->queue.push_back(r);
    size_t opening = 0;
    for (auto& c : t->conns) {  // a redirect target's connections open on first use
      if (c->state == Conn::State::Idle) {
        connect_conn(c.get());
        return;
      }
      opening += c->state != Conn::State::Ready;  // connecting, or waiting to reconnect
    }
    // Open loop: users do not wait for each other's connections. While requests queue, open
    // more connections, up to --max-connections (a held request keeps its connection busy).
    if (o_.open_loop && t->queue.size() > opening && t->conns.size() < max_conns_per_target_) {
      add_conn(t);
      connect_conn(t->conns.back().get());
    }
  }

  void add_conn(Target* t) {
    auto c = std::make_unique<Conn>();
    c->w = this;
    c->tgt = t;
    c->state = Conn::State::Idle;
    t->conns.push_back(std::move(c));
  }

  bool has_room(Conn* c) const {
    if (c->h2 != nullptr) {
      // After a GOAWAY (even the shutdown notice) nghttp2 starts no new stream on |c|.
      return c->h2_ready && c->h2_count < static_cast<size_t>(o_.open_loop ? 1000 : o_.streams) &&
             nghttp2_session_check_request_allowed(c->h2) != 0;
    }
    return c->h1_req == nullptr;
  }

  // Closed loop: keeps |c| full; open loop: takes queued requests.
  void fill(Conn* c) {
    Target* t = c->tgt;
    while (c->state == Conn::State::Ready && has_room(c)) {
      if (!t->queue.empty()) {
        Req* r = t->queue.front();
        t->queue.pop_front();
        send_req(c, r);
      } else if (!o_.open_loop && t == entry_ && sending()) {
        Req* r = new_req(now_ns());
        send_req(c, r);
      } else {
        break;
      }
    }
    flush(c);
  }

  void tenant_fields(Req* r, std::string* out) {
    char id[24];
    std::string_view idv(
        id, static_cast<size_t>(std::to_chars(id, id + sizeof id, r->tenant).ptr - id));
    switch (o_.tenant_in) {
    case TenantIn::Header:
      *out += o_.tenant_header;
      *out += ": ";
      *out += idv;
      *out += "\r\n";
      break;
    case TenantIn::Cookie:
    case TenantIn::Login:
      if (!r->login) {
        *out += "Cookie: ";
        *out += o_.cookie_name;
        *out += '=';
        *out += idv;
        *out += "\r\n";
      }
      break;
    case TenantIn::Host: break;
    }
  }

  std::string login_body(Req* r) {
    return "name=user%40" + std::to_string(r->tenant) + "&password=secret";
  }
  std::string host_for(Req* r) {
    if (o_.tenant_in == TenantIn::Host) {
      return std::to_string(r->tenant) + o_.host_suffix;
    }
    return r->tgt->authority;
  }

  void send_req(Conn* c, Req* r) {
    if (c->h2 != nullptr) {
      send_h2(c, r);
      return;
    }
    c->h1_req = r;
    c->head_done = false;
    std::string& o = c->out;
    o += r->login ? "POST " : "GET ";
    o += r->target;
    o += " HTTP/1.1\r\nHost: ";
    o += host_for(r);
    o += "\r\n";
    tenant_fields(r, &o);
    o += extra_h1_;
    if (r->login) {
      std::string body = login_body(r);
      o += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ";
      o += std::to_string(body.size());
      o += "\r\n\r\n";
      o += body;
    } else {
      o += "\r\n";
    }
  }

  // ---- answers ----------------------------------------------------------------------------

  void finish(Req* r, int status, std::string_view body, const std::string& location) {
    uint64_t now = now_ns();
    if (o_.follow_redirects && r->redirects < kMaxRedirects && !location.empty() &&
        (status == 301 || status == 302 || status == 303 || status == 307 || status == 308)) {
      Url u;
      if (!location.empty() && location[0] == '/') {
        u = r->tgt->url;
        u.target = location;
      } else if (!parse_url(location, &u)) {
        u.host.clear();
      }
      if (!u.host.empty()) {
        sec(now).redirects++;
        r->redirects++;
        if (status == 301 || status == 302 || status == 303) {
          r->login = false;  // a browser turns these into GET
        }
        r->target = u.target;
        r->tgt = target_for(u, static_cast<int>(entry_->conns.size()));
        dispatch(r);
        return;
      }
    }
    SecondStats& s = sec(now);
    std::string code;
    if (status >= 300 || (!body.empty() && body.front() == '{')) {
      code = find_error_code(body);
    }
    bool failed = is_failure(status, code);
    if (status != 0) {
      s.latency.record(now > r->intended_ns ? now - r->intended_ns : 0);
    }
    s.status[static_cast<size_t>(status) < s.status.size() ? static_cast<size_t>(status) : 0]++;
    if (!code.empty()) {
      s.codes[code]++;
    }
    if (failed) {
      s.failed++;
      stats_->failed.fetch_add(1, std::memory_order_relaxed);
    } else {
      s.ok++;
      stats_->ok.fetch_add(1, std::memory_order_relaxed);
    }
    release(r);
  }

  void fail(Req* r, bool timeout) {
    SecondStats& s = sec(now_ns());
    if (timeout) {
      s.timeouts++;
    }
    finish(r, 0, {}, {});
  }

  // ---- HTTP/1.1 response parsing ----------------------------------------------------------

  // Returns false when the connection must close (protocol error or Connection: close).
  bool parse_h1(Conn* c) {
    while (c->h1_req != nullptr && c->in_off < c->in.size()) {
      const char* p = c->in.data() + c->in_off;
      size_t n = c->in.size() - c->in_off;
      if (!c->head_done) {
        http1::Header headers[64];
        http1::ResponseHead head;
        head.headers = headers;
        http1::Limits lim;
        lim.max_headers = 64;
        http1::ParseResult pr = http1::parse_response(p, n, lim, &head);
        if (pr.status == http1::ParseStatus::Incomplete) {
          return true;
        }
        if (pr.status == http1::ParseStatus::Error) {
          return false;
        }
        c->in_off += pr.consumed;
        if (head.status < 200) {
          continue;  // interim answer
        }
        c->head_done = true;
        c->status = head.status;
        c->keep_alive = head.keep_alive;
        c->body_kind = http1::response_body_kind(head, false);
        c->body_left = head.content_length;
        c->chunked = http1::ChunkedDecoder();
        c->body.clear();
        c->location.clear();
        c->capture = c->status >= 300;
        for (size_t i = 0; i < head.num_headers; ++i) {
          if (http1::iequals(headers[i].name, "location")) {
            c->location = std::string(headers[i].value);
          } else if (http1::iequals(headers[i].name, "content-type") &&
                     headers[i].value.find("json") != std::string_view::npos) {
            c->capture = true;
          }
        }
        if (c->body_kind == http1::BodyKind::Length && c->body_left == 0) {
          c->body_kind = http1::BodyKind::None;
        }
      } else if (c->body_kind == http1::BodyKind::Length) {
        size_t take = static_cast<size_t>(std::min<uint64_t>(c->body_left, n));
        keep_body(c, p, take);
        c->in_off += take;
        c->body_left -= take;
        if (c->body_left == 0) {
          c->body_kind = http1::BodyKind::None;
        }
      } else if (c->body_kind == http1::BodyKind::Chunked) {
        if (c->chunked.data_remaining() > 0) {
          size_t take = static_cast<size_t>(std::min<uint64_t>(c->chunked.data_remaining(), n));
          keep_body(c, p, take);
          c->chunked.consume_data(take);
          c->in_off += take;
        } else {
          http1::ParseResult pr = c->chunked.parse_framing(p, n);
          if (pr.status == http1::ParseStatus::Error) {
            return false;
          }
          c->in_off += pr.consumed;
          if (pr.status == http1::ParseStatus::Incomplete) {
            return true;
          }
          if (c->chunked.done()) {
            c->body_kind = http1::BodyKind::None;
          }
        }
      } else if (c->body_kind == http1::BodyKind::UntilClose) {
        keep_body(c, p, n);
        c->in_off += n;
        return true;
      }
      if (c->head_done && c->body_kind == http1::BodyKind::None) {
        Req* r = c->h1_req;
        c->h1_req = nullptr;
        c->head_done = false;
        std::string body = std::move(c->body);
        std::string loc = std::move(c->location);
        int status = c->status;
        bool keep = c->keep_alive;
        c->answered++;
        finish(r, status, body, loc);
        if (!keep) {
          return false;
        }
      }
    }
    if (c->in_off == c->in.size()) {
      c->in.clear();
      c->in_off = 0;
    }
    return true;
  }

  static void keep_body(Conn* c, const char* p, size_t n) {
    if (c->capture && c->body.size() < kCaptureBytes) {
      c->body.append(p, std::min(n, kCaptureBytes - c->body.size()));
    }
  }

  // ---- HTTP/2 -----------------------------------------------------------------------------

  static ssize_t h2_read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                              uint32_t* flags, nghttp2_data_source* src, void*) {
    auto* st = static_cast<H2Stream*>(src->ptr);
    size_t n = std::min(length, st->req_body.size() - st->req_body_off);
    std::memcpy(buf, st->req_body.data() + st->req_body_off, n);
    st->req_body_off += n;
    if (st->req_body_off == st->req_body.size()) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return static_cast<ssize_t>(n);
  }

  H2Stream* new_stream() {
    if (free_streams_.empty()) {
      return new H2Stream;
    }
    H2Stream* st = free_streams_.back();
    free_streams_.pop_back();
    return st;
  }
  void release_stream(H2Stream* st) {
    st->req = nullptr;
    st->status = 0;
    st->location.clear();
    st->body.clear();
    st->req_body.clear();
    st->req_body_off = 0;
    free_streams_.push_back(st);
  }

  void send_h2(Conn* c, Req* r) {
    H2Stream* st = new_stream();
    st->req = r;
    st->host = host_for(r);
    char id[24];
    auto n = std::to_chars(id, id + sizeof id, r->tenant).ptr - id;
    st->tenant.clear();
    bool cookie =
        (o_.tenant_in == TenantIn::Cookie || o_.tenant_in == TenantIn::Login) && !r->login;
    if (cookie) {
      st->tenant = o_.cookie_name;
      st->tenant += '=';
    }
    st->tenant.append(id, static_cast<size_t>(n));
    constexpr uint8_t kNoCopy = NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
    auto nv = [](std::string_view name, std::string_view value) {
      return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                        reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                        value.size(), kNoCopy};
    };
    std::vector<nghttp2_nv>& hdrs = nv_scratch_;
    hdrs.resize(8 + extra_h2_.size());
    size_t nh = 0;
    hdrs[nh++] = nv(":method", r->login ? "POST" : "GET");
    hdrs[nh++] = nv(":scheme", r->tgt->url.tls ? "https" : "http");
    hdrs[nh++] = nv(":authority", st->host);
    hdrs[nh++] = nv(":path", r->target);
    if (o_.tenant_in == TenantIn::Header) {
      hdrs[nh++] = nv(tenant_header_lower_, st->tenant);
    } else if (cookie) {
      hdrs[nh++] = nv("cookie", st->tenant);
    }
    for (const auto& [name, value] : extra_h2_) {
      hdrs[nh++] = nv(name, value);
    }
    nghttp2_data_provider prov{};
    if (r->login) {
      st->req_body = login_body(r);
      st->location = std::to_string(st->req_body.size());  // content-length, until the answer
      hdrs[nh++] = nv("content-type", "application/x-www-form-urlencoded");
      hdrs[nh++] = nv("content-length", st->location);
      prov.source.ptr = st;
      prov.read_callback = &Worker::h2_read_body;
    }
    int32_t id32 =
        nghttp2_submit_request(c->h2, nullptr, hdrs.data(), nh, r->login ? &prov : nullptr, st);
    if (id32 < 0) {
      release_stream(st);
      fail(r, false);
      return;
    }
    st->id = id32;
    c->link(st);
  }

  static int h2_on_header(nghttp2_session* s, const nghttp2_frame* frame, const uint8_t* name,
                          size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void*) {
    if (frame->hd.type != NGHTTP2_HEADERS) {
      return 0;
    }
    auto* st = static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(s, frame->hd.stream_id));
    if (st == nullptr) {
      return 0;
    }
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") {
      int code = std::atoi(std::string(v).c_str());
      if (code >= 200) {
        st->status = code;
      }
    } else if (n == "location") {
      st->location = std::string(v);  // replaces a login's content-length kept until now
    }
    return 0;
  }

  static int h2_on_data(nghttp2_session* s, uint8_t, int32_t stream_id, const uint8_t* data,
                        size_t len, void*) {
    auto* st = static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(s, stream_id));
    if (st != nullptr &&
        (st->status >= 300 || (st->body.empty() && len > 0 && data[0] == '{') ||
         !st->body.empty()) &&
        st->body.size() < kCaptureBytes) {
      st->body.append(reinterpret_cast<const char*>(data),
                      std::min(len, kCaptureBytes - st->body.size()));
    }
    return 0;
  }

  static int h2_on_close(nghttp2_session* s, int32_t stream_id, uint32_t error_code, void* user) {
    auto* c = static_cast<Conn*>(user);
    auto* st = static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(s, stream_id));
    if (st == nullptr) {
      return 0;
    }
    nghttp2_session_set_stream_user_data(s, stream_id, nullptr);
    c->unlink(st);
    Req* r = st->req;
    if (error_code == NGHTTP2_REFUSED_STREAM && st->status == 0) {
      // Not processed by the server (RFC 9113 8.7): nghttp2 also closes a request this way when
      // a GOAWAY arrived before it could be sent. Queued again (first in line) for another
      // connection; its latency keeps counting from the intended send time.
      c->w->sec(now_ns()).retried++;
      c->w->release_stream(st);
      r->tgt->queue.push_front(r);
      return 0;
    }
    c->answered++;
    int status = st->status;
    if (status < 300 || status >= 400) {
      st->location.clear();
    }
    c->w->finish(r, status, st->body, st->location);
    c->w->release_stream(st);
    return 0;
  }

  void start_h2(Conn* c) {
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &Worker::h2_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Worker::h2_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Worker::h2_on_close);
    nghttp2_session_client_new(&c->h2, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (1 << 30) - 1}};
    nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2);
    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, (1 << 30) - 1);
    c->h2_ready = true;
  }

  void h2_pump(Conn* c) {
    for (;;) {
      const uint8_t* data;
      ssize_t n = nghttp2_session_mem_send(c->h2, &data);
      if (n <= 0) {
        break;
      }
      c->out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
  }

  // ---- connections ------------------------------------------------------------------------

  Target* target_for(const Url& u, int conns) {
    for (auto& t : targets_) {
      if (t->url.host == u.host && t->url.port == u.port && t->url.tls == u.tls) {
        return t.get();
      }
    }
    auto t = std::make_unique<Target>();
    t->url = u;
    t->authority = u.host + ":" + std::to_string(u.port);
    auto* sin = reinterpret_cast<sockaddr_in*>(&t->addr);
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&t->addr);
    if (inet_pton(AF_INET, u.host.c_str(), &sin->sin_addr) == 1) {
      sin->sin_family = AF_INET;
      sin->sin_port = htons(static_cast<uint16_t>(u.port));
      t->addr_len = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, u.host.c_str(), &sin6->sin6_addr) == 1) {
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons(static_cast<uint16_t>(u.port));
      t->addr_len = sizeof(sockaddr_in6);
    } else if (u.host == "localhost") {
      sin->sin_family = AF_INET;
      sin->sin_port = htons(static_cast<uint16_t>(u.port));
      inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
      t->addr_len = sizeof(sockaddr_in);
    }
    for (int i = 0; i < std::max(conns, 1); ++i) {
      add_conn(t.get());
    }
    targets_.push_back(std::move(t));
    return targets_.back().get();
  }

  void connect_conn(Conn* c) {
    if (c->state == Conn::State::Connecting || c->state == Conn::State::Handshake ||
        c->state == Conn::State::Ready) {
      return;
    }
    Target* t = c->tgt;
    if (t->addr_len == 0) {
      sec(now_ns()).conn_errors++;
      fail_all(c);
      return;
    }
    c->fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = connect(c->fd, reinterpret_cast<sockaddr*>(&t->addr), t->addr_len);
    if (rc != 0 && errno != EINPROGRESS) {
      conn_broken(c, std::string("connect: ") + std::strerror(errno));
      return;
    }
    c->answered = 0;
    c->state = Conn::State::Connecting;
    c->ev_read = event_new(base_, c->fd, EV_READ | EV_PERSIST, &Worker::on_read, c);
    c->ev_write = event_new(base_, c->fd, EV_WRITE | EV_PERSIST, &Worker::on_write, c);
    event_add(c->ev_write, nullptr);
    c->want_write = true;
  }

  void connected(Conn* c) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      conn_broken(c, std::string("connect: ") + std::strerror(err));
      return;
    }
    event_add(c->ev_read, nullptr);
    if (c->tgt->url.tls) {
      c->ssl = SSL_new(ssl_ctx_);
      SSL_set_fd(c->ssl, c->fd);
      SSL_set_tlsext_host_name(c->ssl, c->tgt->url.host.c_str());
      c->state = Conn::State::Handshake;
      handshake(c);
      return;
    }
    ready(c);
  }

  void handshake(Conn* c) {
    int rc = SSL_connect(c->ssl);
    if (rc == 1) {
      ready(c);
      return;
    }
    int e = SSL_get_error(c->ssl, rc);
    if (e == SSL_ERROR_WANT_READ) {
      set_write(c, false);
    } else if (e == SSL_ERROR_WANT_WRITE) {
      set_write(c, true);
    } else {
      conn_broken(c, "TLS handshake: " + tls_error(e));
    }
  }

  void ready(Conn* c) {
    c->state = Conn::State::Ready;
    c->backoff_ms = 0;
    set_write(c, false);
    if (o_.h2) {
      start_h2(c);
    }
    fill(c);
  }

  void set_write(Conn* c, bool on) {
    if (on == c->want_write) {
      return;
    }
    c->want_write = on;
    if (on) {
      event_add(c->ev_write, nullptr);
    } else {
      event_del(c->ev_write);
    }
  }

  // Writes what is pending; returns false when the connection broke.
  void flush(Conn* c) {
    if (c->state != Conn::State::Ready) {
      return;
    }
    if (c->h2 != nullptr) {
      h2_pump(c);
    }
    while (c->out_off < c->out.size()) {
      const char* p = c->out.data() + c->out_off;
      size_t n = c->out.size() - c->out_off;
      ssize_t w;
      if (c->ssl != nullptr) {
        int rc = SSL_write(c->ssl, p, static_cast<int>(n));
        if (rc <= 0) {
          int e = SSL_get_error(c->ssl, rc);
          if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
            set_write(c, true);
            return;
          }
          conn_broken(c, "TLS write: " + tls_error(e));
          return;
        }
        w = rc;
      } else {
        w = ::send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
          if (errno == EAGAIN || errno == EINTR) {
            set_write(c, true);
            return;
          }
          conn_broken(c, std::string("send: ") + std::strerror(errno));
          return;
        }
      }
      c->out_off += static_cast<size_t>(w);
    }
    c->out.clear();
    c->out_off = 0;
    set_write(c, false);
  }

  void readable(Conn* c) {
    if (c->state == Conn::State::Handshake) {
      handshake(c);
      return;
    }
    if (c->state != Conn::State::Ready) {
      return;
    }
    char buf[65536];
    bool eof = false;
    std::string why = "closed by the server";
    for (int rounds = 0; rounds < 4; ++rounds) {
      ssize_t n;
      if (c->ssl != nullptr) {
        int rc = SSL_read(c->ssl, buf, sizeof buf);
        if (rc <= 0) {
          int e = SSL_get_error(c->ssl, rc);
          if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            break;
          }
          if (e != SSL_ERROR_ZERO_RETURN) {
            why = "TLS read: " + tls_error(e);
          }
          eof = true;
          break;
        }
        n = rc;
      } else {
        n = ::recv(c->fd, buf, sizeof buf, 0);
        if (n < 0) {
          if (errno == EAGAIN || errno == EINTR) {
            break;
          }
          why = std::string("recv: ") + std::strerror(errno);
          eof = true;
          break;
        }
        if (n == 0) {
          eof = true;
          break;
        }
      }
      if (c->h2 != nullptr) {
        ssize_t rv = nghttp2_session_mem_recv(c->h2, reinterpret_cast<uint8_t*>(buf),
                                              static_cast<size_t>(n));
        if (rv < 0) {
          conn_broken(c, std::string("h2: ") + nghttp2_strerror(static_cast<int>(rv)));
          return;
        }
      } else {
        c->in.append(buf, static_cast<size_t>(n));
      }
      if (static_cast<size_t>(n) < sizeof buf) {
        break;
      }
    }
    if (c->h2 == nullptr) {
      if (!parse_h1(c)) {
        close_and_reconnect(c);
        return;
      }
      if (eof && c->h1_req != nullptr && c->head_done &&
          c->body_kind == http1::BodyKind::UntilClose) {
        Req* r = c->h1_req;
        c->h1_req = nullptr;
        finish(r, c->status, c->body, c->location);
        close_and_reconnect(c);
        return;
      }
    }
    if (eof) {
      if (c->in_flight() > 0) {
        conn_broken(c, why + " with a request in flight");
      } else {
        close_and_reconnect(c);
      }
      return;
    }
    if (c->h2 != nullptr && nghttp2_session_want_read(c->h2) == 0 &&
        nghttp2_session_want_write(c->h2) == 0) {
      close_and_reconnect(c);
      return;
    }
    fill(c);
  }

  // The connection failed or broke with requests on it: they fail, it reconnects later.
  // The connection failed or broke: its requests fail, a sample of |why| is kept for the
  // report, and it reconnects with backoff.
  void conn_broken(Conn* c, const std::string& why) {
    uint64_t now = now_ns();
    sec(now).conn_errors++;
    if (stats_->error_samples.size() < kMaxErrorSamples) {
      char at[32];
      std::snprintf(at, sizeof at, "%.3f",
                    static_cast<double>(now - std::min(now, start_ns_)) / 1e9);
      stats_->error_samples.push_back(std::string(at) + " s " + c->tgt->authority + ": " + why +
                                      " (after " + std::to_string(c->answered) +
                                      " answers on the connection)");
    }
    fail_all(c);
    close_conn(c);
    schedule_reconnect(c);
  }

  // A clean close (server's Connection: close, idle close): reconnect at once.
  void close_and_reconnect(Conn* c) {
    if (c->state == Conn::State::Closed || c->state == Conn::State::Idle) {
      return;
    }
    if (c->in_flight() > 0) {
      conn_broken(c, c->h2 != nullptr
                         ? "h2 session ended with streams open"
                         : "bad response or Connection: close with a request in flight");
      return;
    }
    close_conn(c);
    if (sending() || !c->tgt->queue.empty()) {
      connect_conn(c);
    } else {
      c->state = Conn::State::Idle;
    }
    maybe_stop();
  }

  // Fails every request still on |c| (|timeout|: because no answer came in time).
  void fail_all(Conn* c, bool timeout = false) {
    if (c->h1_req != nullptr) {
      Req* r = c->h1_req;
      c->h1_req = nullptr;
      fail(r, timeout);
    }
    if (c->h2 != nullptr) {
      nghttp2_session* s = c->h2;
      c->h2 = nullptr;
      while (c->h2_open != nullptr) {
        H2Stream* st = c->h2_open;
        c->unlink(st);
        nghttp2_session_set_stream_user_data(s, st->id, nullptr);
        Req* r = st->req;
        release_stream(st);
        fail(r, timeout);
      }
      nghttp2_session_del(s);
    }
  }

  void close_conn(Conn* c) {
    if (c->h2 != nullptr) {
      fail_all(c);
    }
    if (c->ev_read != nullptr) {
      event_free(c->ev_read);
      c->ev_read = nullptr;
    }
    if (c->ev_write != nullptr) {
      event_free(c->ev_write);
      c->ev_write = nullptr;
    }
    if (c->ssl != nullptr) {
      SSL_free(c->ssl);
      c->ssl = nullptr;
    }
    if (c->fd >= 0) {
      ::close(c->fd);
      c->fd = -1;
    }
    c->want_write = false;
    c->state = Conn::State::Closed;
    c->out.clear();
    c->out_off = 0;
    c->in.clear();
    c->in_off = 0;
    c->head_done = false;
    c->h2_ready = false;
  }

  void schedule_reconnect(Conn* c) {
    if (!sending() && c->tgt->queue.empty()) {
      c->state = Conn::State::Idle;
      maybe_stop();
      return;
    }
    c->backoff_ms = c->backoff_ms == 0 ? 10 : std::min<uint64_t>(c->backoff_ms * 2, 1000);
    if (c->ev_retry == nullptr) {
      c->ev_retry = event_new(base_, -1, 0, &Worker::on_retry, c);
    }
    timeval tv{static_cast<time_t>(c->backoff_ms / 1000),
               static_cast<suseconds_t>((c->backoff_ms % 1000) * 1000)};
    event_add(c->ev_retry, &tv);
  }

  // ---- timers -----------------------------------------------------------------------------

  void arm_tick() {
    uint64_t now = now_ns();
    uint64_t due = schedule_.due(next_);
    uint64_t wait = due > now ? due - now : 0;
    timeval tv{static_cast<time_t>(wait / 1000000000ull),
               static_cast<suseconds_t>((wait % 1000000000ull) / 1000)};
    event_add(tick_, &tv);
  }

  void tick() {
    uint64_t now = now_ns();
    uint64_t limit = std::min(now, end_send_ns_ - 1);
    uint64_t count = stopping_ ? next_ : schedule_.due_count(limit);
    while (next_ < count) {
      uint64_t due = schedule_.due(next_);
      SecondStats& sd = sec(due);
      sd.max_send_lag_ns = std::max(sd.max_send_lag_ns, now > due ? now - due : 0);
      dispatch(new_req(due));
      ++next_;
    }
    if (sending() && schedule_.due(next_) < end_send_ns_) {
      arm_tick();
    } else {
      maybe_stop();
    }
  }

  void sweep() {
    uint64_t now = now_ns();
    if (!o_.stop_file.empty() && !stopping_) {
      struct stat st;
      if (::stat(o_.stop_file.c_str(), &st) == 0) {
        stopping_ = true;
      }
    }
    auto timeout = static_cast<uint64_t>(o_.timeout_s * 1e9);
    for (auto& t : targets_) {
      while (!t->queue.empty() && now - t->queue.front()->intended_ns > timeout) {
        Req* r = t->queue.front();
        t->queue.pop_front();
        fail(r, true);
      }
      for (auto& c : t->conns) {
        bool late = c->h1_req != nullptr && now - c->h1_req->intended_ns > timeout;
        for (H2Stream* st = c->h2_open; st != nullptr; st = st->next) {
          late = late || now - st->req->intended_ns > timeout;
        }
        if (late) {
          fail_all(c.get(), /*timeout=*/true);
          close_conn(c.get());
          schedule_reconnect(c.get());
        }
      }
    }
    maybe_stop();
  }

  void maybe_stop() {
    if (sending()) {
      return;
    }
    if (stats_->inflight.load(std::memory_order_relaxed) == 0) {
      event_base_loopbreak(base_);
    }
  }

  static void on_tick(evutil_socket_t, short, void* arg) { static_cast<Worker*>(arg)->tick(); }
  static void on_sweep(evutil_socket_t, short, void* arg) { static_cast<Worker*>(arg)->sweep(); }
  static void on_retry(evutil_socket_t, short, void* arg) {
    auto* c = static_cast<Conn*>(arg);
    c->w->connect_conn(c);
  }
  static void on_read(evutil_socket_t, short, void* arg) {
    auto* c = static_cast<Conn*>(arg);
    c->w->readable(c);
  }
  static void on_write(evutil_socket_t, short, void* arg) {
    auto* c = static_cast<Conn*>(arg);
    Worker* w = c->w;
    if (c->state == Conn::State::Connecting) {
      w->connected(c);
    } else if (c->state == Conn::State::Handshake) {
      w->handshake(c);
    } else {
      w->flush(c);
      if (c->state == Conn::State::Ready) {
        w->fill(c);
      }
    }
  }

 private:
  const LoadOptions& o_;
  const TenantSampler& sampler_;
  SSL_CTX* ssl_ctx_;
  uint64_t start_ns_;
  uint64_t end_send_ns_ = 0;
  ThreadSeconds* stats_;
  Rng rng_;
  event_base* base_ = nullptr;
  event* tick_ = nullptr;
  event* sweep_ = nullptr;
  std::vector<std::unique_ptr<Target>> targets_;
  Target* entry_ = nullptr;
  std::string base_target_;
  OpenLoopSchedule schedule_;
  uint64_t next_ = 0;
  uint64_t seq_ = 0;
  bool stopping_ = false;
  std::vector<Req*> free_;
  std::vector<H2Stream*> free_streams_;
  std::string tenant_header_lower_;
  std::string extra_h1_;                                       // --header fields, h1 text
  std::vector<std::pair<std::string, std::string>> extra_h2_;  // the same, lower-case names
  std::vector<nghttp2_nv> nv_scratch_;
  size_t max_conns_per_target_ = 1;
};

double process_cpu_s() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void merge_into(SecondStats* into, const SecondStats& s) {
  into->sent += s.sent;
  into->ok += s.ok;
  into->failed += s.failed;
  into->redirects += s.redirects;
  into->conn_errors += s.conn_errors;
  into->timeouts += s.timeouts;
  into->retried += s.retried;
  into->max_send_lag_ns = std::max(into->max_send_lag_ns, s.max_send_lag_ns);
  for (size_t k = 0; k < s.status.size(); ++k)
    into->status[k] += s.status[k];
  for (const auto& [k, v] : s.codes)
    into->codes[k] += v;
  into->latency.merge(s.latency);
}

}  // namespace

LoadReport run_load(const LoadOptions& o, std::string* error) {
  LoadReport report;
  Url u;
  if (!parse_url(o.url, &u)) {
    *error = "bad URL \"" + o.url + "\" (expected http://IP:PORT/path or https://...)";
    return report;
  }
  if (o.open_loop && o.rate <= 0) {
    *error = "open loop needs --rate > 0";
    return report;
  }
  int threads = std::max(1, o.threads);
  if (o.connections < threads) {
    *error = "fewer connections than threads";
    return report;
  }
  SSL_CTX* ctx = nullptr;
  if (u.tls) {
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    static const unsigned char kH2[] = "\x02h2";
    static const unsigned char kH1[] = "\x08http/1.1";
    if (o.h2) {
      SSL_CTX_set_alpn_protos(ctx, kH2, 3);
    } else {
      SSL_CTX_set_alpn_protos(ctx, kH1, 9);
    }
  }
  TenantSampler sampler(o.tenant_first, o.tenant_count, o.zipf_s);
  std::vector<std::unique_ptr<ThreadSeconds>> stats;
  for (int i = 0; i < threads; ++i) {
    stats.push_back(std::make_unique<ThreadSeconds>());
    stats.back()->seconds.reserve(static_cast<size_t>(o.duration_s + o.timeout_s) + 2);
  }
  double cpu0 = process_cpu_s();
  uint64_t start = now_ns() + 20000000;  // 20 ms for the threads to connect
  report.start_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count() +
                         20;
  std::vector<std::thread> workers;
  std::atomic<int> running{threads};
  for (int i = 0; i < threads; ++i) {
    int conns = o.connections / threads + (i < o.connections % threads ? 1 : 0);
    workers.emplace_back([&, i, conns] {
      Worker w(o, sampler, ctx, i, conns, start, stats[i].get());
      w.run();
      running--;
    });
  }
  uint64_t next_progress = start + 1000000000ull;
  while (running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    uint64_t now = now_ns();
    if (now >= next_progress && o.on_progress) {
      uint64_t ok = 0, failed = 0, inflight = 0;
      for (auto& s : stats) {
        ok += s->ok.load(std::memory_order_relaxed);
        failed += s->failed.load(std::memory_order_relaxed);
        inflight += s->inflight.load(std::memory_order_relaxed);
      }
      o.on_progress(static_cast<double>(now - start) / 1e9, ok, failed, inflight);
      next_progress += 1000000000ull;
    }
  }
  for (auto& t : workers) {
    t.join();
  }
  report.elapsed_s = static_cast<double>(now_ns() - start) / 1e9;
  report.cpu_s = process_cpu_s() - cpu0;
  if (ctx != nullptr) {
    SSL_CTX_free(ctx);
  }
  size_t n = 0;
  for (auto& s : stats)
    n = std::max(n, s->seconds.size());
  report.seconds.resize(n);
  for (auto& s : stats) {
    for (size_t i = 0; i < s->seconds.size(); ++i) {
      merge_into(&report.seconds[i], s->seconds[i]);
    }
  }
  for (auto& s : stats) {
    for (auto& e : s->error_samples) {
      report.conn_error_samples.push_back(std::move(e));
    }
  }
  auto first = static_cast<size_t>(std::ceil(o.warmup_s));
  for (size_t i = first; i < report.seconds.size(); ++i) {
    merge_into(&report.total, report.seconds[i]);
  }
  report.measured_s =
      std::max(0.001, std::min(report.elapsed_s, o.duration_s) - static_cast<double>(first));
  return report;
}

namespace {

std::string stats_json(const SecondStats& s) {
  std::string out =
      "{\"sent\":" + std::to_string(s.sent) + ",\"ok\":" + std::to_string(s.ok) +
      ",\"failed\":" + std::to_string(s.failed) + ",\"redirects\":" + std::to_string(s.redirects) +
      ",\"conn_errors\":" + std::to_string(s.conn_errors) +
      ",\"timeouts\":" + std::to_string(s.timeouts) + ",\"retried\":" + std::to_string(s.retried) +
      ",\"send_lag_ms\":" + std::to_string(static_cast<double>(s.max_send_lag_ns) / 1e6) +
      ",\"status\":{";
  bool first = true;
  for (size_t k = 0; k < s.status.size(); ++k) {
    if (s.status[k] != 0) {
      out += (first ? "\"" : ",\"") + std::to_string(k) + "\":" + std::to_string(s.status[k]);
      first = false;
    }
  }
  out += "},\"codes\":{";
  first = true;
  for (const auto& [k, v] : s.codes) {
    out += (first ? "\"" : ",\"") + k + "\":" + std::to_string(v);
    first = false;
  }
  char pct[256];
  const LatencyHistogram& h = s.latency;
  std::snprintf(
      pct, sizeof pct,
      "},\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,"
      "\"max\":%.3f,\"mean\":%.3f},\"hist\":",
      static_cast<double>(h.percentile(50)) / 1e6, static_cast<double>(h.percentile(90)) / 1e6,
      static_cast<double>(h.percentile(99)) / 1e6, static_cast<double>(h.percentile(99.9)) / 1e6,
      static_cast<double>(h.max()) / 1e6, h.mean() / 1e6);
  return out + pct + h.to_json() + "}";
}

}  // namespace

std::string report_json(const LoadReport& r, const LoadOptions& o) {
  char head[512];
  std::snprintf(head, sizeof head,
                "{\"start_unix_ms\":%lld,\"elapsed_s\":%.3f,\"measured_s\":%.3f,\"cpu_s\":%.3f,"
                "\"rps\":%.1f,\"threads\":%d,\"connections\":%d,\"mode\":\"%s\",\"rate\":%.1f,"
                "\"protocol\":\"%s\",\"warmup_s\":%.1f,",
                static_cast<long long>(r.start_unix_ms), r.elapsed_s, r.measured_s, r.cpu_s,
                static_cast<double>(r.total.ok + r.total.failed) / r.measured_s, o.threads,
                o.connections, o.open_loop ? "open" : "closed", o.rate, o.h2 ? "h2" : "h1",
                o.warmup_s);
  std::string out = head;
  out += "\"conn_error_samples\":[";
  for (size_t i = 0; i < r.conn_error_samples.size(); ++i) {
    out += (i ? ",\"" : "\"") + admin::json_escape(r.conn_error_samples[i]) + "\"";
  }
  out += "],\"total\":" + stats_json(r.total) + ",\"seconds\":[";
  for (size_t i = 0; i < r.seconds.size(); ++i) {
    out += (i ? "," : "") + stats_json(r.seconds[i]);
  }
  return out + "]}\n";
}

}  // namespace sy::bench
