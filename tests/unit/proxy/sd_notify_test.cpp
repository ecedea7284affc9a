// proxy/sd_notify.h: the datagrams a real AF_UNIX socket receives (abstract and path names),
// MONOTONIC_USEC on reload, one-line STATUS, and NOTIFY_SOCKET taken out of the environment.

#include "proxy/sd_notify.h"

#include <catch.hpp>

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

using sy::proxy::ServiceNotifier;
using sy::proxy::status_line;

namespace {

// A datagram socket bound to |name| ("@x" = abstract) that plays systemd's part.
class FakeSystemd {
 public:
  explicit FakeSystemd(std::string name) : name_(std::move(name)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::copy(name_.begin(), name_.end(), sun.sun_path);
    bool abstract = name_[0] == '@';
    if (abstract) {
      sun.sun_path[0] = '\0';
    }
    socklen_t len =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size() + (abstract ? 0 : 1));
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&sun), len) == 0);
    timeval tv{5, 0};  // a missing datagram fails the test instead of hanging it
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~FakeSystemd() {
    ::close(fd_);
    if (name_[0] == '/') {
      ::unlink(name_.c_str());
    }
  }
  std::string receive() {
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    REQUIRE(n >= 0);
    return std::string(buf, static_cast<size_t>(n));
  }

 private:
  std::string name_;
  int fd_ = -1;
};

std::string unique_name(const char* prefix) {
  static int counter = 0;
  return std::string(prefix) + "sy-notify-test-" + std::to_string(::getpid()) + "-" +
         std::to_string(++counter);
}

uint64_t monotonic_usec() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000u + static_cast<uint64_t>(now.tv_nsec) / 1000u;
}

}  // namespace

TEST_CASE("without a socket every call is a no-op that succeeds") {
  ServiceNotifier n;
  CHECK_FALSE(n.enabled());
  CHECK(n.ready("x"));
  CHECK(n.reloading("x"));
  CHECK(n.stopping("x"));
}

TEST_CASE("READY, STOPPING and STATUS reach an abstract socket as one datagram each") {
  std::string name = unique_name("@");
  FakeSystemd systemd(name);
  ServiceNotifier n(name);
  CHECK(n.enabled());
  REQUIRE(n.ready("Serving: 2 listener(s)"));
  CHECK(systemd.receive() == "READY=1\nSTATUS=Serving: 2 listener(s)");
  REQUIRE(n.stopping("Draining"));
  CHECK(systemd.receive() == "STOPPING=1\nSTATUS=Draining");
  REQUIRE(n.status("Loading"));
  CHECK(systemd.receive() == "STATUS=Loading");
}

TEST_CASE("a filesystem socket path works too") {
  std::string name = unique_name("/tmp/");
  FakeSystemd systemd(name);
  REQUIRE(ServiceNotifier(name).ready("ok"));
  CHECK(systemd.receive() == "READY=1\nSTATUS=ok");
}

TEST_CASE("RELOADING=1 carries CLOCK_MONOTONIC in microseconds") {
  std::string name = unique_name("@");
  FakeSystemd systemd(name);
  uint64_t before = monotonic_usec();
  REQUIRE(ServiceNotifier(name).reloading("Reloading"));
  uint64_t after = monotonic_usec();
  std::string msg = systemd.receive();
  INFO(msg);
  REQUIRE(msg.rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0);
  size_t at = msg.find('=', msg.find("MONOTONIC_USEC")) + 1;
  uint64_t usec = std::stoull(msg.substr(at, msg.find('\n', at) - at));
  CHECK(usec >= before);
  CHECK(usec <= after);
  CHECK(msg.substr(msg.find('\n', at) + 1) == "STATUS=Reloading");
}

TEST_CASE("a status is one line, cut at 256 bytes on a UTF-8 boundary") {
  CHECK(status_line("a\nb\rc") == "STATUS=a b c");
  std::string long_text(255, 'x');
  long_text += "\xc3\xa9tail";  // "é" straddles byte 256
  std::string line = status_line(long_text);
  CHECK(line == "STATUS=" + std::string(255, 'x'));
}

TEST_CASE("an unusable NOTIFY_SOCKET is reported, not fatal") {
  CHECK_FALSE(ServiceNotifier("relative/path").ready("x"));
  CHECK_FALSE(ServiceNotifier(unique_name("@nobody-listens-")).ready("x"));
}

TEST_CASE("from_environment takes NOTIFY_SOCKET and removes it") {
  ::setenv("NOTIFY_SOCKET", "@sy-from-env", 1);
  ServiceNotifier n = ServiceNotifier::from_environment();
  CHECK(n.socket_path() == "@sy-from-env");
  CHECK(std::getenv("NOTIFY_SOCKET") == nullptr);
  CHECK_FALSE(ServiceNotifier::from_environment().enabled());
}
