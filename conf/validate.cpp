// Pass 2: checks that need more than one value. Pass 1 has already checked each value alone.
//
// A check is skipped when a value it reads failed in pass 1 (Positions::failed): that value is a
// default or partial, so the check would only echo the first error under another name.
// Errors point at the later of two conflicting values; the sort in load.cpp puts them in
// document order.

#include "conf/load_internal.h"

#include <map>
#include <string>

namespace sy::conf::detail {

namespace {

std::string quoted(const std::string& text) { return quote_value(text); }

std::string index_path(const std::string& list, size_t i, const std::string& key = "") {
  std::string path = list + "[" + std::to_string(i) + "]";
  return key.empty() ? path : path + "." + key;
}

std::string host_port(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

class Validator {
 public:
  Validator(const Config& config, const Positions& positions, std::vector<ConfigError>* errors)
      : config_(config), positions_(positions), errors_(errors) {}

  void run() {
    unique_names();
    pool_references();
    unique_listener_addresses();
    proxy_protocol_needs_trust();
    unique_members();
    sticky_routes();
    member_transport();
    limits();
    health_checks();
    pool_tls();
    routing();
    database();
    admin();
  }

 private:
  void error(const std::string& path, std::string message) {
    Mark mark = positions_.find(path);
    errors_->push_back(ConfigError{positions_.file_name(mark.file), mark.line, mark.col, path,
                                   std::move(message)});
  }
  // Where the value at |first| was written, as seen from the error at |here|: the line, and
  // the file too when it is another one (an overlay).
  std::string first_at(const std::string& first, const std::string& here) const {
    Mark a = positions_.find(first);
    std::string where = a.file == positions_.find(here).file
                            ? "line " + std::to_string(a.line)
                            : positions_.file_name(a.file) + ":" + std::to_string(a.line);
    return "first at " + where;
  }

  // Listener names and pool names are each unique.
  void unique_names() {
    unique_name("listeners", "listener", config_.listeners);
    unique_name("pools", "pool", config_.pools);
  }
  template <class T>
  void unique_name(const std::string& list, const std::string& what, const std::vector<T>& items) {
    std::map<std::string, size_t> first;
    for (size_t i = 0; i < items.size(); ++i) {
      std::string path = index_path(list, i, "name");
      if (positions_.failed(path)) {
        continue;
      }
      auto [it, inserted] = first.emplace(items[i].name, i);
      if (!inserted) {
        error(path, "duplicate " + what + " name " + quoted(items[i].name) + " (" +
                        first_at(index_path(list, it->second, "name"), path) + ")");
      }
    }
  }

  // Every listener names a pool that exists. Skipped when some pool's name is unknown, because
  // the reference might be to that pool.
  void pool_references() {
    if (positions_.failed("pools")) {
      return;
    }
    std::string names;
    for (size_t i = 0; i < config_.pools.size(); ++i) {
      if (positions_.failed(index_path("pools", i, "name"))) {
        return;
      }
      names += (names.empty() ? "" : ", ") + config_.pools[i].name;
    }
    for (size_t i = 0; i < config_.listeners.size(); ++i) {
      std::string path = index_path("listeners", i, "pool");
      const Listener& listener = config_.listeners[i];
      if (!positions_.failed(path) && config_.find_pool(listener.pool) == nullptr) {
        error(path, "unknown pool " + quoted(listener.pool) + " (expected one of: " + names + ")");
      }
    }
  }

  // A PROXY header is believed only from the balancers named in trusted_proxies: a listener
  // that expects one from anybody would let any client claim any address.
  void proxy_protocol_needs_trust() {
    for (size_t i = 0; i < config_.listeners.size(); ++i) {
      const Listener& listener = config_.listeners[i];
      if (listener.proxy_protocol && listener.trusted_proxies.empty() &&
          !positions_.failed(index_path("listeners", i, "trusted_proxies"))) {
        error(index_path("listeners", i, "proxy_protocol"),
              "proxy_protocol needs trusted_proxies (the balancers allowed to send a PROXY "
              "header)");
      }
    }
  }

  // No two listeners bind the same address:port. Port 0 binds a fresh ephemeral port each time.
  void unique_listener_addresses() {
    std::map<std::string, size_t> first;
    for (size_t i = 0; i < config_.listeners.size(); ++i) {
      const Listener& listener = config_.listeners[i];
      std::string port_path = index_path("listeners", i, "port");
      if (listener.port == 0 || positions_.failed(port_path) ||
          positions_.failed(index_path("listeners", i, "address"))) {
        continue;
      }
      std::string key = host_port(canonical_ip(listener.address), listener.port);
      auto [it, inserted] = first.emplace(key, i);
      if (!inserted) {
        error(port_path, key + " is already used by " + index_path("listeners", it->second) + " (" +
                             first_at(index_path("listeners", it->second), port_path) + ")");
      }
    }
  }

  // A pool lists each member address once.
  void unique_members() {
    for (size_t p = 0; p < config_.pools.size(); ++p) {
      std::string members = index_path("pools", p, "members");
      std::map<std::string, size_t> first;
      for (size_t m = 0; m < config_.pools[p].members.size(); ++m) {
        const Member& member = config_.pools[p].members[m];
        std::string path = index_path(members, m, "address");
        if (positions_.failed(path)) {
          continue;
        }
        std::string key = member.unix_path.empty()
                              ? host_port(canonical_ip(member.host), member.port)
                              : member.address;
        auto [it, inserted] = first.emplace(key, m);
        if (!inserted) {
          error(path, "duplicate member " + key + " (" +
                          first_at(index_path(members, it->second, "address"), path) + ")");
        }
      }
    }
  }

  // Sticky sessions: every member has a distinct id in the cookie. Route mode reads the
  // application's suffix, so each member needs its route; insert mode names a member without
  // one by a keyed hash of its address, so it needs the key (the address itself never leaves).
  void sticky_routes() {
    for (size_t p = 0; p < config_.pools.size(); ++p) {
      const Pool& pool = config_.pools[p];
      std::string sticky = index_path("pools", p, "sticky");
      if (pool.sticky.mode == StickyMode::Off || positions_.failed(sticky + ".mode")) {
        continue;
      }
      if (positions_.has(sticky + ".secret") && positions_.has(sticky + ".secret_file")) {
        error(sticky + ".secret_file", "secret is set too (expected secret or secret_file)");
      }
      std::string members = index_path("pools", p, "members");
      std::map<std::string, size_t> first;
      for (size_t m = 0; m < pool.members.size(); ++m) {
        const Member& member = pool.members[m];
        std::string path = index_path(members, m, "route");
        if (positions_.failed(path) || positions_.failed(index_path(members, m))) {
          continue;
        }
        if (member.route.empty()) {
          if (pool.sticky.mode == StickyMode::Route) {
            error(index_path(members, m),
                  "member " + member.address + " has no route (sticky mode route reads the "
                  "member from the application's cookie suffix \"<session>.<route>\")");
          } else if (pool.sticky.secret.empty() && !positions_.failed(sticky + ".secret") &&
                     !positions_.failed(sticky + ".secret_file")) {
            error(index_path(members, m),
                  "member " + member.address + " has no route and " + sticky +
                      " has no secret (the cookie names a member by its route, or by a keyed "
                      "hash of its address: never the address itself)");
          }
          continue;
        }
        auto [it, inserted] = first.emplace(member.route, m);
        if (!inserted) {
          error(path, "duplicate route " + quoted(member.route) + " (" +
                          first_at(index_path(members, it->second, "route"), path) + ")");
        }
      }
    }
  }

  // unix: members and PROXY headers sent to members (docs/members.md).
  void member_transport() {
    for (size_t p = 0; p < config_.pools.size(); ++p) {
      const Pool& pool = config_.pools[p];
      // A verified TLS member is checked against a name; a socket path is not one.
      if (pool.tls.enabled && pool.tls.verify && pool.tls.server_name.empty() &&
          !positions_.failed(index_path("pools", p, "tls"))) {
        for (size_t m = 0; m < pool.members.size(); ++m) {
          if (!pool.members[m].unix_path.empty()) {
            error(index_path(index_path("pools", p, "members"), m, "address"),
                  "a unix: member of a TLS pool needs " + index_path("pools", p, "tls") +
                      ".server_name (the name its certificate must carry)");
          }
        }
      }
      std::string send = index_path("pools", p, "send_proxy");
      if (pool.send_proxy == SendProxy::Off || positions_.failed(send)) {
        continue;
      }
      if (pool.protocol == PoolProtocol::Http2) {
        error(send, "needs protocol http1 (an HTTP/2 connection carries many clients' "
                    "streams, a PROXY header names one client)");
      } else if (pool.tls.enabled) {
        error(send, "is not supported with tls to the members yet (the header must precede "
                    "the TLS handshake)");
      }
    }
  }

  // The request target is part of the head, so it cannot be allowed to be longer than the head.
  void limits() {
    const Limits& limits = config_.limits;
    if (positions_.failed("limits.max_uri_bytes") || positions_.failed("limits.max_header_bytes") ||
        limits.max_uri_bytes <= limits.max_header_bytes) {
      return;
    }
    std::string uri = std::to_string(limits.max_uri_bytes);
    std::string header = std::to_string(limits.max_header_bytes);
    // Point at whichever of the two the file sets, preferring max_uri_bytes.
    if (positions_.has("limits.max_uri_bytes")) {
      error("limits.max_uri_bytes", "is " + uri + " bytes, more than limits.max_header_bytes (" +
                                        header + ") (expected <= limits.max_header_bytes)");
    } else {
      error("limits.max_header_bytes",
            "is " + header + " bytes, less than limits.max_uri_bytes (default " + uri +
                ") (expected >= limits.max_uri_bytes, or set limits.max_uri_bytes too)");
    }
  }

  // A client certificate needs its key and a key its certificate.
  void pool_tls() {
    for (size_t i = 0; i < config_.pools.size(); ++i) {
      std::string base = index_path("pools", i, "tls");
      const PoolTls& t = config_.pools[i].tls;
      if (!t.enabled || positions_.failed(base) || positions_.failed(base + ".cert") ||
          positions_.failed(base + ".key")) {
        continue;
      }
      if (!t.cert.empty() && t.key.empty()) {
        error(base + ".cert", "a client certificate needs its key (expected " + base + ".key)");
      } else if (t.cert.empty() && !t.key.empty()) {
        error(base + ".key", "a client key needs its certificate (expected " + base + ".cert)");
      }
    }
  }

  // A check must time out before the next one is due.
  void health_checks() {
    for (size_t i = 0; i < config_.pools.size(); ++i) {
      std::string base = index_path("pools", i, "health_check");
      const HealthCheck& hc = config_.pools[i].health_check;
      if (positions_.failed(base + ".timeout") || positions_.failed(base + ".interval") ||
          hc.timeout <= hc.interval) {
        continue;
      }
      std::string timeout = std::to_string(hc.timeout.count()) + "ms";
      std::string interval = std::to_string(hc.interval.count()) + "ms";
      if (positions_.has(base + ".timeout")) {
        error(base + ".timeout", "is " + timeout + ", longer than the interval (" + interval +
                                     ") (expected <= " + base + ".interval)");
      } else {
        error(base + ".interval", "is " + interval + ", shorter than the timeout (default " +
                                      timeout + ") (expected >= " + base + ".timeout)");
      }
    }
  }

  // A pool name used by routing or a server override exists.
  void pool_exists(const std::string& path, const std::string& name) {
    if (!positions_.failed(path) && !positions_.failed("pools") && !name.empty() &&
        config_.find_pool(name) == nullptr) {
      error(path, "unknown pool " + quoted(name));
    }
  }

  // The admin section needs at least one listener; its commands work on the database.
  void admin() {
    const Admin& a = config_.admin;
    if (!a.enabled || positions_.failed("admin")) {
      return;
    }
    if (!a.socket.enabled && !a.tcp.enabled) {
      error("admin", "needs a socket or a tcp listener (expected admin.socket.path or admin.tcp)");
    }
    // admin.http: metrics and the status page are read-only, but not for the whole network.
    if (a.http.enabled && !positions_.failed("admin.http") && !a.http.loopback &&
        a.http.token_file.empty()) {
      error("admin.http", "address " + quoted(a.http.address) +
                              " is not a loopback address: admin.http.token_file is required "
                              "(clients then send `Authorization: Bearer <token>`)");
    }
    if (a.socket.enabled && !positions_.failed("admin.socket.path") && a.socket.path.empty()) {
      error("admin.socket.path", "must not be empty");
    }
    if (a.tcp.enabled && !positions_.failed("admin.tcp.token_file") && a.tcp.token_file.empty()) {
      error("admin.tcp.token_file", "must not be empty (the TCP listener needs a token)");
    }
    // Renewed every third of it over the network: shorter would be lost to one slow round trip.
    if (!positions_.failed("admin.driver_lease") && a.driver_lease < std::chrono::seconds(1)) {
      error("admin.driver_lease", "must be at least 1s (the upgrade driver renews it every third)");
    }
  }

  // Routing needs a database; its pools exist; each key rule has what its type needs.
  void routing() {
    const Routing& r = config_.routing;
    if (!r.enabled || positions_.failed("routing")) {
      return;
    }
    if (!config_.database.enabled) {
      error("routing", "needs a database section (the tenant directory lives there)");
    }
    for (size_t i = 0; i < r.serve_pools.size(); ++i) {
      pool_exists(index_path("routing.serve_pools", i), r.serve_pools[i]);
    }
    for (size_t i = 0; i < r.keys.size(); ++i) {
      const KeyRule& k = r.keys[i];
      std::string base = index_path("routing.keys", i);
      if (positions_.failed(base + ".type")) {
        continue;
      }
      bool regex = k.type == KeyType::HostRegex || k.type == KeyType::PathRegex;
      bool named = !regex && k.type != KeyType::PathSegment;
      if (regex && k.pattern.find("(?<context>") == std::string::npos) {
        error(positions_.has(base + ".pattern") ? base + ".pattern" : base,
              "needs a pattern with a (?<context>...) group");
      }
      if (named && k.name.empty()) {
        error(base, "needs a name (the header, cookie, query parameter or form field)");
      }
    }
  }

  // Server overrides name existing pools; the sql keys belong to the sql profile, the ox keys
  // to the ox profile; the ox profile keeps its state outside the configdb.
  void database() {
    const Database& d = config_.database;
    if (!d.enabled || positions_.failed("database")) {
      return;
    }
    for (size_t i = 0; i < d.servers.size(); ++i) {
      pool_exists(index_path("database.servers", i, "pool"), d.servers[i].pool);
    }
    for (const auto& [list, count] : {std::pair{"database.dsns", d.dsns.size()},
                                      std::pair{"database.state_dsns", d.state_dsns.size()},
                                      std::pair{"database.reader_dsns", d.reader_dsns.size()}}) {
      for (size_t i = 0; i < count; ++i) {
        std::string base = index_path(list, i);
        if (positions_.has(base + ".password") && positions_.has(base + ".password_file")) {
          error(base + ".password_file",
                "password is set too (expected password or password_file)");
        }
      }
    }
    if (d.profile != Profile::Sql) {
      for (const char* key : {"servers_sql", "contexts_sql", "logins_sql", "schemas_sql"}) {
        std::string path = std::string("database.") + key;
        if (positions_.has(path)) {
          error(path, "only used with profile: sql (this profile has fixed tables)");
        }
      }
    } else if (!positions_.failed("database.profile")) {
      for (const char* key : {"servers_sql", "contexts_sql"}) {
        std::string path = std::string("database.") + key;
        if (!positions_.has(path)) {
          error("database", std::string("profile sql needs ") + key +
                                " (for an Open-Xchange configdb use profile: ox)");
        }
      }
    }
    if (d.profile != Profile::Ox && positions_.has("database.ox")) {
      error("database.ox", "only used with profile: ox");
    }
    if (positions_.has("database.state_database") && positions_.has("database.state_dsns")) {
      error("database.state_dsns",
            "give either state_database (same servers) or state_dsns (other servers), not both");
    }
    const bool has_state = !d.state_database.empty() || !d.state_dsns.empty();
    if (d.profile == Profile::Ox && !has_state && !positions_.failed("database.profile")) {
      error("database", "profile ox keeps Switchyard's state out of the configdb: set "
                        "state_database (a database next to the configdb, e.g. switchyard) or "
                        "state_dsns");
    }
    if (!d.state_database.empty() && !positions_.failed("database.state_database")) {
      for (size_t i = 0; i < d.dsns.size(); ++i) {
        if (d.dsns[i].database == d.state_database) {
          error("database.state_database",
                quoted(d.state_database) + " is the directory database itself (" +
                    index_path("database.dsns", i, "database") +
                    "); name another one, or leave state_database out (profile own)");
          break;
        }
      }
    }
  }

  const Config& config_;
  const Positions& positions_;
  std::vector<ConfigError>* errors_;
};

}  // namespace

void validate(const Config& config, const Positions& positions, std::vector<ConfigError>* errors) {
  Validator(config, positions, errors).run();
}

}  // namespace sy::conf::detail
