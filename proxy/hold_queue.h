#pragma once
// Requests parked while their schema is disabled (DESIGN decision 5: hold, don't fail).
//
// One HoldQueue per worker, worker thread only. It is the bookkeeping of the per-worker bounds;
// the exchange does the rest:
//   - park() refuses (returns false) when the count or byte bound would be passed (bytes =
//     what the proxy holds for the request: its copied head, any body read with it): the caller
//     answers 503 with Retry-After at once, so nothing waits without a bound;
//   - each held exchange arms its own timer for max_wait (the time bound);
//   - on a new routing snapshot the worker takes every entry back with release_all(), in
//     arrival order, and each exchange decides its request again (it may park again).
//
// Entries are the parked objects themselves (T has a public `HoldLink hold_link`): an
// intrusive list in arrival order, so parking allocates nothing and an entry is typed.
//
//   head_ ─▶ [A 300 B] ─▶ [B 120 B] ─▶ [C 800 B] ◀─ tail_        release_all -> A, B, C

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sy::proxy {

struct HoldLimits {
  size_t max_requests = 1000;  // parked requests per worker; 0 = holding disabled
  uint64_t max_bytes =
      8 * 1024 * 1024;           // request bytes buffered (head + body read so far) per worker
  uint64_t max_wait_ms = 10000;  // longest time one request stays parked
};

// The links a parkable object carries.
struct HoldLink {
  void* prev = nullptr;  // the previous / next T in the queue
  void* next = nullptr;
  uint64_t bytes = 0;  // counted against HoldLimits::max_bytes while parked
  bool parked = false;
};

template <class T>
class HoldQueue {
 public:
  explicit HoldQueue(HoldLimits limits) : limits_(limits) {}

  // Parks |t| with |bytes| buffered. False = a bound would be passed (or |t| is already
  // parked); nothing changes then.
  bool park(T* t, uint64_t bytes) {
    HoldLink& l = t->hold_link;
    if (l.parked || size_ >= limits_.max_requests || bytes_ + bytes > limits_.max_bytes) {
      return false;
    }
    l = HoldLink{tail_, nullptr, bytes, true};
    if (tail_ != nullptr) {
      tail_->hold_link.next = t;
    } else {
      head_ = t;
    }
    tail_ = t;
    ++size_;
    bytes_ += bytes;
    return true;
  }
  // Forgets |t| (the client went away, or its timer fired). No-op when it is not parked.
  void remove(T* t) {
    HoldLink& l = t->hold_link;
    if (!l.parked) {
      return;
    }
    auto* prev = static_cast<T*>(l.prev);
    auto* next = static_cast<T*>(l.next);
    if (prev != nullptr) {
      prev->hold_link.next = next;
    } else {
      head_ = next;
    }
    if (next != nullptr) {
      next->hold_link.prev = prev;
    } else {
      tail_ = prev;
    }
    --size_;
    bytes_ -= l.bytes;
    l = HoldLink{};
  }
  // Removes every entry and appends them to |out| in arrival order.
  void release_all(std::vector<T*>* out) {
    for (T* t = head_; t != nullptr;) {
      T* next = static_cast<T*>(t->hold_link.next);
      t->hold_link = HoldLink{};
      out->push_back(t);
      t = next;
    }
    head_ = tail_ = nullptr;
    size_ = 0;
    bytes_ = 0;
  }

  size_t size() const { return size_; }
  uint64_t bytes() const { return bytes_; }
  const HoldLimits& limits() const { return limits_; }

 private:
  HoldLimits limits_;
  T* head_ = nullptr;
  T* tail_ = nullptr;
  size_t size_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace sy::proxy
