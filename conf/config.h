#pragma once
// Plain configuration structs, produced by conf/load.h from YAML and validated there.
// A Config is immutable once loaded: it is replaced whole, never edited in place (STYLE rule 9).
//
// Units: every duration is std::chrono::milliseconds, every size is bytes (uint64_t).
// In YAML, durations are written "250ms", "2s", "1m", "1h" and sizes "512", "16k", "1m", "1g"
// (binary multiples: k = 1024).

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/cidr.h"

namespace sy::conf {

using Millis = std::chrono::milliseconds;

// Where a value came from in the YAML files; 1-based. 0 means "not from a file" (a default).
struct Mark {
  int line = 0;
  int col = 0;
  int file = 0;  // index into Config::files: 0 = the main file, then the overlays in order
  // Where a value was written is not part of the value: a reload compares configurations
  // with ==, and moving a line must not count as a change.
  bool operator==(const Mark&) const { return true; }
};

// One certificate chain and its private key (PEM files). A relative path is relative to the
// directory of the main configuration file, also when an overlay holds it.
struct TlsCertificate {
  std::string cert;  // PEM: the leaf certificate first, then its intermediates
  std::string key;   // PEM private key matching |cert|
  Mark mark;
  bool operator==(const TlsCertificate&) const = default;
};

// TLS termination on a listener (present when the listener has a `tls` mapping).
struct ListenerTls {
  bool enabled = false;                      // true when the `tls` mapping is present
  std::vector<TlsCertificate> certificates;  // non-empty; [0] is the default (no SNI match)
  std::string min_version = "1.2";           // "1.2" | "1.3"; never below 1.2
  Millis handshake_timeout{10000};           // accept to finished handshake; > 0
  bool session_tickets = true;               // stateless resumption, keys rotated hourly
  Mark mark;
  bool operator==(const ListenerTls&) const = default;
};

struct Listener {
  std::string name;                   // unique; reported in --ready-file as listener.<name>
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal; "0.0.0.0" / "::" for any
  int port = 0;                       // 0..65535; 0 = ephemeral (see --ready-file)
  std::string pool;                   // name of the pool requests are proxied to (must exist)
  int backlog = 511;                  // listen(2) backlog; > 0
  int max_connections = 0;            // client connections at once on this listener (all
                                      // workers); 0 = only limits.max_connections. Beyond it
                                      // new connections wait in the backlog
  ListenerTls tls;                    // TLS termination; tls.enabled = false: cleartext
  // Peers whose X-Forwarded-For / Forwarded are believed and extended (and who may send a
  // PROXY header); any other peer's are replaced by its own address (docs/client-address.md).
  std::vector<Cidr> trusted_proxies;
  bool proxy_protocol = false;  // every connection starts with a PROXY v1/v2 header from a
                                // trusted peer (an L4 balancer); needs trusted_proxies
  Mark proxy_protocol_mark;
  Mark mark;

  bool operator==(const Listener&) const = default;
};

struct HealthCheck {
  bool enabled = true;
  std::string path = "/";  // request target sent with GET; must start with '/'
  Millis interval{2000};   // between checks of one member; > 0
  Millis timeout{1000};    // per check (connect + response head); > 0
  int rise = 2;            // consecutive passes to mark a down member up; >= 1
  int fall = 3;            // consecutive failures to mark an up member down; >= 1
  std::string host;        // Host header; "" = the member's host:port

  bool operator==(const HealthCheck&) const = default;
};

// Passive ejection: a worker that sees |consecutive_failures| connect errors, timeouts or bad
// responses in a row from one member stops using it for |eject_for|.
struct PassiveEjection {
  int consecutive_failures = 5;  // >= 1; 0 disables passive ejection
  Millis eject_for{10000};       // > 0

  bool operator==(const PassiveEjection&) const = default;
};

struct Member {
  std::string address;  // "host:port" or "[v6]:port" as written; host is an IP literal,
                        // "localhost" or a DNS name (resolved by app/resolver.h); or
                        // "unix:/absolute/path" (an AF_UNIX socket)
  std::string host;     // parsed host part ("" for a unix: member)
  int port = 0;         // parsed port, 1..65535 (0 for a unix: member)
  std::string unix_path;  // unix: members: the socket's path; "" = a TCP member
  int weight = 1;       // 1..256
  std::string route;    // sticky sessions: the member's id in the cookie (HAProxy's `cookie`,
                        // Tomcat's jvmRoute); "" = none (insert mode then uses a keyed hash)
  Mark mark;

  bool operator==(const Member&) const = default;
};

enum class Balance { RoundRobin, LeastConn };

// --- issue 13: sticky sessions, PROXY headers to members (docs/members.md) ---
// Cookie persistence of a pool (docs/configuration.md "Sticky sessions").
enum class StickyMode {
  Off,
  Insert,  // Switchyard sets <cookie>=<member id> (HAProxy's `cookie SRV insert indirect`)
           // and strips it from the forwarded request
  Route,   // the application's own session cookie ends in ".<route>" (Tomcat's jvmRoute,
           // "abc.node1"); read, never changed
};
struct Sticky {
  StickyMode mode = StickyMode::Off;
  std::string cookie;      // insert: default "SYSRV"; route: default "JSESSIONID"
  std::string secret;      // insert: HMAC key naming members without a route; "" = none
  Millis max_age{0};       // insert: the cookie's Max-Age (> 0); absent (0) = a session cookie
  Mark mark;

  bool operator==(const Sticky&) const = default;
};
// A PROXY protocol header first on every connection to a member (HAProxy's send-proxy).
enum class SendProxy { Off, V1, V2 };

// What Switchyard speaks to the members of a pool.
enum class PoolProtocol {
  Http1,  // HTTP/1.1 keep-alive connections, one exchange at a time each ("http1")
  Http2,  // HTTP/2, streams multiplexed on few connections ("h2"): h2c with prior knowledge,
          // or h2 by ALPN when the pool has `tls`
};

// TLS from Switchyard to the members of a pool (present when the pool has a `tls` mapping).
// Relative paths are relative to the main configuration file's directory; the files are read
// at start-up (a pool's TLS settings change only with a restart).
struct PoolTls {
  bool enabled = false;             // true when the `tls` mapping is present
  bool verify = true;               // check the member's certificate chain and name
  std::string ca;                   // PEM CA bundle to verify against; "" = the system store
  std::string server_name;          // SNI and the name the certificate must carry; "" = the
                                    // member's host (an IP literal is checked as an IP and
                                    // sends no SNI)
  std::string cert;                 // client certificate chain (PEM) for mutual TLS; with key
  std::string key;                  // its private key (PEM); with cert
  std::string min_version = "1.2";  // "1.2" | "1.3"; never below 1.2
  bool session_reuse = true;        // resume the last session per member per worker
  Mark mark;

  bool operator==(const PoolTls&) const = default;
};

struct Pool {
  std::string name;     // unique
  std::string version;  // free-form version label, e.g. "7.10.6"; reported in stats
  Balance balance = Balance::RoundRobin;
  PoolProtocol protocol = PoolProtocol::Http1;
  std::vector<Member> members;  // non-empty
  HealthCheck health_check;
  PassiveEjection passive_ejection;
  Millis connect_timeout{2000};    // TCP connect (+ TLS handshake) to a member; > 0
  Millis response_timeout{30000};  // upstream silence while a response is awaited/read; > 0
  // --- long-lived exchanges (issue 13; docs/configuration.md) ---
  Millis stream_timeout{300000};   // upstream silence between response body reads once the
                                   // head arrived (SSE, long polls); > 0
  Millis tunnel_timeout{3600000};  // an upgraded connection (101) idle both ways; > 0
  int max_idle_connections = 64;   // idle keep-alive upstream connections per member per worker
  int retries = 2;                 // extra members tried when a connect fails (no byte sent)
  PoolTls tls;                     // TLS to the members; tls.enabled = false: cleartext
  Sticky sticky;                   // cookie persistence; mode Off = none
  SendProxy send_proxy = SendProxy::Off;  // HTTP/1.1 cleartext pools only
  Mark mark;

  bool operator==(const Pool&) const = default;
};

struct Limits {
  uint64_t max_header_bytes = 16 * 1024;    // request/response head incl. request line -> 431
  int max_headers = 100;                    // header fields per head -> 431
  uint64_t max_uri_bytes = 8 * 1024;        // request target -> 414
  uint64_t max_body_bytes = 0;              // request body; 0 = unlimited -> 413
  Millis client_header_timeout{10000};      // from a request's first byte to its complete head
  Millis client_body_timeout{30000};        // client silence while a request body is read
  Millis client_idle_timeout{60000};        // keep-alive silence between requests
  Millis send_timeout{60000};               // a peer not reading what we must write to it
  Millis drain_timeout{30000};              // SIGTERM: longest wait for in-flight requests
  uint64_t buffer_high_water = 256 * 1024;  // per direction; reading the peer stops above it
  int max_connections = 0;  // client connections at once, all listeners; 0 = automatic: half
                            // of the descriptors the open-file limit leaves (the other half
                            // is for upstream connections). Never more than that
  bool underscores_in_headers = false;  // forward request fields with '_' in the name (nginx's
                                        // underscores_in_headers); false = drop and count

  bool operator==(const Limits&) const = default;
};

struct AccessLog {
  std::string path;  // "" = off; "-" = stdout; otherwise a file opened in append mode
  uint64_t max_queue_bytes = 4 * 1024 * 1024;  // lines waiting for the writer; beyond it
                                               // lines are dropped and counted; >= 64k

  bool operator==(const AccessLog&) const = default;
};

// One database server to try; several are tried in order (DESIGN decision 2).
struct Dsn {
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string user;
  std::string password;  // inline, or read from `password_file`; never logged or echoed
  std::string database;
  std::string socket;  // Unix socket path; "" = TCP to host:port
  Mark mark;

  bool operator==(const Dsn&) const = default;
};

// Per server name: what the database does not say (the compatibility profile has no pool,
// version or migration URL columns), or overrides for the own profile.
struct ServerOverride {
  std::string name;
  std::string pool;  // pool serving that server here ("" = keep the database's)
  std::string version;
  std::string redirect_url;  // absolute http(s) URL without query; "" = keep the database's
  Mark mark;

  bool operator==(const ServerOverride&) const = default;
};

// Which tables hold the tenant directory (DESIGN decision 3):
//   own  Switchyard's own tables (switchyard db migrate creates them), read and written
//   sql  any tenant database, read through the configured SELECTs; read-only
//   ox   an unchanged Open-Xchange configdb, read and written exactly as OX's tools do
enum class Profile { Own, Sql, Ox };

// Open-Xchange specifics of profile ox.
struct OxOptions {
  int maintenance_reason = 1431655765;             // context.reason_id of a disabled schema (OX's
                                                   // SCHEMA_MOVE_MAINTENANCE_REASON); >= 1
  std::string default_context = "defaultcontext";  // login2context mapping of logins without '@'
  Millis checksum_interval{30000};  // whole-table checksums (single-context and login changes);
                                    // schema-level changes are seen every refresh_interval
  bool operator==(const OxOptions&) const = default;
};

struct Database {
  bool enabled = false;   // true when the `database` section is present
  std::vector<Dsn> dsns;  // non-empty when enabled: the directory (own tables or the configdb)
  Millis connect_timeout{2000};
  bool wait_at_start = false;  // false: an unreachable database at start is fatal
  Profile profile = Profile::Own;
  // Where Switchyard keeps its own state (heartbeats, cluster state, upgrade journal and
  // driver lock, update-task results, member state, server metadata). Both empty: in the
  // directory database itself (profile own only). state_database: a database on the servers
  // of |dsns| (same credentials); state_dsns: servers of their own. At most one of the two.
  std::string state_database;
  std::vector<Dsn> state_dsns;
  // The loader reads the directory from the first of these that is a synced node or a replica
  // (read_only allowed); empty = from |dsns|. |dsns| are the writers (admin, sequencer,
  // heartbeats): the first writable, synced one is used. The three DSN lists apply on reload.
  std::vector<Dsn> reader_dsns;
  // Profile sql: SELECTs (see store/directory_reader.h for their columns); servers_sql and
  // contexts_sql are required.
  std::string servers_sql;
  std::string contexts_sql;
  std::string logins_sql;
  std::string schemas_sql;
  OxOptions ox;  // profile ox only
  std::vector<ServerOverride> servers;
  Millis refresh_interval{250};
  Millis heartbeat_interval{1000};
  // Profile own: how long a gap in the change sequence may stay open (store/directory_reader.h
  // OwnProfileOptions::settle; on Galera how long recent changes are read again).
  Millis change_settle{5000};

  bool operator==(const Database&) const = default;
};

enum class KeyType {
  HostRegex,
  Header,
  Cookie,
  PathSegment,
  PathRegex,
  Query,
  LoginQuery,
  LoginForm
};

struct KeyRule {
  KeyType type = KeyType::Header;
  std::string name;     // header / cookie / query / form field name
  int index = 0;        // path_segment: 0-based segment index
  std::string pattern;  // host_regex / path_regex: regex with one (?<context>...) group
  Mark mark;

  bool operator==(const KeyRule&) const = default;
};

struct Hold {
  int max_requests = 1000;               // parked requests per worker; 0 = never hold (503 at once)
  uint64_t max_bytes = 8 * 1024 * 1024;  // buffered request bytes per worker
  Millis max_wait{10000};                // longest time one request is held

  bool operator==(const Hold&) const = default;
};

// How local answers (CTX codes, routing/ctx_codes.h) look. Defaults follow the profile: ox ->
// envelope ox, status 200; otherwise envelope json, each code's own status.
struct RoutingErrors {
  std::string envelope;  // "json" | "ox"; "" = by profile
  int status = -1;       // HTTP status of every local error; 0 = each code's own ("native");
                         // -1 = by envelope (ox: 200, json: native)

  bool operator==(const RoutingErrors&) const = default;
};

struct Routing {
  bool enabled = false;                   // true when the `routing` section is present
  std::string role = "old";               // old | new
  std::string instance_id;                // "" = <hostname>:<pid>
  std::string version;                    // version label written in the heartbeat
  std::vector<std::string> serve_pools;   // pools whose servers this instance serves itself
  std::string moved_action = "redirect";  // redirect | proxy (old role, moved context)
  std::string no_key = "not_found";       // not_found | default_pool (the listener's pool)
  std::string loop_guard_header = "X-Switchyard-Redirected";
  std::vector<KeyRule> keys;  // ordered; first match wins
  Hold hold;
  RoutingErrors errors;
  Mark mark;

  bool operator==(const Routing&) const = default;
};

// The admin socket (admin/server.h). Optional: without the `admin` section there is no admin
// socket. Privilege per listener: "admin" may run every command, "read-only" only show/help.
enum class AdminLevel { Admin, ReadOnly };

struct AdminSocket {
  bool enabled = false;  // true when admin.socket is present
  std::string path;      // Unix socket path; required; a stale file there is replaced
  int mode = 0600;       // permission bits of the socket file (YAML: octal string "0600")
  AdminLevel level = AdminLevel::Admin;
  int max_connections = 16;  // 1..10000; more are answered `ERR busy` and closed
  Mark mark;

  bool operator==(const AdminSocket&) const = default;
};

struct AdminTcp {
  bool enabled = false;               // true when admin.tcp is present
  std::string address = "127.0.0.1";  // must be a loopback address (127.0.0.0/8 or ::1)
  int port = 0;            // 0..65535; 0 = ephemeral (reported in --ready-file as admin.tcp)
  std::string token_file;  // file holding the token (first line); required
  AdminLevel level = AdminLevel::Admin;
  int max_connections = 16;  // 1..10000; more are answered `ERR busy` and closed
  Mark mark;

  bool operator==(const AdminTcp&) const = default;
};

// The HTTP admin listener (docs/metrics.md): /metrics, /ready, /live and the status page,
// served by a thread of its own. Loopback by default; any other address needs a token.
struct AdminHttp {
  bool enabled = false;               // true when admin.http is present
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal
  bool loopback = true;               // |address| is 127.0.0.0/8 or ::1
  int port = 0;            // 0..65535; 0 = ephemeral (reported in --ready-file as admin.http)
  std::string token_file;  // "" = no token (loopback only); else `Authorization: Bearer`
  Mark mark;

  bool operator==(const AdminHttp&) const = default;
};

struct AdminUpdateTasks {
  std::string sql_dir;  // "" = no SQL tasks
  std::string command;  // "" = no command task; "{schema}" is substituted
  Millis command_timeout{std::chrono::minutes(10)};

  bool operator==(const AdminUpdateTasks&) const = default;
};

struct Admin {
  bool enabled = false;  // true when the `admin` section is present
  AdminSocket socket;
  AdminTcp tcp;
  AdminHttp http;
  std::string event_hook;       // command run for each upgrade event; "" = none
  Millis drain_timeout{30000};  // sequencer: per schema wait for in-flight requests
  Millis live_within{10000};    // heartbeat age of a live instance
  // Galera / replicated database (issue 12): the upgrade driver's lease (taken over only when
  // it has not been renewed for this long), the change reader's gap settle window.
  Millis driver_lease{15000};
  AdminUpdateTasks update_tasks;
  Mark mark;

  bool operator==(const Admin&) const = default;
};

// Host-name members ("app.internal:8080"): resolved off the worker threads at start and every
// resolve_interval; every A/AAAA record becomes a member (app/resolver.h).
struct Resolver {
  // "ip", "ip:port" or "[v6]:port" (port 53 when absent). Empty: /etc/resolv.conf's
  // nameservers, and /etc/hosts first, like getaddrinfo.
  std::vector<std::string> nameservers;
  Millis resolve_interval{30000};
  Millis timeout{2000};  // one round of queries (A and AAAA); a failure keeps the last good set

  bool operator==(const Resolver&) const = default;
};

struct Config {
  std::string file;  // the file this was loaded from ("" when loaded from a string)
  // The overlay directory (docs/configuration.md): its *.yaml files are merged over the main
  // file in name order. As written; relative to the main file's directory. "" = none.
  std::string include_dir;
  std::vector<std::string> files;   // every file read: the main file, then each overlay
  int workers = 0;                  // worker threads; 0 = one per online core
  std::string log_level = "info";   // debug|info|warn|error
  std::vector<Listener> listeners;  // non-empty
  std::vector<Pool> pools;          // non-empty
  Limits limits;
  AccessLog access_log;
  Database database;
  Routing routing;
  Admin admin;
  Resolver resolver;

  const Pool* find_pool(const std::string& name) const {
    for (const auto& p : pools) {
      if (p.name == name) {
        return &p;
      }
    }
    return nullptr;
  }
};

}  // namespace sy::conf
