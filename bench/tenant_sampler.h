#pragma once
// TenantSampler: picks the tenant of the next request, uniform or Zipf-distributed over
// |count| tenants with ids first_id .. first_id + count - 1.
//
// Zipf(s): rank k (1-based) has probability (1/k^s) / H(N,s). The cumulative table is built
// once (8 bytes per tenant) and shared read-only by every thread; a draw is one uniform double
// and a binary search. Ranks are spread over the id range by a stride coprime to |count|
// (rank k -> id first_id + ((k-1) * stride mod count)), so hot tenants are not all in the first
// schema when schemas hold contiguous id ranges. rank_of_id() inverts that for tests.
//
// Thread: build on one thread; sample() from any thread with its own Rng (const object).

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

namespace sy::bench {

using Rng = std::mt19937_64;

class TenantSampler {
 public:
  // |zipf_s| <= 0 means uniform. |count| >= 1.
  TenantSampler(uint64_t first_id, uint64_t count, double zipf_s);

  uint64_t sample(Rng& rng) const;
  // The 1-based popularity rank of |id| (1 = most requested under Zipf).
  uint64_t rank_of_id(uint64_t id) const;
  uint64_t id_of_rank(uint64_t rank) const { return first_ + ((rank - 1) * stride_) % count_; }
  // Probability of rank |k| (1-based) under this distribution.
  double probability(uint64_t k) const;
  uint64_t count() const { return count_; }

 private:
  uint64_t first_;
  uint64_t count_;
  double s_;
  uint64_t stride_;
  uint64_t stride_inverse_;  // stride * inverse = 1 (mod count)
  std::vector<double> cdf_;  // Zipf only: cdf_[k-1] = P(rank <= k)
};

// Open-loop schedule: the intended send time of each request, fixed in advance so that a
// stalled server cannot slow the client down and hide its own latency (coordinated omission).
// Request i of a thread running at |rate| requests/s, starting at |start_ns|, is due at
// start_ns + phase + i * period; threads get different phases so their sends interleave.
// Latency is measured from this intended time, not from when the request was really written.
struct OpenLoopSchedule {
  uint64_t start_ns = 0;
  double period_ns = 0;  // 1e9 / rate of this thread
  double phase_ns = 0;   // offset of this thread's first request

  static OpenLoopSchedule make(uint64_t start_ns, double total_rate, int threads, int thread) {
    OpenLoopSchedule s;
    double per_thread = total_rate / threads;
    s.start_ns = start_ns;
    s.period_ns = 1e9 / per_thread;
    s.phase_ns = s.period_ns * thread / threads;
    return s;
  }
  uint64_t due(uint64_t i) const {
    return start_ns + static_cast<uint64_t>(phase_ns + static_cast<double>(i) * period_ns);
  }
  // How many requests are due at or before |now_ns| (the next index to send while behind).
  uint64_t due_count(uint64_t now_ns) const {
    if (now_ns < start_ns + static_cast<uint64_t>(phase_ns)) {
      return 0;
    }
    double n = (static_cast<double>(now_ns - start_ns) - phase_ns) / period_ns;
    auto k = static_cast<uint64_t>(n) + 1;
    while (k > 0 && due(k - 1) > now_ns) {  // guard against rounding at the boundary
      --k;
    }
    while (due(k) <= now_ns) {
      ++k;
    }
    return k;
  }
};

}  // namespace sy::bench
