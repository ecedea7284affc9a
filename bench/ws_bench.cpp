// switchyard-wsbench: the WebSocket load generator and echo server of bench/compare --shape
// websocket (bench/README.md). Both must cost far less per message than the proxies measured
// between them, hence C++ and libevent, like the proxies.
//
//   switchyard-wsbench echo [--port 0] [--ready-file F]
//       answers every HTTP/1.1 WebSocket upgrade with 101 and echoes each data frame (text,
//       binary, continuation) unmasked with its opcode and FIN; ping -> pong; close -> close.
//       Writes its port to F once it listens. A client frame without a mask, or a bad frame,
//       ends that connection (RFC 6455 5.1).
//   switchyard-wsbench load ws://HOST:PORT/PATH [--connections 64] [--inflight 1] [--size 128]
//       [--duration 5] [--warmup 1] [--threads 1] [--drain-timeout 10] [--out FILE]
//       N connections, each keeping --inflight binary messages of --size bytes in flight
//       (masked with a fresh key per frame). Every echo must come back in order, byte-exact.
//       Counts the messages echoed between warmup and warmup + duration (messages/s) and
//       their round trips (histogram, p50/p99); then stops sending, waits for every message
//       still in flight and closes each connection with a close frame. Results JSON on
//       stdout or --out. Exit 0 only if every message came back byte-exact and no connection
//       failed; 1 otherwise (the JSON says what went wrong).
//
// The payload of message s on a connection is that connection's random base payload with s in
// its first 8 bytes, so a check is one compare of the whole message, no per-byte work.

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>

#include "bench/ws_bench.h"
#include "bench/ws_frame.h"

namespace sy::bench::wsb {

namespace {

const char* kUsage =
    "usage: switchyard-wsbench echo [--port 0] [--ready-file F]\n"
    "       switchyard-wsbench load ws://HOST:PORT/PATH [--connections 64] [--inflight 1]\n"
    "           [--size 128] [--duration 5] [--warmup 1] [--threads 1] [--drain-timeout 10]\n"
    "           [--out FILE]\n";

}  // namespace

void usage_error(const std::string& msg) {
  std::fprintf(stderr, "switchyard-wsbench: %s\n%s", msg.c_str(), kUsage);
  std::exit(2);
}

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

double number(const std::string& flag, const char* text) {
  char* end = nullptr;
  double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || v < 0) {
    usage_error(flag + ": expected a number >= 0, got \"" + text + "\"");
  }
  return v;
}

std::string header_value(std::string_view head, const char* name) {
  const size_t n = std::strlen(name);
  size_t at = head.find("\r\n");
  while (at != std::string_view::npos && at + 2 < head.size()) {
    size_t line = at + 2;
    size_t end = head.find("\r\n", line);
    if (end == std::string_view::npos) {
      end = head.size();
    }
    if (end - line > n && head[line + n] == ':' && strncasecmp(head.data() + line, name, n) == 0) {
      size_t v = line + n + 1;
      while (v < end && (head[v] == ' ' || head[v] == '\t')) {
        ++v;
      }
      size_t e = end;
      while (e > v && (head[e - 1] == ' ' || head[e - 1] == '\t')) {
        --e;
      }
      return std::string(head.substr(v, e - v));
    }
    at = end;
  }
  return "";
}

std::string_view peek_head(Bytes& in) {
  const char* p = reinterpret_cast<const char*>(in.begin());
  const void* end = memmem(p, in.size(), "\r\n\r\n", 4);
  if (end == nullptr) {
    return {};
  }
  return {p, static_cast<size_t>(static_cast<const char*>(end) - p) + 4};
}

WsParse whole_frame(Bytes& in, WsFrameHead* h, const char** error) {
  WsParse r = ws_parse_head(in.begin(), in.size(), h, error);
  if (r == WsParse::Ok && in.size() - h->head_bytes < h->length) {
    return WsParse::NeedMore;
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// echo

namespace {

struct EchoConn {
  Sock sock;
  bool open = false;     // the 101 is sent
  bool closing = false;  // the answer to a close (or a 400) is queued: close once it is written
};

void echo_free(EchoConn* c) {
  c->sock.close();
  delete c;
}

void echo_fail(EchoConn* c, const char* why) {
  std::fprintf(stderr, "switchyard-wsbench echo: %s\n", why);
  echo_free(c);
}

// Queues the answer to the request head at the front of the input: 101, or 400 and close.
void echo_handshake(EchoConn* c, std::string_view head) {
  std::string key = header_value(head, "Sec-WebSocket-Key");
  if (head.compare(0, 4, "GET ") != 0 || key.empty() ||
      strcasestr(header_value(head, "Upgrade").c_str(), "websocket") == nullptr) {
    static constexpr char kBad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                   "Connection: close\r\n\r\n";
    c->sock.out.append(kBad, sizeof(kBad) - 1);
    c->closing = true;
  } else {
    std::string resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
                       ws_accept(key) + "\r\n\r\n";
    c->sock.out.append(resp.data(), resp.size());
    c->open = true;
  }
  c->sock.in.consume(head.size());
}

// Echoes every whole frame in the input: data frames with their opcode and FIN, unmasked (the
// one copy, straight into the output queue); ping -> pong; close -> close; pongs dropped.
bool echo_frames(EchoConn* c) {
  Bytes& in = c->sock.in;
  Bytes& out = c->sock.out;
  while (!c->closing) {
    WsFrameHead h;
    const char* error = nullptr;
    WsParse r = whole_frame(in, &h, &error);
    if (r == WsParse::NeedMore) {
      return true;
    }
    if (r == WsParse::Bad || !h.masked) {
      echo_fail(c, r == WsParse::Bad ? error : "client frame not masked");
      return false;
    }
    if (h.opcode != kWsPong) {
      const uint8_t opcode = h.opcode == kWsPing ? static_cast<uint8_t>(kWsPong) : h.opcode;
      uint8_t* dst = out.reserve(kWsMaxHead + h.length);
      const size_t n = ws_write_head(dst, opcode, h.fin, h.length, nullptr);
      std::memcpy(dst + n, in.begin() + h.head_bytes, h.length);
      ws_mask(dst + n, h.length, h.mask);
      out.commit(n + h.length);
      c->closing = h.opcode == kWsClose;
    }
    in.consume(h.head_bytes + h.length);
  }
  return true;
}

void echo_flush(EchoConn* c) {
  if (!c->sock.flush()) {
    echo_free(c);  // the client went away
  } else if (c->closing && c->sock.out.size() == 0) {
    echo_free(c);
  }
}

void echo_readable(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<EchoConn*>(arg);
  const ssize_t got = c->sock.fill();
  if (got == -2) {
    return;
  }
  if (got <= 0 || c->closing) {
    echo_free(c);  // EOF or error (or bytes after our close): the client went away
    return;
  }
  if (!c->open) {
    std::string_view head = peek_head(c->sock.in);
    if (head.empty()) {
      if (c->sock.in.size() > 16384) {
        echo_fail(c, "request head too long");
      }
      return;
    }
    echo_handshake(c, head);
  }
  if (echo_frames(c)) {
    echo_flush(c);
  }
}

void echo_writable(evutil_socket_t, short, void* arg) { echo_flush(static_cast<EchoConn*>(arg)); }

void echo_accept(evconnlistener* listener, evutil_socket_t fd, sockaddr*, int, void*) {
  auto* c = new EchoConn;
  c->sock.open(evconnlistener_get_base(listener), fd, echo_readable, echo_writable, c);
  event_add(c->sock.rd, nullptr);
}

void echo_stop(evutil_socket_t, short, void* base) {
  event_base_loopexit(static_cast<event_base*>(base), nullptr);
}

}  // namespace

int cmd_echo(int argc, char** argv) {
  int port = 0;
  std::string ready;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      usage_error(a + " needs a value");
    }
    if (a == "--port") {
      port = static_cast<int>(number(a, argv[++i]));
    } else if (a == "--ready-file") {
      ready = argv[++i];
    } else {
      usage_error("unknown option " + a);
    }
  }
  event_base* base = event_base_new();
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(port));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  evconnlistener* l =
      evconnlistener_new_bind(base, echo_accept, nullptr, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                              4096, reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
  if (!l) {
    std::fprintf(stderr, "switchyard-wsbench echo: cannot listen on port %d: %s\n", port,
                 std::strerror(errno));
    return 1;
  }
  socklen_t len = sizeof(sin);
  getsockname(evconnlistener_get_fd(l), reinterpret_cast<sockaddr*>(&sin), &len);
  if (!ready.empty()) {
    std::string tmp = ready + ".tmp";
    std::ofstream(tmp) << ntohs(sin.sin_port) << "\n";
    std::rename(tmp.c_str(), ready.c_str());
  }
  event* term = evsignal_new(base, SIGTERM, echo_stop, base);
  event_add(term, nullptr);
  event_base_dispatch(base);
  return 0;
}
}  // namespace sy::bench::wsb

using namespace sy::bench::wsb;

int main(int argc, char** argv) {
  if (argc < 2) {
    usage_error("a command is needed");
  }
  std::string cmd = argv[1];
  if (cmd == "echo") {
    return cmd_echo(argc, argv);
  }
  if (cmd == "load") {
    return cmd_load(argc, argv);
  }
  usage_error("unknown command " + cmd);
}
