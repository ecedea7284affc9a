// The admin listeners' sockets: the Unix socket (stale file replaced, live one refused, mode
// set before anyone can connect) and the loopback TCP port. The admin thread (server.cpp) polls
// what these return.
#pragma once

#include <string>

#include "common/result.h"
#include "conf/config.h"

namespace sy::admin {

// A listening, non-blocking Unix socket at |socket.path|, or |inherited_fd| (a predecessor's,
// after a self-upgrade: already bound and listening) when it is >= 0.
Result<int> listen_admin_socket(const conf::AdminSocket& socket, int inherited_fd);

struct TcpListener {
  int fd = -1;
  std::string address;  // as bound: "127.0.0.1:4242" or "[::1]:4242" (port 0 resolved)
};

// A listening, non-blocking TCP socket on |tcp.address|:|tcp.port|, or |inherited_fd| when it
// is >= 0 (already bound and listening).
Result<TcpListener> listen_admin_tcp(const conf::AdminTcp& tcp, int inherited_fd);

}  // namespace sy::admin
