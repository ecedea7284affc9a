// posix_spawn with a pipe for stdout+stderr, a poll loop that reads it while watching the
// clock, and SIGTERM → SIGKILL on the child's process group at the deadline.

#include "admin/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

extern char** environ;

namespace sy::admin {

namespace {

using Clock = std::chrono::steady_clock;

void keep_tail(std::string& out, const char* data, size_t n, size_t keep) {
  out.append(data, n);
  if (out.size() > keep) {
    out.erase(0, out.size() - keep);
  }
}

}  // namespace

std::string ChildResult::describe(std::chrono::milliseconds timeout) const {
  if (!started) {
    return "cannot run: " + error;
  }
  if (timed_out) {
    return "timed out after " + std::to_string(timeout.count()) + " ms" +
           (signal != 0 ? " (killed by signal " + std::to_string(signal) + ")" : "");
  }
  if (signal != 0) {
    return "killed by signal " + std::to_string(signal);
  }
  return "exit status " + std::to_string(exit_code);
}

ChildResult run_child(const std::vector<std::string>& argv, const ChildOptions& options) {
  ChildResult result;
  if (argv.empty() || argv[0].empty()) {
    result.error = "empty command";
    return result;
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    result.error = std::string("pipe: ") + std::strerror(errno);
    return result;
  }

  // The environment: ours, with |options.env| added or replaced.
  std::set<std::string> replaced;
  for (const auto& [k, v] : options.env) {
    replaced.insert(k);
  }
  std::vector<std::string> env_storage;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    if (replaced.count(entry.substr(0, entry.find('='))) == 0) {
      env_storage.push_back(std::move(entry));
    }
  }
  for (const auto& [k, v] : options.env) {
    env_storage.push_back(k + "=" + v);
  }
  std::vector<char*> envp;
  for (std::string& s : env_storage) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> argv_storage = argv;
  std::vector<char*> args;
  for (std::string& s : argv_storage) {
    args.push_back(s.data());
  }
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  // Nothing else of ours reaches the child: an inherited database socket would keep this
  // process's sessions (and the upgrade driver lock) alive after it died.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  posix_spawnattr_setsigmask(&attr, &empty_mask);
  sigset_t defaults;  // signals we may ignore (SIGPIPE) are default again in the child
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  posix_spawnattr_setsigdefault(&attr, &defaults);

  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    result.error = "'" + argv[0] + "': " + std::strerror(rc);
    return result;
  }
  result.started = true;
  int fd = fds[0];
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

  const auto deadline = Clock::now() + options.timeout;
  Clock::time_point kill_at{};
  bool exited = false;
  bool killed = false;
  int status = 0;
  char buf[4096];
  auto drain = [&]() {  // reads what is there now; false on EOF or error
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) {
        keep_tail(result.output, buf, static_cast<size_t>(n), options.keep_output);
        continue;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
  };
  for (;;) {
    if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
    }
    if (exited) {
      // What the child wrote is in the pipe already; a grandchild keeping the pipe open
      // must not keep us here.
      if (fd >= 0) {
        (void)drain();
        close(fd);
      }
      break;
    }
    const auto now = Clock::now();
    if (!result.timed_out && now >= deadline) {
      result.timed_out = true;
      kill(-pid, SIGTERM);
      kill_at = now + options.kill_after;
    }
    if (result.timed_out && !killed && now >= kill_at) {
      kill(-pid, SIGKILL);
      killed = true;
    }
    if (fd >= 0) {
      pollfd p{fd, POLLIN, 0};
      int ready = poll(&p, 1, 20);
      if (ready > 0 && !drain()) {
        close(fd);
        fd = -1;
      }
    } else {
      usleep(10000);
    }
  }
  if (result.timed_out) {
    kill(-pid, SIGKILL);  // whatever is left of the group
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace sy::admin
