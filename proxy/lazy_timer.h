#pragma once
// LazyTimer: a timeout that is re-armed far more often than it fires (an inactivity or
// per-request timeout). A proxied HTTP/1.1 request used to re-arm its timers six times, each
// an event_add into libevent's timer heap (~11% of the worker's instructions, callgrind). Like
// nginx's and HAProxy's timers, this one only records the new deadline when the pending
// libevent timer fires no later than it: the timer then fires early, finds the deadline not yet
// reached and re-arms itself for the rest. Only a deadline earlier than the pending one (a
// shorter timeout after a longer one) costs an event_add. disarm() is lazy too: the pending
// timer fires once, finds nothing armed and does nothing.
//
// Deadlines are kept on CLOCK_MONOTONIC_COARSE (a few ns to read, one scheduler tick of
// resolution, 1-4 ms): a timeout fires within a tick or two of its deadline, noise next to the
// timeouts one configures (100 ms and up). Worker-thread only, like the event_base.

#include <event2/event.h>
#include <sys/time.h>

#include <cstdint>

namespace sy::proxy {

class LazyTimer {
 public:
  using Fire = void (*)(void* arg);

  // |fire| runs on |base|'s thread when an armed deadline passes; it may destroy the owner.
  LazyTimer(event_base* base, Fire fire, void* arg);
  ~LazyTimer();
  LazyTimer(const LazyTimer&) = delete;
  LazyTimer& operator=(const LazyTimer&) = delete;

  // Fires |after| from now (replacing any earlier or later deadline).
  void arm(const timeval& after);
  void arm_ms(uint64_t after_ms);
  // Nothing fires until the next arm().
  void disarm() { deadline_us_ = 0; }
  bool armed() const { return deadline_us_ != 0; }

  // How many times this timer called event_add (tests: proof of the laziness).
  uint64_t libevent_adds() const { return adds_; }

 private:
  static void on_event(evutil_socket_t fd, short what, void* arg);
  void arm_us(uint64_t after_us);
  void add(uint64_t now_us, uint64_t deadline_us);

  event* ev_;
  Fire fire_;
  void* arg_;
  uint64_t deadline_us_ = 0;  // when to fire; 0 = not armed
  uint64_t pending_us_ = 0;   // when ev_ fires; 0 = ev_ not pending
  uint64_t adds_ = 0;
};

}  // namespace sy::proxy
