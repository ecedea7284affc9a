// conf/load.h: a pool's `tls` section (TLS to upstream members): defaults, every key, and
// errors at their file:line:col. (Whether the files exist and load is checked at start-up by
// proxy/tls.)

#include "conf/load.h"
#include "unit/conf/load_helpers.h"

#include <catch.hpp>

#include <string>

using namespace sy::conf;
using namespace sy::conf::test;

namespace {

// A valid document with |tls| (indented under the pool, starting at line 6).
std::string with_tls(const std::string& tls) {
  return "listeners:\n"                                // 1
         "  - {name: main, port: 8080, pool: app}\n"   // 2
         "pools:\n"                                    // 3
         "  - name: app\n"                             // 4
         "    members: [{address: 127.0.0.1:9001}]\n"  // 5
         + tls;                                        // 6..
}

}  // namespace

TEST_CASE("a pool without tls talks cleartext to its members") {
  LoadResult r = load_config_string(with_tls(""));
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK_FALSE(r.config.pools[0].tls.enabled);
}

TEST_CASE("pool tls defaults: verification on, system CA store, the member's host") {
  LoadResult r = load_config_string(with_tls("    tls: {}\n"));
  INFO(all(r));
  REQUIRE(r.ok());
  const PoolTls& t = r.config.pools[0].tls;
  CHECK(t.enabled);
  CHECK(t.verify);
  CHECK(t.ca.empty());
  CHECK(t.server_name.empty());
  CHECK(t.cert.empty());
  CHECK(t.key.empty());
  CHECK(t.min_version == "1.2");
  CHECK(t.session_reuse);
  CHECK(t.mark.line == 6);
}

TEST_CASE("every pool tls key is decoded") {
  LoadResult r = load_config_string(with_tls("    tls:\n"
                                             "      verify: false\n"
                                             "      ca: certs/ca.pem\n"
                                             "      server_name: app.internal.example\n"
                                             "      cert: /etc/sy/client.crt\n"
                                             "      key: /etc/sy/client.key\n"
                                             "      min_version: 1.3\n"
                                             "      session_reuse: false\n"));
  INFO(all(r));
  REQUIRE(r.ok());
  const PoolTls& t = r.config.pools[0].tls;
  CHECK(t.enabled);
  CHECK_FALSE(t.verify);
  CHECK(t.ca == "certs/ca.pem");
  CHECK(t.server_name == "app.internal.example");
  CHECK(t.cert == "/etc/sy/client.crt");
  CHECK(t.key == "/etc/sy/client.key");
  CHECK(t.min_version == "1.3");
  CHECK_FALSE(t.session_reuse);
}

TEST_CASE("pool tls server_name may be an IP address") {
  LoadResult r = load_config_string(with_tls("    tls: {server_name: 10.0.0.7}\n"));
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.config.pools[0].tls.server_name == "10.0.0.7");
  r = load_config_string(with_tls("    tls: {server_name: '::1'}\n"));
  INFO(all(r));
  REQUIRE(r.ok());
}

TEST_CASE("pool tls errors are reported at their keys") {
  require_one_error(with_tls("    tls: yes\n"), 6, 10, "pools[0].tls",
                    "wrong type: expected a mapping");
  require_one_error(with_tls("    tls:\n"), 6, 5, "pools[0].tls", "missing value");
  require_one_error(with_tls("    tls:\n      verify: maybe\n"), 7, 15, "pools[0].tls.verify",
                    "expected true or false");
  require_one_error(with_tls("    tls:\n      ca: ''\n"), 7, 11, "pools[0].tls.ca",
                    "must not be empty (expected the path of a PEM file)");
  require_one_error(with_tls("    tls:\n      ca: [a, b]\n"), 7, 11, "pools[0].tls.ca",
                    "wrong type: expected a string");
  require_one_error(with_tls("    tls:\n      server_name: 'bad name'\n"), 7, 20,
                    "pools[0].tls.server_name", "bad server name \"bad name\"");
  require_one_error(with_tls("    tls:\n      server_name: a..b\n"), 7, 20,
                    "pools[0].tls.server_name", "bad server name");
  require_one_error(with_tls("    tls:\n      server_name: ''\n"), 7, 20,
                    "pools[0].tls.server_name", "bad server name");
  require_one_error(with_tls("    tls:\n      min_version: 1.1\n"), 7, 20,
                    "pools[0].tls.min_version", "bad value \"1.1\" (expected one of: 1.2, 1.3)");
  require_one_error(with_tls("    tls:\n      session_reuse: 2\n"), 7, 22,
                    "pools[0].tls.session_reuse", "expected true or false");
  require_one_error(with_tls("    tls:\n      sni: a.example\n"), 7, 7, "pools[0].tls.sni",
                    "unknown key (expected one of: verify, ca, server_name, cert, key, "
                    "min_version, session_reuse)");
  require_one_error(with_tls("    tls:\n      verify: true\n      verify: false\n"), 8, 7,
                    "pools[0].tls.verify", "duplicate key (first at line 7)");
}

TEST_CASE("a pool's client certificate and key come together") {
  require_one_error(with_tls("    tls:\n      cert: c.crt\n"), 7, 13, "pools[0].tls.cert",
                    "a client certificate needs its key (expected pools[0].tls.key)");
  require_one_error(with_tls("    tls:\n      key: c.key\n"), 7, 12, "pools[0].tls.key",
                    "a client key needs its certificate (expected pools[0].tls.cert)");
  require_one_error(with_tls("    tls:\n      cert: ''\n      key: c.key\n"), 7, 13,
                    "pools[0].tls.cert", "must not be empty");
}

TEST_CASE("several pool tls errors are all reported") {
  LoadResult r = load_config_string(with_tls("    tls:\n"
                                             "      verify: 1x\n"
                                             "      min_version: 1.0\n"
                                             "      cert: a.crt\n"),
                                    "t.yaml");
  INFO(all(r));
  REQUIRE(r.errors.size() == 3);
  CHECK(format(r.errors[0]).rfind("t.yaml:7:15: pools[0].tls.verify: ", 0) == 0);
  CHECK(format(r.errors[1]).rfind("t.yaml:8:20: pools[0].tls.min_version: ", 0) == 0);
  CHECK(format(r.errors[2]).rfind("t.yaml:9:13: pools[0].tls.cert: ", 0) == 0);
}

TEST_CASE("the upstream TLS example config loads") {
  LoadResult r = load_config_file(SY_SOURCE_DIR "/conf/examples/tls.yaml");
  INFO(all(r));
  REQUIRE(r.ok());
  const Pool* p = r.config.find_pool("secure");
  REQUIRE(p != nullptr);
  CHECK(p->tls.enabled);
  CHECK(p->tls.verify);
  CHECK(p->tls.ca == "certs/upstream-ca.pem");
  CHECK(p->tls.server_name == "app.internal.test");
}
