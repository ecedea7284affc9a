#include "proxy/hold_queue.h"

namespace sy::proxy {

bool HoldQueue::park(Key key, uint64_t bytes) {
  if (index_.count(key) != 0 || entries_.size() >= limits_.max_requests ||
      bytes_ + bytes > limits_.max_bytes) {
    return false;
  }
  entries_.push_back(Entry{key, bytes});
  index_[key] = std::prev(entries_.end());
  bytes_ += bytes;
  return true;
}

void HoldQueue::remove(Key key) {
  auto it = index_.find(key);
  if (it == index_.end()) {
    return;
  }
  bytes_ -= it->second->bytes;
  entries_.erase(it->second);
  index_.erase(it);
}

void HoldQueue::release_all(std::vector<Key>* out) {
  for (const Entry& e : entries_) {
    out->push_back(e.key);
  }
  entries_.clear();
  index_.clear();
  bytes_ = 0;
}

}  // namespace sy::proxy
