#include "proxy/metrics.h"

#include "proxy/upstream_pool.h"

namespace sy::proxy {

const char* tls_outcome_name(TlsOutcome o) {
  switch (o) {
  case TlsOutcome::Ok: return "ok";
  case TlsOutcome::Timeout: return "timeout";
  case TlsOutcome::Protocol: return "protocol";
  case TlsOutcome::Closed: return "closed";
  case TlsOutcome::Aborted: return "aborted";
  case TlsOutcome::kCount: break;
  }
  return "?";
}

WorkerMetrics::WorkerMetrics(const conf::Config& config)
    : listeners_(new ListenerMetrics[config.listeners.size()]), pools_(new PoolMetrics[kMaxPools]) {
  for (size_t i = 0; i < config.pools.size() && i < kMaxPools; ++i) {
    pools_[i].members.reset(new MemberMetrics[config.pools[i].members.size()]);
    pools_[i].member_count = config.pools[i].members.size();
  }
}

}  // namespace sy::proxy
