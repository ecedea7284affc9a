#pragma once
// ASCII helpers shared by the HTTP codec (proxy/) and the tenant-key extraction (routing/).

#include <string_view>

namespace sy {

// 'A'..'Z' -> 'a'..'z'; every other byte unchanged.
inline char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

// Case-insensitive ASCII comparison (header names, tokens, media types). Inline: it runs for
// nearly every header field of every request, where a call cost as much as the compare
// (callgrind).
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x != y) {
      x = (x >= 'A' && x <= 'Z') ? static_cast<char>(x + 32) : x;
      y = (y >= 'A' && y <= 'Z') ? static_cast<char>(y + 32) : y;
      if (x != y) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace sy
