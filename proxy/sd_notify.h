#pragma once
// systemd's service notification protocol (sd_notify(3)), for `Type=notify` units
// (packaging/switchyard.service): READY=1 once listeners are bound and the first routing
// snapshot is published, RELOADING=1 + MONOTONIC_USEC around a reload, STOPPING=1 on
// shutdown, and STATUS= lines that `systemctl status` shows.
//
// Implemented here rather than with libsystemd: the protocol is one datagram of
// "KEY=VALUE\n" lines to the AF_UNIX socket named by $NOTIFY_SOCKET ('@' = abstract
// namespace), documented by systemd as stable for exactly this purpose; ~50 lines avoid a
// runtime dependency on libsystemd0 (the container image has no systemd) and a link change.
// docs/packaging.md, "Service".
//
// Without $NOTIFY_SOCKET (not started by systemd) every call does nothing.

#include <string>
#include <string_view>

namespace sy::proxy {

class ServiceNotifier {
 public:
  // Reads $NOTIFY_SOCKET and removes it from the environment, so commands Switchyard starts
  // (event hook, update tasks) cannot speak for the service. Main thread, at start-up, before
  // any other thread exists (unsetenv).
  static ServiceNotifier from_environment();

  // |socket_path|: a filesystem path, or "@name" for an abstract socket; "" = disabled.
  explicit ServiceNotifier(std::string socket_path = "") : path_(std::move(socket_path)) {}

  bool enabled() const { return !path_.empty(); }
  // The socket, to hand to a successor process (the hitless self-upgrade, docs/packaging.md).
  const std::string& socket_path() const { return path_; }

  // Sends |state| (newline-separated KEY=VALUE assignments) as one datagram. True when sent
  // or disabled; false on a send error (logged). Any thread; opens a socket per call (these
  // are rare events).
  bool notify(std::string_view state) const;

  // READY=1 with a STATUS line: started, or a reload finished (successfully or not).
  bool ready(std::string_view status) const;
  // RELOADING=1 + MONOTONIC_USEC (CLOCK_MONOTONIC now) with a STATUS line. Always follow it
  // with ready(), also when the reload fails.
  bool reloading(std::string_view status) const;
  // STOPPING=1 with a STATUS line: the drain has begun.
  bool stopping(std::string_view status) const;
  // Only a STATUS line.
  bool status(std::string_view status) const;

 private:
  std::string path_;
};

// "STATUS=" + |text| with newlines replaced by spaces and cut to 256 bytes (a status is one
// line). Pure.
std::string status_line(std::string_view text);

}  // namespace sy::proxy
