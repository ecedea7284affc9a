#pragma once
// Internal to the HTTP/1 codec (http1_parser.cpp, http1_framing.cpp): the character-class
// table and the small helpers both scans use. Pure, header-only.

#include <array>
#include <cstdint>
#include <string_view>

#include "proxy/http1_parser.h"

namespace sy::http1::detail {

// Character classes (RFC 9110 5.6.2 tchar; field-vchar; request-target bytes).
enum : uint8_t {
  kToken = 1,       // tchar
  kFieldValue = 2,  // field-vchar / SP / HTAB / obs-text
  kTarget = 4,      // visible ASCII and obs-text allowed in a request target
  kHex = 8,
  kHost = 16,  // a byte a Host value may hold (valid_host): not SP, CTL, / ? # @ or backslash
};

constexpr std::array<uint8_t, 256> make_classes() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    uint8_t v = 0;
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (alnum ||
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos) {
      v |= kToken;
    }
    if (c == '\t' || (c >= 0x20 && c != 0x7f)) {
      v |= kFieldValue;
    }
    if (c > 0x20 && c != 0x7f) {
      v |= kTarget;
    }
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
      v |= kHex;
    }
    if (c > 0x20 && c != 0x7f && std::string_view("/?#@\\").find(static_cast<char>(c)) ==
                                     std::string_view::npos) {
      v |= kHost;
    }
    t[static_cast<size_t>(c)] = v;
  }
  return t;
}

constexpr std::array<uint8_t, 256> kClass = make_classes();

inline bool is(char c, uint8_t cls) { return (kClass[static_cast<unsigned char>(c)] & cls) != 0; }

inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Splits a comma-separated list value and calls f(element) for each non-empty element, trimmed.
template <typename F>
void for_each_element(std::string_view value, F&& f) {
  size_t i = 0;
  while (i <= value.size()) {
    size_t comma = value.find(',', i);
    if (comma == std::string_view::npos) {
      comma = value.size();
    }
    std::string_view el = value.substr(i, comma - i);
    while (!el.empty() && (el.front() == ' ' || el.front() == '\t')) {
      el.remove_prefix(1);
    }
    while (!el.empty() && (el.back() == ' ' || el.back() == '\t')) {
      el.remove_suffix(1);
    }
    if (!el.empty()) {
      f(el);
    }
    i = comma + 1;
  }
}

inline ParseResult finish(ParseStatus status, size_t consumed) {
  return ParseResult{status, consumed};
}

}  // namespace sy::http1::detail
