#include "proxy/lazy_timer.h"

#include <time.h>

namespace sy::proxy {

namespace {

// CLOCK_MONOTONIC_COARSE and its resolution (one scheduler tick: 1-4 ms).
struct CoarseClock {
  uint64_t tick_us = 4000;
  CoarseClock() {
    timespec res{};
    if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0) {
      tick_us = static_cast<uint64_t>(res.tv_sec) * 1000000u +
                static_cast<uint64_t>(res.tv_nsec + 999) / 1000u;
    }
  }
  static uint64_t now_us() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
  }
};

const CoarseClock& coarse() {
  static const CoarseClock clock;
  return clock;
}

}  // namespace

LazyTimer::LazyTimer(event_base* base, Fire fire, void* arg)
    : ev_(evtimer_new(base, on_event, this)), fire_(fire), arg_(arg) {
  coarse();  // the resolution is read once, off the hot path
}

LazyTimer::~LazyTimer() { event_free(ev_); }

void LazyTimer::arm(const timeval& after) {
  arm_us(static_cast<uint64_t>(after.tv_sec) * 1000000u + static_cast<uint64_t>(after.tv_usec));
}

void LazyTimer::arm_ms(uint64_t after_ms) { arm_us(after_ms * 1000u); }

void LazyTimer::arm_us(uint64_t after_us) {
  uint64_t now = CoarseClock::now_us();
  uint64_t deadline = now + after_us;
  deadline_us_ = deadline;
  if (pending_us_ != 0 && pending_us_ <= deadline) {
    return;  // fires first and re-arms for the rest
  }
  add(now, deadline);
}

void LazyTimer::add(uint64_t now_us, uint64_t deadline_us) {
  uint64_t in = deadline_us > now_us ? deadline_us - now_us : 0;
  timeval tv{static_cast<time_t>(in / 1000000u), static_cast<suseconds_t>(in % 1000000u)};
  event_add(ev_, &tv);
  pending_us_ = deadline_us;
  ++adds_;
}

void LazyTimer::on_event(evutil_socket_t, short, void* arg) {
  auto* t = static_cast<LazyTimer*>(arg);
  t->pending_us_ = 0;
  if (t->deadline_us_ == 0) {
    return;  // disarmed meanwhile
  }
  uint64_t now = CoarseClock::now_us();
  // The coarse clock lags by up to a tick: within a tick of the deadline counts as reached
  // (else a timer set for exactly this deadline would wake a second time for a few ms).
  if (now + coarse().tick_us < t->deadline_us_) {
    t->add(now, t->deadline_us_);  // re-armed later meanwhile: wait for the rest
    return;
  }
  t->deadline_us_ = 0;
  t->fire_(t->arg_);
}

}  // namespace sy::proxy
