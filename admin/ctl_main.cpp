// `switchyardctl`: the command-line client of the admin socket. Maps 1:1 onto the socket
// commands (admin/commands.h), prints the reply, and exits 0 on success, 1 when the server
// answered ERR, 2 on a usage or connection problem. Progress lines of long commands are printed
// as they arrive (stdout is line-buffered in every mode: a pipe or a log file gets each line
// when it happens), with the time they arrived (ISO 8601, UTC), durations like 1.3s / 2m05s and
// the server's ETA; on a terminal they are drawn as one progress bar (local time with offset).

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "admin/command_text.h"
#include "admin/protocol.h"
#include "common/version.h"

namespace {

using namespace sy::admin;

constexpr char kDefaultSocket[] = "/run/switchyard/admin.sock";

void usage(FILE* out) {
  std::fprintf(out,
               "usage: switchyardctl [-s SOCKET | --tcp HOST:PORT --token-file F] [--json] "
               "COMMAND [ARGS...]\n"
               "       switchyardctl --version\n"
               "\n"
               "  -s, --socket SOCKET  admin Unix socket (default $SY_ADMIN_SOCKET or %s)\n"
               "  --tcp HOST:PORT      loopback TCP admin listener (needs --token-file)\n"
               "  --token-file F       file whose first line is the admin token\n"
               "  --json               the reply as one JSON document\n"
               "  --version            print the version of switchyardctl and exit\n"
               "\n"
               "exit status: 0 success, 1 the server answered ERR, 2 usage or connection "
               "error\n\ncommands (`switchyardctl help` asks the server):\n",
               kDefaultSocket);
  for (const auto& c : command_specs()) {
    std::fprintf(out, "  %s\n", c.usage().c_str());
  }
}

struct Options {
  std::string socket;
  std::string tcp;
  std::string token_file;
  bool json = false;
  std::vector<std::string> words;
};

int connect_unix(const std::string& path, std::string* why) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.size() >= sizeof(sun.sun_path)) {
    *why = "socket path too long";
    return -1;
  }
  std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) {
    *why = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

int connect_tcp(const std::string& hostport, std::string* why) {
  size_t colon = hostport.rfind(':');
  if (colon == std::string::npos) {
    *why = "expected HOST:PORT";
    return -1;
  }
  std::string host = hostport.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string port = hostport.substr(colon + 1);
  // getaddrinfo takes any number and wraps it (99999 -> 34463): check the range ourselves.
  int port_number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || port_number < 1 ||
      port_number > 65535) {
    *why = "bad port '" + port + "' (expected 1-65535)";
    return -1;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    *why = gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd >= 0 && ::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      break;
    }
    *why = std::strerror(errno);
    if (fd >= 0) {
      ::close(fd);
    }
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  // False at EOF / error before a whole line.
  bool next(std::string* line) {
    for (;;) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        *line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return true;
      }
      char chunk[4096];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return false;
      }
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buf_;
};

bool send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

bool is_error_line(const std::string& line) {
  return line.rfind("ERR ", 0) == 0 || line.rfind("{\"error\":", 0) == 0;
}

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string eta_text(const ProgressLine& p) {
  return p.eta_ms < 0 ? std::string("?") : format_duration(p.eta_ms);
}

// "[#####-----] 3/20 schema12 update begin  2026-12-07T15:07:31.123+01:00  1m10s elapsed,
// ETA 4m05s" on one terminal line.
void draw_bar(const ProgressLine& p) {
  constexpr int kWidth = 30;
  int filled = p.total > 0 ? p.done * kWidth / p.total : 0;
  std::string bar(static_cast<size_t>(filled), '#');
  bar += std::string(static_cast<size_t>(kWidth - filled), '-');
  std::printf("\r\033[K[%s] %d/%d %s %s %s  %s  %s elapsed, ETA %s", bar.c_str(), p.done, p.total,
              p.schema.c_str(), p.step.c_str(), p.phase.c_str(),
              format_time(now_unix_ms(), true).c_str(), format_duration(p.elapsed_ms).c_str(),
              eta_text(p).c_str());
  std::fflush(stdout);
}

// "2026-12-07T14:07:31.123Z [3/20] schema12 update done  1m10s elapsed, ETA 4m05s  detail":
// one line per step for a pipe or a log file.
void print_progress(const ProgressLine& p) {
  std::printf("%s [%d/%d] %s %s %s  %s elapsed, ETA %s%s%s\n",
              format_time(now_unix_ms(), false).c_str(), p.done, p.total,
              p.schema.empty() ? "-" : p.schema.c_str(), p.step.c_str(), p.phase.c_str(),
              format_duration(p.elapsed_ms).c_str(), eta_text(p).c_str(),
              p.detail.empty() ? "" : "  ", p.detail.c_str());
}

// After a failed send: the server may have said why before it closed (e.g. `ERR busy` when
// it has too many connections). Prints that line and returns 1, else prints |what| and
// returns 2.
int lost(LineReader& in, const char* what) {
  std::string line;
  if (in.next(&line) && is_error_line(line)) {
    std::fprintf(stderr, "%s\n", line.c_str());
    return 1;
  }
  std::fprintf(stderr, "switchyardctl: connection lost while %s\n", what);
  return 2;
}

// `show events ... --follow`: asks `show events --since <last>` again and again on the one
// connection, printing each new event as it comes (the server has no push), until the connection
// ends or an ERR comes. |words| is the command without --follow and --since.
int follow_events(int fd, LineReader& in, std::vector<std::string> words, std::string since,
                  bool json) {
  for (;;) {
    std::string request;
    for (const auto& w : words) {
      request += (request.empty() ? "" : " ") + quote_word(w);
    }
    request += " --since " + quote_word(since) + (json ? " --json" : "");
    if (!send_all(fd, request + "\n")) {
      return lost(in, "sending");
    }
    bool any = false;
    std::string line;
    for (bool first = true;; first = false) {
      if (!in.next(&line)) {
        std::fprintf(stderr, "switchyardctl: the server closed the connection\n");
        return 2;
      }
      if (line.empty()) {
        break;
      }
      if (first && is_error_line(line)) {
        std::fprintf(stderr, "%s\n", line.c_str());
        return 1;
      }
      if (json) {
        constexpr std::string_view kLast = "\"last_id\":";
        size_t at = line.find(kLast);
        if (at != std::string::npos) {
          size_t from = at + kLast.size();
          since = line.substr(from, line.find_first_not_of("0123456789", from) - from);
        }
        if (line.find("\"events\":[]") == std::string::npos) {
          std::printf("%s\n", line.c_str());
          any = true;
        }
      } else if (line.rfind("last_id: ", 0) == 0) {
        since = line.substr(9);
      } else {
        std::printf("%s\n", line.c_str());
        any = true;
      }
    }
    if (!any) {
      ::usleep(1000 * 1000);  // nothing new: ask again in a second
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Each line leaves when it is complete, whatever stdout is (a pipe is block-buffered by
  // default, and a long run's progress would then arrive all at its end).
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "switchyardctl: %s needs a value\n", a.c_str());
        return false;
      }
      *out = argv[++i];
      return true;
    };
    if (!o.words.empty()) {
      if (a == "--json") {
        o.json = true;
      } else {
        o.words.push_back(a);
      }
    } else if (a == "-s" || a == "--socket") {
      if (!value(&o.socket))
        return 2;
    } else if (a == "--tcp") {
      if (!value(&o.tcp))
        return 2;
    } else if (a == "--token-file") {
      if (!value(&o.token_file))
        return 2;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("switchyardctl %s\n", sy::version_line());
      return 0;
    } else if (a.size() > 1 && a[0] == '-') {
      std::fprintf(stderr, "switchyardctl: unknown option '%s'\n", a.c_str());
      usage(stderr);
      return 2;
    } else {
      o.words.push_back(a);
    }
  }
  if (o.words.empty()) {
    usage(stderr);
    return 2;
  }
  if (!o.tcp.empty() && !o.socket.empty()) {
    std::fprintf(stderr, "switchyardctl: use either -s SOCKET or --tcp HOST:PORT\n");
    return 2;
  }
  if (!o.tcp.empty() && o.token_file.empty()) {
    std::fprintf(stderr, "switchyardctl: --tcp needs --token-file\n");
    return 2;
  }
  std::string token;
  if (!o.token_file.empty()) {
    std::ifstream f(o.token_file);
    if (!f) {
      std::fprintf(stderr, "switchyardctl: cannot read token file %s: %s\n", o.token_file.c_str(),
                   std::strerror(errno));
      return 2;
    }
    std::getline(f, token);
    token = token_from_line(std::move(token));
    if (token.empty()) {
      std::fprintf(stderr,
                   "switchyardctl: token file %s is empty (expected the token on its "
                   "first line)\n",
                   o.token_file.c_str());
      return 2;
    }
  }
  if (o.socket.empty() && o.tcp.empty()) {
    const char* env = std::getenv("SY_ADMIN_SOCKET");
    o.socket = env != nullptr && *env != '\0' ? env : kDefaultSocket;
  }
  std::string why;
  int fd = o.tcp.empty() ? connect_unix(o.socket, &why) : connect_tcp(o.tcp, &why);
  if (fd < 0) {
    std::fprintf(stderr, "switchyardctl: cannot connect to %s: %s\n",
                 o.tcp.empty() ? o.socket.c_str() : o.tcp.c_str(), why.c_str());
    return 2;
  }
  LineReader in(fd);
  std::string line;
  if (!o.tcp.empty()) {
    if (!send_all(fd, "auth " + quote_word(token) + "\n")) {
      return lost(in, "authenticating");
    }
    bool failed = false;
    while (in.next(&line) && !line.empty()) {
      if (is_error_line(line)) {
        std::fprintf(stderr, "%s\n", line.c_str());
        failed = true;
      }
    }
    if (failed) {
      return 1;
    }
  }
  // One argument holding ';' or blanks is sent as a whole line (several commands); otherwise
  // the words are quoted so that the server sees exactly these words.
  if (o.words.size() >= 2 && o.words[0] == "show" && o.words[1] == "events" &&
      std::find(o.words.begin(), o.words.end(), "--follow") != o.words.end()) {
    std::vector<std::string> words;
    std::string since = "0";
    for (size_t i = 0; i < o.words.size(); ++i) {
      const std::string& w = o.words[i];
      if (w == "--follow") {
        continue;
      }
      if (w == "--since" && i + 1 < o.words.size()) {
        since = o.words[++i];
      } else if (w.rfind("--since=", 0) == 0) {
        since = w.substr(8);
      } else {
        words.push_back(w);
      }
    }
    return follow_events(fd, in, std::move(words), since, o.json);
  }
  std::string request;
  if (o.words.size() == 1 && o.words[0].find_first_of("; \t") != std::string::npos) {
    request = o.words[0];
  } else {
    for (const auto& w : o.words) {
      request += (request.empty() ? "" : " ") + quote_word(w);
    }
  }
  size_t replies = split_commands(request).size();
  if (replies == 0) {
    usage(stderr);
    return 2;
  }
  if (o.json) {
    // Applies to every command on the line.
    std::string with_json;
    for (const auto& c : split_commands(request)) {
      with_json += (with_json.empty() ? "" : ";") + c + " --json";
    }
    request = with_json;
  }
  if (!send_all(fd, request + "\n")) {
    return lost(in, "sending");
  }
  bool tty = isatty(STDOUT_FILENO) != 0;
  bool bar_shown = false;
  bool error = false;
  size_t done = 0;
  bool first_line = true;
  while (done < replies) {
    if (!in.next(&line)) {
      if (bar_shown) {
        std::printf("\n");
      }
      std::fprintf(stderr, "switchyardctl: the server closed the connection\n");
      return 2;
    }
    if (line.empty()) {
      ++done;
      first_line = true;
      continue;
    }
    if (auto p = parse_progress(line)) {  // text mode only: JSON lines pass as they are
      if (tty) {
        draw_bar(*p);
        bar_shown = true;
      } else {
        print_progress(*p);
      }
      continue;
    }
    if (bar_shown) {
      std::printf("\r\033[K");
      bar_shown = false;
    }
    if (first_line && is_error_line(line)) {
      error = true;
      std::fprintf(stderr, "%s\n", line.c_str());
    } else {
      std::printf("%s\n", line.c_str());
    }
    if (line.rfind("progress ", 0) != 0 && line.rfind("{\"progress\":", 0) != 0) {
      first_line = false;
    }
  }
  std::fflush(stdout);
  ::close(fd);
  return error ? 1 : 0;
}
