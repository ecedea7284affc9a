// proxy/tls.h: SNI name matching (pure), the start-up errors for missing files, and the upstream
// (client) contexts: their start-up errors, SNI only for DNS names, failure descriptions.

#include "proxy/tls.h"

#include <catch.hpp>

#include "conf/load.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <string>

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
  auto r = sy::conf::load_config_string("listeners: [{name: plain, port: 0, pool: p}]\n"
                                        "pools: [{name: p, members: [{address: 127.0.0.1:1}]}]\n");
  REQUIRE(r.ok());
  auto store = sy::proxy::TlsStore::create(r.config);
  REQUIRE(store.ok());
  CHECK(*store == nullptr);
}

// --- TLS to upstream members ------------------------------------------------------------------

namespace {

sy::conf::LoadResult pool_with_tls(const std::string& tls) {
  return sy::conf::load_config_string("listeners: [{name: main, port: 0, pool: p}]\n"
                                      "pools:\n"
                                      "  - name: p\n"
                                      "    members: [{address: 127.0.0.1:1}]\n"
                                      "    tls: " +
                                      tls + "\n");
}

}  // namespace

TEST_CASE("a pool's missing CA, certificate or key file is a start-up error naming it") {
  auto r = pool_with_tls("{ca: /nonexistent/ca.pem}");
  REQUIRE(r.ok());
  auto tls = sy::proxy::UpstreamTls::build(r.config.pools[0], "");
  REQUIRE_FALSE(tls.ok());
  CHECK(tls.error().message == "pool p: tls.ca /nonexistent/ca.pem: No such file or directory");

  r = pool_with_tls("{cert: /nonexistent/c.pem, key: /nonexistent/k.pem, verify: false}");
  REQUIRE(r.ok());
  tls = sy::proxy::UpstreamTls::build(r.config.pools[0], "");
  REQUIRE_FALSE(tls.ok());
  CHECK(tls.error().message == "pool p: tls.cert /nonexistent/c.pem: No such file or directory");
}

TEST_CASE("a relative CA path is resolved against the configuration's directory") {
  auto r = pool_with_tls("{ca: ca.pem}");
  REQUIRE(r.ok());
  auto tls = sy::proxy::UpstreamTls::build(r.config.pools[0], "/nonexistent/etc");
  REQUIRE_FALSE(tls.ok());
  CHECK_THAT(tls.error().message, Catch::Contains("/nonexistent/etc/ca.pem"));
}

TEST_CASE("the system CA store is the default; SSLs get SNI only for DNS names") {
  auto r = pool_with_tls("{}");
  REQUIRE(r.ok());
  auto tls = sy::proxy::UpstreamTls::build(r.config.pools[0], "");
  REQUIRE(tls.ok());
  SSL* by_name = (*tls)->new_ssl("app.example.com", nullptr);
  REQUIRE(by_name != nullptr);
  CHECK(std::string(SSL_get_servername(by_name, TLSEXT_NAMETYPE_host_name)) == "app.example.com");
  SSL_free(by_name);
  SSL* by_ip = (*tls)->new_ssl("127.0.0.1", nullptr);
  REQUIRE(by_ip != nullptr);
  CHECK(SSL_get_servername(by_ip, TLSEXT_NAMETYPE_host_name) == nullptr);
  SSL_free(by_ip);
}

TEST_CASE("an upstream TLS failure names its cause") {
  using sy::proxy::describe_tls_client_failure;
  // The reason strings, loaded by UpstreamTls::build before any failure can be described.
  OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, nullptr);
  CHECK(describe_tls_client_failure(nullptr, 0, 0) ==
        "upstream TLS handshake failed: the member closed the connection");
  CHECK(describe_tls_client_failure(nullptr, 0, ECONNRESET) ==
        "upstream TLS handshake failed: Connection reset by peer");
  unsigned long wrong_version = ERR_PACK(ERR_LIB_SSL, 0, SSL_R_WRONG_VERSION_NUMBER);
  CHECK(describe_tls_client_failure(nullptr, wrong_version, 0) ==
        "upstream TLS handshake failed: wrong version number");
}
