#pragma once
// Hands RoutingSnapshots from the loader thread to the workers (STYLE rule 4).
//
//   loader thread                        worker thread (each has its own WorkerView)
//   snap = RoutingSnapshot::build(...)   per request:  auto& s = view.get();
//   publisher.publish(snap) ───────────▶   generation() changed? (one atomic acquire load)
//     lock; current_ = snap;                 no  -> cached shared_ptr, no lock, no refcount
//     ++generation_; unlock                  yes -> current(): lock, copy shared_ptr, unlock
//
// libstdc++'s atomic<shared_ptr> is not lock-free, so the per-request cost is one atomic load;
// the mutex is taken once per worker per publish. A request that must outlive a later publish
// copies the shared_ptr it got from get() (its pin).
//
// Who frees a snapshot: the publisher. A replaced snapshot moves to a retired list; publish()
// and collect() free the retired ones nobody pins any more (use_count() == 1: only the list
// holds it, so nobody can copy it again). Freeing 30+ MiB takes milliseconds, which must not
// land on a worker (STYLE rule 3): a worker or request dropping its pin only decrements a count.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "routing/snapshot.h"

namespace sy::routing {

class SnapshotPublisher {
 public:
  SnapshotPublisher() = default;
  SnapshotPublisher(const SnapshotPublisher&) = delete;
  SnapshotPublisher& operator=(const SnapshotPublisher&) = delete;

  // Makes |snapshot| current and bumps generation(); retires the previous one and frees retired
  // snapshots that are no longer pinned. Loader thread (any thread is safe); |snapshot| must not
  // be null.
  void publish(std::shared_ptr<const RoutingSnapshot> snapshot);

  // Frees retired snapshots that are no longer pinned; returns how many stay retired (still
  // pinned by a worker or a long request). Loader thread, e.g. on every refresh tick, so that
  // memory is returned even when nothing new is published.
  size_t collect();

  // The current snapshot; null before the first publish(). Any thread; takes the mutex.
  std::shared_ptr<const RoutingSnapshot> current() const;

  // Number of publish() calls so far (0 = none). Any thread; one acquire load. This is the
  // publisher's own counter, not RoutingSnapshot::generation(): republishing always reaches the
  // workers, whatever stamp the loader gave the snapshot.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Snapshots replaced but not yet freed (for `show routing` / tests). Any thread.
  size_t retired_count() const;

  // ---- Freshness (issue 12 item 5, docs/decisions.md 67) ------------------------------------
  // The snapshot is *stale* when the loader's last good round (the directory read and the
  // cluster state read, both answered) is older than stale_after AND the cluster was not
  // STABLE at that round: schemas may have moved since, and decide() must not route them from
  // here (RequestFacts::directory_stale). With the cluster STABLE an outage changes nothing.
  // Times are CLOCK_MONOTONIC milliseconds (std::chrono::steady_clock on Linux), from the
  // caller: the publisher reads no clock.

  // |ms| = database.stale_after; 0 = never stale. Before the loader starts (any thread).
  void set_stale_after(uint64_t ms) { stale_after_ms_.store(ms, std::memory_order_relaxed); }
  // A good round ended at |now_ms| and saw the cluster STABLE (|cluster_stable|) or not.
  // Loader thread.
  void record_good_round(uint64_t now_ms, bool cluster_stable) {
    cluster_stable_.store(cluster_stable, std::memory_order_relaxed);
    last_good_ms_.store(now_ms, std::memory_order_relaxed);
  }
  // Whether the snapshot is stale at |now_ms|. Any thread; relaxed loads only (a worker calls
  // it per routed request: while the cluster is STABLE it is one load).
  bool stale(uint64_t now_ms) const {
    if (cluster_stable_.load(std::memory_order_relaxed)) {
      return false;
    }
    const uint64_t after = stale_after_ms_.load(std::memory_order_relaxed);
    const uint64_t good = last_good_ms_.load(std::memory_order_relaxed);
    return after != 0 && good != 0 && now_ms > good + after;
  }
  uint64_t last_good_round_ms() const { return last_good_ms_.load(std::memory_order_relaxed); }
  bool cluster_stable() const { return cluster_stable_.load(std::memory_order_relaxed); }
  uint64_t stale_after_ms() const { return stale_after_ms_.load(std::memory_order_relaxed); }

 private:
  friend class WorkerView;
  // current() and the generation it belongs to, read together under the mutex.
  std::shared_ptr<const RoutingSnapshot> current(uint64_t* generation) const;
  // Moves the unpinned retired snapshots into |out|; caller holds mu_ and frees |out| after
  // unlocking.
  void take_unpinned(std::vector<std::shared_ptr<const RoutingSnapshot>>* out);

  mutable std::mutex mu_;
  std::shared_ptr<const RoutingSnapshot> current_;               // guarded by mu_
  std::vector<std::shared_ptr<const RoutingSnapshot>> retired_;  // guarded by mu_
  std::atomic<uint64_t> generation_{0};      // written under mu_, read without it
  std::atomic<uint64_t> stale_after_ms_{0};  // ms; 0 = never stale
  std::atomic<uint64_t> last_good_ms_{0};    // steady ms of the last good round; 0 = none yet
  std::atomic<bool> cluster_stable_{true};   // sy_cluster.state was STABLE at that round
};

// One worker's cached view of a publisher. Worker thread only (not thread-safe); |publisher|
// must outlive it.
class WorkerView {
 public:
  explicit WorkerView(const SnapshotPublisher* publisher) : publisher_(publisher) {}

  // The current snapshot (null before the first publish). Re-reads under the publisher's mutex
  // only when its generation changed since the last call; otherwise returns the cached pointer.
  // Never frees a snapshot (see above). The reference stays valid until the next get() on this
  // view; copy it to pin a snapshot for longer (e.g. for a request's lifetime).
  const std::shared_ptr<const RoutingSnapshot>& get();

  // The snapshot the last get() returned, without looking for a newer one.
  const std::shared_ptr<const RoutingSnapshot>& pinned() const { return cached_; }

  // Publisher generation of the cached snapshot (0 = none yet).
  uint64_t generation() const { return generation_; }

 private:
  const SnapshotPublisher* publisher_;
  std::shared_ptr<const RoutingSnapshot> cached_;
  uint64_t generation_ = 0;
};

}  // namespace sy::routing
