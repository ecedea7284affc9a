// The admin listeners' sockets (listeners.h).

#include "admin/listeners.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sy::admin {

namespace {

std::string errno_text() { return std::strerror(errno); }

}  // namespace

Result<int> listen_admin_socket(const conf::AdminSocket& socket, int inherited_fd) {
  if (inherited_fd >= 0) {
    return inherited_fd;
  }
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (socket.path.size() >= sizeof(sun.sun_path)) {
    return make_error(Errc::Config, "admin.socket.path is too long: " + socket.path);
  }
  std::memcpy(sun.sun_path, socket.path.c_str(), socket.path.size() + 1);
  struct stat st;
  if (::lstat(socket.path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return make_error(Errc::Config,
                        "admin.socket.path " + socket.path + " exists and is not a socket");
    }
    // A live server there refuses to be replaced; a stale file is removed.
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool live = ::connect(probe, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0;
    ::close(probe);
    if (live) {
      return make_error(Errc::Io, "admin socket " + socket.path + " is in use by another process");
    }
    ::unlink(socket.path.c_str());
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  mode_t old = ::umask(0177);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun);
  ::umask(old);
  if (rc != 0 || ::chmod(socket.path.c_str(), static_cast<mode_t>(socket.mode)) != 0 ||
      ::listen(fd, 64) != 0) {
    std::string why = errno_text();
    ::close(fd);
    return make_error(Errc::Io, "admin socket " + socket.path + ": " + why);
  }
  return fd;
}

Result<TcpListener> listen_admin_tcp(const conf::AdminTcp& tcp, int inherited_fd) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, tcp.address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(tcp.port));
    len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, tcp.address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(tcp.port));
    len = sizeof(sockaddr_in6);
  } else {
    return make_error(Errc::Config, "admin.tcp.address is not an IP literal");
  }
  const bool inherited = inherited_fd >= 0;
  TcpListener out;
  out.fd = inherited ? inherited_fd
                     : ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(out.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (!inherited && (::bind(out.fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
                     ::listen(out.fd, 64) != 0)) {
    std::string why = errno_text();
    ::close(out.fd);
    return make_error(Errc::Io,
                      "admin tcp " + tcp.address + ":" + std::to_string(tcp.port) + ": " + why);
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  getsockname(out.fd, reinterpret_cast<sockaddr*>(&bound), &blen);
  char host[INET6_ADDRSTRLEN] = "";
  if (bound.ss_family == AF_INET) {
    auto* b4 = reinterpret_cast<sockaddr_in*>(&bound);
    inet_ntop(AF_INET, &b4->sin_addr, host, sizeof host);
    out.address = std::string(host) + ":" + std::to_string(ntohs(b4->sin_port));
  } else {
    auto* b6 = reinterpret_cast<sockaddr_in6*>(&bound);
    inet_ntop(AF_INET6, &b6->sin6_addr, host, sizeof host);
    out.address = "[" + std::string(host) + "]:" + std::to_string(ntohs(b6->sin6_port));
  }
  return out;
}

}  // namespace sy::admin
