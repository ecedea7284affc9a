// Stream over real socketpairs and loopback sockets on a private event_base: the callback
// contract the connection state machine relies on (see proxy/stream.h).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <catch.hpp>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "proxy/stream.h"
#include "unit/proxy/stream_test_util.h"

using sy::proxy::Stream;

namespace {

struct Seen {
  int reads = 0;
  int writes = 0;
  short last_event = 0;
  int last_errno = 0;
  std::string data;
  bool free_on_event = false;
  Stream* stream = nullptr;
};

void on_read(Stream* s, void* arg) {
  auto* seen = static_cast<Seen*>(arg);
  ++seen->reads;
  seen->data += sy::proxy::testing::take_all(s->input());
}

void on_write(Stream*, void* arg) { ++static_cast<Seen*>(arg)->writes; }

void on_event(Stream* s, short what, void* arg) {
  auto* seen = static_cast<Seen*>(arg);
  seen->last_event = what;
  seen->last_errno = errno;
  if (seen->free_on_event) {
    delete s;
    seen->stream = nullptr;
  }
}

// Runs the loop until |done| or ~2 s pass.
template <typename F>
void run_until(event_base* base, F done) {
  for (int i = 0; i < 200 && !done(); ++i) {
    timeval tv{0, 10000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
  }
}

struct Pair {
  int a = -1, b = -1;
  Pair() {
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0);
    a = fds[0];
    b = fds[1];
  }
  ~Pair() {
    if (b >= 0)
      ::close(b);
  }
};

std::string read_all(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace

TEST_CASE("written data reaches the peer and write_cb reports the drain") {
  event_base* base = event_base_new();
  Pair p;
  Seen seen;
  auto* s = new Stream(base, p.a);
  s->set_callbacks(on_read, on_write, on_event, &seen);
  s->enable(EV_READ | EV_WRITE);
  evbuffer_add(s->output(), "hello ", 6);
  evbuffer_add(s->output(), "world", 5);  // coalesced into one flush
  run_until(base, [&] { return seen.writes > 0; });
  CHECK(seen.writes == 1);
  CHECK(evbuffer_get_length(s->output()) == 0);
  CHECK(read_all(p.b) == "hello world");
  delete s;
  event_base_free(base);
}

TEST_CASE("input arrives through read_cb; EOF is reported once and stops reading") {
  event_base* base = event_base_new();
  Pair p;
  Seen seen;
  auto* s = new Stream(base, p.a);
  s->set_callbacks(on_read, on_write, on_event, &seen);
  s->enable(EV_READ | EV_WRITE);
  REQUIRE(::write(p.b, "abc", 3) == 3);
  run_until(base, [&] { return seen.data == "abc"; });
  CHECK(seen.data == "abc");
  ::close(p.b);
  p.b = -1;
  run_until(base, [&] { return seen.last_event != 0; });
  CHECK(seen.last_event == (BEV_EVENT_EOF | BEV_EVENT_READING));
  CHECK_FALSE(s->read_enabled());
  delete s;
  event_base_free(base);
}

TEST_CASE("disabled reading delivers nothing until enabled again") {
  event_base* base = event_base_new();
  Pair p;
  Seen seen;
  auto* s = new Stream(base, p.a);
  s->set_callbacks(on_read, on_write, on_event, &seen);
  s->enable(EV_READ);
  s->disable(EV_READ);
  REQUIRE(::write(p.b, "xyz", 3) == 3);
  run_until(base, [&] { return false; });  // ~2 s of loop: nothing may be read
  CHECK(seen.reads == 0);
  s->enable(EV_READ);
  run_until(base, [&] { return seen.data == "xyz"; });
  CHECK(seen.data == "xyz");
  delete s;
  event_base_free(base);
}

TEST_CASE("a large write to a slow reader is finished through EV_WRITE") {
  event_base* base = event_base_new();
  Pair p;
  Seen seen;
  auto* s = new Stream(base, p.a);
  s->set_callbacks(on_read, on_write, on_event, &seen);
  s->enable(EV_WRITE);
  std::string big(8 * 1024 * 1024, 'q');
  evbuffer_add(s->output(), big.data(), big.size());
  std::string got;
  run_until(base, [&] {
    got += read_all(p.b);
    return got.size() == big.size();
  });
  CHECK(got.size() == big.size());
  CHECK(seen.writes >= 1);
  delete s;
  event_base_free(base);
}

TEST_CASE("read timeout fires with TIMEOUT|READING; the callback may free the stream") {
  event_base* base = event_base_new();
  Pair p;
  Seen seen;
  seen.free_on_event = true;
  auto* s = new Stream(base, p.a);
  seen.stream = s;
  timeval tv{0, 50000};
  s->set_callbacks(on_read, on_write, on_event, &seen);
  s->set_timeouts(&tv, nullptr);
  s->enable(EV_READ);
  run_until(base, [&] { return seen.stream == nullptr; });
  CHECK(seen.last_event == (BEV_EVENT_TIMEOUT | BEV_EVENT_READING));
  event_base_free(base);
}

TEST_CASE("connect reports CONNECTED, then flushes what was queued; refused is ERROR") {
  event_base* base = event_base_new();
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(lfd, 4) == 0);
  socklen_t len = sizeof addr;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);

  Seen seen;
  auto* s = new Stream(base, -1);
  s->set_callbacks(on_read, on_write, on_event, &seen);
  s->enable(EV_READ | EV_WRITE);
  evbuffer_add(s->output(), "queued", 6);
  REQUIRE(s->connect(reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  run_until(base, [&] { return seen.writes > 0; });
  CHECK(seen.last_event == BEV_EVENT_CONNECTED);
  int cfd = ::accept(lfd, nullptr, nullptr);
  REQUIRE(cfd >= 0);
  char buf[16] = {};
  CHECK(::read(cfd, buf, sizeof buf) == 6);
  CHECK(std::string(buf) == "queued");
  ::close(cfd);
  delete s;

  ::close(lfd);  // nothing listens on the port any more
  Seen refused;
  auto* r = new Stream(base, -1);
  r->set_callbacks(on_read, on_write, on_event, &refused);
  r->enable(EV_READ | EV_WRITE);
  if (r->connect(reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    run_until(base, [&] { return refused.last_event != 0; });
    CHECK(refused.last_event == BEV_EVENT_ERROR);
    CHECK(refused.last_errno == ECONNREFUSED);
  } else {
    CHECK(errno == ECONNREFUSED);
  }
  delete r;
  event_base_free(base);
}

TEST_CASE("flush_now writes before the loop runs; write_cb still follows from the loop") {
  event_base* base = event_base_new();
  Pair p;
  Seen seen;
  auto* s = new Stream(base, p.a);
  s->set_callbacks(on_read, on_write, on_event, &seen);
  s->enable(EV_READ | EV_WRITE);
  evbuffer_add(s->output(), "early", 5);
  s->flush_now();
  CHECK(evbuffer_get_length(s->output()) == 0);
  CHECK(read_all(p.b) == "early");
  CHECK(seen.writes == 0);  // no callback from inside flush_now
  run_until(base, [&] { return seen.writes > 0; });
  CHECK(seen.writes == 1);
  delete s;
  event_base_free(base);
}

TEST_CASE("an in-memory pair moves bytes both ways with the socket callbacks") {
  event_base* base = event_base_new();
  Stream* a = nullptr;
  Stream* b = nullptr;
  Stream::make_pair(base, &a, &b);
  Seen sa, sb;
  a->set_callbacks(on_read, on_write, on_event, &sa);
  b->set_callbacks(on_read, on_write, on_event, &sb);
  a->enable(EV_READ | EV_WRITE);
  b->enable(EV_READ | EV_WRITE);
  evbuffer_add(a->output(), "ping", 4);
  run_until(base, [&] { return sb.data == "ping"; });
  CHECK(sb.data == "ping");
  CHECK(sa.writes == 1);
  evbuffer_add(b->output(), "pong", 4);
  run_until(base, [&] { return sa.data == "pong"; });
  CHECK(sa.data == "pong");
  CHECK(a->fd() == -1);
  delete a;
  delete b;
  event_base_free(base);
}

TEST_CASE("an in-memory pair holds output while the reader is disabled") {
  event_base* base = event_base_new();
  Stream* a = nullptr;
  Stream* b = nullptr;
  Stream::make_pair(base, &a, &b);
  Seen sa, sb;
  a->set_callbacks(on_read, on_write, on_event, &sa);
  b->set_callbacks(on_read, on_write, on_event, &sb);
  a->enable(EV_READ | EV_WRITE);
  b->enable(EV_WRITE);  // not reading
  evbuffer_add(a->output(), "held", 4);
  run_until(base, [&] { return false; });
  CHECK(evbuffer_get_length(a->output()) == 4);  // backpressure stays with the writer
  CHECK(sb.reads == 0);
  CHECK(sa.writes == 0);
  b->enable(EV_READ);
  run_until(base, [&] { return sb.data == "held"; });
  CHECK(sb.data == "held");
  CHECK(sa.writes == 1);
  delete a;
  delete b;
  event_base_free(base);
}

TEST_CASE("an in-memory pair reports EOF after the data when a side goes away") {
  event_base* base = event_base_new();
  Stream* a = nullptr;
  Stream* b = nullptr;
  Stream::make_pair(base, &a, &b);
  Seen sa, sb;
  a->set_callbacks(on_read, on_write, on_event, &sa);
  b->set_callbacks(on_read, on_write, on_event, &sb);
  a->enable(EV_READ | EV_WRITE);
  b->enable(EV_READ | EV_WRITE);
  evbuffer_add(a->output(), "last", 4);
  run_until(base, [&] { return sb.data == "last"; });
  a->shutdown_write();
  run_until(base, [&] { return sb.last_event != 0; });
  CHECK(sb.last_event == (BEV_EVENT_EOF | BEV_EVENT_READING));
  // Writing to a side whose peer is gone is an error, as on a closed socket.
  delete a;
  sb.last_event = 0;
  evbuffer_add(b->output(), "x", 1);
  run_until(base, [&] { return sb.last_event != 0; });
  CHECK((sb.last_event & BEV_EVENT_ERROR) != 0);
  CHECK(sb.last_errno == EPIPE);
  delete b;
  event_base_free(base);
}

TEST_CASE("a pair side that holds output and is not reading hears of its peer's end") {
  // Regression (h2_fuzz): an HTTP/2 client went away while its stream's response was held by
  // flow control. The internal connection's end held the body for a peer that was not reading
  // and did not read itself, so nothing told it the peer was gone: it (and its upstream
  // exchange) stayed alive with no timer to end it.
  event_base* base = event_base_new();
  Stream* a = nullptr;
  Stream* b = nullptr;
  Stream::make_pair(base, &a, &b);
  Seen sa, sb;
  a->set_callbacks(on_read, on_write, on_event, &sa);
  b->set_callbacks(on_read, on_write, on_event, &sb);
  a->enable(EV_WRITE);  // writing, not reading
  b->enable(EV_WRITE);  // not reading either: a's output is held
  evbuffer_add(a->output(), "held body", 9);
  run_until(base, [&] { return false; });
  REQUIRE(evbuffer_get_length(a->output()) == 9);
  REQUIRE(sa.last_event == 0);
  delete b;
  run_until(base, [&] { return sa.last_event != 0; });
  CHECK((sa.last_event & BEV_EVENT_ERROR) != 0);
  CHECK(sa.last_errno == EPIPE);
  delete a;
  event_base_free(base);
}
