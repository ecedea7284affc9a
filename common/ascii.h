#pragma once
// ASCII helpers shared by the HTTP codec (proxy/) and the tenant-key extraction (routing/).

#include <cstdint>
#include <cstring>
#include <string_view>

namespace sy {

// 'A'..'Z' -> 'a'..'z'; every other byte unchanged.
inline char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

namespace detail {

// Whether the |W|-byte words |a| and |b| are equal ignoring ASCII case: they may differ only in
// bit 0x20 of bytes that are letters (SWAR: every byte at once, no carry between bytes).
template <class W>
inline bool iequal_words(W a, W b) {
  if (a == b) {
    return true;
  }
  constexpr W k01 = static_cast<W>(~W{0}) / 0xff;  // 0x0101...
  constexpr W k80 = k01 * 0x80;
  const W diff = a ^ b;
  if ((diff & ~(k01 * 0x20)) != 0) {
    return false;  // a byte differs in more than the case bit
  }
  const W x = a | (k01 * 0x20);  // lower case of the letters (and of other bytes: unused)
  // Per byte of |x| below 0x80: 'a' <= byte <= 'z'. With the high bit forced on, subtracting
  // at most 0x7b never borrows from the next byte.
  const W ge_a = (x | k80) - k01 * 'a';
  const W gt_z = (x | k80) - k01 * ('z' + 1);
  const W letter = ge_a & ~gt_z & ~x & k80;
  return ((diff >> 5) & ~(letter >> 7)) == 0;
}

template <class W>
inline W load_word(const char* p) {
  W w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

}  // namespace detail

// Case-insensitive ASCII comparison (header names, tokens, media types). Always inlined: it
// runs for nearly every header field of every request, where a call cost as much as the
// compare, and against a literal the length check and the choice of path below fold away
// (callgrind: GCC stopped inlining it once it compared words). Eight bytes at a time (the
// last word overlapping the one before); byte by byte only below four bytes.
[[gnu::always_inline]] inline bool iequals(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) {
    return false;
  }
  const char* pa = a.data();
  const char* pb = b.data();
  if (n >= 8) {
    size_t i = 0;
    for (; i + 8 < n; i += 8) {
      if (!detail::iequal_words(detail::load_word<uint64_t>(pa + i),
                                detail::load_word<uint64_t>(pb + i))) {
        return false;
      }
    }
    return detail::iequal_words(detail::load_word<uint64_t>(pa + n - 8),
                                detail::load_word<uint64_t>(pb + n - 8));
  }
  if (n >= 4) {
    return detail::iequal_words(detail::load_word<uint32_t>(pa),
                                detail::load_word<uint32_t>(pb)) &&
           detail::iequal_words(detail::load_word<uint32_t>(pa + n - 4),
                                detail::load_word<uint32_t>(pb + n - 4));
  }
  for (size_t i = 0; i < n; ++i) {
    if (ascii_lower(pa[i]) != ascii_lower(pb[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace sy
