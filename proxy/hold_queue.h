#pragma once
// Requests parked while their schema is disabled (DESIGN decision 5: hold, don't fail).
//
// One HoldQueue per worker, worker thread only. It is the bookkeeping of the per-worker bounds;
// the connection does the rest:
//   - park() refuses (returns false) when the count or byte bound would be passed (bytes =
//     what the connection has buffered: head, any body read with it, pipelined data): the caller
//     answers 503 with Retry-After at once, so nothing waits without a bound;
//   - each held connection arms its own timer for max_wait (the time bound);
//   - on a new routing snapshot the worker takes every entry back with release_all(), in
//     arrival order, and each connection decides its request again (it may park again).
//
//   entries_ (arrival order): [A 300 B] [B 120 B] [C 800 B]     release_all -> A, B, C

#include <cstddef>
#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

namespace sy::proxy {

struct HoldLimits {
  size_t max_requests = 1000;  // parked requests per worker; 0 = holding disabled
  uint64_t max_bytes =
      8 * 1024 * 1024;           // request bytes buffered (head + body read so far) per worker
  uint64_t max_wait_ms = 10000;  // longest time one request stays parked
};

class HoldQueue {
 public:
  using Key = const void*;  // identity of the parked request (its connection)

  explicit HoldQueue(HoldLimits limits) : limits_(limits) {}

  // Parks |key| with |bytes| buffered. False = a bound would be passed (or |key| is already
  // parked); nothing changes then.
  bool park(Key key, uint64_t bytes);
  // Forgets |key| (the client went away, or its timer fired). No-op when it is not parked.
  void remove(Key key);
  // Removes every entry and appends them to |out| in arrival order.
  void release_all(std::vector<Key>* out);

  size_t size() const { return entries_.size(); }
  uint64_t bytes() const { return bytes_; }
  const HoldLimits& limits() const { return limits_; }

 private:
  struct Entry {
    Key key;
    uint64_t bytes;
  };

  HoldLimits limits_;
  std::list<Entry> entries_;  // arrival order
  std::unordered_map<Key, std::list<Entry>::iterator> index_;
  uint64_t bytes_ = 0;
};

}  // namespace sy::proxy
