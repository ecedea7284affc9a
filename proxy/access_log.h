#pragma once
// Access log: one JSON line per request (STYLE rule 14).
//
// Workers never touch the file (STYLE rule 3): each worker formats lines into its own
// AccessLogBuffer and hands whole batches (at 64 KiB, or from a 100 ms timer) to the single
// AccessLogWriter thread, which does the write(2). The hand-off takes a mutex once per batch,
// never per request.
//
// The log cannot take the process down (issue 17 item 6):
//  * The queue between workers and the writer is bounded (access_log.max_queue_bytes): a
//    batch that does not fit is dropped and its lines counted; the writer says so at most
//    once per kReportIntervalMs.
//  * The writer never blocks for good: a pipe or FIFO is written non-blocking (through a
//    description of its own, so the flag does not leak to whoever shares it), waiting for
//    room in short polls; at shutdown it gets kStopTimeoutMs to flush, then drops the rest,
//    so SIGTERM exits even when nobody reads the pipe.
//  * Whole lines only: a write cut short by a full disk (or RLIMIT_FSIZE) is continued, and
//    if the next write fails, the partial line is truncated away from a regular file, so the
//    next line never glues onto half a line. The failure is logged once, and again after
//    writing has worked in between ("writing again; N lines dropped").
//
// Reopen (logrotate: `mv access.log access.log.1`, then SIGUSR1 or the admin `reopen-logs`):
// the new file is opened by the caller (main or admin thread, never a worker) and handed to
// the writer thread, which switches between two batches. Batches are whole lines, so every
// line lands whole in the old file or in the new one; none is lost (test_access_log_reopen.py).
//
// Every line is valid UTF-8 JSON whatever bytes a client sent: see append_json_string().

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"
#include "proxy/http1_parser.h"

namespace sy::proxy {

class AccessLogWriter {
 public:
  // Opens |path| ("-" = stdout, else appended to; a FIFO must have a reader) and starts the
  // writer thread; at most |max_queue_bytes| wait for it. Main thread.
  static Result<std::unique_ptr<AccessLogWriter>> open(const std::string& path,
                                                       uint64_t max_queue_bytes);
  // Flushes what is queued, for at most kStopTimeoutMs (the rest is dropped), then joins the
  // thread and closes what it opened.
  ~AccessLogWriter();

  // Queues a batch of complete lines for writing; drops (and counts) it when the queue is
  // full. Never blocks on the writer. Any thread; takes ownership of |batch|.
  void submit(std::string&& batch);

  // Opens the log's path again (a rotated file keeps its lines; new ones go to a new file at
  // the path) and waits up to kStopTimeoutMs for the writer to switch, so that the old file is
  // complete when this returns. On failure the old file stays in use. "-" (stdout) has
  // nothing to reopen: Ok. Main or admin thread (opens a file); never a worker.
  Result<Unit> reopen();
  const std::string& path() const { return path_; }

  static constexpr uint64_t kStopTimeoutMs = 2000;
  static constexpr uint64_t kReportIntervalMs = 10000;

 private:
  // How the fd is written. Regular files do not block; a FIFO, pipe or tty is written through
  // an O_NONBLOCK description of our own; what cannot be reopened (a socket on stdout) is
  // polled for room and written at most PIPE_BUF bytes at a time.
  enum class Mode { File, NonBlocking, PollSmall };
  AccessLogWriter(std::string path, int fd, bool owns_fd, Mode mode, uint64_t max_queue_bytes);
  // Opens |path| for appending; the fd and its Mode.
  static Result<std::pair<int, Mode>> open_path(const std::string& path);
  void run();
  // Writer thread: switches to the fd reopen() handed over, if any (mu_ held).
  void take_reopened_fd();
  // Writes |batch| whole; false when it had to give up (error or shutdown deadline), after
  // counting the lines it did not write and cutting a partial line from a regular file.
  bool write_batch(const std::string& batch);
  // Waits until the fd takes bytes (or 100 ms pass); false once the shutdown deadline passed.
  bool wait_writable();
  void report_drops(bool force);

  std::string path_;
  int fd_;
  bool owns_fd_;
  Mode mode_;
  uint64_t max_queue_bytes_;
  std::mutex reopen_mu_;  // one reopen() at a time (SIGUSR1 and the admin may race)
  std::mutex mu_;
  std::condition_variable cv_;                 // wakes the writer
  std::condition_variable reopened_cv_;        // wakes reopen(): the writer took the new fd
  int reopened_fd_ = -1;                       // guarded by mu_; handed over by reopen()
  Mode reopened_mode_ = Mode::File;            // guarded by mu_
  std::deque<std::string> queue_;              // guarded by mu_
  uint64_t queued_bytes_ = 0;                  // guarded by mu_
  bool stopping_ = false;                      // guarded by mu_
  std::atomic<uint64_t> stop_deadline_ms_{0};  // monotonic; 0 = not stopping
  std::atomic<uint64_t> queue_dropped_{0};     // lines dropped because the queue was full
  // Writer thread only.
  uint64_t queue_dropped_reported_ = 0;
  uint64_t last_report_ms_ = 0;
  bool failing_ = false;                // the last write failed; reported once until one works
  uint64_t dropped_since_failure_ = 0;  // lines a failing write lost, for "writing again"
  std::thread thread_;
};

// The access log's "client" of a peer address: "ip:port" ("[ip]:port" for IPv6) into |label|
// and the bare address into |ip| (for X-Forwarded-For). Any thread.
void format_peer(const sockaddr* sa, std::string* label, std::string* ip);

// Appends |s| to |out| as the body of a JSON string (no quotes): '"' and '\\' escaped,
// control bytes (< 0x20, 0x7f) and every byte that is not part of a well-formed UTF-8
// sequence (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF) written as
// \u00XX, XX being the byte. So the line is valid UTF-8 and valid JSON, and the exact bytes a
// client sent stay readable in it (\ufffd would lose them). Pure; any thread.
void append_json_string(std::string& out, std::string_view s);

// The request header fields the access log keeps, copied when the exchange begins (the
// parsed head's views die with the input buffer), and the X-Request-Id the request carries
// or was given. One per connection, reused (capacity kept) across its requests.
struct RequestFields {
  std::string host;  // Host (HTTP/2: from :authority)
  std::string user_agent;
  std::string referer;
  std::string forwarded_for;          // X-Forwarded-For as received: what the client claims, not
                                      // trusted (the trusted address is the peer, "client")
  std::string client_ip;              // the client's address read through trusted proxies'
                                      // X-Forwarded-For; "" when the peer is not one ("client")
  std::string request_id;             // X-Request-Id as received, else generated
  bool request_id_generated = false;  // generated here: add it to the upstream request

  // Forgets the last request. Worker thread only.
  void clear();
  // Copies the fields from |headers| (the first of each name); when there is no X-Request-Id
  // and none was generated since clear() (a held request's head is parsed again), generates
  // one from the calling worker thread's RequestIdSource. Worker thread only.
  void capture(const http1::Header* headers, size_t count);
  // The id to add to the upstream request: the generated one, "" when the client sent one
  // (a received id is forwarded with the other fields).
  std::string_view generated_id() const {
    return request_id_generated ? std::string_view(request_id) : std::string_view();
  }
};

// What one request did; filled by the connection, formatted by AccessLogBuffer::append().
struct AccessRecord {
  std::string_view client;    // "ip:port"
  std::string_view listener;  // listener name
  std::string_view method;
  std::string_view target;    // path and query as received
  int minor_version = 1;      // HTTP/1.x minor version (ignored when |h2|)
  bool h2 = false;            // an HTTP/2 stream
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
  const RequestFields* fields = nullptr;  // null = none known (all logged as "")
  // An upgraded exchange (101): who ended the tunnel ("client", "server", "timeout",
  // "killed", "proxy") and how long it was open; null = not a tunnel (fields left out).
  const char* tunnel_closed_by = nullptr;
  double tunnel_ms = -1;
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
