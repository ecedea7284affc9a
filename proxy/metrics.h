#pragma once
// Per-worker metrics for the HTTP admin listener's /metrics (docs/metrics.md), beside the
// per-worker counters of stats.h that `show stats` reads. They exist only when the listener is
// configured (admin.http): a worker without them does not count, so `bench/compare` can measure
// what they cost. Like WorkerStats, every value has one writer, its worker thread (an update is
// a relaxed load + store, no locked instruction); the scrape (any thread) sums the workers.
//
//   per listener   requests, responses by class, bytes in/out, connections now, TLS handshakes
//                  by outcome, request latency histogram
//   per pool       upstream latency histogram (request sent -> response head)
//   per member     requests, responses by class, upstream errors
//   worker-wide    hold time histogram

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "conf/config.h"

namespace sy::proxy {

// Histogram bucket upper bounds in microseconds (Prometheus `le`, in seconds: 0.0005 .. 10).
inline constexpr std::array<uint64_t, 14> kLatencyBoundsUs = {
    500,    1000,   2500,   5000,    10000,   25000,   50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
inline constexpr size_t kLatencyBuckets = kLatencyBoundsUs.size() + 1;  // the last: +Inf

// One writer; buckets are not cumulative here (the scrape accumulates them).
class Histogram {
 public:
  // Worker thread only.
  void observe_us(uint64_t us) {
    size_t i = 0;
    while (i < kLatencyBoundsUs.size() && us > kLatencyBoundsUs[i]) {
      ++i;
    }
    bump(counts_[i], 1);
    bump(sum_us_, us);
  }
  // Any thread.
  uint64_t count_in(size_t bucket) const { return counts_[bucket].load(std::memory_order_relaxed); }
  uint64_t sum_us() const { return sum_us_.load(std::memory_order_relaxed); }

 private:
  static void bump(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::array<std::atomic<uint64_t>, kLatencyBuckets> counts_{};
  std::atomic<uint64_t> sum_us_{0};
};

// A single-writer counter (relaxed load + store).
class Counter {
 public:
  void add(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Response classes 1xx..5xx; slot = status / 100 - 1 (clamped).
inline constexpr size_t kStatusClasses = 5;
inline size_t status_class(int status) {
  int c = status / 100 - 1;
  return c < 0 ? 0 : (c > 4 ? 4 : static_cast<size_t>(c));
}

// How a client TLS handshake ended.
enum class TlsOutcome : uint8_t {
  Ok,        // completed
  Timeout,   // not done within tls.handshake_timeout
  Protocol,  // OpenSSL refused it (bad record, no shared cipher, unknown SNI, ...)
  Closed,    // the client closed or reset the connection mid-handshake
  Aborted,   // the proxy closed it mid-handshake (drain)
  kCount
};
inline constexpr size_t kTlsOutcomes = static_cast<size_t>(TlsOutcome::kCount);
const char* tls_outcome_name(TlsOutcome o);

struct ListenerMetrics {
  Counter requests;
  std::array<Counter, kStatusClasses> responses;
  Counter bytes_in;     // request bytes from clients (head and body)
  Counter bytes_out;    // response bytes to clients
  Counter connections;  // gauge: client connections open now
  std::array<Counter, kTlsOutcomes> tls;
  Histogram latency;  // first byte of the request -> exchange logged
};

struct MemberMetrics {
  Counter requests;  // exchanges that ended on this member
  std::array<Counter, kStatusClasses> responses;
  Counter errors;  // failed connects (each attempt), timeouts, resets, bad responses
};

struct PoolMetrics {
  Histogram upstream_latency;                // request sent -> response head from the member
  std::unique_ptr<MemberMetrics[]> members;  // the YAML members at start (metrics_slot)
  size_t member_count = 0;                   // of |members|
};

class WorkerMetrics {
 public:
  // Sized after |config| (listeners, pools, members), which must outlive it. Main thread.
  explicit WorkerMetrics(const conf::Config& config);

  // Any thread reads, the worker writes. |i| indexes config.listeners.
  ListenerMetrics& listener(size_t i) { return listeners_[i]; }
  const ListenerMetrics& listener(size_t i) const { return listeners_[i]; }
  // |i| is a pool's registry slot (PoolState::index; below kMaxPools).
  PoolMetrics& pool(size_t i) { return pools_[i]; }
  const PoolMetrics& pool(size_t i) const { return pools_[i]; }
  // Member |slot| of pool |i| (MemberState::metrics_slot: its YAML member at start); nullptr
  // for a member added at runtime (no per-member series; the pool's series count it).
  MemberMetrics* member(size_t i, int slot) {
    if (slot < 0 || static_cast<size_t>(slot) >= pools_[i].member_count) {
      return nullptr;
    }
    return &pools_[i].members[static_cast<size_t>(slot)];
  }
  Histogram& hold_time() { return hold_time_; }  // parked -> released, answered or gone
  const Histogram& hold_time() const { return hold_time_; }

 private:
  std::unique_ptr<ListenerMetrics[]> listeners_;
  std::unique_ptr<PoolMetrics[]> pools_;
  Histogram hold_time_;
};

}  // namespace sy::proxy
