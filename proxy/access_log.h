#pragma once
// Access log: one JSON line per request (STYLE rule 14).
//
// Workers never touch the file (STYLE rule 3): each worker formats lines into its own
// AccessLogBuffer and hands whole batches (at 64 KiB, or from a 100 ms timer) to the single
// AccessLogWriter thread, which does the blocking write(2). The hand-off takes a mutex once per
// batch, never per request.

#include <sys/socket.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"

namespace sy::proxy {

class AccessLogWriter {
 public:
  // Opens |path| ("-" = stdout, else appended to) and starts the writer thread. Main thread.
  static Result<std::unique_ptr<AccessLogWriter>> open(const std::string& path);
  ~AccessLogWriter();  // flushes everything submitted, then joins the thread

  // Queues a batch of complete lines for writing. Any thread; takes ownership of |batch|.
  void submit(std::string&& batch);

 private:
  explicit AccessLogWriter(int fd, bool owns_fd);
  void run();

  int fd_;
  bool owns_fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> queue_;  // guarded by mu_
  bool stopping_ = false;           // guarded by mu_
  std::thread thread_;
};

// The access log's "client" of a peer address: "ip:port" ("[ip]:port" for IPv6) into |label|
// and the bare address into |ip| (for X-Forwarded-For). Any thread.
void format_peer(const sockaddr* sa, std::string* label, std::string* ip);

// What one request did; filled by the connection, formatted by AccessLogBuffer::append().
struct AccessRecord {
  std::string_view client;    // "ip:port"
  std::string_view listener;  // listener name
  std::string_view method;
  std::string_view target;    // path and query as received
  int minor_version = 1;      // HTTP/1.x minor version (ignored when |h2|)
  bool h2 = false;            // an HTTP/2 stream (logged by its internal connection)
  bool tls = false;           // the client connection is TLS (h1+TLS, h2) or not (h1, h2c)
  int status = 0;             // 0 = no response was sent
  uint64_t bytes_in = 0;      // request bytes received from the client (head + body)
  uint64_t bytes_out = 0;     // response bytes queued to the client (head + body)
  std::string_view pool;      // "" when no pool was chosen
  std::string_view upstream;  // member "ip:port", "" when none
  double duration_ms = 0;     // first request byte -> last response byte queued
  double connect_ms = -1;     // upstream connect time; -1 = reused or none
  double response_ms = -1;    // request sent -> response head received; -1 = none
  char termination[3] = {'-', '-', 0};  // who x phase, see docs/access-log.md
  const char* route = nullptr;  // routing decision ("proxy", "redirect", ...); null = no routing
  uint32_t context = 0;         // tenant context id; 0 = none
};

// A worker's pending lines. Worker thread only.
class AccessLogBuffer {
 public:
  explicit AccessLogBuffer(AccessLogWriter* writer) : writer_(writer) {}
  bool enabled() const { return writer_ != nullptr; }
  // Formats |record| as one JSON line; flushes when the buffer passes 64 KiB.
  void append(const AccessRecord& record);
  // Hands what is buffered to the writer (called from the worker's flush timer and at exit).
  void flush();

 private:
  AccessLogWriter* writer_;
  std::string buf_;
  int64_t cached_second_ = -1;  // the second |cached_time_| was formatted for
  char cached_time_[32] = {};   // "2026-11-25T06:30:40" for cached_second_
};

}  // namespace sy::proxy
