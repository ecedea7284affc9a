// conf/load.h parse_pool_settings: one pool's settings (`pool add`, rows of sy_pools) decoded by
// the YAML's own rules, members optional.

#include <catch.hpp>

#include "conf/load.h"

using namespace sy::conf;

TEST_CASE("pool settings without members decode like a pools entry") {
  Pool p;
  std::string why;
  REQUIRE(parse_pool_settings("{name: extra, balance: least_conn, protocol: h2, "
                              "connect_timeout: 250ms, retries: 1, tls: {server_name: a.example}}",
                              &p, &why));
  CHECK(p.name == "extra");
  CHECK(p.balance == Balance::LeastConn);
  CHECK(p.protocol == PoolProtocol::Http2);
  CHECK(p.connect_timeout == Millis{250});
  CHECK(p.retries == 1);
  CHECK(p.tls.enabled);
  CHECK(p.tls.server_name == "a.example");
  CHECK(p.members.empty());
  CHECK(p.response_timeout == Millis{30000});  // the YAML's default
}

TEST_CASE("bad pool settings are refused with every reason, by key") {
  Pool p;
  std::string why;
  CHECK_FALSE(
      parse_pool_settings("{name: x, balance: random, retries: \"2\", colour: red}", &p, &why));
  CHECK(why.find("pool.balance") != std::string::npos);
  CHECK(why.find("pool.retries") != std::string::npos);
  CHECK(why.find("colour") != std::string::npos);
  CHECK_FALSE(parse_pool_settings("{balance: least_conn}", &p, &why));
  CHECK(why.find("name") != std::string::npos);
  CHECK_FALSE(parse_pool_settings("[1, 2]", &p, &why));
  CHECK(why.find("expected a mapping") != std::string::npos);
  CHECK_FALSE(parse_pool_settings("{name: x, connect_timeout: soon}", &p, &why));
  CHECK(why.find("connect_timeout") != std::string::npos);
}
