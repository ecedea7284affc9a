// admin/server.h: the admin thread over real sockets (no database): the per-listener connection
// cap, and a client that sends without reading is paused (its memory stays bounded) and gets
// every reply once it reads. Also run under ThreadSanitizer (SY_TSAN_TESTS in
// tests/CMakeLists.txt).

#include "admin/server.h"

#include <catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

using namespace sy;
using namespace sy::admin;
using namespace std::chrono_literals;

namespace {

constexpr char kUnknownReply[] = "ERR unknown-command: 'x' (try `help`)\n\n";

std::string temp_path(const char* what) {
  static int counter = 0;
  return "/tmp/sy-admin-server-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++) +
         what;
}

struct Server {
  std::string socket_path = temp_path(".sock");
  std::string token_path = temp_path(".token");
  std::unique_ptr<AdminServer> server;

  explicit Server(int unix_max, int tcp_max = 0) {
    ServerOptions o;
    o.admin.enabled = true;
    o.admin.socket.enabled = true;
    o.admin.socket.path = socket_path;
    o.admin.socket.max_connections = unix_max;
    if (tcp_max > 0) {
      std::ofstream(token_path) << "token-for-the-test\n";
      o.admin.tcp.enabled = true;
      o.admin.tcp.token_file = token_path;
      o.admin.tcp.max_connections = tcp_max;
    }
    AdminContext ctx;
    ctx.instance_id = "test";
    ctx.stats = [] { return StatsView{}; };
    ctx.pools = [] { return std::vector<PoolView>{}; };
    server = std::make_unique<AdminServer>(std::move(o), std::move(ctx));
    auto r = server->start();
    REQUIRE(r.ok());
  }
  ~Server() {
    server.reset();
    ::unlink(token_path.c_str());
  }
};

int connect_unix(const std::string& path) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
  return fd;
}

int connect_tcp(const std::string& hostport) {
  size_t colon = hostport.rfind(':');
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(std::stoi(hostport.substr(colon + 1))));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0);
  return fd;
}

void send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    REQUIRE(n > 0);
    off += static_cast<size_t>(n);
  }
}

// Reads from |fd| into |out| until |done(*out)| or the peer closes (returns false then).
template <class Done>
bool read_until(int fd, std::string* out, Done done) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  char buf[65536];
  while (!done(*out)) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) {
      continue;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      return false;
    }
    out->append(buf, static_cast<size_t>(n));
  }
  return true;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// One command, its whole reply.
std::string ask(int fd, const std::string& command) {
  send_all(fd, command + "\n");
  std::string reply;
  REQUIRE(read_until(fd, &reply, [](const std::string& r) { return ends_with(r, "\n\n"); }));
  return reply;
}

// Everything until the peer closes.
std::string read_to_eof(int fd) {
  std::string out;
  CHECK_FALSE(read_until(fd, &out, [](const std::string&) { return false; }));
  return out;
}

template <class Pred>
void wait_until(Pred pred, const char* what) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) {
      FAIL("timed out waiting for " << what);
    }
    std::this_thread::sleep_for(5ms);  // polling a condition with a deadline
  }
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("connections over max_connections get one ERR busy line and are closed") {
  Server s(3);
  int fds[3];
  for (int& fd : fds) {
    fd = connect_unix(s.socket_path);
    CHECK(ask(fd, "x") == kUnknownReply);  // accepted and served
  }
  int extra = connect_unix(s.socket_path);
  CHECK(read_to_eof(extra) == "ERR busy: too many admin connections on this listener (max 3, "
                              "admin.socket.max_connections); closing\n\n");
  ::close(extra);
  CHECK(s.server->counters().refused == 1);
  // The others are untouched; once one leaves, a new one is served.
  CHECK(ask(fds[0], "x") == kUnknownReply);
  ::close(fds[2]);
  wait_until([&] { return s.server->counters().open == 2; }, "the closed connection to go");
  int again = connect_unix(s.socket_path);
  CHECK(ask(again, "x") == kUnknownReply);
  for (int fd : {fds[0], fds[1], again}) {
    ::close(fd);
  }
}

TEST_CASE("each listener has its own cap, counted before authentication") {
  Server s(1, 2);
  int unix_fd = connect_unix(s.socket_path);
  CHECK(ask(unix_fd, "x") == kUnknownReply);
  int a = connect_tcp(s.server->tcp_address());
  int b = connect_tcp(s.server->tcp_address());
  CHECK(ask(a, "x").rfind("ERR auth: ", 0) == 0);  // not authenticated, but counted
  CHECK(ask(b, "auth token-for-the-test") == "authenticated\n\n");
  int c = connect_tcp(s.server->tcp_address());
  CHECK(read_to_eof(c) == "ERR busy: too many admin connections on this listener (max 2, "
                          "admin.tcp.max_connections); closing\n\n");
  int unix_extra = connect_unix(s.socket_path);
  CHECK(read_to_eof(unix_extra).rfind("ERR busy: ", 0) == 0);
  CHECK(s.server->counters().refused == 2);
  for (int fd : {unix_fd, a, b, c, unix_extra}) {
    ::close(fd);
  }
}

TEST_CASE("a client that sends and never reads is paused, then gets every reply") {
  Server s(4);
  int fd = connect_unix(s.socket_path);
  REQUIRE(::fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
  std::string chunk;
  for (int i = 0; i < 1000; ++i) {
    chunk += "x\n";  // ~20 bytes of reply per 2 bytes sent
  }
  // Send without reading until the server stops reading us: its replies pile up to the bound,
  // then it leaves our bytes in the kernel and send() blocks. Before the fix it read (and
  // answered into memory) without end, so this loop hit the 16 MB guard.
  size_t sent = 0;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    size_t off = sent % chunk.size();
    ssize_t n = ::send(fd, chunk.data() + off, chunk.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      REQUIRE(sent < 16u * 1024 * 1024);
      continue;
    }
    REQUIRE((errno == EAGAIN || errno == EWOULDBLOCK));
    if (s.server->counters().paused == 1) {
      break;
    }
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, 50);
  }
  // What the server holds for us is bounded by its output bound plus one line's worth of
  // input; the rest sits in the two socket buffers.
  CHECK(sent < 2u * 1024 * 1024);
  // Reading drains the replies; the server resumes and answers every complete line.
  REQUIRE(::fcntl(fd, F_SETFL, 0) == 0);
  const size_t lines = sent / 2;
  size_t answered = 0;
  std::string batch;
  while (answered < lines) {
    batch.clear();
    REQUIRE(
        read_until(fd, &batch, [](const std::string& r) { return ends_with(r, kUnknownReply); }));
    answered += count(batch, "ERR unknown-command");
  }
  CHECK(answered == lines);
  wait_until([&] { return s.server->counters().paused == 0; }, "the pause to end");
  ::close(fd);
}

TEST_CASE("a long line of commands is answered whole across pauses, then EOF closes") {
  Server s(4);
  int fd = connect_unix(s.socket_path);
  // One 10 KB line of 2,000 `help` (about 7 MB of replies), then the end of our sending side:
  // the server stops running the line's commands at its output bound and resumes as we read.
  std::string line;
  for (int i = 0; i < 2000; ++i) {
    line += i == 0 ? "help" : ";help";
  }
  send_all(fd, line + "\nx\n");
  ::shutdown(fd, SHUT_WR);
  std::string all = read_to_eof(fd);
  CHECK(count(all, "show stats") == 2000);  // every help reply lists `show stats` once
  CHECK(all.size() > 2000u * 1000);
  CHECK(all.substr(all.size() - std::strlen(kUnknownReply)) == kUnknownReply);
  ::close(fd);
}

TEST_CASE("a line over 64 KiB is refused and the connection closed") {
  Server s(4);
  int fd = connect_unix(s.socket_path);
  send_all(fd, std::string(70 * 1024, 'a'));
  CHECK(read_to_eof(fd) == "ERR usage: line longer than 64 KiB; closing\n\n");
  ::close(fd);
}
