#include "routing/publisher.h"

#include <catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

using namespace sy::routing;

namespace {

std::shared_ptr<const RoutingSnapshot> snap(uint64_t generation, ContextId ctx = 1) {
  DirectoryData d;
  d.schemas = {{"s", SchemaState::Enabled, 1}};
  d.contexts = {{ctx, 0, 0, true}};
  return RoutingSnapshot::build(std::move(d), SnapshotInput{}, generation);
}

}  // namespace

TEST_CASE("publisher starts empty and counts publishes") {
  SnapshotPublisher pub;
  CHECK(pub.generation() == 0);
  CHECK(pub.current() == nullptr);
  WorkerView view(&pub);
  CHECK(view.get() == nullptr);
  CHECK(view.generation() == 0);

  auto a = snap(100);
  pub.publish(a);
  CHECK(pub.generation() == 1);
  CHECK(pub.current() == a);
  pub.publish(a);  // republishing the same snapshot still bumps the counter
  CHECK(pub.generation() == 2);
  CHECK(pub.retired_count() == 0);
}

TEST_CASE("worker view re-reads only when the generation changed") {
  SnapshotPublisher pub;
  WorkerView view(&pub);
  auto a = snap(1);
  pub.publish(a);
  const auto& first = view.get();
  CHECK(first == a);
  CHECK(view.generation() == 1);
  long count_after_first = a.use_count();
  CHECK(view.get() == a);
  CHECK(a.use_count() == count_after_first);  // no new reference taken while unchanged
  CHECK(&view.get() == &first);               // the same cached pointer object

  auto b = snap(2);
  pub.publish(b);
  CHECK(view.get() == b);
  CHECK(view.generation() == 2);
  CHECK(view.get()->generation() == 2);
}

TEST_CASE("replaced snapshots are freed by the publisher once nobody pins them") {
  SnapshotPublisher pub;
  WorkerView view(&pub);
  std::weak_ptr<const RoutingSnapshot> weak_a;
  {
    auto a = snap(1);
    weak_a = a;
    pub.publish(std::move(a));
  }
  std::shared_ptr<const RoutingSnapshot> pin = view.get();  // a request pins |a|
  pub.publish(snap(2));
  CHECK(pub.retired_count() == 1);
  CHECK_FALSE(weak_a.expired());

  view.get();  // the worker moves on to |b|, the request still pins |a|
  CHECK(pub.collect() == 1);
  CHECK_FALSE(weak_a.expired());

  pin.reset();  // the request ends: only a count drops, nothing is freed on this "worker"
  CHECK_FALSE(weak_a.expired());
  CHECK(pub.retired_count() == 1);
  CHECK(pub.collect() == 0);  // the loader frees it
  CHECK(weak_a.expired());

  // publish() sweeps as well.
  std::weak_ptr<const RoutingSnapshot> weak_b = pub.current();
  view.get();
  pub.publish(snap(3));
  CHECK_FALSE(weak_b.expired());  // still cached by the view
  view.get();
  CHECK_FALSE(weak_b.expired());  // the view let go, the publisher still holds it
  pub.publish(snap(4));
  CHECK(weak_b.expired());
  CHECK(pub.retired_count() == 1);  // snap(3): the view still caches it
}

TEST_CASE("workers see every publish in order while the loader publishes concurrently") {
  SnapshotPublisher pub;
  pub.publish(snap(1, 1));
  constexpr uint64_t kPublishes = 2000;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> errors{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&] {
      WorkerView view(&pub);
      uint64_t last_gen = 0;
      uint64_t last_snapshot_gen = 0;
      while (!stop.load(std::memory_order_acquire)) {
        const auto& s = view.get();
        // The snapshot for publish n was built with generation n and holds context n.
        if (s == nullptr || view.generation() < last_gen || s->generation() < last_snapshot_gen ||
            s->find_context(static_cast<ContextId>(s->generation())) == nullptr) {
          errors.fetch_add(1);
        }
        last_gen = view.generation();
        last_snapshot_gen = s->generation();
      }
      if (view.get()->generation() != kPublishes) {
        errors.fetch_add(1);
      }
    });
  }
  for (uint64_t g = 2; g <= kPublishes; ++g) {
    pub.publish(snap(g, static_cast<ContextId>(g)));
  }
  stop.store(true, std::memory_order_release);
  for (auto& t : workers) {
    t.join();
  }
  CHECK(errors.load() == 0);
  CHECK(pub.generation() == kPublishes);
  CHECK(pub.collect() == 0);
}

TEST_CASE("shards shared between snapshots are freed by the loader, never by a worker's unpin") {
  DirectoryData d;
  d.schemas = {{"s", SchemaState::Enabled, 1}};
  for (ContextId id = 1; id <= 100000; ++id) {
    d.contexts.push_back({id, 0, 0, true});
  }
  SnapshotPublisher pub;
  auto a = RoutingSnapshot::build(std::move(d), SnapshotInput{}, 1);
  pub.publish(a);
  DirectoryDelta delta;
  delta.schema_names = {"s"};
  delta.contexts = {{7, 0, 0, false}};
  const size_t before_b = sy::routing::detail::table_bytes_live();
  pub.publish(a->apply(delta, 2));  // |b| shares all but one shard with |a|
  const size_t one_shard = sy::routing::detail::table_bytes_live() - before_b;
  CHECK(one_shard > 0);

  // A worker pins |a| (as a request would), then moves on to |b| and drops its pin.
  std::atomic<bool> pinned{false}, release{false};
  size_t live_before_unpin = 0, live_after_unpin = 0;
  std::thread worker([&] {
    WorkerView view(&pub);
    std::shared_ptr<const RoutingSnapshot> pin = a;
    pinned.store(true);
    while (!release.load()) {
      std::this_thread::yield();
    }
    view.get();
    live_before_unpin = sy::routing::detail::table_bytes_live();
    pin.reset();  // only a count drops: the publisher still holds |a|
    live_after_unpin = sy::routing::detail::table_bytes_live();
  });
  while (!pinned.load()) {
    std::this_thread::yield();
  }
  a.reset();
  CHECK(pub.collect() == 1);  // pinned by the worker: kept
  release.store(true);
  worker.join();
  CHECK(live_after_unpin == live_before_unpin);
  CHECK(pub.retired_count() == 1);

  const size_t live = sy::routing::detail::table_bytes_live();
  CHECK(pub.collect() == 0);  // the loader frees |a|: exactly the shard |b| replaced
  CHECK(sy::routing::detail::table_bytes_live() == live - one_shard);
  CHECK(pub.current()->find_context(7) != nullptr);
  CHECK_FALSE(pub.current()->find_context(7)->enabled);
  CHECK(pub.current()->find_context(8)->enabled);
}

TEST_CASE("workers read shards shared by chained applies while the loader publishes and frees") {
  // Every snapshot shares all but a shard or two with the one before it; the loader frees the
  // replaced ones as the workers move on. Under TSan this checks that sharing, reading and
  // freeing shards across threads needs nothing beyond the publisher's pinning.
  constexpr ContextId kContexts = 20000;
  DirectoryData d;
  d.schemas = {{"s", SchemaState::Enabled, 1}};
  for (ContextId id = 1; id <= kContexts; ++id) {
    d.contexts.push_back({id, 0, 0, true});
  }
  SnapshotPublisher pub;
  pub.publish(RoutingSnapshot::build(std::move(d), SnapshotInput{}, 1));
  constexpr uint64_t kPublishes = 400;
  // The snapshot of generation g (>= 2) gave context g % kContexts + 1 server g.
  auto changed = [](uint64_t g) { return static_cast<ContextId>(g % kContexts + 1); };
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> errors{0}, reads{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&, w] {
      WorkerView view(&pub);
      uint64_t i = static_cast<uint64_t>(w);
      while (!stop.load(std::memory_order_acquire)) {
        std::shared_ptr<const RoutingSnapshot> pin = view.get();  // as a request pins it
        const uint64_t g = pin->generation();
        for (uint64_t back = 0; back < 3 && g >= back + 2; ++back) {
          const ContextInfo* c = pin->find_context(changed(g - back));
          if (c == nullptr || c->server != static_cast<ServerId>(g - back)) {
            errors.fetch_add(1);
          }
        }
        i = i * 6364136223846793005ull + 1442695040888963407ull;
        if (pin->find_context(static_cast<ContextId>(i >> 33) % kContexts + 1) == nullptr) {
          errors.fetch_add(1);
        }
        reads.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (uint64_t g = 2; g <= kPublishes; ++g) {
    DirectoryDelta delta;
    delta.schema_names = {"s"};
    delta.contexts = {{changed(g), 0, static_cast<ServerId>(g), true}};
    pub.publish(pub.current()->apply(delta, g));
  }
  while (reads.load() < 1000) {
    std::this_thread::yield();
  }
  stop.store(true, std::memory_order_release);
  for (auto& t : workers) {
    t.join();
  }
  CHECK(errors.load() == 0);
  CHECK(pub.collect() == 0);
  CHECK(pub.current()->find_context(changed(kPublishes))->server == kPublishes);
}

TEST_CASE("the directory is stale only past stale_after since a good round that was not STABLE") {
  SnapshotPublisher pub;
  pub.set_stale_after(1000);
  CHECK_FALSE(pub.stale(50'000));  // no good round yet: nothing to be stale about
  CHECK(pub.last_good_round_ms() == 0);

  // STABLE: an outage of any length changes nothing.
  pub.record_good_round(10'000, true);
  CHECK(pub.cluster_stable());
  CHECK_FALSE(pub.stale(10'500));
  CHECK_FALSE(pub.stale(10'000'000));

  // Not STABLE: fresh up to the bound, stale after it, fresh again at the next good round.
  pub.record_good_round(20'000, false);
  CHECK_FALSE(pub.cluster_stable());
  CHECK(pub.last_good_round_ms() == 20'000);
  CHECK_FALSE(pub.stale(20'999));
  CHECK_FALSE(pub.stale(21'000));
  CHECK(pub.stale(21'001));
  CHECK(pub.stale(99'000));
  pub.record_good_round(99'000, false);
  CHECK_FALSE(pub.stale(99'500));
  // The cluster back to STABLE ends it too.
  CHECK(pub.stale(101'000));
  pub.record_good_round(101'000, true);
  CHECK_FALSE(pub.stale(200'000));

  // stale_after 0: never stale (a loader built without the bound).
  pub.record_good_round(300'000, false);
  pub.set_stale_after(0);
  CHECK_FALSE(pub.stale(900'000));
}
