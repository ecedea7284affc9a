#pragma once
// Starting the successor of a hitless self-upgrade (handover.h): on SIGUSR2 or the admin
// `upgrade-binary` command the running process starts the executable found at its own path now
// (after a package upgrade: the new binary) with its own arguments plus
// `--takeover <one of its listener addresses>`. Like nginx's USR2 binary upgrade, but the
// path is re-read rather than /proc/self/exe re-executed: that link keeps pointing at the old,
// replaced inode (docs/decisions.md 48).

#include <sys/types.h>

#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"

namespace sy::proxy {

// |argv| (argv[1..], without the program) with every `--takeover [ADDRESS]` removed and
// `--takeover |address|` appended. Pure.
std::vector<std::string> successor_args(const std::vector<std::string>& argv,
                                        const std::string& address);

// The path this process was started from: /proc/self/exe's target, without the " (deleted)"
// the kernel appends once a package upgrade replaced the file. "" when unreadable.
std::string executable_path();

class SuccessorLauncher {
 public:
  // |exe|: executable_path() at start-up; |argv|: argv[1..]; |address|: the bound address of a
  // listener (the successor connects to its lock); |notify_socket|: $NOTIFY_SOCKET as read at
  // start ("" = none), passed on so the successor can speak to systemd once it is the main pid.
  SuccessorLauncher(std::string exe, std::vector<std::string> argv, std::string address,
                    std::string notify_socket);

  // Starts the successor (posix_spawn: default signal mask and dispositions, same stdio and
  // environment). Refused while an earlier successor still runs and has not taken over. Returns
  // its pid. Any thread.
  Result<pid_t> launch();

 private:
  std::string exe_;
  std::vector<std::string> args_;
  std::string notify_socket_;
  std::mutex mu_;
  pid_t pending_ = 0;  // guarded by mu_: the last successor started, until it exits
};

}  // namespace sy::proxy
