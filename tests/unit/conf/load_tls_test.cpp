// conf/load.h: a listener's `tls` section: defaults, every value form, and errors at their
// file:line:col. (Whether the files exist and match is checked at start-up by proxy/tls.)

#include "conf/load.h"
#include "unit/conf/load_helpers.h"

#include <catch.hpp>

#include <string>

using namespace sy::conf;
using namespace sy::conf::test;

namespace {

// A valid document with |tls| (indented under the listener, starting at line 5).
std::string with_tls(const std::string& tls) {
  return "listeners:\n"      // 1
         "  - name: main\n"  // 2
         "    port: 8443\n"  // 3
         "    pool: old\n"   // 4
         + tls +             // 5..
         "pools:\n"
         "  - name: old\n"
         "    members: [{address: 127.0.0.1:9001}]\n";
}

}  // namespace

TEST_CASE("a listener without tls is cleartext") {
  LoadResult r = load_config_string(with_tls(""));
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK_FALSE(r.config.listeners[0].tls.enabled);
}

TEST_CASE("tls defaults") {
  LoadResult r = load_config_string(with_tls("    tls:\n"
                                             "      certificates:\n"
                                             "        - {cert: a.crt, key: a.key}\n"));
  INFO(all(r));
  REQUIRE(r.ok());
  const ListenerTls& t = r.config.listeners[0].tls;
  CHECK(t.enabled);
  REQUIRE(t.certificates.size() == 1);
  CHECK(t.certificates[0].cert == "a.crt");
  CHECK(t.certificates[0].key == "a.key");
  CHECK(t.certificates[0].mark.line == 7);
  CHECK(t.min_version == "1.2");
  CHECK(t.handshake_timeout == Millis(10000));
  CHECK(t.session_tickets);
}

TEST_CASE("every tls key is decoded") {
  LoadResult r = load_config_string(with_tls("    tls:\n"
                                             "      certificates:\n"
                                             "        - cert: /etc/a.crt\n"
                                             "          key: /etc/a.key\n"
                                             "        - {cert: b.crt, key: b.key}\n"
                                             "      min_version: 1.3\n"
                                             "      handshake_timeout: 3s\n"
                                             "      session_tickets: false\n"));
  INFO(all(r));
  REQUIRE(r.ok());
  const ListenerTls& t = r.config.listeners[0].tls;
  REQUIRE(t.certificates.size() == 2);
  CHECK(t.certificates[0].cert == "/etc/a.crt");
  CHECK(t.certificates[1].key == "b.key");
  CHECK(t.min_version == "1.3");
  CHECK(t.handshake_timeout == Millis(3000));
  CHECK_FALSE(t.session_tickets);
}

TEST_CASE("tls errors are reported at their keys") {
  require_one_error(with_tls("    tls:\n      min_version: 1.2\n"), 6, 7,
                    "listeners[0].tls.certificates", "missing required key");
  require_one_error(with_tls("    tls:\n      certificates: []\n"), 6, 21,
                    "listeners[0].tls.certificates", "must not be empty");
  require_one_error(with_tls("    tls:\n      certificates: [{cert: a.crt}]\n"), 6, 22,
                    "listeners[0].tls.certificates[0].key", "missing required key");
  require_one_error(with_tls("    tls:\n      certificates: [{cert: a.crt, key: ''}]\n"), 6, 41,
                    "listeners[0].tls.certificates[0].key", "must not be empty");
  require_one_error(
      with_tls("    tls:\n      certificates: [{cert: a, key: b}]\n      min_version: 1.1\n"), 7,
      20, "listeners[0].tls.min_version", "bad value \"1.1\" (expected one of: 1.2, 1.3)");
  require_one_error(
      with_tls("    tls:\n      certificates: [{cert: a, key: b}]\n      handshake_timeout: 0s\n"),
      7, 26, "listeners[0].tls.handshake_timeout", "out of range");
  require_one_error(with_tls("    tls:\n      certificates: [{cert: a, key: b, chain: c}]\n"), 6,
                    40, "listeners[0].tls.certificates[0].chain",
                    "unknown key (expected one of: cert, key)");
  require_one_error(with_tls("    tls: yes\n"), 5, 10, "listeners[0].tls",
                    "wrong type: expected a mapping");
}

TEST_CASE("the TLS example config loads") {
  LoadResult r = load_config_file(SY_SOURCE_DIR "/conf/examples/tls.yaml");
  INFO(all(r));
  REQUIRE(r.ok());
  REQUIRE(r.config.listeners.size() >= 1);
  CHECK(r.config.listeners[0].tls.enabled);
  CHECK(r.config.listeners[0].tls.certificates.size() == 2);
}
