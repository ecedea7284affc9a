#include "proxy/proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <cstring>

namespace sy::proxy {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr size_t kV1Max = 107;  // including CRLF (proxy-protocol.txt 2.1)
constexpr unsigned char kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                            0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// A prefix of |bytes| that is also a prefix of |want| (both as long as the shorter).
bool prefix_matches(std::string_view bytes, std::string_view want) {
  size_t n = bytes.size() < want.size() ? bytes.size() : want.size();
  return bytes.substr(0, n) == want.substr(0, n);
}

bool parse_port(std::string_view text, uint16_t* out) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) {
    return false;
  }
  uint32_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) {
    return false;
  }
  *out = static_cast<uint16_t>(v);
  return true;
}

ProxyParse invalid(std::string* error, std::string text) {
  *error = std::move(text);
  return ProxyParse::Invalid;
}

// "PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n" or "PROXY UNKNOWN ...\r\n".
ProxyParse parse_v1(std::string_view bytes, ProxyHeader* out, std::string* error) {
  size_t crlf = bytes.find("\r\n");
  if (crlf == std::string_view::npos) {
    if (bytes.size() >= kV1Max) {
      return invalid(error, "PROXY v1 line longer than 107 bytes");
    }
    if (bytes.find('\n') != std::string_view::npos || bytes.find('\0') != std::string_view::npos) {
      return invalid(error, "PROXY v1 line with a bare LF or a NUL byte");
    }
    return ProxyParse::Incomplete;
  }
  if (crlf + 2 > kV1Max) {
    return invalid(error, "PROXY v1 line longer than 107 bytes");
  }
  std::string_view line = bytes.substr(kV1Prefix.size(), crlf - kV1Prefix.size());
  out->version = 1;
  out->length = crlf + 2;
  if (line.rfind("UNKNOWN", 0) == 0) {
    out->has_source = false;  // the balancer could not tell: keep the TCP peer
    return ProxyParse::Done;
  }
  std::string_view words[5];
  size_t n = 0;
  size_t pos = 0;
  while (n < 5 && pos <= line.size()) {
    size_t sp = line.find(' ', pos);
    words[n++] = line.substr(pos, sp == std::string_view::npos ? line.npos : sp - pos);
    if (sp == std::string_view::npos) {
      pos = line.size() + 1;
      break;
    }
    pos = sp + 1;
  }
  if (n != 5 || pos <= line.size()) {
    return invalid(error, "PROXY v1 line without exactly 5 fields after PROXY");
  }
  int family = words[0] == "TCP4" ? AF_INET : words[0] == "TCP6" ? AF_INET6 : 0;
  if (family == 0) {
    return invalid(error, "PROXY v1 protocol is neither TCP4, TCP6 nor UNKNOWN");
  }
  char buf[INET6_ADDRSTRLEN];
  uint16_t sport = 0;
  uint16_t dport = 0;
  if (words[1].size() >= sizeof(buf) || !parse_port(words[3], &sport) ||
      !parse_port(words[4], &dport)) {
    return invalid(error, "PROXY v1 line with a bad address or port");
  }
  std::memcpy(buf, words[1].data(), words[1].size());
  buf[words[1].size()] = '\0';
  std::memset(&out->source, 0, sizeof(out->source));
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out->source);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(sport);
    if (inet_pton(AF_INET, buf, &sin->sin_addr) != 1) {
      return invalid(error, "PROXY v1 line with a bad address or port");
    }
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out->source);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(sport);
    if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1) {
      return invalid(error, "PROXY v1 line with a bad address or port");
    }
  }
  out->has_source = true;
  return ProxyParse::Done;
}

ProxyParse parse_v2(std::string_view bytes, ProxyHeader* out, std::string* error) {
  if (bytes.size() < 16) {
    return ProxyParse::Incomplete;
  }
  auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  int version = b[12] >> 4;
  int command = b[12] & 0x0F;
  if (version != 2) {
    return invalid(error, "PROXY v2 header with version " + std::to_string(version));
  }
  if (command > 1) {
    return invalid(error, "PROXY v2 header with an unknown command");
  }
  size_t len = (static_cast<size_t>(b[14]) << 8) | b[15];
  if (16 + len > kMaxProxyHeader) {
    return invalid(error,
                   "PROXY v2 header longer than " + std::to_string(kMaxProxyHeader) + " bytes");
  }
  if (bytes.size() < 16 + len) {
    return ProxyParse::Incomplete;
  }
  out->version = 2;
  out->length = 16 + len;
  out->has_source = false;
  if (command == 0) {
    return ProxyParse::Done;  // LOCAL: the balancer's own connection (a health check)
  }
  int family = b[13] >> 4;
  int transport = b[13] & 0x0F;
  const unsigned char* a = b + 16;
  std::memset(&out->source, 0, sizeof(out->source));
  if (family == 1 && transport == 1) {  // TCP over IPv4
    if (len < 12) {
      return invalid(error, "PROXY v2 header too short for IPv4 addresses");
    }
    auto* sin = reinterpret_cast<sockaddr_in*>(&out->source);
    sin->sin_family = AF_INET;
    std::memcpy(&sin->sin_addr, a, 4);
    std::memcpy(&sin->sin_port, a + 8, 2);
    out->has_source = true;
  } else if (family == 2 && transport == 1) {  // TCP over IPv6
    if (len < 36) {
      return invalid(error, "PROXY v2 header too short for IPv6 addresses");
    }
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out->source);
    sin6->sin6_family = AF_INET6;
    std::memcpy(&sin6->sin6_addr, a, 16);
    std::memcpy(&sin6->sin6_port, a + 32, 2);
    out->has_source = true;
  }
  // UNSPEC, UDP or unix: the header is consumed and the TCP peer kept (proxy-protocol.txt:
  // a receiver must accept and ignore what it does not support).
  return ProxyParse::Done;
}

}  // namespace

ProxyParse parse_proxy_header(std::string_view bytes, ProxyHeader* out, std::string* error) {
  std::string_view sig(reinterpret_cast<const char*>(kV2Signature), sizeof(kV2Signature));
  if (!bytes.empty() && static_cast<unsigned char>(bytes[0]) == kV2Signature[0]) {
    if (!prefix_matches(bytes, sig)) {
      return invalid(error, "not a PROXY header (bad v2 signature)");
    }
    return bytes.size() < sig.size() ? ProxyParse::Incomplete : parse_v2(bytes, out, error);
  }
  if (!prefix_matches(bytes, kV1Prefix)) {
    return invalid(error, "not a PROXY header (expected \"PROXY \" or the v2 signature)");
  }
  return bytes.size() < kV1Prefix.size() ? ProxyParse::Incomplete : parse_v1(bytes, out, error);
}

namespace {

// |a| as AF_INET when it is an IPv4-mapped IPv6 address (::ffff:a.b.c.d), else as it is.
sockaddr_storage unmapped(const sockaddr_storage& a) {
  if (a.ss_family != AF_INET6) {
    return a;
  }
  const auto* six = reinterpret_cast<const sockaddr_in6*>(&a);
  if (!IN6_IS_ADDR_V4MAPPED(&six->sin6_addr)) {
    return a;
  }
  sockaddr_storage out{};
  auto* four = reinterpret_cast<sockaddr_in*>(&out);
  four->sin_family = AF_INET;
  four->sin_port = six->sin6_port;
  std::memcpy(&four->sin_addr, six->sin6_addr.s6_addr + 12, 4);
  return out;
}

}  // namespace

std::string proxy_header_for_member(int version, const sockaddr_storage& source,
                                    const sockaddr_storage& destination) {
  sockaddr_storage s = source;
  sockaddr_storage d = destination;
  if (s.ss_family != d.ss_family) {  // e.g. a v4 client from a PROXY header, a [::] listener
    s = unmapped(s);
    d = unmapped(d);
  }
  const bool known = s.ss_family == d.ss_family &&
                     (s.ss_family == AF_INET || s.ss_family == AF_INET6);
  const auto* src = reinterpret_cast<const sockaddr*>(&s);
  const auto* dst = reinterpret_cast<const sockaddr*>(&d);
  if (version == 1) {
    return known ? proxy_v1_header(src, dst) : std::string("PROXY UNKNOWN\r\n");
  }
  if (known) {
    return proxy_v2_header(src, dst);
  }
  std::string out(reinterpret_cast<const char*>(kV2Signature), sizeof(kV2Signature));
  out.append("\x20\x00\x00\x00", 4);  // version 2 LOCAL, AF_UNSPEC, no addresses
  return out;
}

std::string proxy_v1_header(const sockaddr* source, const sockaddr* destination) {
  char s[INET6_ADDRSTRLEN] = "";
  char d[INET6_ADDRSTRLEN] = "";
  uint16_t sport = 0;
  uint16_t dport = 0;
  const bool v4 = source->sa_family == AF_INET;
  if (v4) {
    auto* si = reinterpret_cast<const sockaddr_in*>(source);
    auto* di = reinterpret_cast<const sockaddr_in*>(destination);
    inet_ntop(AF_INET, &si->sin_addr, s, sizeof(s));
    inet_ntop(AF_INET, &di->sin_addr, d, sizeof(d));
    sport = ntohs(si->sin_port);
    dport = ntohs(di->sin_port);
  } else {
    auto* si = reinterpret_cast<const sockaddr_in6*>(source);
    auto* di = reinterpret_cast<const sockaddr_in6*>(destination);
    inet_ntop(AF_INET6, &si->sin6_addr, s, sizeof(s));
    inet_ntop(AF_INET6, &di->sin6_addr, d, sizeof(d));
    sport = ntohs(si->sin6_port);
    dport = ntohs(di->sin6_port);
  }
  return std::string("PROXY ") + (v4 ? "TCP4 " : "TCP6 ") + s + " " + d + " " +
         std::to_string(sport) + " " + std::to_string(dport) + "\r\n";
}

std::string proxy_v2_header(const sockaddr* source, const sockaddr* destination) {
  std::string out(reinterpret_cast<const char*>(kV2Signature), sizeof(kV2Signature));
  const bool v4 = source->sa_family == AF_INET;
  out.push_back(static_cast<char>(0x21));              // version 2, PROXY
  out.push_back(static_cast<char>(v4 ? 0x11 : 0x21));  // TCP over IPv4 / IPv6
  uint16_t len = v4 ? 12 : 36;
  out.push_back(static_cast<char>(len >> 8));
  out.push_back(static_cast<char>(len & 0xff));
  if (v4) {
    auto* si = reinterpret_cast<const sockaddr_in*>(source);
    auto* di = reinterpret_cast<const sockaddr_in*>(destination);
    out.append(reinterpret_cast<const char*>(&si->sin_addr), 4);
    out.append(reinterpret_cast<const char*>(&di->sin_addr), 4);
    out.append(reinterpret_cast<const char*>(&si->sin_port), 2);
    out.append(reinterpret_cast<const char*>(&di->sin_port), 2);
  } else {
    auto* si = reinterpret_cast<const sockaddr_in6*>(source);
    auto* di = reinterpret_cast<const sockaddr_in6*>(destination);
    out.append(reinterpret_cast<const char*>(&si->sin6_addr), 16);
    out.append(reinterpret_cast<const char*>(&di->sin6_addr), 16);
    out.append(reinterpret_cast<const char*>(&si->sin6_port), 2);
    out.append(reinterpret_cast<const char*>(&di->sin6_port), 2);
  }
  return out;
}

}  // namespace sy::proxy
