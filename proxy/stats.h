#pragma once
// Per-worker counters (STYLE rule 14). Each counter has exactly one writer, its worker thread,
// so an increment is a relaxed load + store (no locked instruction on the hot path); any thread
// may read a counter at any time with a relaxed load and sum the workers' values.

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "routing/ctx_codes.h"

namespace sy::proxy {

enum class Stat : int {
  ConnectionsAccepted,
  ConnectionsActive,  // gauge
  Requests,           // request heads parsed
  Responses1xx,
  Responses2xx,
  Responses3xx,
  Responses4xx,
  Responses5xx,
  BadRequests,       // rejected by the parser or a limit (4xx from the proxy itself)
  ClientTimeouts,    // header/body/idle/send timeouts on the client side
  ClientAborts,      // client went away mid-exchange
  UpstreamConnects,  // new upstream connections attempted
  UpstreamConnectFailures,
  UpstreamReuses,    // requests sent on a pooled keep-alive connection
  UpstreamRetries,   // attempts moved to another member before any byte was sent
  UpstreamTimeouts,  // 504s
  UpstreamErrors,    // 502s (bad response, reset)
  NoHealthyMember,   // requests that found every member down or ejected (panic mode used)
  PassiveEjections,
  RouteProxies,             // routing decided: proxy (including held requests released)
  RouteRedirects,           // routing decided: 307 to the tenant's new server
  RouteRejects,             // routing decided: an error with a CTX-* code
  RouteHolds,               // requests parked at least once while their schema was disabled
  HoldRefused,              // 503: a hold bound (count, bytes, time) was passed
  HeldNow,                  // gauge: requests parked now (refreshed every flush interval)
  TrailerFieldsDropped,     // trailer fields not allowed in a trailer (RFC 9110 6.5.1)
  UnderscoreFieldsDropped,  // request fields with '_' in the name (limits.underscores_in_headers)
  ProxyHeadersRejected,     // connections closed for a missing, bad or untrusted PROXY header
  Tunnels,                  // upgraded exchanges (101): byte tunnels opened
  TunnelTimeouts,           // tunnels closed after tunnel_timeout idle both ways
  TunnelsCut,               // tunnels closed by `pool member drain` past its bound
  StickyHits,               // requests sent to the member their sticky cookie named
  StickyFallbacks,          // a sticky cookie named no member, or one that could not take it
  kCount
};

// Local answers are counted per CTX code (routing/ctx_codes.h holds the codes); slot = the
// code's position in that table, kErrorCodeCount slots in all.
constexpr int kErrorCodeCount = static_cast<int>(routing::kCtxCodeCount);

const char* stat_name(Stat stat);

class WorkerStats {
 public:
  // Worker thread only.
  void inc(Stat s, uint64_t n = 1) {
    auto& c = v_[static_cast<int>(s)];
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void dec(Stat s) {
    auto& c = v_[static_cast<int>(s)];
    c.store(c.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  }
  void set(Stat s, uint64_t value) {
    v_[static_cast<int>(s)].store(value, std::memory_order_relaxed);
  }
  void inc_error(routing::CtxCode code) {
    auto& c = errors_[static_cast<size_t>(code)];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // Any thread.
  uint64_t get(Stat s) const { return v_[static_cast<int>(s)].load(std::memory_order_relaxed); }
  uint64_t get_error(int slot) const {
    return errors_[static_cast<size_t>(slot)].load(std::memory_order_relaxed);
  }

 private:
  std::array<std::atomic<uint64_t>, static_cast<int>(Stat::kCount)> v_{};
  std::array<std::atomic<uint64_t>, kErrorCodeCount> errors_{};
};

// Counts a response status into the right class counter. Worker thread only.
void count_status(WorkerStats& stats, int status);

}  // namespace sy::proxy
