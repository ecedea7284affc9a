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

namespace sy::conf {

using Millis = std::chrono::milliseconds;

// Where a value came from in the YAML file; 1-based. 0 means "not from a file" (a default).
struct Mark {
  int line = 0;
  int col = 0;
};

struct Listener {
  std::string name;                  // unique; reported in --ready-file as listener.<name>
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal; "0.0.0.0" / "::" for any
  int port = 0;                      // 0..65535; 0 = ephemeral (see --ready-file)
  std::string pool;                  // name of the pool requests are proxied to (must exist)
  int backlog = 511;                 // listen(2) backlog; > 0
  Mark mark;
};

struct HealthCheck {
  bool enabled = true;
  std::string path = "/";        // request target sent with GET; must start with '/'
  Millis interval{2000};         // between checks of one member; > 0
  Millis timeout{1000};          // per check (connect + response head); > 0
  int rise = 2;                  // consecutive passes to mark a down member up; >= 1
  int fall = 3;                  // consecutive failures to mark an up member down; >= 1
  std::string host;              // Host header; "" = the member's host:port
};

// Passive ejection: a worker that sees |consecutive_failures| connect errors, timeouts or bad
// responses in a row from one member stops using it for |eject_for|.
struct PassiveEjection {
  int consecutive_failures = 5;  // >= 1; 0 disables passive ejection
  Millis eject_for{10000};       // > 0
};

struct Member {
  std::string address;  // "host:port" or "[v6]:port" as written; host must be an IP literal
                        // or "localhost"
  std::string host;     // parsed host part
  int port = 0;         // parsed port, 1..65535
  int weight = 1;       // 1..256
  Mark mark;
};

enum class Balance { RoundRobin, LeastConn };

struct Pool {
  std::string name;     // unique
  std::string version;  // free-form version label, e.g. "7.10.6"; reported in stats
  Balance balance = Balance::RoundRobin;
  std::vector<Member> members;  // non-empty
  HealthCheck health_check;
  PassiveEjection passive_ejection;
  Millis connect_timeout{2000};    // TCP connect to a member; > 0
  Millis response_timeout{30000};  // upstream silence while a response is awaited/read; > 0
  int max_idle_connections = 64;   // idle keep-alive upstream connections per member per worker
  int retries = 2;                 // extra members tried when a connect fails (no byte sent)
  Mark mark;
};

struct Limits {
  uint64_t max_header_bytes = 16 * 1024;  // request/response head incl. request line -> 431
  int max_headers = 100;                  // header fields per head -> 431
  uint64_t max_uri_bytes = 8 * 1024;      // request target -> 414
  uint64_t max_body_bytes = 0;            // request body; 0 = unlimited -> 413
  Millis client_header_timeout{10000};    // from a request's first byte to its complete head
  Millis client_body_timeout{30000};      // client silence while a request body is read
  Millis client_idle_timeout{60000};      // keep-alive silence between requests
  Millis send_timeout{60000};             // a peer not reading what we must write to it
  Millis drain_timeout{30000};            // SIGTERM: longest wait for in-flight requests
  uint64_t buffer_high_water = 256 * 1024;  // per direction; reading the peer stops above it
};

struct AccessLog {
  std::string path;  // "" = off; "-" = stdout; otherwise a file opened in append mode
};

struct Config {
  std::string file;  // the file this was loaded from ("" when loaded from a string)
  int workers = 0;   // worker threads; 0 = one per online core
  std::string log_level = "info";  // debug|info|warn|error
  std::vector<Listener> listeners;  // non-empty
  std::vector<Pool> pools;          // non-empty
  Limits limits;
  AccessLog access_log;

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
