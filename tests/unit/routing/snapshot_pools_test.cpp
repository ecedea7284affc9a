// routing/snapshot.h with_pool_names: pools added and removed at runtime (app/pool_sync.h) remap
// the server rows of the current snapshot without a database read.

#include <catch.hpp>

#include "routing/snapshot.h"

using namespace sy::routing;

TEST_CASE("with_pool_names maps servers to pools added and removed at runtime") {
  DirectoryData d;
  d.servers = {{1, "srv-old", "old", "7.10", ""}, {3, "srv-extra", "extra", "8.0", ""}};
  d.schemas = {{"s0", SchemaState::Enabled, 1}, {"s9", SchemaState::Enabled, 3}};
  d.contexts = {{10, 0, 0, true}, {91, 1, 0, true}};
  d.change_seq = 5;
  auto s = RoutingSnapshot::build(std::move(d), SnapshotInput{{"old", "new"}}, 1);
  CHECK(s->pool_of_server(3) == -1);  // no pool "extra" here yet

  auto added = s->with_pool_names({"old", "new", "extra"}, 2);
  CHECK(added->pool_of_server(1) == 0);
  CHECK(added->pool_of_server(3) == 2);
  CHECK(added->generation() == 2);
  CHECK(added->change_seq() == 5);
  CHECK(added->context_count() == 2);
  CHECK(added->server_rows().size() == 2);
  CHECK(s->pool_of_server(3) == -1);  // the original is untouched (requests may pin it)

  // A removed pool keeps its slot as "": its servers map to no pool, the others stay put.
  auto removed = added->with_pool_names({"old", "new", ""}, 3);
  CHECK(removed->pool_of_server(3) == -1);
  CHECK(removed->pool_of_server(1) == 0);
  // Settings changed: the same name in a new slot.
  auto moved = added->with_pool_names({"old", "new", "", "extra"}, 4);
  CHECK(moved->pool_of_server(3) == 3);
}
