#include "proxy/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "proxy/handover.h"

namespace sy::proxy {
namespace {

// A socket bound to |l|'s address and |port|; listening too when |listen_now| (else the caller
// listens once it holds the listener's lock).
Result<int> bind_one(const conf::Listener& l, int port, bool listen_now = true) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  int family;
  if (inet_pton(AF_INET, l.address.c_str(), &v4->sin_addr) == 1) {
    family = v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v4);
  } else if (inet_pton(AF_INET6, l.address.c_str(), &v6->sin6_addr) == 1) {
    family = v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v6);
  } else {
    return make_error(Errc::Config,
                      "listener " + l.name + ": address " + l.address + " is not an IP literal");
  }
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return make_error(Errc::Io, std::string("socket: ") + std::strerror(errno));
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (family == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      (listen_now && ::listen(fd, l.backlog) != 0)) {
    int err = errno;
    ::close(fd);
    return make_error(Errc::Io, "listener " + l.name + ": cannot listen on " + l.address + ":" +
                                    std::to_string(port) + ": " + std::strerror(err));
  }
  return fd;
}

// "ip:port", "[ip6]:port". |addr| is an in_addr or in6_addr of |family|.
std::string host_port(int family, const void* addr, int port) {
  char host[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, addr, host, sizeof(host));
  return family == AF_INET6 ? "[" + std::string(host) + "]:" + std::to_string(port)
                            : std::string(host) + ":" + std::to_string(port);
}

std::string describe_bound(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (ss.ss_family == AF_INET6) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    return host_port(AF_INET6, &v6->sin6_addr, ntohs(v6->sin6_port));
  }
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  return host_port(AF_INET, &v4->sin_addr, ntohs(v4->sin_port));
}

int bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (ss.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

// Moves the fds of |kind| with |key| out of |inherited| (their entries keep fd -1).
std::vector<int> take_inherited(std::vector<HandoverSocket>* inherited, HandoverKind kind,
                                const std::string& key) {
  std::vector<int> out;
  if (inherited == nullptr) {
    return out;
  }
  for (auto& s : *inherited) {
    if (s.kind == kind && s.key == key && s.fd >= 0) {
      out.push_back(s.fd);
      s.fd = -1;
    }
  }
  return out;
}

// Takes |b|'s lock for its bound address; a held lock is the "second instance" error.
Result<Unit> lock_listener(BoundListener* b) {
  auto lock = take_lock(b->bound_address);
  if (!lock) {
    return lock.error();
  }
  if (lock->fd < 0) {
    std::string who = lock->holder > 0 ? "Switchyard pid " + std::to_string(lock->holder)
                                       : "another Switchyard (pid unknown)";
    return make_error(Errc::Io, "listener " + b->conf->name + ": " + b->bound_address +
                                    " is already served by " + who +
                                    "; stop it first, or start this one with --takeover to "
                                    "replace it without dropping a connection");
  }
  b->lock_fd = lock->fd;
  return ok_result();
}

void close_bound(BoundListener* b) {
  for (int fd : b->fds) {
    ::close(fd);
  }
  b->fds.clear();
  if (b->lock_fd >= 0) {
    ::close(b->lock_fd);
    b->lock_fd = -1;
  }
}

// |b| from inherited sockets: the successor keeps every socket the old process had (closing one
// of a SO_REUSEPORT group would reset the connections in its queue), adopts the lock, and binds
// more when it has more workers.
Result<Unit> adopt_listener(BoundListener* b, std::vector<int> fds, std::vector<int> locks) {
  b->fds = std::move(fds);
  b->bound_address = describe_bound(b->fds[0]);
  for (size_t i = 1; i < locks.size(); ++i) {
    ::close(locks[i]);  // a key appears once per process; be lenient with a confused peer
  }
  if (locks.empty()) {
    return lock_listener(b);
  }
  b->lock_fd = locks[0];
  return adopt_lock(b->lock_fd);
}

}  // namespace

Result<std::vector<BoundListener>> bind_listeners(const conf::Config& config, int workers,
                                                  std::vector<HandoverSocket>* inherited) {
  std::vector<BoundListener> out;
  auto fail = [&out](BoundListener* b, Error e) -> Result<std::vector<BoundListener>> {
    close_bound(b);
    for (auto& done : out) {
      close_bound(&done);
    }
    return e;
  };
  for (const auto& l : config.listeners) {
    BoundListener b;
    b.conf = &l;
    std::string key = listener_key(l.name, l.address, l.port);
    std::vector<int> passed = take_inherited(inherited, HandoverKind::Listen, key);
    std::vector<int> locks = take_inherited(inherited, HandoverKind::Lock, key);
    if (!passed.empty()) {
      auto adopted = adopt_listener(&b, std::move(passed), std::move(locks));
      if (!adopted) {
        return fail(&b, adopted.error());
      }
      b.inherited = b.fds.size();
    } else {
      for (int fd : locks) {
        ::close(fd);
      }
      // The first socket is bound but not listening until the lock is ours: a second instance
      // must not join the SO_REUSEPORT group even for a moment.
      auto first = bind_one(l, l.port, false);
      if (!first) {
        return fail(&b, first.error());
      }
      b.fds.push_back(*first);
      b.bound_address = describe_bound(*first);
      auto locked = lock_listener(&b);
      if (!locked) {
        return fail(&b, locked.error());
      }
      if (::listen(*first, l.backlog) != 0) {
        return fail(&b, make_error(Errc::Io, "listener " + l.name + ": listen on " +
                                                 b.bound_address + ": " + std::strerror(errno)));
      }
    }
    int port = bound_port(b.fds[0]);
    while (b.fds.size() < static_cast<size_t>(workers)) {
      auto fd = bind_one(l, port);
      if (!fd) {
        return fail(&b, fd.error());
      }
      b.fds.push_back(*fd);
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::string configured_address(const conf::Listener& l) {
  in6_addr v6{};
  in_addr v4{};
  if (l.port != 0 && inet_pton(AF_INET, l.address.c_str(), &v4) == 1) {
    return host_port(AF_INET, &v4, l.port);
  }
  if (l.port != 0 && inet_pton(AF_INET6, l.address.c_str(), &v6) == 1) {
    return host_port(AF_INET6, &v6, l.port);
  }
  return "";
}

std::vector<int> accept_pending(int fd) {
  std::vector<int> fds;
  for (;;) {
    int c = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    fds.push_back(c);
  }
  return fds;
}

}  // namespace sy::proxy
