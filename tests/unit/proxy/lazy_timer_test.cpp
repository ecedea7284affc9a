// LazyTimer on a real event_base: it fires at its deadline, a later deadline costs no
// event_add, an earlier one does, and disarm() stops it.
#include "proxy/lazy_timer.h"

#include <event2/event.h>
#include <time.h>

#include <catch.hpp>

#include <cstdint>

using sy::proxy::LazyTimer;

namespace {

uint64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
}

struct Fixture {
  event_base* base = event_base_new();
  int fired = 0;
  uint64_t fired_at = 0;
  LazyTimer timer{base, on_fire, this};
  static void on_fire(void* arg) {
    auto* f = static_cast<Fixture*>(arg);
    ++f->fired;
    f->fired_at = now_ms();
  }
  // Runs the loop until nothing is pending (the lazy timer's last wake-up included).
  void run() { event_base_dispatch(base); }
  ~Fixture() { event_base_free(base); }
};

// A one-shot event that calls |fn| after |ms|.
template <typename Fn>
void after(event_base* base, int ms, Fn* fn) {
  timeval tv{0, ms * 1000};
  event_base_once(
      base, -1, EV_TIMEOUT, [](evutil_socket_t, short, void* a) { (*static_cast<Fn*>(a))(); }, fn,
      &tv);
}

}  // namespace

TEST_CASE("LazyTimer fires once at its deadline") {
  Fixture f;
  uint64_t start = now_ms();
  f.timer.arm_ms(60);
  CHECK(f.timer.armed());
  f.run();
  CHECK(f.fired == 1);
  CHECK(f.fired_at - start >= 50);  // a coarse tick or two of slack
  CHECK_FALSE(f.timer.armed());
  CHECK(f.timer.libevent_adds() == 1);
}

TEST_CASE("LazyTimer: re-arming later costs no event_add and moves the firing") {
  Fixture f;
  uint64_t start = now_ms();
  f.timer.arm_ms(40);
  auto later = [&f] {
    // Inactivity: every bit of progress pushes the deadline; 20 ms in, now 120 ms from here.
    for (int i = 0; i < 1000; ++i) {
      f.timer.arm_ms(120);
    }
  };
  after(f.base, 20, &later);
  f.run();
  CHECK(f.fired == 1);
  CHECK(f.fired_at - start >= 130);  // 20 + 120, less a coarse tick or two
  // The first add, and one re-add for the rest when the early wake-up came: not 1,001.
  CHECK(f.timer.libevent_adds() == 2);
}

TEST_CASE("LazyTimer: an earlier deadline re-arms at once") {
  Fixture f;
  uint64_t start = now_ms();
  f.timer.arm_ms(10000);
  f.timer.arm_ms(30);
  auto stop = [&f] { event_base_loopexit(f.base, nullptr); };
  after(f.base, 1000, &stop);
  f.run();
  CHECK(f.fired == 1);
  CHECK(f.fired_at - start < 1000);
  CHECK(f.timer.libevent_adds() == 2);
}

TEST_CASE("LazyTimer: disarm stops it, the pending wake-up does nothing, arm again works") {
  Fixture f;
  f.timer.arm_ms(30);
  f.timer.disarm();
  CHECK_FALSE(f.timer.armed());
  f.run();  // the pending libevent timer fires once and finds nothing armed
  CHECK(f.fired == 0);
  f.timer.arm_ms(10);
  f.run();
  CHECK(f.fired == 1);
}

TEST_CASE("LazyTimer: destroyed with a wake-up pending, it leaves nothing behind") {
  event_base* base = event_base_new();
  auto* t = new LazyTimer(
      base, [](void*) {}, nullptr);
  t->arm_ms(10000);
  delete t;  // frees the pending libevent timer: the loop has nothing left to run
  CHECK(event_base_dispatch(base) == 1);
  event_base_free(base);
}
