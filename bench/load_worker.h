// Internals of switchyard-bench's load generator, shared by its source files:
//   load_worker.cpp       the Worker's life, requests, answers and timers
//   load_worker_http.cpp  HTTP/1.1 response parsing and the HTTP/2 client session
//   load_worker_conn.cpp  connections: connect, TLS handshake, read, write, reconnect
//   load_generator.cpp    run_load (threads, merge) and the JSON report
//
//   thread (Worker) ── event_base ── Target (one per host:port: the entry, redirect targets)
//                                     ├── Conn × n   (socket [+ SSL] [+ nghttp2 session])
//                                     └── queue      (open loop: requests waiting for a Conn)
//
// A Req lives from its intended send time to its final answer; it moves between Targets when a
// redirect is followed. Conns write speculatively (EV_WRITE only after EAGAIN) and read into a
// per-connection buffer that is parsed in place (sy::http1::parse_response, the proxy's own
// strict codec).
#pragma once

#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/load_generator.h"
#include "bench/tenant_sampler.h"
#include "proxy/http1_parser.h"

namespace sy::bench {

inline uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

inline constexpr size_t kCaptureBytes = 4096;  // body bytes kept to look for an error code
inline constexpr int kMaxRedirects = 5;
inline constexpr size_t kMaxErrorSamples =
    20;  // connection errors described in the results, per thread

// The OpenSSL error queue's first entry, or a description of |ssl_error|.
std::string tls_error(int ssl_error);

struct Url {
  bool tls = false;
  std::string host;
  int port = 0;
  std::string target = "/";  // path and query
};

// "http://host:port/path" or "https://..."; false if it is neither.
bool parse_url(std::string_view text, Url* out);

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
         uint64_t start_ns, ThreadSeconds* stats);
  ~Worker();

  void run();

  // ---- requests ---------------------------------------------------------------------------

  // The counters of the second |now| falls in (connections open before second 0: they count
  // in second 0).
  SecondStats& sec(uint64_t now) { return stats_->at(now > start_ns_ ? now - start_ns_ : 0); }

  Req* new_req(uint64_t intended);
  void release(Req* r);

  bool sending() const { return !stopping_ && now_ns() < end_send_ns_; }

  // Puts |r| on a connection of its target, or queues it.
  void dispatch(Req* r);

  void add_conn(Target* t);

  bool has_room(Conn* c) const;

  // Closed loop: keeps |c| full; open loop: takes queued requests.
  void fill(Conn* c);

  void tenant_fields(Req* r, std::string* out);

  std::string login_body(Req* r);
  std::string host_for(Req* r);

  void send_req(Conn* c, Req* r);

  // ---- answers ----------------------------------------------------------------------------

  void finish(Req* r, int status, std::string_view body, const std::string& location);

  void fail(Req* r, bool timeout);

  // ---- HTTP/1.1 response parsing ----------------------------------------------------------

  // Returns false when the connection must close (protocol error or Connection: close).
  bool parse_h1(Conn* c);

  static void keep_body(Conn* c, const char* p, size_t n);

  // ---- HTTP/2 -----------------------------------------------------------------------------

  static ssize_t h2_read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                              uint32_t* flags, nghttp2_data_source* src, void*);

  H2Stream* new_stream();
  void release_stream(H2Stream* st);

  void send_h2(Conn* c, Req* r);

  static int h2_on_header(nghttp2_session* s, const nghttp2_frame* frame, const uint8_t* name,
                          size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void*);

  static int h2_on_data(nghttp2_session* s, uint8_t, int32_t stream_id, const uint8_t* data,
                        size_t len, void*);

  static int h2_on_close(nghttp2_session* s, int32_t stream_id, uint32_t error_code, void* user);

  void start_h2(Conn* c);

  void h2_pump(Conn* c);

  // ---- connections ------------------------------------------------------------------------

  Target* target_for(const Url& u, int conns);

  void connect_conn(Conn* c);

  void connected(Conn* c);

  void handshake(Conn* c);

  void ready(Conn* c);

  void set_write(Conn* c, bool on);

  // Writes what is pending; returns false when the connection broke.
  void flush(Conn* c);

  void readable(Conn* c);

  // The connection failed or broke with requests on it: they fail, it reconnects later.
  // The connection failed or broke: its requests fail, a sample of |why| is kept for the
  // report, and it reconnects with backoff.
  void conn_broken(Conn* c, const std::string& why);

  // A clean close (server's Connection: close, idle close): reconnect at once.
  void close_and_reconnect(Conn* c);

  // Fails every request still on |c| (|timeout|: because no answer came in time).
  void fail_all(Conn* c, bool timeout = false);

  void close_conn(Conn* c);

  void schedule_reconnect(Conn* c);

  // ---- timers -----------------------------------------------------------------------------

  void arm_tick();

  void tick();

  void sweep();

  void maybe_stop();

  static void on_tick(evutil_socket_t, short, void* arg) { static_cast<Worker*>(arg)->tick(); }
  static void on_sweep(evutil_socket_t, short, void* arg) { static_cast<Worker*>(arg)->sweep(); }
  static void on_retry(evutil_socket_t, short, void* arg);
  static void on_read(evutil_socket_t, short, void* arg);
  static void on_write(evutil_socket_t, short, void* arg);

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

}  // namespace sy::bench
