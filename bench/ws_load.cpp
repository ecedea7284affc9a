// switchyard-wsbench load: the WebSocket load generator (usage and output: bench/ws_bench.cpp).
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/histogram.h"
#include "bench/ws_bench.h"
#include "bench/ws_frame.h"

namespace sy::bench::wsb {

namespace {

// ---------------------------------------------------------------------------------------------
// load

struct LoadOptions {
  std::string host;
  int port = 0;
  std::string path = "/";
  int connections = 64;
  int inflight = 1;
  size_t size = 128;
  double duration = 5;
  double warmup = 1;
  int threads = 1;
  double drain_timeout = 10;
};

struct LoadWorker;

struct LoadConn {
  LoadWorker* w = nullptr;
  Sock sock;
  int id = 0;
  enum class State { Connecting, Handshake, Open, Closing, Done } state = State::Connecting;
  std::string accept;             // the Sec-WebSocket-Accept we expect
  std::vector<uint8_t> payload;   // the base payload; message s carries s in its first 8 bytes
  std::vector<uint64_t> sent_at;  // ring of --inflight send times, by seq % inflight
  uint64_t next_send = 0;
  uint64_t next_recv = 0;
};

struct LoadTotals {
  uint64_t sent = 0;
  uint64_t echoed = 0;    // every echo received, warmup and drain included
  uint64_t measured = 0;  // echoes received in the measured window
  uint64_t mismatched = 0;
  uint64_t conn_errors = 0;
  std::vector<std::string> errors;  // the first few, described
  LatencyHistogram rtt;
};

struct LoadWorker {
  const LoadOptions* o = nullptr;
  event_base* base = nullptr;
  sockaddr_in addr{};
  std::vector<std::unique_ptr<LoadConn>> conns;
  uint64_t measure_from = 0, measure_to = 0;
  bool sending = true;
  int live = 0;  // connections not Done
  event* stop_timer = nullptr;
  event* drain_timer = nullptr;
  uint64_t rng = 0;
  LoadTotals t;
};

uint64_t xorshift(uint64_t* s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

void conn_done(LoadConn* c) {
  if (c->state == LoadConn::State::Done) {
    return;
  }
  c->state = LoadConn::State::Done;
  c->sock.close();
  if (--c->w->live == 0) {
    event_base_loopexit(c->w->base, nullptr);
  }
}

void conn_error(LoadConn* c, const std::string& why) {
  LoadWorker* w = c->w;
  ++w->t.conn_errors;
  if (w->t.errors.size() < 5) {
    w->t.errors.push_back("connection " + std::to_string(c->id) + ": " + why);
  }
  conn_done(c);
}

// Queues a masked frame of |opcode| whose payload is |payload| with |seq| in its first bytes
// (seq_bytes of them), under a fresh masking key (RFC 6455 5.3).
void queue_frame(LoadConn* c, uint8_t opcode, const uint8_t* payload, size_t size,
                 const uint64_t* seq, size_t seq_bytes) {
  uint64_t r = xorshift(&c->w->rng);
  uint8_t mask[4];
  std::memcpy(mask, &r, 4);
  uint8_t* dst = c->sock.out.reserve(kWsMaxHead + size);
  const size_t n = ws_write_head(dst, opcode, true, size, mask);
  if (size > 0) {  // (an empty payload may be a null pointer: memcpy must not see it)
    std::memcpy(dst + n, payload, size);
  }
  if (seq_bytes > 0) {
    std::memcpy(dst + n, seq, seq_bytes);
  }
  ws_mask(dst + n, size, mask);
  c->sock.out.commit(n + size);
}

void send_close(LoadConn* c) {
  static constexpr uint8_t kNormal[2] = {0x03, 0xE8};  // 1000: normal closure
  queue_frame(c, kWsClose, kNormal, 2, nullptr, 0);
  c->state = LoadConn::State::Closing;
}

void send_message(LoadConn* c) {
  const size_t size = c->payload.size();
  queue_frame(c, kWsBinary, c->payload.data(), size, &c->next_send, std::min<size_t>(size, 8));
  c->sent_at[c->next_send % c->sent_at.size()] = now_ns();
  ++c->next_send;
  ++c->w->t.sent;
}

// The 101 at the front of the input: checked, consumed; the first messages are queued.
bool load_handshake(LoadConn* c) {
  std::string_view head = peek_head(c->sock.in);
  if (head.empty()) {
    if (c->sock.in.size() > 16384) {
      conn_error(c, "response head too long");
    }
    return false;
  }
  if (head.compare(0, 12, "HTTP/1.1 101") != 0) {
    conn_error(c, "handshake answered " + std::string(head.substr(0, head.find('\r'))));
    return false;
  }
  if (header_value(head, "Sec-WebSocket-Accept") != c->accept) {
    conn_error(c, "wrong Sec-WebSocket-Accept");
    return false;
  }
  c->sock.in.consume(head.size());
  c->state = LoadConn::State::Open;
  for (int i = 0; i < c->w->o->inflight && c->w->sending; ++i) {
    send_message(c);
  }
  return true;
}

// Checks and counts every whole echo in the input; each one sends the next message while the
// window lasts. False once the connection is done.
bool load_echoes(LoadConn* c) {
  LoadWorker* w = c->w;
  Bytes& in = c->sock.in;
  const size_t size = c->payload.size();
  uint64_t now = 0;
  for (;;) {
    WsFrameHead h;
    const char* error = nullptr;
    WsParse r = whole_frame(in, &h, &error);
    if (r == WsParse::NeedMore) {
      return true;
    }
    if (r == WsParse::Bad || h.masked) {
      conn_error(c, r == WsParse::Bad ? error : "server frame masked");
      return false;
    }
    const uint8_t* body = in.begin() + h.head_bytes;
    if (h.opcode == kWsClose) {
      if (c->state != LoadConn::State::Closing) {
        conn_error(c, "the server closed the WebSocket");
      } else {
        conn_done(c);  // the close handshake is complete
      }
      return false;
    }
    if (c->next_recv == c->next_send) {
      conn_error(c, "a frame nobody sent (opcode " + std::to_string(h.opcode) + ")");
      return false;
    }
    const uint64_t seq = c->next_recv++;
    const size_t seq_bytes = std::min<size_t>(size, 8);
    bool ok = h.opcode == kWsBinary && h.fin && h.length == size &&
              (seq_bytes == 0 || std::memcmp(body, &seq, seq_bytes) == 0) &&
              (size == seq_bytes ||  // (an empty payload's data() may be null: no memcmp)
               std::memcmp(body + seq_bytes, c->payload.data() + seq_bytes, size - seq_bytes) == 0);
    in.consume(h.head_bytes + h.length);
    if (now == 0) {
      now = now_ns();  // one clock read per batch: the echoes of one read arrived together
    }
    ++w->t.echoed;
    if (!ok) {
      ++w->t.mismatched;
      if (w->t.errors.size() < 5) {
        w->t.errors.push_back("connection " + std::to_string(c->id) + ": message " +
                              std::to_string(seq) + " came back different");
      }
    }
    if (now >= w->measure_from && now < w->measure_to) {
      ++w->t.measured;
      w->t.rtt.record(now - c->sent_at[seq % c->sent_at.size()]);
    }
    if (w->sending) {
      send_message(c);
    } else if (c->next_recv == c->next_send && c->state == LoadConn::State::Open) {
      send_close(c);
    }
  }
}

void load_flush(LoadConn* c) {
  if (!c->sock.flush()) {
    conn_error(c, std::string("write: ") + std::strerror(errno));
  }
}

void load_readable(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<LoadConn*>(arg);
  const ssize_t got = c->sock.fill();
  if (got == -2) {
    return;
  }
  if (got <= 0) {
    if (got == 0 && c->state == LoadConn::State::Closing) {
      conn_done(c);  // the server closed right after its close frame
    } else {
      conn_error(c,
                 got == 0 ? "closed by the server" : std::string("read: ") + std::strerror(errno));
    }
    return;
  }
  if (c->state == LoadConn::State::Handshake && !load_handshake(c)) {
    return;
  }
  if (load_echoes(c)) {
    load_flush(c);
  }
}

void load_writable(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<LoadConn*>(arg);
  if (c->state == LoadConn::State::Connecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(c->sock.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      conn_error(c, std::string("connect: ") + std::strerror(err));
      return;
    }
    c->state = LoadConn::State::Handshake;
    event_add(c->sock.rd, nullptr);
  }
  load_flush(c);
}

void start_conn(LoadWorker* w, LoadConn* c) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  c->sock.open(w->base, fd, load_readable, load_writable, c);
  uint8_t key_bytes[16];
  for (int i = 0; i < 16; i += 8) {
    uint64_t r = xorshift(&w->rng);
    std::memcpy(key_bytes + i, &r, 8);
  }
  char key[32];
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(key), key_bytes, 16);
  c->accept = ws_accept(key);
  std::string req = "GET " + w->o->path + " HTTP/1.1\r\nHost: " + w->o->host + ":" +
                    std::to_string(w->o->port) +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                    "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  c->sock.out.append(req.data(), req.size());
  if (connect(fd, reinterpret_cast<sockaddr*>(&w->addr), sizeof(w->addr)) != 0 &&
      errno != EINPROGRESS) {
    conn_error(c, std::string("connect: ") + std::strerror(errno));
    return;
  }
  event_add(c->sock.wr, nullptr);  // writable: connected (load_writable), then the request
  c->sock.wr_armed = true;
}

timeval seconds_tv(double s) {
  return timeval{static_cast<time_t>(s), static_cast<suseconds_t>(std::fmod(s, 1.0) * 1e6)};
}

// The measured window is over: no new messages; each connection closes once its last echo is
// back (load_read), the others by the drain timeout.
void stop_sending(evutil_socket_t, short, void* arg) {
  auto* w = static_cast<LoadWorker*>(arg);
  w->sending = false;
  for (auto& c : w->conns) {
    if (c->state == LoadConn::State::Open && c->next_recv == c->next_send) {
      send_close(c.get());
    }
  }
  timeval tv = seconds_tv(w->o->drain_timeout);
  evtimer_add(w->drain_timer, &tv);
}

void drain_timeout(evutil_socket_t, short, void* arg) {
  auto* w = static_cast<LoadWorker*>(arg);
  for (auto& c : w->conns) {
    if (c->state != LoadConn::State::Done) {
      conn_error(c.get(), "still waiting for " + std::to_string(c->next_send - c->next_recv) +
                              " echoes at the drain timeout");
    }
  }
}

void run_worker(LoadWorker* w) {
  const LoadOptions& o = *w->o;
  w->base = event_base_new();
  const uint64_t start = now_ns();
  w->measure_from = start + static_cast<uint64_t>(o.warmup * 1e9);
  w->measure_to = w->measure_from + static_cast<uint64_t>(o.duration * 1e9);
  w->live = static_cast<int>(w->conns.size());
  // Stop sending at the window's end; every connection closes once its last echo is back.
  w->stop_timer = evtimer_new(w->base, stop_sending, w);
  w->drain_timer = evtimer_new(w->base, drain_timeout, w);
  timeval tv = seconds_tv(o.warmup + o.duration);
  evtimer_add(w->stop_timer, &tv);
  for (auto& c : w->conns) {
    start_conn(w, c.get());
  }
  if (w->live > 0) {
    event_base_dispatch(w->base);
  }
  event_free(w->stop_timer);
  event_free(w->drain_timer);
  event_base_free(w->base);
}

bool parse_url(const std::string& url, LoadOptions* o) {
  const std::string scheme = "ws://";
  if (url.compare(0, scheme.size(), scheme) != 0) {
    return false;
  }
  size_t host_end = url.find('/', scheme.size());
  std::string authority = url.substr(scheme.size(), host_end - scheme.size());
  o->path = host_end == std::string::npos ? "/" : url.substr(host_end);
  size_t colon = authority.rfind(':');
  if (colon == std::string::npos) {
    return false;
  }
  o->host = authority.substr(0, colon);
  o->port = std::atoi(authority.c_str() + colon + 1);
  return o->port > 0 && o->port < 65536;
}

double cpu_seconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", ch);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

}  // namespace

int cmd_load(int argc, char** argv) {
  if (argc < 3) {
    usage_error("load needs a ws:// URL");
  }
  LoadOptions o;
  if (!parse_url(argv[2], &o)) {
    usage_error(std::string("expected ws://HOST:PORT/PATH, got \"") + argv[2] + "\"");
  }
  std::string out_path;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      usage_error(a + " needs a value");
    }
    const char* v = argv[++i];
    if (a == "--connections") {
      o.connections = static_cast<int>(number(a, v));
    } else if (a == "--inflight") {
      o.inflight = static_cast<int>(number(a, v));
    } else if (a == "--size") {
      o.size = static_cast<size_t>(number(a, v));
    } else if (a == "--duration") {
      o.duration = number(a, v);
    } else if (a == "--warmup") {
      o.warmup = number(a, v);
    } else if (a == "--threads") {
      o.threads = static_cast<int>(number(a, v));
    } else if (a == "--drain-timeout") {
      o.drain_timeout = number(a, v);
    } else if (a == "--out") {
      out_path = v;
    } else {
      usage_error("unknown option " + a);
    }
  }
  if (o.connections < 1 || o.inflight < 1 || o.threads < 1 || o.duration <= 0) {
    usage_error("--connections, --inflight, --threads and --duration must be at least 1");
  }
  if (o.size > (64u << 20)) {
    usage_error("--size: at most 64 MiB");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(o.port));
  if (inet_pton(AF_INET, o.host == "localhost" ? "127.0.0.1" : o.host.c_str(), &addr.sin_addr) !=
      1) {
    usage_error("the host must be an IPv4 address, got " + o.host);
  }
  std::vector<LoadWorker> workers(static_cast<size_t>(std::min(o.threads, o.connections)));
  std::mt19937_64 seed(static_cast<uint64_t>(now_ns()));
  for (size_t i = 0; i < workers.size(); ++i) {
    workers[i].o = &o;
    workers[i].addr = addr;
    workers[i].rng = seed() | 1;
  }
  for (int i = 0; i < o.connections; ++i) {
    LoadWorker& w = workers[static_cast<size_t>(i) % workers.size()];
    auto c = std::make_unique<LoadConn>();
    c->w = &w;
    c->id = i;
    c->payload.resize(o.size);
    for (auto& b : c->payload) {
      b = static_cast<uint8_t>(xorshift(&w.rng));
    }
    c->sent_at.resize(static_cast<size_t>(o.inflight));
    w.conns.push_back(std::move(c));
  }
  const double cpu0 = cpu_seconds();
  std::vector<std::thread> threads;
  for (size_t i = 1; i < workers.size(); ++i) {
    threads.emplace_back(run_worker, &workers[i]);
  }
  run_worker(&workers[0]);
  for (auto& t : threads) {
    t.join();
  }
  const double cpu = cpu_seconds() - cpu0;
  LoadTotals all;
  for (auto& w : workers) {
    all.sent += w.t.sent;
    all.echoed += w.t.echoed;
    all.measured += w.t.measured;
    all.mismatched += w.t.mismatched;
    all.conn_errors += w.t.conn_errors;
    all.rtt.merge(w.t.rtt);
    for (auto& e : w.t.errors) {
      if (all.errors.size() < 5) {
        all.errors.push_back(e);
      }
    }
  }
  const uint64_t lost = all.sent - all.echoed;
  auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1e3; };
  char buf[1024];
  std::snprintf(buf, sizeof(buf),
                "{\"connections\":%d,\"inflight\":%d,\"size\":%zu,\"duration_s\":%.3f,"
                "\"sent\":%" PRIu64 ",\"echoed\":%" PRIu64 ",\"lost\":%" PRIu64
                ",\"mismatched\":%" PRIu64 ",\"conn_errors\":%" PRIu64 ",\"measured\":%" PRIu64
                ",\"msgs_per_s\":%.1f,\"rtt_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
                "\"max\":%.1f},\"client_cpu_s\":%.3f,\"errors\":[",
                o.connections, o.inflight, o.size, o.duration, all.sent, all.echoed, lost,
                all.mismatched, all.conn_errors, all.measured,
                static_cast<double>(all.measured) / o.duration, us(all.rtt.percentile(50)),
                us(all.rtt.percentile(90)), us(all.rtt.percentile(99)), us(all.rtt.max()), cpu);
  std::string json = buf;
  for (size_t i = 0; i < all.errors.size(); ++i) {
    json += (i ? "," : "") + json_string(all.errors[i]);
  }
  json += "]}\n";
  if (out_path.empty()) {
    std::fputs(json.c_str(), stdout);
  } else {
    std::ofstream(out_path) << json;
  }
  const bool clean = lost == 0 && all.mismatched == 0 && all.conn_errors == 0 && all.sent > 0;
  return clean ? 0 : 1;
}

}  // namespace sy::bench::wsb
