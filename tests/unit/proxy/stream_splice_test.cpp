// Stream::splice, the tunnel fast path (proxy/stream.h, "Splice"), over real socketpairs on a
// private event_base: client end <-> [A] ... [B] <-> member end, the test holding both ends.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
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
  short last_event = 0;
  std::string data;  // what read_cb took from the input
};

void on_read(Stream* s, void* arg) {
  auto* seen = static_cast<Seen*>(arg);
  ++seen->reads;
  seen->data += sy::proxy::testing::take_all(s->input());
}

void on_write(Stream*, void*) {}

void on_event(Stream*, short what, void* arg) { static_cast<Seen*>(arg)->last_event = what; }

// Runs the loop until |done| or |rounds| x 10 ms pass.
template <typename F>
void run_until(event_base* base, F done, int rounds = 500) {
  for (int i = 0; i < rounds && !done(); ++i) {
    timeval tv{0, 10000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
  }
}

// Appends what |fd| has now (non-blocking) to |out|.
void drain_into(int fd, std::string* out) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      return;
    }
    out->append(buf, static_cast<size_t>(n));
  }
}

// Writes as much of |msg| from |*off| as |fd| takes now.
void pump(int fd, const std::string& msg, size_t* off) {
  while (*off < msg.size()) {
    ssize_t n = ::send(fd, msg.data() + *off, msg.size() - *off, MSG_NOSIGNAL);
    if (n <= 0) {
      return;
    }
    *off += static_cast<size_t>(n);
  }
}

struct Tunnel {
  static constexpr size_t kHigh = 64 * 1024;
  event_base* base = event_base_new();
  int client = -1, member = -1;  // the test's ends
  Stream* a = nullptr;           // the proxy's client side
  Stream* b = nullptr;           // the proxy's member side
  Seen seen_a, seen_b;
  uint64_t a_to_b = 0, b_to_a = 0;

  Tunnel() {
    int c[2], m[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, c) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, m) == 0);
    client = c[0];
    member = m[0];
    a = new Stream(base, c[1]);
    b = new Stream(base, m[1]);
    a->set_callbacks(on_read, on_write, on_event, &seen_a);
    b->set_callbacks(on_read, on_write, on_event, &seen_b);
    a->set_write_low_water(kHigh / 2);
    b->set_write_low_water(kHigh / 2);
    a->enable(EV_READ | EV_WRITE);
    b->enable(EV_READ | EV_WRITE);
    REQUIRE(Stream::splice(a, b, &a_to_b, &b_to_a, kHigh));
  }
  ~Tunnel() {
    delete a;
    delete b;
    ::close(client);
    ::close(member);
    event_base_free(base);
  }
};

std::string pattern(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 2463534242u;
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

}  // namespace

TEST_CASE("spliced streams relay both ways without read_cb, and count the bytes") {
  Tunnel t;
  REQUIRE(::send(t.client, "ping", 4, 0) == 4);
  std::string at_member;
  run_until(t.base, [&] {
    drain_into(t.member, &at_member);
    return at_member.size() >= 4;
  });
  CHECK(at_member == "ping");
  REQUIRE(::send(t.member, "pong!", 5, 0) == 5);
  std::string at_client;
  run_until(t.base, [&] {
    drain_into(t.client, &at_client);
    return at_client.size() >= 5;
  });
  CHECK(at_client == "pong!");
  CHECK(t.a_to_b == 4);
  CHECK(t.b_to_a == 5);
  CHECK(t.seen_a.reads == 0);  // no input evbuffer hop: the owner hears nothing
  CHECK(t.seen_b.reads == 0);
  CHECK(evbuffer_get_length(t.a->output()) == 0);
  CHECK(evbuffer_get_length(t.b->output()) == 0);
}

TEST_CASE("a member that takes nothing stops the client side's reading; it resumes, bytes exact") {
  Tunnel t;
  const std::string msg = pattern(8 * 1024 * 1024);  // far more than every buffer on the way
  size_t off = 0;
  // Nobody reads the member's end: the relay fills its socket, then B's output.
  run_until(t.base, [&] {
    pump(t.client, msg, &off);
    return !t.a->read_enabled() && evbuffer_get_length(t.b->output()) >= Tunnel::kHigh;
  });
  REQUIRE_FALSE(t.a->read_enabled());
  // Bounded: the high-water mark plus at most one read past it.
  CHECK(evbuffer_get_length(t.b->output()) < Tunnel::kHigh + 64 * 1024);
  const size_t stalled_at = off;
  run_until(
      t.base,
      [&] {
        pump(t.client, msg, &off);
        return false;  // ~1 s of loop: A must stay stopped, so the client's sends stall
      },
      100);
  CHECK(off == stalled_at);
  CHECK_FALSE(t.a->read_enabled());
  CHECK(evbuffer_get_length(t.b->output()) < Tunnel::kHigh + 64 * 1024);
  // The member reads again: everything arrives, in order, byte-exact.
  std::string got;
  run_until(t.base, [&] {
    pump(t.client, msg, &off);
    drain_into(t.member, &got);
    return got.size() >= msg.size();
  });
  CHECK(off == msg.size());
  CHECK(got.size() == msg.size());
  CHECK(got == msg);
  CHECK(t.a_to_b == msg.size());
  CHECK(t.a->read_enabled());
  CHECK(t.seen_a.reads == 0);
}

TEST_CASE("a large message relayed both ways at once arrives byte-exact") {
  Tunnel t;
  const std::string up = pattern(3 * 1024 * 1024 + 17);
  const std::string down = pattern(2 * 1024 * 1024 + 5).substr(3);
  size_t up_off = 0, down_off = 0;
  std::string at_member, at_client;
  run_until(t.base, [&] {
    pump(t.client, up, &up_off);
    pump(t.member, down, &down_off);
    drain_into(t.member, &at_member);
    drain_into(t.client, &at_client);
    return at_member.size() >= up.size() && at_client.size() >= down.size();
  });
  CHECK(at_member == up);
  CHECK(at_client == down);
  CHECK(t.a_to_b == up.size());
  CHECK(t.b_to_a == down.size());
}

namespace {

// |closer| sends "last words" and its FIN; the Stream on its side reports EOF after relaying them,
// and the other way (|other| -> |closer|) still flows.
void half_close(Tunnel& t, int closer, int other, const Seen& closing, const Seen& open) {
  REQUIRE(::send(closer, "last words", 10, 0) == 10);
  REQUIRE(::shutdown(closer, SHUT_WR) == 0);
  std::string got;
  run_until(t.base, [&] {
    drain_into(other, &got);
    return closing.last_event != 0 && got.size() >= 10;
  });
  CHECK(got == "last words");  // the bytes before the FIN went first
  CHECK(closing.last_event == (BEV_EVENT_EOF | BEV_EVENT_READING));
  CHECK(open.last_event == 0);
  REQUIRE(::send(other, "reply", 5, 0) == 5);
  std::string back;
  run_until(t.base, [&] {
    drain_into(closer, &back);
    return back.size() >= 5;
  });
  CHECK(back == "reply");
}

}  // namespace

TEST_CASE("half-close: the client's FIN after its bytes is EOF on A; the other way flows") {
  Tunnel t;
  half_close(t, t.client, t.member, t.seen_a, t.seen_b);
}

TEST_CASE("half-close: the member's FIN after its bytes is EOF on B; the other way flows") {
  Tunnel t;
  half_close(t, t.member, t.client, t.seen_b, t.seen_a);
}

TEST_CASE("bytes already in the input go the owner's way first; a destroyed peer unsplices") {
  event_base* base = event_base_new();
  int c[2], m[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, c) == 0);
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, m) == 0);
  Seen seen_a, seen_b;
  auto* a = new Stream(base, c[1]);
  auto* b = new Stream(base, m[1]);
  a->set_callbacks(on_read, on_write, on_event, &seen_a);
  b->set_callbacks(on_read, on_write, on_event, &seen_b);
  a->enable(EV_WRITE);
  b->enable(EV_READ | EV_WRITE);
  evbuffer_add(a->input(), "early", 5);  // as if read before the 101
  uint64_t ab = 0, ba = 0;
  REQUIRE(Stream::splice(a, b, &ab, &ba, 64 * 1024));
  CHECK_FALSE(Stream::splice(a, b, &ab, &ba, 64 * 1024));  // once
  REQUIRE(::send(c[0], "later", 5, 0) == 5);
  a->enable(EV_READ);
  run_until(base, [&] { return seen_a.data.size() >= 10; });
  CHECK(seen_a.data == "earlylater");  // the ordinary path while the input was not empty
  CHECK(ab == 0);
  delete b;  // a reads the ordinary way again
  REQUIRE(::send(c[0], "alone", 5, 0) == 5);
  run_until(base, [&] { return seen_a.data.size() >= 15; });
  CHECK(seen_a.data == "earlylateralone");
  CHECK(ab == 0);
  delete a;
  ::close(c[0]);
  ::close(m[0]);
  event_base_free(base);
}

TEST_CASE("splice refuses in-memory streams and a missing peer") {
  event_base* base = event_base_new();
  Stream *x = nullptr, *y = nullptr;
  Stream::make_pair(base, &x, &y);
  uint64_t n1 = 0, n2 = 0;
  CHECK_FALSE(Stream::splice(x, y, &n1, &n2, 1024));
  CHECK_FALSE(Stream::splice(x, nullptr, &n1, &n2, 1024));
  CHECK_FALSE(x->spliced());
  delete x;
  delete y;
  event_base_free(base);
}
