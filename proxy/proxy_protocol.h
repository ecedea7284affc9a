#pragma once
// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) that an L4
// balancer in front of a listener sends before the client's first byte: it carries the
// client's own address, which the TCP peer (the balancer) is not. Pure: bytes in, a result
// out; the connection peeks at the socket and consumes exactly |length| bytes once parsed
// (proxy/connection.cpp), so TLS starts right after it. Thread: any.

#include <sys/socket.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace sy::proxy {

// The longest header accepted: a v1 line is at most 107 bytes; a v2 header is 16 bytes plus
// addresses (at most 216 for unix sockets) plus TLVs, which we skip but bound.
inline constexpr size_t kMaxProxyHeader = 16 + 1024;

enum class ProxyParse {
  Incomplete,  // a valid prefix: read more
  Invalid,     // not a PROXY header, or a malformed one: |error| says why
  Done,
};

struct ProxyHeader {
  size_t length = 0;          // bytes the header takes on the wire
  int version = 0;            // 1 or 2
  bool has_source = false;    // false: LOCAL (a health check) or UNKNOWN: keep the TCP peer
  sockaddr_storage source{};  // the client's address and port when |has_source|
};

// Parses the header at the start of |bytes|.
ProxyParse parse_proxy_header(std::string_view bytes, ProxyHeader* out, std::string* error);

// The v1 and v2 forms of a header for |source| -> |destination| (both AF_INET or AF_INET6):
// what a balancer sends.
std::string proxy_v1_header(const sockaddr* source, const sockaddr* destination);
std::string proxy_v2_header(const sockaddr* source, const sockaddr* destination);

// The header Switchyard sends a member (pools[].send_proxy: |version| 1 or 2) for a client
// |source| that connected to |destination|. An IPv4-mapped IPv6 address is sent as IPv4 when
// the other one is IPv4; addresses of other or mixed families (unknown, a unix socket) are
// sent as v1 "PROXY UNKNOWN" / v2 LOCAL, which a receiver answers with the TCP peer.
std::string proxy_header_for_member(int version, const sockaddr_storage& source,
                                    const sockaddr_storage& destination);

}  // namespace sy::proxy
