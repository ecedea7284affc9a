#include "proxy/hold_queue.h"

#include <catch.hpp>

using sy::proxy::HoldLimits;
using sy::proxy::HoldQueue;

namespace {
int a, b, c, d;  // identities
}

TEST_CASE("park refuses past each bound and changes nothing then") {
  HoldQueue q(HoldLimits{2, 100, 1000});
  CHECK(q.park(&a, 1, 40, 0));
  CHECK_FALSE(q.park(&a, 1, 1, 0));  // already parked
  CHECK_FALSE(q.park(&b, 1, 61, 0));  // bytes bound: 40 + 61 > 100
  CHECK(q.park(&b, 2, 60, 0));
  CHECK_FALSE(q.park(&c, 1, 0, 0));  // count bound
  CHECK(q.size() == 2);
  CHECK(q.bytes() == 100);
  HoldQueue off(HoldLimits{0, 100, 1000});
  CHECK_FALSE(off.park(&a, 1, 0, 0));
}

TEST_CASE("release hands back only entries whose schema is no longer held, in order") {
  HoldQueue q(HoldLimits{10, 1000, 1000});
  REQUIRE(q.park(&a, 3, 1, 10));
  REQUIRE(q.park(&b, 7, 1, 11));
  REQUIRE(q.park(&c, 3, 1, 12));
  CHECK(q.held_for(3) == 2);
  std::vector<HoldQueue::Key> out;
  q.release([](uint32_t s) { return s != 3; }, &out);
  REQUIRE(out.size() == 2);
  CHECK(out[0] == &a);
  CHECK(out[1] == &c);
  CHECK(q.size() == 1);
  CHECK(q.held_for(3) == 0);
  CHECK(q.held_for(7) == 1);
  CHECK(q.bytes() == 1);
}

TEST_CASE("expire hands back entries at their deadline, oldest first") {
  HoldQueue q(HoldLimits{10, 1000, 100});
  REQUIRE(q.park(&a, 1, 5, 0));
  REQUIRE(q.park(&b, 1, 5, 50));
  CHECK(q.next_deadline_ms() == 100);
  std::vector<HoldQueue::Key> out;
  q.expire(99, &out);
  CHECK(out.empty());
  q.expire(100, &out);
  REQUIRE(out.size() == 1);
  CHECK(out[0] == &a);
  CHECK(q.next_deadline_ms() == 150);
  out.clear();
  q.expire(1000, &out);
  CHECK(out.size() == 1);
  CHECK(q.size() == 0);
  CHECK(q.next_deadline_ms() == 0);
  CHECK(q.bytes() == 0);
}

TEST_CASE("remove forgets a parked request and frees its bytes") {
  HoldQueue q(HoldLimits{10, 1000, 100});
  REQUIRE(q.park(&a, 1, 30, 0));
  REQUIRE(q.park(&d, 2, 20, 0));
  q.remove(&a);
  q.remove(&b);  // not parked: no-op
  CHECK(q.size() == 1);
  CHECK(q.bytes() == 20);
  CHECK(q.held_for(1) == 0);
  CHECK(q.park(&a, 1, 30, 1));
}

TEST_CASE("a clock reading that goes backwards keeps the queue ordered") {
  HoldQueue q(HoldLimits{10, 1000, 100});
  REQUIRE(q.park(&a, 1, 0, 50));
  REQUIRE(q.park(&b, 1, 0, 40));
  std::vector<HoldQueue::Key> out;
  q.expire(149, &out);
  CHECK(out.empty());
  q.expire(150, &out);
  CHECK(out.size() == 2);
}
