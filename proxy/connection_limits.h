#pragma once
// How many client connections the process takes at once, so that it never runs out of file
// descriptors (issue 17 item 3; HAProxy's maxconn).
//
//   RLIMIT_NOFILE (soft raised to hard at start)
//   ├── reserved: what is open at start + per worker + admin connections + database sessions
//   └── the rest, halved: one half for client connections (the automatic max_connections),
//       the other for their upstream connections (one per exchange, plus idle ones)
//
// limits.max_connections (all listeners) and listeners[].max_connections lower the cap. A
// worker whose listener is at its cap stops accepting (the connections wait in the kernel's
// backlog) and looks again on a timer with backoff, or at once when one of its own
// connections closes. The counters are shared by all workers: each accepted connection holds
// a ConnectionSlot that gives its place back when destroyed. Two workers accepting at the same
// moment can overshoot a cap by at most workers - 1.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"

namespace sy::proxy {

// What the process may open, decided once at start (main thread).
struct DescriptorBudget {
  uint64_t soft_before = 0;  // RLIMIT_NOFILE soft limit found at start
  uint64_t limit = 0;        // the soft limit now (raised to the hard limit when possible)
  uint64_t reserved = 0;     // descriptors kept for everything but client and upstream sockets
  int automatic = 0;         // max client connections the limit allows: (limit - reserved) / 2
};

// Raises the soft RLIMIT_NOFILE to the hard limit and computes the budget for |config| with
// |workers| worker threads. Call after the listeners are bound and the access log is open
// (what is open then is counted as reserved). Main thread.
DescriptorBudget raise_descriptor_limit(const conf::Config& config, int workers);

// Shared by all workers; immutable caps, atomic counts.
class ConnectionLimits {
 public:
  // |max_total| > 0; |listener_caps[i]| is listeners[i].max_connections (0 = none).
  ConnectionLimits(int max_total, const std::vector<int>& listener_caps);

  // Counts one accepted connection of listener |index|. Any thread.
  void acquire(size_t index);
  void release(size_t index);
  // Whether listener |index| may accept another connection now. Any thread.
  bool has_room(size_t index) const;
  int total() const { return total_.load(std::memory_order_relaxed); }
  int max_total() const { return max_total_; }
  int listener_cap(size_t index) const { return listeners_[index].max; }

 private:
  struct PerListener {
    std::atomic<int> count{0};
    int max = 0;  // 0 = no cap of its own
  };
  std::atomic<int> total_{0};
  int max_total_;
  std::unique_ptr<PerListener[]> listeners_;
};

// An accepted client connection's place in ConnectionLimits, given back on destruction.
// Move-only; moved from the HTTP/1.1 connection to its HTTP/2 session on hand-over.
class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(ConnectionLimits* limits, size_t index) : limits_(limits), index_(index) {
    if (limits_ != nullptr) {
      limits_->acquire(index_);
    }
  }
  ConnectionSlot(ConnectionSlot&& o) noexcept : limits_(o.limits_), index_(o.index_) {
    o.limits_ = nullptr;
  }
  ConnectionSlot& operator=(ConnectionSlot&& o) noexcept {
    if (this != &o) {
      reset();
      limits_ = o.limits_;
      index_ = o.index_;
      o.limits_ = nullptr;
    }
    return *this;
  }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ~ConnectionSlot() { reset(); }
  void reset() {
    if (limits_ != nullptr) {
      limits_->release(index_);
      limits_ = nullptr;
    }
  }

 private:
  ConnectionLimits* limits_ = nullptr;
  size_t index_ = 0;
};

}  // namespace sy::proxy
