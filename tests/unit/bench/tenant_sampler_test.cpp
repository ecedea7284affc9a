// bench/tenant_sampler.h: the Zipf and uniform tenant samplers and the open-loop schedule.

#include "bench/tenant_sampler.h"

#include <catch.hpp>

#include <cmath>
#include <map>
#include <set>

using namespace sy::bench;

TEST_CASE("the rank <-> id mapping is a permutation of the id range") {
  for (uint64_t n : {1u, 2u, 10u, 97u, 1000u, 1024u}) {
    TenantSampler s(100, n, 1.0);
    std::set<uint64_t> ids;
    for (uint64_t k = 1; k <= n; ++k) {
      uint64_t id = s.id_of_rank(k);
      REQUIRE(id >= 100);
      REQUIRE(id < 100 + n);
      REQUIRE(s.rank_of_id(id) == k);
      ids.insert(id);
    }
    REQUIRE(ids.size() == n);
  }
}

TEST_CASE("Zipf draws follow 1/k^s") {
  const uint64_t n = 1000;
  const int draws = 400000;
  for (double exponent : {0.8, 1.0, 1.2}) {
    TenantSampler s(1, n, exponent);
    Rng rng(11);
    std::map<uint64_t, int> by_rank;
    for (int i = 0; i < draws; ++i) {
      by_rank[s.rank_of_id(s.sample(rng))]++;
    }
    // The top ranks each get enough draws for a tight check (5 standard deviations).
    for (uint64_t k : {1u, 2u, 3u, 10u, 50u}) {
      double p = s.probability(k);
      double expected = p * draws;
      double sd = std::sqrt(draws * p * (1 - p));
      INFO("s=" << exponent << " rank " << k << " expected " << expected << " got " << by_rank[k]);
      REQUIRE(std::fabs(by_rank[k] - expected) < 5 * sd);
    }
    // The probabilities are those of the definition.
    double h = 0;
    for (uint64_t k = 1; k <= n; ++k)
      h += 1 / std::pow(static_cast<double>(k), exponent);
    REQUIRE(s.probability(1) == Approx(1 / h).epsilon(1e-9));
    REQUIRE(s.probability(7) == Approx(1 / (std::pow(7.0, exponent) * h)).epsilon(1e-9));
  }
}

TEST_CASE("uniform draws cover every tenant evenly") {
  TenantSampler s(1, 50, 0);
  Rng rng(5);
  std::map<uint64_t, int> count;
  for (int i = 0; i < 100000; ++i)
    count[s.sample(rng)]++;
  REQUIRE(count.size() == 50);
  for (const auto& [id, c] : count) {
    REQUIRE(id >= 1);
    REQUIRE(id <= 50);
    REQUIRE(std::abs(c - 2000) < 5 * std::sqrt(2000.0));
  }
}

TEST_CASE("the open-loop schedule fixes send times in advance and never skips") {
  // 1000 requests/s over 2 threads: each thread every 2 ms, the second offset by 1 ms.
  auto a = OpenLoopSchedule::make(1'000'000'000, 1000, 2, 0);
  auto b = OpenLoopSchedule::make(1'000'000'000, 1000, 2, 1);
  REQUIRE(a.due(0) == 1'000'000'000);
  REQUIRE(a.due(1) == 1'002'000'000);
  REQUIRE(b.due(0) == 1'001'000'000);
  REQUIRE(b.due(5) == 1'011'000'000);
  // Nothing is due before the start.
  REQUIRE(a.due_count(999'999'999) == 0);
  REQUIRE(a.due_count(1'000'000'000) == 1);
  REQUIRE(a.due_count(1'001'999'999) == 1);
  REQUIRE(a.due_count(1'002'000'000) == 2);
  // A client that stalled for 1 s finds 500 more requests due: it sends them all at once,
  // each keeping its own intended time (latency is measured from there).
  uint64_t before = a.due_count(1'100'000'000);
  uint64_t after = a.due_count(2'100'000'000);
  REQUIRE(after - before == 500);
  for (uint64_t i = before; i < after; ++i) {
    REQUIRE(a.due(i) <= 2'100'000'000);
    REQUIRE(a.due(i) == 1'000'000'000 + i * 2'000'000);
  }
  // Across threads the intended times interleave at the total rate.
  std::set<uint64_t> all;
  for (uint64_t i = 0; i < 100; ++i) {
    all.insert(a.due(i));
    all.insert(b.due(i));
  }
  uint64_t prev = 0;
  for (uint64_t t : all) {
    if (prev != 0)
      REQUIRE(t - prev == 1'000'000);
    prev = t;
  }
}

TEST_CASE("due_count is consistent with due at fractional periods") {
  auto s = OpenLoopSchedule::make(0, 3000, 1, 0);  // 333,333.33 ns apart
  for (uint64_t now = 0; now < 10'000'000; now += 77'777) {
    uint64_t k = s.due_count(now);
    REQUIRE(s.due(k) > now);
    if (k > 0)
      REQUIRE(s.due(k - 1) <= now);
  }
}
