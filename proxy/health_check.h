#pragma once
// Active health checks. One thread with its own event_base checks every member of every pool
// whose health_check is enabled: every |interval| it connects, sends
// `GET <path> HTTP/1.1` with `Connection: close`, and counts a 2xx/3xx status line received
// within |timeout| as a pass. |rise| passes in a row mark a down member up, |fall| failures in
// a row mark an up member down; the verdict is published in MemberState::healthy, which the
// workers read lock-free. Members start up (optimistic), as in HAProxy. Members of a pool
// with `protocol: h2` get the same GET as an HTTP/2 request on a connection of its own (h2c
// with prior knowledge, or h2 by ALPN over TLS), judged on its :status.

#include <memory>
#include <thread>
#include <vector>

#include "proxy/upstream_pool.h"

struct event_base;
struct event;

namespace sy::proxy {

class HealthChecker {
 public:
  // |registry| must outlive the checker. Main thread.
  explicit HealthChecker(PoolRegistry* registry);
  ~HealthChecker();  // stops and joins

  void start();  // starts the thread (no-op when nothing is checked)
  void stop();   // any thread except the checker's; idempotent
  // A pool's member set changed (PoolState::publish): the checker thread starts checking new
  // members and stops checking gone ones (kept ones keep their rise/fall counts). Any thread.
  void members_changed();

  struct Target;  // one checked member (defined in the .cpp)

 private:
  void sync_targets();  // checker thread (and start(), before the thread runs)
  static void free_target(Target* t);
  PoolRegistry* registry_;
  event_base* base_ = nullptr;
  event* stop_event_ = nullptr;
  event* sync_event_ = nullptr;
  std::vector<std::unique_ptr<Target>> targets_;
  std::thread thread_;
};

}  // namespace sy::proxy
