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
