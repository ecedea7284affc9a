#include "proxy/sd_notify.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "common/log.h"

namespace sy::proxy {

ServiceNotifier ServiceNotifier::from_environment() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  ServiceNotifier notifier(path != nullptr ? path : "");
  ::unsetenv("NOTIFY_SOCKET");
  return notifier;
}

bool ServiceNotifier::notify(std::string_view state) const {
  if (path_.empty()) {
    return true;
  }
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  // '@' stands for the leading NUL of an abstract name, whose length is exact (no NUL after).
  if ((path_[0] != '/' && path_[0] != '@') || path_.size() >= sizeof sun.sun_path) {
    SY_LOG(Warn, "NOTIFY_SOCKET=%s: not an AF_UNIX socket path; not notifying systemd",
           path_.c_str());
    return false;
  }
  std::memcpy(sun.sun_path, path_.data(), path_.size());
  if (path_[0] == '@') {
    sun.sun_path[0] = '\0';
  }
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size() +
                                            (path_[0] == '@' ? 0 : 1));
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    SY_LOG(Warn, "sd_notify: socket: %s", std::strerror(errno));
    return false;
  }
  ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                          reinterpret_cast<const sockaddr*>(&sun), length);
  int saved = errno;
  ::close(fd);
  if (sent != static_cast<ssize_t>(state.size())) {
    SY_LOG(Warn, "sd_notify to %s: %s", path_.c_str(), std::strerror(saved));
    return false;
  }
  return true;
}

bool ServiceNotifier::ready(std::string_view status) const {
  return notify("READY=1\n" + status_line(status));
}

bool ServiceNotifier::reloading(std::string_view status) const {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  uint64_t usec =
      static_cast<uint64_t>(now.tv_sec) * 1000000u + static_cast<uint64_t>(now.tv_nsec) / 1000u;
  return notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\n" + status_line(status));
}

bool ServiceNotifier::stopping(std::string_view status) const {
  return notify("STOPPING=1\n" + status_line(status));
}

bool ServiceNotifier::status(std::string_view status) const { return notify(status_line(status)); }

std::string status_line(std::string_view text) {
  constexpr size_t kMax = 256;
  if (text.size() > kMax) {
    size_t cut = kMax;  // never inside a UTF-8 sequence: systemd drops invalid UTF-8
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
      --cut;
    }
    text = text.substr(0, cut);
  }
  std::string line = "STATUS=";
  for (char c : text) {
    line.push_back(c == '\n' || c == '\r' ? ' ' : c);
  }
  return line;
}

}  // namespace sy::proxy
