#include "proxy/successor.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace sy::proxy {

std::vector<std::string> successor_args(const std::vector<std::string>& argv,
                                        const std::string& address) {
  std::vector<std::string> out;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--takeover") {
      if (i + 1 < argv.size() && argv[i + 1].rfind("-", 0) != 0) {
        ++i;  // its address
      }
      continue;
    }
    out.push_back(argv[i]);
  }
  out.push_back("--takeover");
  out.push_back(address);
  return out;
}

std::string executable_path() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) {
    return "";
  }
  std::string path(buf, static_cast<size_t>(n));
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.size() > kDeleted.size() &&
      path.compare(path.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0) {
    path.resize(path.size() - kDeleted.size());
  }
  return path;
}

SuccessorLauncher::SuccessorLauncher(std::string exe, std::vector<std::string> argv,
                                     std::string address, std::string notify_socket)
    : exe_(std::move(exe)),
      args_(successor_args(argv, address)),
      notify_socket_(std::move(notify_socket)) {}

Result<pid_t> SuccessorLauncher::launch() {
  std::lock_guard<std::mutex> lock(mu_);
  if (exe_.empty()) {
    return make_error(Errc::NotFound, "cannot tell which executable this process runs");
  }
  if (pending_ > 0) {
    int status = 0;
    pid_t r = ::waitpid(pending_, &status, WNOHANG);
    if (r == 0) {
      return make_error(Errc::Unavailable, "successor pid " + std::to_string(pending_) +
                                               " is still starting; wait for it to take over "
                                               "or exit");
    }
    pending_ = 0;  // it exited (a failed start; its log says why) or was reaped
  }
  std::vector<char*> argv;
  argv.push_back(exe_.data());
  for (auto& a : args_) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0) {
      env_store.emplace_back(*e);
    }
  }
  if (!notify_socket_.empty()) {
    env_store.push_back("NOTIFY_SOCKET=" + notify_socket_);
  }
  std::vector<char*> envp;
  for (auto& e : env_store) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);  // main blocks its signals for sigwait
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGXFSZ);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, exe_.c_str(), nullptr, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return make_error(Errc::Io, "cannot start " + exe_ + ": " + std::strerror(rc));
  }
  pending_ = pid;
  return pid;
}

}  // namespace sy::proxy
