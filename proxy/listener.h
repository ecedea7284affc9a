#pragma once
// Listening sockets. Each worker gets its own socket per configured listener, all bound to the
// same address with SO_REUSEPORT, so the kernel spreads new connections over the workers with
// no shared accept lock. Port 0 is resolved by the first bind; the other workers' sockets then
// bind the port the kernel chose.

#include <string>
#include <vector>

#include "common/result.h"
#include "conf/config.h"

namespace sy::proxy {

struct BoundListener {
  const conf::Listener* conf = nullptr;
  std::string bound_address;  // "127.0.0.1:43121" / "[::1]:43121" after bind
  std::vector<int> fds;       // one listening fd per worker (non-blocking, close-on-exec)
};

// Creates and binds |workers| listening sockets for every listener. Main thread. On error,
// every fd created so far is closed.
Result<std::vector<BoundListener>> bind_listeners(const conf::Config& config, int workers);

// Accepts everything already queued on |fd| without blocking and returns the new fds (used at
// shutdown so that connections the kernel queued on a worker's socket are served, not reset).
std::vector<int> accept_pending(int fd);

}  // namespace sy::proxy
