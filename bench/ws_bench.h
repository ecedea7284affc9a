#pragma once
// What the two halves of switchyard-wsbench share (bench/ws_bench.cpp: the echo server and
// main; bench/ws_load.cpp: the load generator): byte queues, the non-blocking socket, the
// HTTP head helpers and the option parsing helpers.

#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "bench/ws_frame.h"

namespace sy::bench::wsb {

// Prints |msg| and the usage to stderr and exits 2.
[[noreturn]] void usage_error(const std::string& msg);
uint64_t now_ns();
// The number after |flag|; a usage error unless it is one >= 0.
double number(const std::string& flag, const char* text);
// The value of header |name| (case-insensitive, "name:" at a line start) in |head|, or "".
std::string header_value(std::string_view head, const char* name);

// A byte queue: bytes live in [head, tail) of one vector, appended at tail, taken at head.
struct Bytes {
  std::vector<uint8_t> data;
  size_t head = 0, tail = 0;

  size_t size() const { return tail - head; }
  uint8_t* begin() { return data.data() + head; }
  void consume(size_t n) {
    head += n;
    if (head == tail) {
      head = tail = 0;
    }
  }
  // Room for |n| more bytes at tail (moves the live bytes to the front or grows first).
  uint8_t* reserve(size_t n) {
    if (data.size() - tail < n) {
      if (head > 0) {
        std::memmove(data.data(), data.data() + head, size());
        tail -= head;
        head = 0;
      }
      if (data.size() - tail < n) {
        data.resize(std::max(data.size() * 2, tail + n));
      }
    }
    return data.data() + tail;
  }
  void commit(size_t n) { tail += n; }
  void append(const void* p, size_t n) {
    std::memcpy(reserve(n), p, n);
    commit(n);
  }
};

// A non-blocking socket with its two queues. Reads are one recv() per wakeup (level-triggered);
// writes go out at once at the end of each batch (flush), and only what the kernel did not
// take arms a write event: no write-readiness round trip per message, as bufferevents have.
struct Sock {
  int fd = -1;
  event* rd = nullptr;
  event* wr = nullptr;
  bool wr_armed = false;
  Bytes in, out;

  void open(event_base* base, int f, event_callback_fn read_cb, event_callback_fn write_cb,
            void* arg) {
    fd = f;
    evutil_make_socket_nonblocking(fd);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    rd = event_new(base, fd, EV_READ | EV_PERSIST, read_cb, arg);
    wr = event_new(base, fd, EV_WRITE | EV_PERSIST, write_cb, arg);
  }
  void close() {
    if (fd >= 0) {
      event_free(rd);
      event_free(wr);
      ::close(fd);
      fd = -1;
    }
  }
  // Reads what is there: > 0 bytes read, 0 EOF, -1 error, -2 nothing yet.
  ssize_t fill() {
    constexpr size_t kChunk = 65536;
    ssize_t n = ::recv(fd, in.reserve(kChunk), kChunk, 0);
    if (n > 0) {
      in.commit(static_cast<size_t>(n));
      return n;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      return -2;
    }
    return n;
  }
  // Writes what is queued; false on a socket error.
  bool flush() {
    while (out.size() > 0) {
      ssize_t n = ::send(fd, out.begin(), out.size(), MSG_NOSIGNAL);  // a gone peer: EPIPE
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        if (errno != EAGAIN) {
          return false;
        }
        break;
      }
      out.consume(static_cast<size_t>(n));
    }
    const bool want = out.size() > 0;
    if (want != wr_armed) {
      want ? event_add(wr, nullptr) : event_del(wr);
      wr_armed = want;
    }
    return true;
  }
};

// The HTTP head at the front of |in| (through the blank line), or "" while incomplete.
std::string_view peek_head(Bytes& in);
// The head of the frame at the front of |in| once the whole frame is there.
WsParse whole_frame(Bytes& in, WsFrameHead* h, const char** error);

// switchyard-wsbench echo ... / load ...: the exit code.
int cmd_echo(int argc, char** argv);
int cmd_load(int argc, char** argv);

}  // namespace sy::bench::wsb
