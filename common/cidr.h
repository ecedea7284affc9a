#pragma once
// IP addresses and CIDR blocks as 16 bytes (IPv4 as IPv4-mapped IPv6, ::ffff:a.b.c.d), so one
// comparison serves both families: "10.0.0.0/8" matches a peer 10.1.2.3 whether the socket is
// AF_INET or an AF_INET6 socket carrying a mapped address. Pure; thread: any.

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sy {

using IpBytes = std::array<uint8_t, 16>;

// An IPv4 or IPv6 literal ("10.1.2.3", "::1", "[::1]") as 16 bytes; nullopt when it is not one.
std::optional<IpBytes> parse_ip(std::string_view text);
// The address of an AF_INET or AF_INET6 socket address; nullopt for any other family.
std::optional<IpBytes> ip_of(const sockaddr* sa);

struct Cidr {
  IpBytes network{};  // host bits zero
  int bits = 128;     // prefix length over the 16 bytes (an IPv4 /8 is 104)
  std::string text;   // as written in the configuration (messages, `show` output)

  bool contains(const IpBytes& ip) const;
  bool operator==(const Cidr& o) const { return network == o.network && bits == o.bits; }
};

// "10.0.0.0/8", "192.168.1.7" (a /32), "fd00::/8", "::1" (a /128). Host bits set below the
// prefix ("10.0.0.1/8") are an error, as a typo for another block is likely; nullopt and
// |*error| then say why.
std::optional<Cidr> parse_cidr(std::string_view text, std::string* error);

// True when any block of |set| contains |ip|.
bool any_contains(const std::vector<Cidr>& set, const IpBytes& ip);

}  // namespace sy
