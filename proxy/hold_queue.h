#pragma once
// Requests parked while their schema is disabled (DESIGN decision 5: hold, don't fail).
//
// One HoldQueue per worker, worker thread only. It is pure bookkeeping: it never touches a
// socket or a clock; the worker passes |now_ms| in and acts on what the queue hands back:
//   - park() refuses (returns false) when a bound would be passed: the caller answers 503 with
//     Retry-After at once, so nothing waits without a bound;
//   - release() hands back, in arrival order, every entry whose schema the caller says is no
//     longer held (called when a new routing snapshot arrives);
//   - expire() hands back, in arrival order, every entry parked longer than max_wait.
//
//   entries_ (FIFO by park time):  [A s3 t=10] [B s7 t=12] [C s3 t=15] ...
//   release(s3 enabled) -> A, C     expire(now=10+max_wait) -> A

#include <cstdint>
#include <functional>
#include <list>
#include <unordered_map>
#include <vector>

namespace sy::proxy {

struct HoldLimits {
  size_t max_requests = 1000;          // parked requests per worker; 0 = holding disabled
  uint64_t max_bytes = 8 * 1024 * 1024;  // buffered request bytes (head + body) per worker
  uint64_t max_wait_ms = 10000;        // longest time one request stays parked
};

class HoldQueue {
 public:
  using Key = const void*;  // identity of the parked request (its connection)

  explicit HoldQueue(HoldLimits limits) : limits_(limits) {}

  // Parks |key| for |schema| with |bytes| buffered. False = a bound would be passed (or |key|
  // is already parked); nothing changes then.
  bool park(Key key, uint32_t schema, uint64_t bytes, uint64_t now_ms);
  // Forgets |key| (the client went away). No-op when it is not parked.
  void remove(Key key);
  // Removes and appends to |out| every entry whose schema |still_held| says false for.
  void release(const std::function<bool(uint32_t schema)>& still_held, std::vector<Key>* out);
  // Removes and appends to |out| every entry parked at or before now_ms - max_wait_ms.
  void expire(uint64_t now_ms, std::vector<Key>* out);
  // Earliest deadline among parked entries; 0 when empty (for the worker's timer).
  uint64_t next_deadline_ms() const;

  size_t size() const { return entries_.size(); }
  uint64_t bytes() const { return bytes_; }
  size_t held_for(uint32_t schema) const;
  const HoldLimits& limits() const { return limits_; }

 private:
  struct Entry {
    Key key;
    uint32_t schema;
    uint64_t bytes;
    uint64_t parked_at_ms;
  };
  void erase(std::list<Entry>::iterator it);

  HoldLimits limits_;
  std::list<Entry> entries_;  // FIFO: parked_at_ms never decreases along the list
  std::unordered_map<Key, std::list<Entry>::iterator> index_;
  std::unordered_map<uint32_t, size_t> per_schema_;
  uint64_t bytes_ = 0;
};

}  // namespace sy::proxy
