#include "common/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace sy {
namespace {

IpBytes mapped_v4(const void* v4) {
  IpBytes out{};
  out[10] = 0xff;
  out[11] = 0xff;
  std::memcpy(out.data() + 12, v4, 4);
  return out;
}

}  // namespace

std::optional<IpBytes> parse_ip(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) {
    return std::nullopt;
  }
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  in_addr v4;
  if (inet_pton(AF_INET, buf, &v4) == 1) {
    return mapped_v4(&v4);
  }
  IpBytes v6;
  if (inet_pton(AF_INET6, buf, v6.data()) == 1) {
    return v6;
  }
  return std::nullopt;
}

std::optional<IpBytes> ip_of(const sockaddr* sa) {
  if (sa == nullptr) {
    return std::nullopt;
  }
  if (sa->sa_family == AF_INET) {
    return mapped_v4(&reinterpret_cast<const sockaddr_in*>(sa)->sin_addr);
  }
  if (sa->sa_family == AF_INET6) {
    IpBytes out;
    std::memcpy(out.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
    return out;
  }
  return std::nullopt;
}

bool Cidr::contains(const IpBytes& ip) const {
  int full = bits / 8;
  if (std::memcmp(ip.data(), network.data(), static_cast<size_t>(full)) != 0) {
    return false;
  }
  int rest = bits % 8;
  if (rest == 0) {
    return true;
  }
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (ip[static_cast<size_t>(full)] & mask) == network[static_cast<size_t>(full)];
}

std::optional<Cidr> parse_cidr(std::string_view text, std::string* error) {
  size_t slash = text.find('/');
  std::string_view addr = text.substr(0, slash);
  std::optional<IpBytes> ip = parse_ip(addr);
  if (!ip) {
    *error = "expected an IPv4 or IPv6 address or block, e.g. 10.0.0.0/8, 192.168.1.7, fd00::/8";
    return std::nullopt;
  }
  const bool v4 = addr.find(':') == std::string_view::npos;
  const int max = v4 ? 32 : 128;
  int bits = max;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) {
      *error = "bad prefix length after '/' (expected 0.." + std::to_string(max) + ")";
      return std::nullopt;
    }
    bits = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') {
        *error = "bad prefix length after '/' (expected 0.." + std::to_string(max) + ")";
        return std::nullopt;
      }
      bits = bits * 10 + (c - '0');
    }
    if (bits > max) {
      *error = "prefix length " + std::to_string(bits) + " is longer than " + std::to_string(max) +
               " bits";
      return std::nullopt;
    }
  }
  Cidr c;
  c.bits = v4 ? bits + 96 : bits;
  c.network = *ip;
  c.text = std::string(text);
  // Host bits must be zero: "10.0.0.1/8" is more likely a typo than a wish for 10/8.
  for (int i = c.bits; i < 128; ++i) {
    if (c.network[static_cast<size_t>(i / 8)] & (0x80 >> (i % 8))) {
      *error = "host bits set below the prefix (did you mean the block's first address?)";
      return std::nullopt;
    }
  }
  return c;
}

bool any_contains(const std::vector<Cidr>& set, const IpBytes& ip) {
  for (const Cidr& c : set) {
    if (c.contains(ip)) {
      return true;
    }
  }
  return false;
}

}  // namespace sy
