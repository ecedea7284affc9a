#include "bench/tenant_sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sy::bench {

namespace {

// Modular inverse of a mod m (gcd(a, m) == 1), by the extended Euclidean algorithm.
uint64_t inverse_mod(uint64_t a, uint64_t m) {
  if (m == 1) {
    return 0;
  }
  __int128 t = 0, new_t = 1, r = m, new_r = a;
  while (new_r != 0) {
    __int128 q = r / new_r;
    __int128 tmp = t - q * new_t;
    t = new_t;
    new_t = tmp;
    tmp = r - q * new_r;
    r = new_r;
    new_r = tmp;
  }
  if (t < 0) {
    t += m;
  }
  return static_cast<uint64_t>(t);
}

}  // namespace

TenantSampler::TenantSampler(uint64_t first_id, uint64_t count, double zipf_s)
    : first_(first_id), count_(std::max<uint64_t>(count, 1)), s_(zipf_s) {
  // A stride near count * golden ratio, moved to the next value coprime to count.
  stride_ =
      std::max<uint64_t>(1, static_cast<uint64_t>(static_cast<double>(count_) * 0.6180339887));
  while (std::gcd(stride_, count_) != 1) {
    ++stride_;
  }
  stride_ %= count_;
  if (count_ == 1) {
    stride_ = 0;
  }
  stride_inverse_ = inverse_mod(stride_, count_);
  if (s_ > 0) {
    cdf_.resize(count_);
    double sum = 0;
    for (uint64_t k = 1; k <= count_; ++k) {
      sum += 1.0 / std::pow(static_cast<double>(k), s_);
      cdf_[k - 1] = sum;
    }
    for (auto& c : cdf_) {
      c /= sum;
    }
    cdf_.back() = 1.0;
  }
}

uint64_t TenantSampler::sample(Rng& rng) const {
  uint64_t rank;
  if (s_ <= 0) {
    rank = 1 + rng() % count_;
  } else {
    double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    rank = 1 + static_cast<uint64_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
    rank = std::min(rank, count_);
  }
  return id_of_rank(rank);
}

uint64_t TenantSampler::rank_of_id(uint64_t id) const {
  uint64_t offset = id - first_;
  return 1 +
         static_cast<uint64_t>((static_cast<unsigned __int128>(offset) * stride_inverse_) % count_);
}

double TenantSampler::probability(uint64_t k) const {
  if (s_ <= 0) {
    return 1.0 / static_cast<double>(count_);
  }
  return cdf_[k - 1] - (k >= 2 ? cdf_[k - 2] : 0.0);
}

}  // namespace sy::bench
