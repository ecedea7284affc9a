#include "proxy/hold_queue.h"

namespace sy::proxy {

bool HoldQueue::park(Key key, uint32_t schema, uint64_t bytes, uint64_t now_ms) {
  if (index_.count(key) != 0 || entries_.size() >= limits_.max_requests ||
      bytes_ + bytes > limits_.max_bytes) {
    return false;
  }
  // Keep the list ordered by time even if a caller's clock reading goes backwards.
  if (!entries_.empty() && now_ms < entries_.back().parked_at_ms) {
    now_ms = entries_.back().parked_at_ms;
  }
  entries_.push_back(Entry{key, schema, bytes, now_ms});
  index_[key] = std::prev(entries_.end());
  ++per_schema_[schema];
  bytes_ += bytes;
  return true;
}

void HoldQueue::erase(std::list<Entry>::iterator it) {
  bytes_ -= it->bytes;
  auto ps = per_schema_.find(it->schema);
  if (ps != per_schema_.end() && --ps->second == 0) {
    per_schema_.erase(ps);
  }
  index_.erase(it->key);
  entries_.erase(it);
}

void HoldQueue::remove(Key key) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    erase(it->second);
  }
}

void HoldQueue::release(const std::function<bool(uint32_t)>& still_held, std::vector<Key>* out) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (!still_held(it->schema)) {
      out->push_back(it->key);
      erase(it);
    }
    it = next;
  }
}

void HoldQueue::expire(uint64_t now_ms, std::vector<Key>* out) {
  while (!entries_.empty() && entries_.front().parked_at_ms + limits_.max_wait_ms <= now_ms) {
    out->push_back(entries_.front().key);
    erase(entries_.begin());
  }
}

uint64_t HoldQueue::next_deadline_ms() const {
  return entries_.empty() ? 0 : entries_.front().parked_at_ms + limits_.max_wait_ms;
}

size_t HoldQueue::held_for(uint32_t schema) const {
  auto it = per_schema_.find(schema);
  return it == per_schema_.end() ? 0 : it->second;
}

}  // namespace sy::proxy
