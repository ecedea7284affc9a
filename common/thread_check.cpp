#include "common/thread_check.h"

#include <cstdio>
#include <cstdlib>

namespace sy {

void ThreadOwner::check(const char* where, const char* file, int line) const {
  std::thread::id me = std::this_thread::get_id();
  std::thread::id owner = owner_.load(std::memory_order_relaxed);
  if (owner == me) {
    return;
  }
  if (owner == std::thread::id() &&
      owner_.compare_exchange_strong(owner, me, std::memory_order_relaxed)) {
    return;  // first checked use: this thread owns it now
  }
  if (owner == me) {
    return;
  }
  std::fprintf(stderr, "%s:%d: %s: called from a thread that does not own this object\n", file,
               line, where);
  std::abort();
}

}  // namespace sy
