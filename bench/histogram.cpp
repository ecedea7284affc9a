#include "bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace sy::bench {

namespace {
constexpr uint64_t kClamp = (uint64_t{1} << LatencyHistogram::kMaxBits) - 1;
}

size_t LatencyHistogram::bucket_count() { return index_of(kClamp) + 1; }

LatencyHistogram::LatencyHistogram() : counts_(bucket_count(), 0) {}

size_t LatencyHistogram::index_of(uint64_t v) {
  v = std::min(v, kClamp);
  if (v < (uint64_t{1} << kSubBits)) {
    return static_cast<size_t>(v);
  }
  int msb = 63 - std::countl_zero(v);
  int s = msb - kSubBits + 1;
  return static_cast<size_t>(s) * kHalf + (v >> s);
}

uint64_t LatencyHistogram::bucket_low(size_t index) {
  if (index < (uint64_t{1} << kSubBits)) {
    return index;
  }
  uint64_t s = index / kHalf - 1;
  uint64_t m = index - s * kHalf;
  return m << s;
}

uint64_t LatencyHistogram::bucket_high(size_t index) {
  if (index < (uint64_t{1} << kSubBits)) {
    return index;
  }
  uint64_t s = index / kHalf - 1;
  uint64_t m = index - s * kHalf;
  return ((m + 1) << s) - 1;
}

void LatencyHistogram::record_n(uint64_t v, uint64_t n) {
  if (n == 0) {
    return;
  }
  counts_[index_of(v)] += n;
  total_ += n;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.total_ == 0) {
    return;
  }
  for (size_t i = 0; i < counts_.size(); ++i) {
    counts_[i] += other.counts_[i];
  }
  total_ += other.total_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
}

double LatencyHistogram::mean() const {
  if (total_ == 0) {
    return 0;
  }
  double sum = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] != 0) {
      sum += static_cast<double>(counts_[i]) *
             (static_cast<double>(bucket_low(i)) + static_cast<double>(bucket_high(i))) / 2;
    }
  }
  return sum / static_cast<double>(total_);
}

uint64_t LatencyHistogram::percentile(double p) const {
  if (total_ == 0) {
    return 0;
  }
  p = std::clamp(p, 0.0, 100.0);
  auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total_)));
  rank = std::clamp<uint64_t>(rank, 1, total_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      return std::min(bucket_high(i), max_);
    }
  }
  return max_;
}

std::string LatencyHistogram::to_json() const {
  std::string out = "{\"unit\":\"ns\",\"sub_bits\":" + std::to_string(kSubBits) +
                    ",\"min\":" + std::to_string(min()) + ",\"max\":" + std::to_string(max_) +
                    ",\"counts\":[";
  bool first = true;
  for (size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) {
      continue;
    }
    if (!first) {
      out += ',';
    }
    first = false;
    out += '[' + std::to_string(i) + ',' + std::to_string(counts_[i]) + ']';
  }
  out += "]}";
  return out;
}

}  // namespace sy::bench
