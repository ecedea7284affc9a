// proxy/member_set.h: host-name members expand into one member per resolved address.

#include "proxy/member_set.h"

#include <catch.hpp>

using namespace sy::proxy;

namespace {

MemberSpec spec(const char* address, const char* host, int port) {
  MemberSpec s;
  s.address = address;
  s.host = host;
  s.port = port;
  s.weight = 2;
  s.tls_name = "";
  return s;
}

}  // namespace

TEST_CASE("host-name members expand into one member per address, literals pass through") {
  std::vector<MemberSpec> wanted = {spec("127.0.0.1:81", "127.0.0.1", 81),
                                    spec("app.internal:8080", "app.internal", 8080),
                                    spec("gone.internal:80", "gone.internal", 80),
                                    spec("twin.internal:8080", "twin.internal", 8080)};
  std::map<std::string, NameAddresses> names = {
      {"app.internal", {{"127.0.0.2", "::1"}, ""}},
      {"twin.internal", {{"127.0.0.2"}, ""}},  // the same address twice: one member
  };
  auto out = expand_names(wanted, names);
  REQUIRE(out.size() == 3);
  CHECK(out[0].address == "127.0.0.1:81");
  CHECK(out[0].origin == MemberOrigin::Yaml);
  CHECK(out[0].name.empty());
  CHECK(out[1].address == "127.0.0.2:8080");
  CHECK(out[1].host == "127.0.0.2");
  CHECK(out[1].origin == MemberOrigin::Dns);
  CHECK(out[1].name == "app.internal:8080");
  CHECK(out[1].name_host == "app.internal");
  CHECK(out[1].weight == 2);
  CHECK(out[2].address == "[::1]:8080");
  CHECK(out[2].host == "::1");
  // A name not resolved yet (gone.internal) gives no member rather than a bad one.
  CHECK(is_host_name("app.internal"));
  CHECK_FALSE(is_host_name("localhost"));
  CHECK_FALSE(is_host_name("::1"));
  CHECK_FALSE(is_host_name("10.1.2.3"));
}
