#pragma once
// LatencyHistogram: a compact HDR-style log-linear histogram of durations in nanoseconds.
//
// Values below 2^kSubBits are counted exactly; above, every power of two is split into
// kHalf = 2^(kSubBits-1) equal sub-buckets, so a recorded value is known to within
// 1/kHalf = 0.8% of itself (HdrHistogram with ~2 significant digits). The index is
//
//   v < 2^kSubBits:  index = v
//   else:            s = msb(v) - kSubBits + 1, m = v >> s  (m in [kHalf, 2*kHalf))
//                    index = s * kHalf + m
//
// which is contiguous and monotonic in v. Two histograms merge by adding counts, so per-thread,
// per-second and per-run histograms combine without loss (the generator records one per
// thread per second; the runner merges the seconds of a window).
//
// Serialised (to_json) as {"unit":"ns","sub_bits":8,"counts":[[index,count],...]} with only
// non-zero buckets; bench/report.py decodes the same format (its bucket_bounds() must agree
// with bucket_high() below; tests/integration/test_bench_harness.py checks they do).
//
// Thread: one writer; merge/read when the writer is done. Not thread-safe.

#include <cstdint>
#include <string>
#include <vector>

namespace sy::bench {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 8;
  static constexpr uint64_t kHalf = uint64_t{1} << (kSubBits - 1);
  static constexpr int kMaxBits = 46;  // values are clamped below 2^46 ns (~19.5 hours)

  LatencyHistogram();

  void record(uint64_t value_ns) { record_n(value_ns, 1); }
  void record_n(uint64_t value_ns, uint64_t n);
  // Adds every count of |other| (same layout by construction).
  void merge(const LatencyHistogram& other);
  void reset();

  uint64_t count() const { return total_; }
  uint64_t min() const { return total_ ? min_ : 0; }  // exact, ns
  uint64_t max() const { return max_; }               // exact, ns
  double mean() const;                                // from bucket midpoints, ns
  // The value at percentile |p| (0..100): the highest value equivalent to the bucket holding
  // the ceil(p/100 * count)-th smallest recording, capped at max(). 0 when empty.
  uint64_t percentile(double p) const;

  static size_t index_of(uint64_t value_ns);
  static uint64_t bucket_low(size_t index);
  static uint64_t bucket_high(size_t index);  // inclusive
  static size_t bucket_count();

  // {"unit":"ns","sub_bits":8,"min":..,"max":..,"counts":[[i,c],...]}
  std::string to_json() const;

 private:
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace sy::bench
