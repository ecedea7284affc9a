#pragma once
// Listening sockets. Each worker gets its own socket per configured listener, all bound to the
// same address with SO_REUSEPORT, so the kernel spreads new connections over the workers with
// no shared accept lock. Port 0 is resolved by the first bind; the other workers' sockets then
// bind the port the kernel chose.
//
// Each listener also holds its lock (proxy/handover.h): a second Switchyard on the same address
// is refused with the holder's pid, unless it takes the sockets over.

#include <string>
#include <vector>

#include "common/result.h"
#include "conf/config.h"
#include "proxy/handover.h"

namespace sy::proxy {

struct BoundListener {
  const conf::Listener* conf = nullptr;
  std::string bound_address;  // "127.0.0.1:43121" / "[::1]:43121" after bind
  // Listening fds (non-blocking, close-on-exec), at least one per worker; fd i belongs to
  // worker i % workers (a successor with fewer workers than its predecessor keeps them all).
  std::vector<int> fds;
  size_t inherited = 0;  // how many of fds came from a predecessor (the first ones)
  int lock_fd = -1;      // the listener's lock (handover.h); held until the process exits
};

// Creates and binds at least |workers| listening sockets for every listener and takes each
// listener's lock. A listener whose key (listener_key()) matches sockets in |inherited|
// (optional: a takeover) uses those fds instead (they are moved out: the entry's fd becomes
// -1); what is left there belongs to listeners the new configuration dropped. Main thread.
// On error every fd created or taken so far is closed; the error names a holder's pid.
Result<std::vector<BoundListener>> bind_listeners(const conf::Config& config, int workers,
                                                  std::vector<HandoverSocket>* inherited =
                                                      nullptr);

// "ip:port" as bound_address would read for |l| ("[::1]:8080"); "" when its port is 0. Pure.
std::string configured_address(const conf::Listener& l);

// Accepts everything already queued on |fd| without blocking and returns the new fds (used at
// shutdown so that connections the kernel queued on a worker's socket are served, not reset).
std::vector<int> accept_pending(int fd);

}  // namespace sy::proxy
