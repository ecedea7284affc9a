// proxy/proxy_protocol.h: the PROXY v1 and v2 headers an L4 balancer sends, byte by byte as
// they may arrive, and every malformed form answered Invalid with a reason.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <catch.hpp>
#include <cstring>

#include "proxy/proxy_protocol.h"

using namespace sy::proxy;

namespace {

sockaddr_storage v4(const char* ip, uint16_t port) {
  sockaddr_storage ss{};
  auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  inet_pton(AF_INET, ip, &sin->sin_addr);
  return ss;
}

sockaddr_storage v6(const char* ip, uint16_t port) {
  sockaddr_storage ss{};
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &sin6->sin6_addr);
  return ss;
}

const sockaddr* sa(const sockaddr_storage& ss) { return reinterpret_cast<const sockaddr*>(&ss); }

std::string source_text(const ProxyHeader& h) {
  char buf[INET6_ADDRSTRLEN] = "";
  uint16_t port = 0;
  if (h.source.ss_family == AF_INET) {
    auto* sin = reinterpret_cast<const sockaddr_in*>(&h.source);
    inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
    port = ntohs(sin->sin_port);
  } else {
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&h.source);
    inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
    port = ntohs(sin6->sin6_port);
  }
  return std::string(buf) + ":" + std::to_string(port);
}

// Every proper prefix of |header| is Incomplete; the whole, followed by |after|, is Done with
// the header's length.
ProxyHeader parse_whole(const std::string& header, const std::string& after = "GET / HTTP/1.1") {
  std::string error;
  ProxyHeader h;
  for (size_t n = 0; n < header.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    CHECK(parse_proxy_header(header.substr(0, n), &h, &error) == ProxyParse::Incomplete);
  }
  REQUIRE(parse_proxy_header(header + after, &h, &error) == ProxyParse::Done);
  CHECK(h.length == header.size());
  return h;
}

std::string invalid(const std::string& bytes) {
  std::string error;
  ProxyHeader h;
  CHECK(parse_proxy_header(bytes, &h, &error) == ProxyParse::Invalid);
  return error;
}

}  // namespace

TEST_CASE("PROXY v1 for TCP4, TCP6 and UNKNOWN") {
  auto src = v4("203.0.113.7", 51000);
  auto dst = v4("10.0.0.1", 443);
  std::string line = proxy_v1_header(sa(src), sa(dst));
  CHECK(line == "PROXY TCP4 203.0.113.7 10.0.0.1 51000 443\r\n");
  ProxyHeader h = parse_whole(line);
  CHECK(h.version == 1);
  CHECK(h.has_source);
  CHECK(source_text(h) == "203.0.113.7:51000");

  auto src6 = v6("2001:db8::7", 40000);
  auto dst6 = v6("2001:db8::1", 80);
  h = parse_whole(proxy_v1_header(sa(src6), sa(dst6)));
  CHECK(source_text(h) == "2001:db8::7:40000");

  h = parse_whole("PROXY UNKNOWN\r\n");
  CHECK_FALSE(h.has_source);  // the TCP peer stays the client
  h = parse_whole("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n");
  CHECK_FALSE(h.has_source);
}

TEST_CASE("PROXY v2 for IPv4, IPv6, LOCAL, and TLVs skipped") {
  auto src = v4("198.51.100.9", 1234);
  auto dst = v4("10.0.0.1", 443);
  std::string header = proxy_v2_header(sa(src), sa(dst));
  CHECK(header.size() == 16 + 12);
  ProxyHeader h = parse_whole(header, "\x16\x03\x01");  // a TLS ClientHello follows
  CHECK(h.version == 2);
  CHECK(source_text(h) == "198.51.100.9:1234");

  h = parse_whole(proxy_v2_header(sa(v6("fd00::9", 5)), sa(v6("fd00::1", 6))));
  CHECK(source_text(h) == "fd00::9:5");

  // LOCAL (a balancer's health check): consumed, no source.
  std::string local = header.substr(0, 12) + std::string("\x20\x00\x00\x00", 4);
  h = parse_whole(local);
  CHECK_FALSE(h.has_source);

  // A TLV after the addresses (PP2_TYPE_AUTHORITY): part of the header, skipped.
  std::string tlv = std::string("\x02\x00\x05", 3) + "a.com";
  std::string with_tlv = header;
  with_tlv[15] = static_cast<char>(12 + tlv.size());
  with_tlv += tlv;
  h = parse_whole(with_tlv);
  CHECK(h.length == 16 + 12 + tlv.size());
  CHECK(source_text(h) == "198.51.100.9:1234");
}

TEST_CASE("a malformed or missing PROXY header is Invalid, with a reason") {
  CHECK_THAT(invalid("GET / HTTP/1.1\r\n"), Catch::Contains("not a PROXY header"));
  CHECK_THAT(invalid("\x16\x03\x01\x02"), Catch::Contains("not a PROXY header"));
  CHECK_THAT(invalid("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), Catch::Contains("TCP4, TCP6"));
  CHECK_THAT(invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), Catch::Contains("5 fields"));
  CHECK_THAT(invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), Catch::Contains("5 fields"));
  CHECK_THAT(invalid("PROXY TCP4 1.2.3.999 5.6.7.8 1 2\r\n"), Catch::Contains("bad address"));
  CHECK_THAT(invalid("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"), Catch::Contains("bad address"));
  CHECK_THAT(invalid("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), Catch::Contains("bad address"));
  CHECK_THAT(invalid("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"), Catch::Contains("bad address"));
  CHECK_THAT(invalid("PROXY TCP4 1.2.3.4\n"), Catch::Contains("bare LF"));
  CHECK_THAT(invalid("PROXY " + std::string(120, 'x')), Catch::Contains("longer than 107"));
  std::string v2 = proxy_v2_header(sa(v4("1.2.3.4", 1)), sa(v4("5.6.7.8", 2)));
  std::string bad_version = v2;
  bad_version[12] = 0x31;
  CHECK_THAT(invalid(bad_version), Catch::Contains("version 3"));
  std::string bad_command = v2;
  bad_command[12] = 0x2F;
  CHECK_THAT(invalid(bad_command), Catch::Contains("unknown command"));
  std::string short_addr = v2.substr(0, 16);
  short_addr[15] = 4;
  CHECK_THAT(invalid(short_addr + "abcd"), Catch::Contains("too short for IPv4"));
  std::string huge = v2.substr(0, 16);
  huge[14] = 0x40;  // 16 KiB of TLVs
  CHECK_THAT(invalid(huge), Catch::Contains("longer than"));
  std::string bad_sig = v2;
  bad_sig[5] = 'X';
  CHECK_THAT(invalid(bad_sig), Catch::Contains("bad v2 signature"));
}

TEST_CASE("the header sent to a member: v1/v2, IPv4-mapped unmapped, unknown as UNKNOWN/LOCAL") {
  auto client = v4("203.0.113.7", 40000);
  auto listener = v4("10.0.0.1", 80);
  CHECK(proxy_header_for_member(1, client, listener) ==
        "PROXY TCP4 203.0.113.7 10.0.0.1 40000 80\r\n");
  ProxyHeader h = parse_whole(proxy_header_for_member(2, client, listener));
  CHECK(h.version == 2);
  CHECK(source_text(h) == "203.0.113.7:40000");
  // A v4 client (from a PROXY header) on a [::] listener: sent as TCP4.
  CHECK(proxy_header_for_member(1, client, v6("::ffff:10.0.0.1", 80)) ==
        "PROXY TCP4 203.0.113.7 10.0.0.1 40000 80\r\n");
  CHECK(proxy_header_for_member(1, v6("fd00::9", 5), v6("fd00::1", 6)) ==
        "PROXY TCP6 fd00::9 fd00::1 5 6\r\n");
  // Nothing known (an in-memory client, a health check): the forms that name no client.
  CHECK(proxy_header_for_member(1, sockaddr_storage{}, listener) == "PROXY UNKNOWN\r\n");
  h = parse_whole(proxy_header_for_member(2, sockaddr_storage{}, sockaddr_storage{}));
  CHECK(h.version == 2);
  CHECK_FALSE(h.has_source);
  CHECK(h.length == 16);
  CHECK(proxy_header_for_member(1, client, v6("fd00::1", 6)) == "PROXY UNKNOWN\r\n");
}
