// The per-thread block cache libevent allocates through (proxy/event_memory.h), called
// directly: class rounding, reuse, realloc's contract, the per-thread byte bound, blocks freed on
// another thread, and a thread's cache given back when it ends (LeakSanitizer checks that in the
// ASan build).
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include <catch.hpp>

#include "proxy/event_memory.h"

namespace em = sy::proxy::detail;

TEST_CASE("a freed block of a class is handed out again for any size of that class") {
  void* a = em::cache_malloc(1500);  // the 2 KiB class
  REQUIRE(a != nullptr);
  std::memset(a, 0xab, 2048);  // the whole class size is usable
  size_t before = em::cached_bytes_this_thread();
  em::cache_free(a);
  CHECK(em::cached_bytes_this_thread() == before + 2048);
  void* b = em::cache_malloc(2048);
  CHECK(b == a);
  CHECK(em::cached_bytes_this_thread() == before);
  em::cache_free(b);
}

TEST_CASE("sizes outside the classes are plain blocks that are never cached") {
  size_t before = em::cached_bytes_this_thread();
  void* big = em::cache_malloc(200 * 1024);
  REQUIRE(big != nullptr);
  std::memset(big, 1, 200 * 1024);
  em::cache_free(big);
  CHECK(em::cached_bytes_this_thread() == before);
  em::cache_free(nullptr);  // like free(NULL)
}

TEST_CASE("realloc keeps the bytes, grows in place within the class, moves beyond it") {
  auto* p = static_cast<char*>(em::cache_realloc(nullptr, 100));  // realloc(NULL) = malloc
  REQUIRE(p != nullptr);
  for (int i = 0; i < 100; ++i) {
    p[i] = static_cast<char>(i);
  }
  CHECK(em::cache_realloc(p, 1024) == p);  // still the 1 KiB class
  auto* q = static_cast<char*>(em::cache_realloc(p, 5000));
  REQUIRE(q != nullptr);
  for (int i = 0; i < 100; ++i) {
    REQUIRE(q[i] == static_cast<char>(i));
  }
  std::memset(q, 0, 5000);
  auto* r = static_cast<char*>(em::cache_realloc(q, 300 * 1024));  // out of the classes
  REQUIRE(r != nullptr);
  std::memset(r, 0, 300 * 1024);
  em::cache_free(r);
}

TEST_CASE("a thread caches at most 512 KiB and gives the rest back to malloc") {
  std::thread([] {
    std::vector<void*> blocks;
    for (int i = 0; i < 40; ++i) {
      blocks.push_back(em::cache_malloc(64 * 1024));
    }
    for (void* b : blocks) {
      em::cache_free(b);
    }
    CHECK(em::cached_bytes_this_thread() == 512 * 1024);
  }).join();
}

TEST_CASE("blocks freed on another thread join that thread's cache, freed when it ends") {
  std::vector<void*> blocks;
  for (int i = 0; i < 16; ++i) {
    blocks.push_back(em::cache_malloc(4096));
  }
  std::thread([&] {
    for (void* b : blocks) {
      em::cache_free(b);
    }
    CHECK(em::cached_bytes_this_thread() == 16 * 4096);
    void* again = em::cache_malloc(4000);
    CHECK(again == blocks.back());
    em::cache_free(again);
  }).join();
}
