#include "proxy/handover.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace sy::proxy {
namespace {

constexpr std::string_view kSocketsWord = "SOCKETS";
constexpr std::string_view kEndWord = "END";
constexpr std::chrono::milliseconds kRequestTimeout{5000};  // connect to "TAKEOVER 1"

std::string errno_text() { return std::strerror(errno); }

void close_all(std::vector<HandoverSocket>* sockets) {
  for (auto& s : *sockets) {
    if (s.fd >= 0) {
      ::close(s.fd);
    }
  }
  sockets->clear();
}

socklen_t abstract_address(std::string_view name, sockaddr_un* sun) {
  *sun = sockaddr_un{};
  sun->sun_family = AF_UNIX;
  // sun_path[0] = '\0': the abstract namespace; the name is not NUL-terminated.
  size_t n = std::min(name.size(), sizeof(sun->sun_path) - 1);
  std::memcpy(sun->sun_path + 1, name.data(), n);
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
}

bool parse_kind(std::string_view word, HandoverKind* kind) {
  for (HandoverKind k : {HandoverKind::Listen, HandoverKind::Lock, HandoverKind::AdminUnix,
                         HandoverKind::AdminTcp, HandoverKind::AdminHttp}) {
    if (word == to_string(k)) {
      *kind = k;
      return true;
    }
  }
  return false;
}

bool parse_count(std::string_view text, size_t* out) {
  if (text.empty() || text.size() > 9) {
    return false;
  }
  size_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  *out = v;
  return true;
}

// Waits until |fd| is readable or |timeout| passed or |stop_fd| (-1 = none) is readable.
Result<Unit> wait_readable(int fd, std::chrono::milliseconds timeout, int stop_fd) {
  pollfd p[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
  for (;;) {
    int n = ::poll(p, stop_fd >= 0 ? 2 : 1, static_cast<int>(timeout.count()));
    if (n > 0 && p[1].revents != 0) {
      return make_error(Errc::Unavailable, "this process is stopping");
    }
    if (n > 0) {
      return ok_result();
    }
    if (n == 0) {
      return make_error(Errc::Timeout,
                        "no answer within " + std::to_string(timeout.count()) + " ms");
    }
    if (errno != EINTR) {
      return make_error(Errc::Io, "poll: " + errno_text());
    }
  }
}

Result<Unit> send_message(int fd, std::string_view text, const std::vector<int>& fds = {}) {
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.resize(CMSG_SPACE(sizeof(int) * fds.size()));
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(text.size())) {
      return ok_result();
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    return make_error(Errc::Io, "sendmsg: " + (n < 0 ? errno_text() : "short write"));
  }
}

// One message and the fds that came with it (close-on-exec). An orderly close is an error.
Result<std::string> receive_message(int fd, std::chrono::milliseconds timeout,
                                    std::vector<int>* fds, int stop_fd = -1) {
  auto ready = wait_readable(fd, timeout, stop_fd);
  if (!ready) {
    return ready.error();
  }
  std::string text(kMaxMessageBytes, '\0');
  iovec iov{text.data(), text.size()};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage));
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n;
  do {
    n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return make_error(Errc::Io, "recvmsg: " + errno_text());
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int got;
        std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        fds->push_back(got);
      }
    }
  }
  if (n == 0) {
    return make_error(Errc::Protocol, "the peer closed the connection");
  }
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    return make_error(Errc::Protocol, "a message or its descriptors were truncated");
  }
  text.resize(static_cast<size_t>(n));
  return text;
}

void close_fds(const std::vector<int>& fds) {
  for (int f : fds) {
    ::close(f);
  }
}

pid_t peer_pid(int fd, uid_t* uid = nullptr) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return 0;
  }
  if (uid != nullptr) {
    *uid = cred.uid;
  }
  return cred.pid;
}

}  // namespace

const char* to_string(HandoverKind kind) {
  switch (kind) {
  case HandoverKind::Listen: return "listen";
  case HandoverKind::Lock: return "lock";
  case HandoverKind::AdminUnix: return "admin-unix";
  case HandoverKind::AdminTcp: return "admin-tcp";
  case HandoverKind::AdminHttp: return "admin-http";
  }
  return "?";
}

std::string listener_key(std::string_view name, std::string_view address, int port) {
  std::string key = std::string(address) + ":" + std::to_string(port);
  if (port == 0) {
    key += "/";
    key += name;
  }
  return key;
}

// --- codec ---

Result<std::vector<std::string>> encode_offer(const std::vector<HandoverSocket>& sockets) {
  std::vector<std::string> out;
  for (size_t i = 0; i < sockets.size(); ++i) {
    const auto& s = sockets[i];
    if (s.key.empty() ||
        s.key.find_first_of(std::string_view(" \n\r\t\0", 5)) != std::string::npos) {
      return make_error(Errc::InvalidArgument,
                        std::string("handover: a ") + to_string(s.kind) +
                            " socket has an empty key or one with whitespace: '" + s.key + "'");
    }
    if (i % kMaxFdsPerMessage == 0) {
      out.emplace_back(kSocketsWord);
      out.back() += "\n";
    }
    out.back() += std::string(to_string(s.kind)) + " " + s.key + "\n";
    if (out.back().size() > kMaxMessageBytes) {
      return make_error(Errc::InvalidArgument, "handover: keys too long for one message");
    }
  }
  return out;
}

std::string encode_end(size_t total) {
  return std::string(kEndWord) + " " + std::to_string(total) + "\n";
}

Result<OfferMessage> decode_offer(std::string_view text, const std::vector<int>& fds) {
  auto line_end = text.find('\n');
  if (line_end == std::string_view::npos) {
    return make_error(Errc::Protocol, "handover: a message without a line end");
  }
  std::string_view first = text.substr(0, line_end);
  std::string_view rest = text.substr(line_end + 1);
  OfferMessage m;
  if (first.substr(0, kEndWord.size() + 1) == std::string(kEndWord) + " ") {
    if (!parse_count(first.substr(kEndWord.size() + 1), &m.total) || !rest.empty()) {
      return make_error(Errc::Protocol, "handover: bad END message '" + std::string(first) + "'");
    }
    if (!fds.empty()) {
      return make_error(Errc::Protocol, "handover: END came with descriptors");
    }
    m.end = true;
    return m;
  }
  if (first != kSocketsWord) {
    return make_error(Errc::Protocol,
                      "handover: expected SOCKETS or END, got '" + std::string(first) + "'");
  }
  while (!rest.empty()) {
    auto end = rest.find('\n');
    if (end == std::string_view::npos) {
      return make_error(Errc::Protocol, "handover: an unterminated socket line");
    }
    std::string_view line = rest.substr(0, end);
    rest = rest.substr(end + 1);
    auto space = line.find(' ');
    HandoverSocket s;
    if (space == std::string_view::npos || !parse_kind(line.substr(0, space), &s.kind)) {
      return make_error(Errc::Protocol,
                        "handover: unknown socket line '" + std::string(line) + "'");
    }
    s.key = std::string(line.substr(space + 1));
    if (s.key.empty() || s.key.find(' ') != std::string::npos) {
      return make_error(Errc::Protocol, "handover: bad key in '" + std::string(line) + "'");
    }
    m.sockets.push_back(std::move(s));
  }
  if (m.sockets.size() != fds.size()) {
    return make_error(Errc::Protocol, "handover: " + std::to_string(m.sockets.size()) +
                                          " socket line(s) but " + std::to_string(fds.size()) +
                                          " descriptor(s)");
  }
  if (m.sockets.empty()) {
    return make_error(Errc::Protocol, "handover: an empty SOCKETS message");
  }
  for (size_t i = 0; i < fds.size(); ++i) {
    m.sockets[i].fd = fds[i];
  }
  return m;
}

std::string pid_message(std::string_view word, pid_t pid) {
  return std::string(word) + " " + std::to_string(pid);
}

Result<pid_t> parse_pid_message(std::string_view text, std::string_view word) {
  size_t pid = 0;
  if (text.size() > word.size() + 1 && text.substr(0, word.size()) == word &&
      text[word.size()] == ' ' && parse_count(text.substr(word.size() + 1), &pid) && pid > 0) {
    return static_cast<pid_t>(pid);
  }
  return make_error(Errc::Protocol, "handover: expected '" + std::string(word) + " <pid>', got '" +
                                        std::string(text.substr(0, 80)) + "'");
}

// --- the lock ---

std::string lock_name(std::string_view bound_address) {
  return "switchyard/listen/" + std::string(bound_address);
}

Result<LockAttempt> take_lock(std::string_view bound_address) {
  sockaddr_un sun;
  socklen_t len = abstract_address(lock_name(bound_address), &sun);
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return make_error(Errc::Io, "listener lock: socket: " + errno_text());
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sun), len) == 0) {
    if (::listen(fd, 16) != 0) {
      std::string why = errno_text();
      ::close(fd);
      return make_error(Errc::Io, "listener lock: listen: " + why);
    }
    return LockAttempt{fd, 0};
  }
  int err = errno;
  ::close(fd);
  if (err != EADDRINUSE) {
    return make_error(Errc::Io, "listener lock for " + std::string(bound_address) + ": " +
                                    std::strerror(err));
  }
  // Held: ask the kernel who listens there (a non-blocking connect; the holder's handover
  // thread sees an empty conversation and closes it).
  LockAttempt held;
  int probe = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    if (::connect(probe, reinterpret_cast<sockaddr*>(&sun), len) == 0) {
      held.holder = peer_pid(probe);
    }
    ::close(probe);
  }
  return held;
}

Result<Unit> adopt_lock(int fd) {
  if (::listen(fd, 16) != 0) {
    return make_error(Errc::Io, "listener lock: listen: " + errno_text());
  }
  return ok_result();
}

// --- successor ---

Result<TakeoverClient> TakeoverClient::connect(std::string_view bound_address,
                                               std::chrono::milliseconds timeout) {
  TakeoverClient c;
  c.fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (c.fd_ < 0) {
    return make_error(Errc::Io, "takeover: socket: " + errno_text());
  }
  sockaddr_un sun;
  socklen_t len = abstract_address(lock_name(bound_address), &sun);
  if (::connect(c.fd_, reinterpret_cast<sockaddr*>(&sun), len) != 0) {
    return make_error(Errc::Io, "takeover: no running Switchyard holds " +
                                    std::string(bound_address) + " (" + errno_text() + ")");
  }
  c.holder_ = peer_pid(c.fd_);
  auto sent = send_message(c.fd_, kTakeoverRequest);
  if (!sent) {
    return sent.error();
  }
  for (;;) {
    std::vector<int> fds;
    auto text = receive_message(c.fd_, timeout, &fds);
    if (!text) {
      close_fds(fds);
      return make_error(text.error().code, "takeover from pid " + std::to_string(c.holder_) + ": " +
                                               text.error().message);
    }
    auto m = decode_offer(*text, fds);
    if (!m) {
      close_fds(fds);
      return m.error();
    }
    if (m->end) {
      if (m->total != c.sockets_.size()) {
        return make_error(Errc::Protocol, "takeover: END says " + std::to_string(m->total) +
                                              " socket(s), " + std::to_string(c.sockets_.size()) +
                                              " arrived");
      }
      return c;
    }
    for (auto& s : m->sockets) {
      c.sockets_.push_back(std::move(s));
    }
  }
}

TakeoverClient::TakeoverClient(TakeoverClient&& other) noexcept
    : fd_(other.fd_), holder_(other.holder_), sockets_(std::move(other.sockets_)) {
  other.fd_ = -1;
  other.sockets_.clear();
}

TakeoverClient::~TakeoverClient() {
  close_all(&sockets_);
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

Result<Unit> TakeoverClient::confirm_serving(std::chrono::milliseconds timeout) {
  auto sent = send_message(fd_, pid_message("SERVING", ::getpid()));
  if (!sent) {
    return sent.error();
  }
  std::vector<int> fds;
  auto text = receive_message(fd_, timeout, &fds);
  close_fds(fds);
  if (!text) {
    return text.error();
  }
  auto pid = parse_pid_message(*text, "DRAINING");
  if (!pid) {
    return pid.error();
  }
  return ok_result();
}

// --- holder ---

HandoverServer::HandoverServer(std::vector<int> lock_fds,
                               std::function<std::vector<HandoverSocket>()> offer,
                               std::function<void(pid_t)> on_handed_over)
    : lock_fds_(std::move(lock_fds)), offer_(std::move(offer)),
      on_handed_over_(std::move(on_handed_over)) {}

HandoverServer::~HandoverServer() { stop(); }

Result<Unit> HandoverServer::start() {
  stop_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stop_fd_ < 0) {
    return make_error(Errc::Io, "handover: eventfd: " + errno_text());
  }
  thread_ = std::thread([this] { run(); });
  return ok_result();
}

void HandoverServer::stop() {
  if (stopping_.exchange(true)) {
    return;
  }
  if (stop_fd_ >= 0) {
    uint64_t one = 1;
    ssize_t n = ::write(stop_fd_, &one, sizeof one);
    (void)n;
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  if (stop_fd_ >= 0) {
    ::close(stop_fd_);
    stop_fd_ = -1;
  }
}

void HandoverServer::run() {
  std::vector<pollfd> pfds;
  pfds.push_back({stop_fd_, POLLIN, 0});
  for (int fd : lock_fds_) {
    pfds.push_back({fd, POLLIN, 0});
  }
  while (!stopping_.load()) {
    if (::poll(pfds.data(), pfds.size(), -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      SY_LOG(Error, "handover: poll: %s; no takeover possible any more", errno_text().c_str());
      return;
    }
    if (pfds[0].revents != 0) {
      return;
    }
    for (size_t i = 1; i < pfds.size(); ++i) {
      if ((pfds[i].revents & POLLIN) == 0) {
        continue;
      }
      int c = ::accept4(pfds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        continue;  // another process sharing the lock took it, or EAGAIN
      }
      bool handed_over = serve(c);
      ::close(c);
      if (handed_over) {
        return;
      }
    }
  }
}

bool HandoverServer::serve(int fd) {
  uid_t uid = 0;
  pid_t pid = peer_pid(fd, &uid);
  std::vector<int> fds;
  auto request = receive_message(fd, kRequestTimeout, &fds, stop_fd_);
  close_fds(fds);
  if (!request) {
    // A second instance asking who holds the port closes at once: not worth a log line.
    if (request.error().code != Errc::Protocol) {
      SY_LOG(Warn, "handover: pid %d: %s", static_cast<int>(pid), request.error().message.c_str());
    }
    return false;
  }
  if (uid != ::geteuid() && uid != 0) {
    SY_LOG(Warn, "handover: refused pid %d of uid %u (only uid %u or root may take over)",
           static_cast<int>(pid), static_cast<unsigned>(uid), static_cast<unsigned>(::geteuid()));
    return false;
  }
  if (*request != kTakeoverRequest) {
    SY_LOG(Warn, "handover: pid %d sent '%.80s', not a takeover request", static_cast<int>(pid),
           request->c_str());
    return false;
  }
  std::vector<HandoverSocket> sockets = offer_();
  auto messages = encode_offer(sockets);
  if (!messages) {
    SY_LOG(Error, "%s", messages.error().message.c_str());
    return false;
  }
  for (size_t m = 0; m < messages->size(); ++m) {
    std::vector<int> batch;
    for (size_t i = m * kMaxFdsPerMessage; i < sockets.size() && i < (m + 1) * kMaxFdsPerMessage;
         ++i) {
      batch.push_back(sockets[i].fd);
    }
    auto sent = send_message(fd, (*messages)[m], batch);
    if (!sent) {
      SY_LOG(Warn, "handover: pid %d: %s", static_cast<int>(pid), sent.error().message.c_str());
      return false;
    }
  }
  if (!send_message(fd, encode_end(sockets.size()))) {
    return false;
  }
  SY_LOG(Info, "handover: passed %zu socket(s) to pid %d; waiting for it to serve", sockets.size(),
         static_cast<int>(pid));
  auto serving = receive_message(fd, kSuccessorStartTimeout, &fds, stop_fd_);
  close_fds(fds);
  if (!serving) {
    SY_LOG(Warn, "handover: pid %d did not take over (%s); still serving", static_cast<int>(pid),
           serving.error().message.c_str());
    return false;
  }
  auto successor = parse_pid_message(*serving, "SERVING");
  if (!successor) {
    SY_LOG(Warn, "%s; still serving", successor.error().message.c_str());
    return false;
  }
  on_handed_over_(*successor);
  if (!send_message(fd, pid_message("DRAINING", ::getpid()))) {
    SY_LOG(Warn, "handover: pid %d left before DRAINING (harmless)", static_cast<int>(pid));
  }
  return true;
}

}  // namespace sy::proxy
