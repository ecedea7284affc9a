#include "proxy/hold_queue.h"

#include <catch.hpp>

using sy::proxy::HoldLimits;
using sy::proxy::HoldLink;

namespace {
// What the queue holds (an Exchange in the proxy): anything with a HoldLink.
struct Parked {
  HoldLink hold_link;
};
using HoldQueue = sy::proxy::HoldQueue<Parked>;
Parked a, b, c, d;  // identities
}  // namespace

TEST_CASE("park refuses past each bound and changes nothing then") {
  HoldQueue q(HoldLimits{2, 100, 1000});
  CHECK(q.park(&a, 40));
  CHECK_FALSE(q.park(&a, 1));   // already parked
  CHECK_FALSE(q.park(&b, 61));  // bytes bound: 40 + 61 > 100
  CHECK(q.park(&b, 60));
  CHECK_FALSE(q.park(&c, 0));  // count bound
  CHECK(q.size() == 2);
  CHECK(q.bytes() == 100);
  HoldQueue off(HoldLimits{0, 100, 1000});
  CHECK_FALSE(off.park(&a, 0));
}

TEST_CASE("release_all hands back every entry in arrival order and empties the queue") {
  HoldQueue q(HoldLimits{10, 1000, 1000});
  REQUIRE(q.park(&c, 1));
  REQUIRE(q.park(&a, 2));
  REQUIRE(q.park(&b, 3));
  std::vector<Parked*> out;
  q.release_all(&out);
  REQUIRE(out.size() == 3);
  CHECK(out[0] == &c);
  CHECK(out[1] == &a);
  CHECK(out[2] == &b);
  CHECK(q.size() == 0);
  CHECK(q.bytes() == 0);
  CHECK(q.park(&a, 1000));  // the bounds are free again
}

TEST_CASE("remove forgets a parked request and frees its bytes") {
  HoldQueue q(HoldLimits{2, 1000, 100});
  REQUIRE(q.park(&a, 30));
  REQUIRE(q.park(&d, 20));
  q.remove(&a);
  q.remove(&b);  // not parked: no-op
  CHECK(q.size() == 1);
  CHECK(q.bytes() == 20);
  CHECK(q.park(&a, 30));
  std::vector<Parked*> out;
  q.release_all(&out);
  REQUIRE(out.size() == 2);
  CHECK(out[0] == &d);
  CHECK(out[1] == &a);
}

TEST_CASE("remove keeps the order of the others, whatever its place in the queue") {
  HoldQueue q(HoldLimits{10, 1000, 1000});
  for (Parked* p : {&a, &b, &c, &d}) {
    REQUIRE(q.park(p, 1));
  }
  q.remove(&d);  // the tail
  q.remove(&a);  // the head
  q.remove(&a);  // no longer parked: no-op
  CHECK(q.size() == 2);
  CHECK(q.bytes() == 2);
  REQUIRE(q.park(&a, 5));
  std::vector<Parked*> out;
  q.release_all(&out);
  REQUIRE(out.size() == 3);
  CHECK(out[0] == &b);
  CHECK(out[1] == &c);
  CHECK(out[2] == &a);
  CHECK_FALSE(a.hold_link.parked);
}
