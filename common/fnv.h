#pragma once
// FNV-1a, 64 bit: a cheap fingerprint of rows read from the database ("did anything change?").
// Not for hash tables exposed to untrusted input, not cryptographic.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sy {

struct Fnv64 {
  uint64_t h = 1469598103934665603ULL;

  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
      h = (h ^ b[i]) * 1099511628211ULL;
    }
  }
  // The bytes of |s| and a terminating NUL, so ("ab","c") and ("a","bc") differ.
  void str(std::string_view s) {
    bytes(s.data(), s.size());
    bytes("\0", 1);
  }
  template <class T>
  void num(T v) {
    bytes(&v, sizeof v);
  }
};

}  // namespace sy
