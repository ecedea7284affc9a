#pragma once
// Runs an external command without a shell, bounded in time, with its output captured: the
// update tasks' command (admin/update_tasks.h) and the event hook (admin/events.h).
// Blocks the calling thread until the child is gone. Any thread (posix_spawn, no fork of a
// multi-threaded process image).

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace sy::admin {

struct ChildOptions {
  std::vector<std::pair<std::string, std::string>> env;  // added to (or replacing in) environ
  std::chrono::milliseconds timeout{10000};              // then SIGTERM to its process group
  std::chrono::milliseconds kill_after{2000};            // after SIGTERM, then SIGKILL
  size_t keep_output = 4096;                             // bytes; the tail of stdout+stderr
};

struct ChildResult {
  bool started = false;    // false: spawn failed, |error| says why
  bool timed_out = false;  // the timeout passed and the child was signalled
  int exit_code = -1;      // exit status when it exited, else -1
  int signal = 0;          // the signal that ended it, else 0
  std::string output;      // last |keep_output| bytes of stdout and stderr, interleaved
  std::string error;       // spawn failure reason

  bool ok() const { return started && !timed_out && exit_code == 0; }
  // "exit status 3", "killed by signal 9", "timed out after 500 ms", "cannot run: ..."
  std::string describe(std::chrono::milliseconds timeout) const;
};

// Runs |argv| (argv[0] looked up in PATH) in its own process group with stdin = /dev/null and
// stdout+stderr captured. The whole group is signalled on timeout, so a script's children go
// too. Never throws.
ChildResult run_child(const std::vector<std::string>& argv, const ChildOptions& options);

}  // namespace sy::admin
