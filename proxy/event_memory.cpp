#include "proxy/event_memory.h"

#include <event2/event.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SY_EVENT_MEMORY_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SY_EVENT_MEMORY_CACHE 0
#endif
#endif
#ifndef SY_EVENT_MEMORY_CACHE
#define SY_EVENT_MEMORY_CACHE 1
#endif

namespace sy::proxy {
namespace {

// Every block starts with this header (16 bytes, so the caller's pointer keeps malloc's
// alignment): the class it belongs to, or kNoClass for a plain malloc block, and its usable
// size (realloc needs it).
struct alignas(16) BlockHeader {
  uint32_t cls;
  uint32_t usable;
};
static_assert(sizeof(BlockHeader) == 16);

constexpr uint32_t kNoClass = 0xffffffff;
constexpr size_t kMinShift = 10;                // 1 KiB: libevent's smallest evbuffer chain
constexpr size_t kClasses = 7;                  // 1, 2, 4, 8, 16, 32, 64 KiB
constexpr size_t kMaxCachedBytes = 512 * 1024;  // per thread

size_t class_size(size_t cls) { return size_t{1} << (kMinShift + cls); }

// The smallest class whose usable size holds |n|, or kClasses.
size_t class_of(size_t n) {
  for (size_t c = 0; c < kClasses; ++c) {
    if (n <= class_size(c)) {
      return c;
    }
  }
  return kClasses;
}

struct FreeBlock {
  FreeBlock* next;
};

// One thread's cache; gives its blocks back to malloc when the thread ends.
struct ThreadCache {
  FreeBlock* heads[kClasses] = {};
  size_t bytes = 0;
  ~ThreadCache() {
    for (FreeBlock*& head : heads) {
      while (head != nullptr) {
        FreeBlock* next = head->next;
        std::free(reinterpret_cast<BlockHeader*>(head) - 1);
        head = next;
      }
    }
  }
};

thread_local ThreadCache tls_cache;

}  // namespace

namespace detail {

void* cache_malloc(size_t n) {
  size_t cls = class_of(n);
  if (cls < kClasses) {
    FreeBlock*& head = tls_cache.heads[cls];
    if (head != nullptr) {
      FreeBlock* b = head;
      head = b->next;
      tls_cache.bytes -= class_size(cls);
      return b;
    }
  }
  size_t usable = cls < kClasses ? class_size(cls) : n;
  auto* h = static_cast<BlockHeader*>(std::malloc(sizeof(BlockHeader) + usable));
  if (h == nullptr) {
    return nullptr;
  }
  h->cls = cls < kClasses ? static_cast<uint32_t>(cls) : kNoClass;
  h->usable = static_cast<uint32_t>(usable > UINT32_MAX ? UINT32_MAX : usable);
  return h + 1;
}

void cache_free(void* p) {
  if (p == nullptr) {
    return;
  }
  BlockHeader* h = static_cast<BlockHeader*>(p) - 1;
  if (h->cls != kNoClass && tls_cache.bytes + class_size(h->cls) <= kMaxCachedBytes) {
    auto* b = static_cast<FreeBlock*>(p);
    b->next = tls_cache.heads[h->cls];
    tls_cache.heads[h->cls] = b;
    tls_cache.bytes += class_size(h->cls);
    return;
  }
  std::free(h);
}

void* cache_realloc(void* p, size_t n) {
  if (p == nullptr) {
    return cache_malloc(n);
  }
  BlockHeader* h = static_cast<BlockHeader*>(p) - 1;
  if (n <= h->usable) {
    return p;
  }
  void* q = cache_malloc(n);
  if (q == nullptr) {
    return nullptr;  // |p| stays valid, as realloc's contract says
  }
  std::memcpy(q, p, h->usable);
  cache_free(p);
  return q;
}

size_t cached_bytes_this_thread() { return tls_cache.bytes; }

}  // namespace detail

bool install_event_memory_cache() {
#if SY_EVENT_MEMORY_CACHE
  event_set_mem_functions(detail::cache_malloc, detail::cache_realloc, detail::cache_free);
  return true;
#else
  return false;
#endif
}

}  // namespace sy::proxy
