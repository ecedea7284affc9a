// common/cidr.h: addresses and blocks of both families in one form, and the errors a
// trusted_proxies entry can have.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <catch.hpp>

#include "common/cidr.h"

using namespace sy;

namespace {

Cidr block(const char* text) {
  std::string why;
  std::optional<Cidr> c = parse_cidr(text, &why);
  INFO(text << ": " << why);
  REQUIRE(c);
  return *c;
}

IpBytes ip(const char* text) {
  std::optional<IpBytes> b = parse_ip(text);
  REQUIRE(b);
  return *b;
}

}  // namespace

TEST_CASE("IPv4 and IPv6 blocks match addresses of their family, mapped or not") {
  Cidr ten = block("10.0.0.0/8");
  CHECK(ten.contains(ip("10.1.2.3")));
  CHECK(ten.contains(ip("::ffff:10.200.0.1")));  // an AF_INET6 socket's view of an IPv4 peer
  CHECK_FALSE(ten.contains(ip("11.0.0.1")));
  CHECK_FALSE(ten.contains(ip("fd00::1")));
  Cidr one = block("192.168.1.7");  // an address alone is a /32
  CHECK(one.contains(ip("192.168.1.7")));
  CHECK_FALSE(one.contains(ip("192.168.1.8")));
  Cidr odd = block("172.16.0.0/12");  // a prefix that ends inside a byte
  CHECK(odd.contains(ip("172.31.255.255")));
  CHECK_FALSE(odd.contains(ip("172.32.0.0")));
  Cidr ula = block("fd00::/8");
  CHECK(ula.contains(ip("fd12:3456::1")));
  CHECK(ula.contains(ip("[fd00::2]")));
  CHECK_FALSE(ula.contains(ip("fe80::1")));
  CHECK(block("0.0.0.0/0").contains(ip("8.8.8.8")));
  CHECK_FALSE(block("0.0.0.0/0").contains(ip("2001:db8::1")));  // all IPv4, not everything
  CHECK(block("::/0").contains(ip("8.8.8.8")));
  CHECK(any_contains({ten, ula}, ip("fd00::9")));
  CHECK_FALSE(any_contains({}, ip("10.0.0.1")));
}

TEST_CASE("the address of a socket address, either family") {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  inet_pton(AF_INET, "10.1.2.3", &v4.sin_addr);
  REQUIRE(ip_of(reinterpret_cast<sockaddr*>(&v4)));
  CHECK(*ip_of(reinterpret_cast<sockaddr*>(&v4)) == ip("10.1.2.3"));
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "fd00::5", &v6.sin6_addr);
  CHECK(*ip_of(reinterpret_cast<sockaddr*>(&v6)) == ip("fd00::5"));
  sockaddr other{};
  other.sa_family = AF_UNIX;
  CHECK_FALSE(ip_of(&other));
  CHECK_FALSE(ip_of(nullptr));
}

TEST_CASE("a bad block says what is wrong") {
  auto why = [](const char* text) {
    std::string error;
    CHECK_FALSE(parse_cidr(text, &error));
    return error;
  };
  CHECK_THAT(why("10.0.0.1/8"), Catch::Contains("host bits set"));
  CHECK_THAT(why("10.0.0.0/33"), Catch::Contains("longer than 32 bits"));
  CHECK_THAT(why("fd00::/129"), Catch::Contains("longer than 128 bits"));
  CHECK_THAT(why("10.0.0.0/"), Catch::Contains("bad prefix length"));
  CHECK_THAT(why("10.0.0.0/8x"), Catch::Contains("bad prefix length"));
  CHECK_THAT(why("example.com"), Catch::Contains("expected an IPv4 or IPv6 address"));
  CHECK_THAT(why(""), Catch::Contains("expected an IPv4 or IPv6 address"));
  CHECK_FALSE(parse_ip("1.2.3"));
  CHECK_FALSE(parse_ip("1.2.3.4.5"));
}
