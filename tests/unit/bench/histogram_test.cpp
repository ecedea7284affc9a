// bench/histogram.h: bucket layout, percentiles against a sorted reference, merging.

#include "bench/histogram.h"

#include <catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using sy::bench::LatencyHistogram;

namespace {

// The exact percentile of |sorted| by the same rank rule as LatencyHistogram::percentile().
uint64_t reference(const std::vector<uint64_t>& sorted, double p) {
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

}  // namespace

TEST_CASE("bucket indexes are contiguous, monotonic and bound every value") {
  size_t prev = 0;
  for (uint64_t v = 0; v < (uint64_t{1} << 20); v += 1 + v / 300) {
    size_t i = LatencyHistogram::index_of(v);
    REQUIRE(i >= prev);
    REQUIRE(i <= prev + 1);
    REQUIRE(LatencyHistogram::bucket_low(i) <= v);
    REQUIRE(LatencyHistogram::bucket_high(i) >= v);
    prev = i;
  }
  for (size_t i = 0; i + 1 < LatencyHistogram::bucket_count(); ++i) {
    REQUIRE(LatencyHistogram::bucket_high(i) + 1 == LatencyHistogram::bucket_low(i + 1));
  }
}

TEST_CASE("a bucket is at most 1/128 of its values wide") {
  for (size_t i = 256; i < LatencyHistogram::bucket_count(); ++i) {
    double width =
        static_cast<double>(LatencyHistogram::bucket_high(i) - LatencyHistogram::bucket_low(i) + 1);
    REQUIRE(width / static_cast<double>(LatencyHistogram::bucket_low(i)) <= 1.0 / 128 + 1e-12);
  }
}

TEST_CASE("percentiles agree with a sorted reference within the bucket precision") {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(13.0, 1.2);  // ~0.4 ms median, long tail, in ns
  std::vector<uint64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 200000; ++i) {
    auto v = static_cast<uint64_t>(dist(rng));
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  REQUIRE(h.count() == values.size());
  REQUIRE(h.min() == values.front());
  REQUIRE(h.max() == values.back());
  for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    uint64_t want = reference(values, p);
    uint64_t got = h.percentile(p);
    INFO("p" << p << " want " << want << " got " << got);
    REQUIRE(got >= want);  // the highest value of the bucket holding the reference value
    REQUIRE(static_cast<double>(got - want) <= static_cast<double>(want) / 128.0 + 1);
  }
}

TEST_CASE("small values are exact") {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100; ++v)
    h.record(v);
  REQUIRE(h.percentile(50) == 50);
  REQUIRE(h.percentile(99) == 99);
  REQUIRE(h.percentile(100) == 100);
}

TEST_CASE("merging per-thread histograms equals recording into one") {
  std::mt19937_64 rng(3);
  std::exponential_distribution<double> dist(1.0 / 2e6);
  LatencyHistogram a, b, all;
  for (int i = 0; i < 50000; ++i) {
    auto v = static_cast<uint64_t>(dist(rng));
    (i % 3 == 0 ? a : b).record(v);
    all.record(v);
  }
  LatencyHistogram merged;
  merged.merge(a);
  merged.merge(b);
  REQUIRE(merged.count() == all.count());
  REQUIRE(merged.min() == all.min());
  REQUIRE(merged.max() == all.max());
  REQUIRE(merged.to_json() == all.to_json());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    REQUIRE(merged.percentile(p) == all.percentile(p));
  }
}

TEST_CASE("an empty histogram reports zeros and values past the range are clamped") {
  LatencyHistogram h;
  REQUIRE(h.percentile(99) == 0);
  REQUIRE(h.max() == 0);
  REQUIRE(h.to_json() == "{\"unit\":\"ns\",\"sub_bits\":8,\"min\":0,\"max\":0,\"counts\":[]}");
  h.record(UINT64_MAX);
  REQUIRE(h.count() == 1);
  REQUIRE(LatencyHistogram::index_of(UINT64_MAX) == LatencyHistogram::bucket_count() - 1);
}
