// proxy/tls.h: SNI name matching (pure) and the start-up errors for missing files.

#include "proxy/tls.h"

#include <catch.hpp>

#include "conf/load.h"

using sy::proxy::tls_name_matches;

TEST_CASE("SNI names match exactly, case-insensitively") {
  CHECK(tls_name_matches("a.example.com", "a.example.com"));
  CHECK(tls_name_matches("a.example.com", "A.Example.COM"));
  CHECK(tls_name_matches("a.example.com", "a.example.com."));
  CHECK_FALSE(tls_name_matches("a.example.com", "b.example.com"));
  CHECK_FALSE(tls_name_matches("a.example.com", "a.example.co"));
  CHECK_FALSE(tls_name_matches("a.example.com", ""));
}

TEST_CASE("a wildcard matches exactly one left-most label") {
  CHECK(tls_name_matches("*.example.com", "a.example.com"));
  CHECK(tls_name_matches("*.example.com", "WWW.example.com"));
  CHECK_FALSE(tls_name_matches("*.example.com", "example.com"));
  CHECK_FALSE(tls_name_matches("*.example.com", "a.b.example.com"));
  CHECK_FALSE(tls_name_matches("*.example.com", ".example.com"));
  CHECK_FALSE(tls_name_matches("*.example.com", "a.example.org"));
}

TEST_CASE("a missing certificate or key file is a start-up error naming the file") {
  auto r = sy::conf::load_config_string(
      "listeners:\n"
      "  - name: secure\n"
      "    port: 0\n"
      "    pool: p\n"
      "    tls: {certificates: [{cert: /nonexistent/c.pem, key: /nonexistent/k.pem}]}\n"
      "pools: [{name: p, members: [{address: 127.0.0.1:1}]}]\n");
  REQUIRE(r.ok());
  auto store = sy::proxy::TlsStore::create(r.config);
  REQUIRE_FALSE(store.ok());
  CHECK_THAT(store.error().message, Catch::Contains("listener secure"));
  CHECK_THAT(store.error().message, Catch::Contains("/nonexistent/c.pem"));
  CHECK_THAT(store.error().message, Catch::Contains("No such file"));
}

TEST_CASE("no TLS listener: no store") {
  auto r = sy::conf::load_config_string(
      "listeners: [{name: plain, port: 0, pool: p}]\n"
      "pools: [{name: p, members: [{address: 127.0.0.1:1}]}]\n");
  REQUIRE(r.ok());
  auto store = sy::proxy::TlsStore::create(r.config);
  REQUIRE(store.ok());
  CHECK(*store == nullptr);
}
