#include "routing/publisher.h"

#include <cassert>
#include <utility>

namespace sy::routing {

void SnapshotPublisher::take_unpinned(std::vector<std::shared_ptr<const RoutingSnapshot>>* out) {
  // use_count() == 1 means only retired_ holds it; since it is no longer current_, nobody can
  // obtain a new reference, so the count cannot rise again. The shared_ptr's own acq_rel
  // decrement orders the last reader's accesses before the destruction.
  auto keep = retired_.begin();
  for (auto it = retired_.begin(); it != retired_.end(); ++it) {
    if (it->use_count() == 1) {
      out->push_back(std::move(*it));
    } else {
      *keep++ = std::move(*it);
    }
  }
  retired_.erase(keep, retired_.end());
}

void SnapshotPublisher::publish(std::shared_ptr<const RoutingSnapshot> snapshot) {
  assert(snapshot != nullptr);
  std::vector<std::shared_ptr<const RoutingSnapshot>> dead;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::shared_ptr<const RoutingSnapshot> previous = std::exchange(current_, std::move(snapshot));
    // Bumped under the lock, after the store: a reader that sees the new number and then takes
    // the lock finds the new pointer (or a newer one).
    generation_.fetch_add(1, std::memory_order_release);
    if (previous != nullptr && previous != current_) {
      retired_.push_back(std::move(previous));
    }
    take_unpinned(&dead);
  }
  // |dead| is freed here, outside the lock, so a worker in get() never waits on a free.
}

size_t SnapshotPublisher::collect() {
  std::vector<std::shared_ptr<const RoutingSnapshot>> dead;
  size_t left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    take_unpinned(&dead);
    left = retired_.size();
  }
  return left;
}

std::shared_ptr<const RoutingSnapshot> SnapshotPublisher::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

size_t SnapshotPublisher::retired_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return retired_.size();
}

std::shared_ptr<const RoutingSnapshot> SnapshotPublisher::current(uint64_t* generation) const {
  std::lock_guard<std::mutex> lock(mu_);
  *generation = generation_.load(std::memory_order_relaxed);
  return current_;
}

const std::shared_ptr<const RoutingSnapshot>& WorkerView::get() {
  if (publisher_->generation() != generation_) {
    // Pointer and number are read together so the cache never pairs a pointer with a newer
    // number (which would hide the newer snapshot until the next publish).
    cached_ = publisher_->current(&generation_);
  }
  return cached_;
}

}  // namespace sy::routing
