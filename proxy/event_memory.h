// libevent's allocations through per-thread caches (event_set_mem_functions).
//
// An evbuffer frees a chain as soon as it is drained empty and allocates a new one for the next
// bytes: four chains of 1-4 KiB per proxied HTTP/1.1 request (client in, member out, member in,
// client out). Blocks that size are above glibc's tcache, so each malloc/free pair took ~260
// instructions of ~15,500 per request (bench/callgrind h1). The cache keeps freed blocks of
// power-of-two classes (1-64 KiB) per thread, bounded in bytes, and hands them back without a
// lock; other sizes and anything past the bound go to malloc. Blocks freed on another thread
// land in that thread's cache (any thread may reuse any block).
//
// Not installed in sanitizer builds: ASan must see every free to report a use after it.
#pragma once

#include <cstddef>

namespace sy::proxy {

// Makes libevent allocate through the cache. Call once, before any other libevent call.
// Returns false (and changes nothing) in a sanitizer build.
bool install_event_memory_cache();

// The cache's functions, for its unit test (which calls them directly in every build).
namespace detail {
void* cache_malloc(size_t n);
void* cache_realloc(void* p, size_t n);
void cache_free(void* p);
size_t cached_bytes_this_thread();  // bytes held in this thread's free lists
}  // namespace detail

}  // namespace sy::proxy
