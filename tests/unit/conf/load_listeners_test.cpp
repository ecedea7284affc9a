// conf/load.h: listeners (address, duplicates, trusted_proxies, proxy_protocol) and the admin
// section: defaults, every key, errors at their keys.

#include "conf/load.h"
#include "unit/conf/load_helpers.h"

#include <catch.hpp>

#include <initializer_list>
#include <string>

using namespace sy::conf;
using namespace sy::conf::test;

TEST_CASE("listener address must be an IP literal") {
  require_one_error(doc({"listeners:", "  - name: a", "    address: localhost", "    port: 1",
                         "    pool: p", "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]"}),
                    3, 14, "listeners[0].address", "bad IP address \"localhost\"");
}

TEST_CASE("duplicate listener address:port, except port 0") {
  require_one_error(doc({
                        "listeners:",
                        "  - {name: a, address: '::1', port: 8080, pool: p}",
                        "  - {name: b, address: '0:0::1', port: 8080, pool: p}",
                        "  - {name: c, address: '::1', port: 8081, pool: p}",
                        "  - {name: d, port: 0, pool: p}",
                        "  - {name: e, port: 0, pool: p}",
                        "pools: [{name: p, members: [{address: '127.0.0.1:1'}]}]",
                    }),
                    3, 40, "listeners[1].port",
                    "[::1]:8080 is already used by listeners[0] (first at line 2)");
}

// --- admin section ---------------------------------------------------------------------------

namespace {

std::string with_admin(std::initializer_list<const char*> admin_lines) {
  std::string out = "listeners: [{name: main, port: 8080, pool: old}]\n"            // 1
                    "pools: [{name: old, members: [{address: '127.0.0.1:1'}]}]\n";  // 2
  for (const char* line : admin_lines) {
    out += line;
    out += '\n';
  }
  return out;
}

}  // namespace

TEST_CASE("admin section: defaults and every key") {
  LoadResult none = load_config_string(with_admin({}), "t.yaml");
  REQUIRE(none.ok());
  CHECK_FALSE(none.config.admin.enabled);

  LoadResult minimal = load_config_string(with_admin({"admin:", "  socket: {path: /run/a.sock}"}));
  INFO(all(minimal));
  REQUIRE(minimal.ok());
  const Admin& m = minimal.config.admin;
  CHECK(m.enabled);
  CHECK(m.socket.enabled);
  CHECK(m.socket.path == "/run/a.sock");
  CHECK(m.socket.mode == 0600);
  CHECK(m.socket.level == AdminLevel::Admin);
  CHECK(m.socket.max_connections == 16);
  CHECK(m.tcp.max_connections == 16);
  CHECK_FALSE(m.tcp.enabled);
  CHECK(m.drain_timeout == Millis(30000));
  CHECK(m.live_within == Millis(10000));
  CHECK(m.update_tasks.command_timeout == Millis(600000));

  LoadResult full = load_config_string(with_admin({
      "admin:",
      "  socket: {path: /run/a.sock, mode: \"0660\", level: read-only, max_connections: 2}",
      "  tcp: {address: \"::1\", port: 9999, token_file: /etc/sy/token, level: admin,",
      "        max_connections: 300}",
      "  event_hook: /usr/local/bin/hook",
      "  drain_timeout: 5s",
      "  live_within: 3s",
      "  update_tasks: {sql_dir: /srv/sql, command: \"/bin/up {schema}\", command_timeout: 1m}",
  }));
  INFO(all(full));
  REQUIRE(full.ok());
  const Admin& a = full.config.admin;
  CHECK(a.socket.mode == 0660);
  CHECK(a.socket.level == AdminLevel::ReadOnly);
  CHECK(a.socket.max_connections == 2);
  CHECK(a.tcp.max_connections == 300);
  CHECK(a.tcp.enabled);
  CHECK(a.tcp.address == "::1");
  CHECK(a.tcp.port == 9999);
  CHECK(a.tcp.token_file == "/etc/sy/token");
  CHECK(a.tcp.level == AdminLevel::Admin);
  CHECK(a.event_hook == "/usr/local/bin/hook");
  CHECK(a.drain_timeout == Millis(5000));
  CHECK(a.live_within == Millis(3000));
  CHECK(a.update_tasks.sql_dir == "/srv/sql");
  CHECK(a.update_tasks.command == "/bin/up {schema}");
  CHECK(a.update_tasks.command_timeout == Millis(60000));
}

TEST_CASE("listeners: trusted_proxies and proxy_protocol") {
  LoadResult r =
      load_config_string(doc({
                             "listeners:",
                             "  - name: main",
                             "    port: 8080",
                             "    pool: old",
                             "    trusted_proxies: [10.0.0.0/8, \"fd00::/8\", 192.168.1.7]",
                             "    proxy_protocol: true",
                             "pools:",
                             "  - name: old",
                             "    members: [{address: 127.0.0.1:9001}]",
                         }),
                         "t.yaml");
  INFO(all(r));
  REQUIRE(r.ok());
  const Listener& l = r.config.listeners[0];
  REQUIRE(l.trusted_proxies.size() == 3);
  CHECK(l.trusted_proxies[0].text == "10.0.0.0/8");
  CHECK(l.trusted_proxies[0].contains(*sy::parse_ip("10.9.8.7")));
  CHECK(l.trusted_proxies[2].contains(*sy::parse_ip("192.168.1.7")));
  CHECK(l.proxy_protocol);
  // Each bad entry is an error at its element.
  require_one_error(doc({"listeners:", "  - name: main", "    port: 8080", "    pool: old",
                         "    trusted_proxies: [10.0.0.0/8, 10.0.0.1/8]", "pools:", "  - name: old",
                         "    members: [{address: 127.0.0.1:9001}]"}),
                    5, 35, "listeners[0].trusted_proxies[1]",
                    "bad address block \"10.0.0.1/8\": host bits set");
  // A PROXY header believed from anybody would let any client claim any address.
  require_one_error(doc({"listeners:", "  - name: main", "    port: 8080", "    pool: old",
                         "    proxy_protocol: true", "pools:", "  - name: old",
                         "    members: [{address: 127.0.0.1:9001}]"}),
                    5, 21, "listeners[0].proxy_protocol", "proxy_protocol needs trusted_proxies");
}

TEST_CASE("admin section: errors are located") {
  require_one_error(with_admin({"admin:", "  socket: {path: /a, mode: \"0800\"}"}), 4, 28,
                    "admin.socket.mode", "bad mode \"0800\"");
  require_one_error(with_admin({"admin:", "  socket: {path: /a, mode: 600}"}), 4, 28,
                    "admin.socket.mode", "expected an octal mode in quotes");
  // Found by the config fuzzer: a long run of non-octal digits overflowed the accumulated
  // value (UBSan: signed integer overflow) before the length check rejected it.
  const std::string long_mode = "  socket: {path: /a, mode: \"" + std::string(200, '9') + "\"}";
  require_one_error(with_admin({"admin:", long_mode.c_str()}), 4, 28, "admin.socket.mode",
                    "bad mode");
  require_one_error(with_admin({"admin:", "  socket: {path: /a, level: root}"}), 4, 29,
                    "admin.socket.level", "expected one of: admin, read-only");
  require_one_error(with_admin({"admin:", "  socket: {mode: \"0600\"}"}), 4, 11,
                    "admin.socket.path", "missing");
  require_one_error(with_admin({"admin:", "  tcp: {address: 10.0.0.1, port: 1, token_file: t}"}), 4,
                    18, "admin.tcp.address", "not a loopback address");
  require_one_error(with_admin({"admin:", "  tcp: {port: 1}"}), 4, 8, "admin.tcp.token_file",
                    "missing");
  require_one_error(with_admin({"admin:", "  socket: {path: /a}", "  socket: {path: /b}"}), 5, 3,
                    "admin.socket", "duplicate");
  require_one_error(with_admin({"admin:", "  socket: {path: /a}", "  drain_timeout: soon"}), 5, 18,
                    "admin.drain_timeout", "bad duration");
  require_one_error(with_admin({"admin:", "  socket: {path: /a}", "  driver_lease: 500ms"}), 5, 17,
                    "admin.driver_lease", "must be at least 1s");
  require_one_error(with_admin({"admin:", "  socket: {path: /a}", "  sockt: 1"}), 5, 3,
                    "admin.sockt", "unknown key");
  require_one_error(with_admin({"admin:", "  socket: {path: /a, max_connections: 0}"}), 4, 39,
                    "admin.socket.max_connections", "out of range (expected 1..10000)");
  require_one_error(with_admin({"admin:", "  live_within: 2s"}), 4, 3, "admin",
                    "needs a socket or a tcp listener");
}
