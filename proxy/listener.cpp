#include "proxy/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sy::proxy {
namespace {

Result<int> bind_one(const conf::Listener& l, int port) {
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
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, l.backlog) != 0) {
    int err = errno;
    ::close(fd);
    return make_error(Errc::Io, "listener " + l.name + ": cannot listen on " + l.address + ":" +
                                    std::to_string(port) + ": " + std::strerror(err));
  }
  return fd;
}

std::string describe_bound(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET6) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
    return std::string("[") + host + "]:" + std::to_string(ntohs(v6->sin6_port));
  }
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
  return std::string(host) + ":" + std::to_string(ntohs(v4->sin_port));
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

}  // namespace

Result<std::vector<BoundListener>> bind_listeners(const conf::Config& config, int workers) {
  std::vector<BoundListener> out;
  auto close_all = [&out] {
    for (auto& b : out) {
      for (int fd : b.fds) {
        ::close(fd);
      }
    }
  };
  for (const auto& l : config.listeners) {
    BoundListener b;
    b.conf = &l;
    int port = l.port;
    for (int w = 0; w < workers; ++w) {
      auto fd = bind_one(l, port);
      if (!fd) {
        for (int f : b.fds) {
          ::close(f);
        }
        close_all();
        return fd.error();
      }
      b.fds.push_back(*fd);
      if (w == 0) {
        port = bound_port(*fd);
        b.bound_address = describe_bound(*fd);
      }
    }
    out.push_back(std::move(b));
  }
  return out;
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
