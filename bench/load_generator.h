#pragma once
// The load generator of switchyard-bench: HTTP/1.1 or HTTP/2 (h2c or TLS+ALPN) requests over
// many tenants, open loop at a rate or closed loop at a concurrency, one libevent event_base
// per thread, measured into per-second, per-thread LatencyHistograms that are merged at the end.
//
// Open loop: each thread's requests have intended send times fixed in advance
// (OpenLoopSchedule); a request that cannot be written because every connection is busy waits
// in a queue, and its latency runs from the intended time, so a stalled server shows as latency
// instead of as fewer requests (no coordinated omission). Closed loop: each connection keeps
// |streams| requests in flight (1 for HTTP/1.1), like wrk and h2load.
//
// A request fails when it gets no answer (connection error, timeout), a status >= 400, or an
// application error code in a JSON body: Switchyard's {"error":"CTX-00NN",...} or an OX-style
// envelope's "code". Redirects (301/302/303/307/308) are followed like a browser when asked:
// same method and body for 307/308, to the Location, at most 5 times, latency counted from the
// first request's intended time.
//
// Thread: run_load() blocks the calling thread, starts |threads| workers and joins them.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "bench/histogram.h"

namespace sy::bench {

enum class TenantIn { Header, Cookie, Host, Login };

struct LoadOptions {
  std::string url;  // http://host:port/path or https://...; host is an IP literal
  bool open_loop = false;
  double rate = 0;          // open loop: requests per second, all threads together
  int connections = 16;     // per run (split over threads)
  int max_connections = 0;  // open loop: grow up to this many while requests queue
                            // (0 = 1024); closed loop: always |connections|
  int threads = 1;
  bool h2 = false;            // HTTP/2 (prior knowledge on http://, ALPN h2 on https://)
  int streams = 10;           // h2 closed loop: requests in flight per connection
  double duration_s = 10;     // sending stops after this long
  double warmup_s = 0;        // the first seconds are reported but not in the totals
  double timeout_s = 30;      // no answer by then (from the intended time): a failure
  uint64_t tenant_first = 1;  // tenants are ids first .. first + count - 1
  uint64_t tenant_count = 1;
  double zipf_s = 0;  // <= 0: uniform
  TenantIn tenant_in = TenantIn::Header;
  std::string tenant_header = "X-Context-Id";
  std::string cookie_name = "sy_ctx";
  std::string host_suffix = ".tenants.example.com";  // tenant_in host: "<id><suffix>"
  std::string login_path = "/ajax/login?action=login";
  int login_every = 10;  // tenant_in login: every Nth request is the login POST
  bool follow_redirects = false;
  std::vector<std::pair<std::string, std::string>> headers;  // more fields in every request
  uint64_t seed = 1;
  std::string stop_file;  // sending stops early when this file exists
  // Called about once a second from the calling thread with the totals so far (progress).
  std::function<void(double t, uint64_t ok, uint64_t failed, uint64_t inflight)> on_progress;
};

// One second of the run (index = whole seconds since the start), summed over threads.
struct SecondStats {
  uint64_t sent = 0;
  uint64_t ok = 0;
  uint64_t failed = 0;
  uint64_t redirects = 0;    // redirects followed
  uint64_t conn_errors = 0;  // connections that failed or broke (connect, reset, EOF mid-answer)
  uint64_t timeouts = 0;
  // h2 requests the server refused unprocessed (REFUSED_STREAM, or never sent because a GOAWAY
  // arrived first: RFC 9113 8.7) and that were sent again on another connection, as browsers do.
  uint64_t retried = 0;
  // Open loop: the latest the generator itself sent a request after its intended time, before
  // any connection wait. A large value means the client was stalled (descheduled), not the
  // server; every request's latency still counts from its intended time.
  uint64_t max_send_lag_ns = 0;
  std::array<uint64_t, 600> status{};     // by final status (0 = no answer; 1xx..5xx)
  std::map<std::string, uint64_t> codes;  // CTX-00NN / OX codes found in error bodies
  LatencyHistogram latency;               // every answered request, ns from intended send
};

struct LoadReport {
  int64_t start_unix_ms = 0;  // wall clock at second 0
  double elapsed_s = 0;       // until the last answer (or timeout)
  std::vector<SecondStats> seconds;
  double cpu_s = 0;  // user+system CPU of the generator process
  // Everything after the warm-up, merged.
  SecondStats total;
  double measured_s = 0;                        // seconds in |total|
  std::vector<std::string> conn_error_samples;  // the first connection errors, with why
};

// Runs the load described by |options|. Errors in |options| (bad URL, ...) come back as a
// message in |error| with an empty report.
LoadReport run_load(const LoadOptions& options, std::string* error);

// {"start_unix_ms":..,"seconds":[...],"total":{...}} — see bench/README.md for the fields.
std::string report_json(const LoadReport& report, const LoadOptions& options);

}  // namespace sy::bench
