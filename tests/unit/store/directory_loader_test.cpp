// store/directory_loader.h against the private MariaDB: the loader thread publishes the first
// snapshot before start() returns and every later change within a refresh, while other threads
// read the publisher the way workers do; a stop in the middle of refreshing joins cleanly. Also
// run under ThreadSanitizer (SY_TSAN_TESTS in tests/CMakeLists.txt).

#include "store/directory_loader.h"

#include <catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "unit/store/store_fixture.h"

using namespace sy;
using namespace sy::routing;
using namespace sy::store;
using namespace std::chrono_literals;

namespace {

LoaderOptions options(const Dsn& dsn) {
  LoaderOptions o;
  o.dsns = {dsn};
  o.refresh_interval = 20ms;
  o.input.pool_names = {"old", "new"};
  o.make_reader = [] { return std::make_unique<OwnProfileReader>(); };
  return o;
}

// Waits until |pred| holds; fails the test after |timeout|.
template <class Pred>
void wait_until(Pred pred, const char* what, std::chrono::seconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) {
      FAIL("timed out waiting for " << what);
    }
    std::this_thread::sleep_for(5ms);  // polling a condition with a deadline, not a fixed wait
  }
}

// The schema index of context |id| in the current snapshot, or -1.
int schema_of(const SnapshotPublisher& p, ContextId id) {
  auto snap = p.current();
  const ContextInfo* c = snap ? snap->find_context(id) : nullptr;
  return c == nullptr ? -1 : static_cast<int>(c->schema);
}

}  // namespace

TEST_CASE("the loader publishes at start and each change while workers read") {
  test::TestDb t;
  test::seed_directory(*t.db, {"s1", "s2"});
  SnapshotPublisher publisher;
  std::atomic<int> ticks{0};
  std::atomic<int> publishes{0};
  LoaderOptions o = options(t.dsn);
  o.on_tick = [&](Db&) {
    ticks.fetch_add(1);
    return ok_result();
  };
  o.on_publish = [&] { publishes.fetch_add(1); };
  DirectoryLoader loader(std::move(o), &publisher);
  REQUIRE(loader.start().ok());
  REQUIRE(publisher.current() != nullptr);
  CHECK(publisher.current()->find_context(11) != nullptr);
  CHECK(loader.status().db_up.load());

  // Two "workers" pin snapshots the way proxy workers do, while the loader republishes.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 2; ++i) {
    workers.emplace_back([&] {
      WorkerView view(&publisher);
      while (!stop.load()) {
        const auto& snap = view.get();
        if (snap && snap->find_context(11) != nullptr) {
          reads.fetch_add(1);
        }
      }
    });
  }
  int s1 = schema_of(publisher, 11);
  int s2 = schema_of(publisher, 21);
  REQUIRE(s1 >= 0);
  REQUIRE(s2 >= 0);
  REQUIRE(s1 != s2);
  uint64_t generation = publisher.generation();
  test::run_sql(*t.db, "UPDATE sy_contexts SET schema_name = 's2' WHERE id = 11");
  wait_until([&] { return schema_of(publisher, 11) == s2; }, "the moved context");
  CHECK(publisher.generation() > generation);
  test::run_sql(*t.db, "INSERT INTO sy_contexts (id, schema_name, enabled) VALUES (99, 's1', 1)");
  wait_until([&] { return schema_of(publisher, 99) == s1; }, "the new context");
  wait_until([&] { return ticks.load() >= 2; }, "the tick callback");
  wait_until([&] { return reads.load() >= 100; }, "worker reads");
  CHECK(publishes.load() >= 2);
  stop = true;
  for (auto& w : workers) {
    w.join();
  }
  loader.stop();
  CHECK(loader.status().refreshes.load() >= 1);
}

TEST_CASE("stopping the loader while it refreshes joins its thread") {
  test::TestDb t;
  test::seed_directory(*t.db, {"s1"});
  for (int round = 0; round < 5; ++round) {
    SnapshotPublisher publisher;
    DirectoryLoader loader(options(t.dsn), &publisher);
    REQUIRE(loader.start().ok());
    test::run_sql(*t.db, "UPDATE sy_contexts SET enabled = " + std::to_string(round % 2) +
                             " WHERE id = 12");
    // Destroyed at the end of the round: stops and joins whatever the thread is doing.
  }
}

TEST_CASE("an unreachable database fails start() with a clear message") {
  Dsn dsn = test::env_dsn();
  dsn.port = 1;  // nothing listens there
  SnapshotPublisher publisher;
  LoaderOptions o = options(dsn);
  o.connect_timeout = 1000ms;
  DirectoryLoader loader(std::move(o), &publisher);
  auto r = loader.start();
  REQUIRE_FALSE(r.ok());
  CHECK_FALSE(r.error().message.empty());
  CHECK(publisher.current() == nullptr);
  CHECK_FALSE(loader.status().db_up.load());
}

namespace {

// Servers 1 (old, 7.10) and 2 (new, 8.0); schemas a, b, c on the given servers, all enabled.
DirectoryData rows_on(ServerId a, ServerId b, ServerId c, uint64_t seq) {
  DirectoryData d;
  d.servers = {ServerRow{1, "app-old", "old", "7.10", ""},
               ServerRow{2, "app-new", "new", "8.0", ""}};
  d.schemas = {SchemaRow{"a", SchemaState::Enabled, a}, SchemaRow{"b", SchemaState::Enabled, b},
               SchemaRow{"c", SchemaState::Enabled, c}};
  d.change_seq = seq;
  return d;
}

SchemaState state_of(const DirectoryData& d, const std::string& name) {
  for (const auto& s : d.schemas) {
    if (s.name == name) {
      return s.state;
    }
  }
  FAIL("no schema " << name);
  return SchemaState::Failed;
}

}  // namespace

TEST_CASE("after lost changes a schema moved back to an older server is held until it is moved "
          "again") {
  // Before: a and b moved to app-new (8.0) through the primary, change seq 156.
  auto before = RoutingSnapshot::build(rows_on(2, 2, 1, 156), SnapshotInput{{"old", "new"}}, 1);
  HeldBack held;

  SECTION("the first load and a load that lost nothing hold nothing") {
    DirectoryData first = rows_on(1, 1, 1, 150);
    CHECK(hold_moved_back(nullptr, true, first, held).empty());
    DirectoryData same = rows_on(1, 2, 1, 160);  // b back on 7.10, but no change was lost
    CHECK(hold_moved_back(before.get(), false, same, held).empty());
    CHECK(state_of(same, "b") == SchemaState::Enabled);
    CHECK(held.empty());
  }

  SECTION("a promoted replica that lagged: a and b read as on app-old again") {
    DirectoryData after = rows_on(1, 1, 1, 150);
    after.schemas[1].state = SchemaState::Disabled;  // b: the replica had its disable only
    CHECK(hold_moved_back(before.get(), true, after, held) == std::vector<std::string>{"a", "b"});
    CHECK(held == HeldBack{{"a", "8.0"}, {"b", "8.0"}});
    CHECK(state_of(after, "a") == SchemaState::Disabled);  // held, not routed to app-old
    CHECK(state_of(after, "b") == SchemaState::Disabled);
    CHECK(state_of(after, "c") == SchemaState::Enabled);  // never moved: untouched

    // A later full load (no new loss) still holds them; the snapshot it replaces has a
    // disabled on app-old, which adds nothing.
    auto held_snap = RoutingSnapshot::build(after, SnapshotInput{{"old", "new"}}, 2);
    DirectoryData again = rows_on(1, 1, 1, 151);
    CHECK(hold_moved_back(held_snap.get(), false, again, held).empty());
    CHECK(state_of(again, "a") == SchemaState::Disabled);

    // Deltas: the run disables a (really), moves it to app-new (it leaves the hold, still
    // disabled), then enables it; b is untouched and stays held.
    DirectoryDelta disable;
    disable.schemas = {SchemaRow{"a", SchemaState::Disabled, 1}};
    hold_moved_back(*held_snap, disable, held);
    CHECK(held.count("a") == 1);
    DirectoryDelta move;
    move.schemas = {SchemaRow{"a", SchemaState::Disabled, 2}};
    hold_moved_back(*held_snap, move, held);
    CHECK(held == HeldBack{{"b", "8.0"}});
    CHECK(move.schemas[0].state == SchemaState::Disabled);
    DirectoryDelta enable;
    enable.schemas = {SchemaRow{"a", SchemaState::Enabled, 2},
                      SchemaRow{"b", SchemaState::Enabled, 1}};
    hold_moved_back(*held_snap, enable, held);
    CHECK(enable.schemas[0].state == SchemaState::Enabled);
    CHECK(enable.schemas[1].state == SchemaState::Disabled);  // b: still on 7.10, held
    CHECK(held == HeldBack{{"b", "8.0"}});
  }
}
