#include "proxy/access_log.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "common/log.h"
#include "proxy/request_id.h"
#include "proxy/upstream_pool.h"  // monotonic_ms

namespace sy::proxy {
namespace {

constexpr size_t kFlushBytes = 64 * 1024;

uint64_t count_lines(std::string_view text) {
  return static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n'));
}

void append_kv_str(std::string& out, const char* key, std::string_view value) {
  out.append(",\"").append(key).append("\":\"");
  append_json_string(out, value);
  out.push_back('"');
}

void append_kv_num(std::string& out, const char* key, uint64_t value) {
  char num[24];
  int n = std::snprintf(num, sizeof(num), "%llu", static_cast<unsigned long long>(value));
  out.append(",\"").append(key).append("\":").append(num, n);
}

void append_kv_ms(std::string& out, const char* key, double ms) {
  char num[32];
  int n = std::snprintf(num, sizeof(num), "%.3f", ms);
  out.append(",\"").append(key).append("\":").append(num, n);
}

void append_byte_escape(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
  out.append(esc, sizeof esc);
}

// Length of the well-formed UTF-8 sequence starting at |p| (lead byte >= 0x80), at most |n|
// bytes available; 0 when it is not one (RFC 3629 table 3-7).
size_t utf8_sequence_length(const unsigned char* p, size_t n) {
  unsigned char c = p[0];
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf;  // range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) {
      lo = 0xa0;  // no overlong forms
    } else if (c == 0xed) {
      hi = 0x9f;  // no UTF-16 surrogates
    }
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) {
      lo = 0x90;  // no overlong forms
    } else if (c == 0xf4) {
      hi = 0x8f;  // nothing above U+10FFFF
    }
  } else {
    return 0;  // a continuation byte, C0/C1 (overlong) or F5..FF
  }
  if (n < len || p[1] < lo || p[1] > hi) {
    return 0;
  }
  for (size_t i = 2; i < len; ++i) {
    if (p[i] < 0x80 || p[i] > 0xbf) {
      return 0;
    }
  }
  return len;
}

// One per worker thread: ids need no lock, and the prefix tells the workers apart.
thread_local RequestIdSource tls_request_ids(RequestIdSource::random_prefix());

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    size_t plain = i;  // a run of bytes written as they are
    while (plain < n && p[plain] >= 0x20 && p[plain] < 0x7f && p[plain] != '"' &&
           p[plain] != '\\') {
      ++plain;
    }
    out.append(s.data() + i, plain - i);
    i = plain;
    if (i == n) {
      break;
    }
    unsigned char c = p[i];
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x80) {  // control byte or DEL
      append_byte_escape(out, c);
      ++i;
    } else if (size_t len = utf8_sequence_length(p + i, n - i); len != 0) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      append_byte_escape(out, c);  // one byte; the next is looked at afresh
      ++i;
    }
  }
}

void RequestFields::clear() {
  host.clear();
  user_agent.clear();
  referer.clear();
  forwarded_for.clear();
  client_ip.clear();
  request_id.clear();
  request_id_generated = false;
}

void RequestFields::capture(const http1::Header* headers, size_t count) {
  bool seen_host = false, seen_ua = false, seen_referer = false, seen_xff = false, seen_id = false;
  auto take = [](const http1::Header& h, std::string_view name, bool* seen, std::string* out) {
    if (*seen || !http1::iequals(h.name, name)) {
      return false;
    }
    *seen = true;
    out->assign(h.value.data(), h.value.size());
    return true;
  };
  for (size_t i = 0; i < count; ++i) {
    const http1::Header& h = headers[i];
    take(h, "host", &seen_host, &host) || take(h, "user-agent", &seen_ua, &user_agent) ||
        take(h, "referer", &seen_referer, &referer) ||
        take(h, "x-forwarded-for", &seen_xff, &forwarded_for) ||
        take(h, "x-request-id", &seen_id, &request_id);
  }
  if (!seen_host) {
    host.clear();
  }
  if (!seen_ua) {
    user_agent.clear();
  }
  if (!seen_referer) {
    referer.clear();
  }
  if (!seen_xff) {
    forwarded_for.clear();
  }
  if (seen_id) {
    request_id_generated = false;
  } else if (!request_id_generated) {
    tls_request_ids.next(&request_id);
    request_id_generated = true;
  }
}

void format_peer(const sockaddr* sa, std::string* label, std::string* ip) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (sa == nullptr) {  // an in-memory client (tests, fuzzing): no address
    *ip = "unknown";
    *label = "unknown";
  } else if (sa->sa_family == AF_INET) {
    auto* v4 = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
    *ip = host;
    *label = *ip + ":" + std::to_string(ntohs(v4->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    auto* v6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
    *ip = host;
    *label = "[" + *ip + "]:" + std::to_string(ntohs(v6->sin6_port));
  } else {
    *ip = "unknown";
    *label = "unknown";
  }
}

Result<std::unique_ptr<AccessLogWriter>> AccessLogWriter::open(const std::string& path,
                                                               uint64_t max_queue_bytes) {
  if (path == "-") {
    struct stat st {};
    if (fstat(STDOUT_FILENO, &st) != 0 || S_ISREG(st.st_mode)) {
      return std::unique_ptr<AccessLogWriter>(
          new AccessLogWriter(path, STDOUT_FILENO, false, Mode::File, max_queue_bytes));
    }
    // A pipe or tty: a description of our own can be non-blocking without changing the one
    // the parent (or a shell) shares. A socket cannot be reopened: poll and write small.
    int fd = ::open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      return std::unique_ptr<AccessLogWriter>(
          new AccessLogWriter(path, fd, true, Mode::NonBlocking, max_queue_bytes));
    }
    return std::unique_ptr<AccessLogWriter>(
        new AccessLogWriter(path, STDOUT_FILENO, false, Mode::PollSmall, max_queue_bytes));
  }
  auto opened = open_path(path);
  if (!opened) {
    return opened.error();
  }
  return std::unique_ptr<AccessLogWriter>(
      new AccessLogWriter(path, opened->first, true, opened->second, max_queue_bytes));
}

Result<std::pair<int, AccessLogWriter::Mode>> AccessLogWriter::open_path(const std::string& path) {
  // O_NONBLOCK: a FIFO without a reader fails now (ENXIO) instead of hanging the start, and
  // a full one makes write(2) return EAGAIN; a regular file ignores the flag.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0644);
  if (fd < 0) {
    int err = errno;
    return make_error(Errc::Io, "cannot open access log " + path + ": " + std::strerror(err) +
                                    (err == ENXIO ? " (a FIFO needs a reader first)" : ""));
  }
  struct stat st {};
  fstat(fd, &st);
  return std::make_pair(fd, S_ISREG(st.st_mode) ? Mode::File : Mode::NonBlocking);
}

AccessLogWriter::AccessLogWriter(std::string path, int fd, bool owns_fd, Mode mode,
                                 uint64_t max_queue_bytes)
    : path_(std::move(path)), fd_(fd), owns_fd_(owns_fd), mode_(mode),
      max_queue_bytes_(max_queue_bytes) {
  thread_ = std::thread([this] { run(); });
}

Result<Unit> AccessLogWriter::reopen() {
  if (path_ == "-") {
    return ok_result();
  }
  std::lock_guard<std::mutex> one_at_a_time(reopen_mu_);
  auto opened = open_path(path_);
  if (!opened) {
    return opened.error();
  }
  std::unique_lock<std::mutex> lock(mu_);
  reopened_fd_ = opened->first;
  reopened_mode_ = opened->second;
  cv_.notify_one();
  // The writer switches between two batches; one stuck on a full pipe may take a while.
  bool taken = reopened_cv_.wait_for(lock, std::chrono::milliseconds(kStopTimeoutMs),
                                     [this] { return reopened_fd_ < 0; });
  if (!taken) {
    SY_LOG(Warn, "access log %s reopened; the writer switches to it after its current batch",
           path_.c_str());
  }
  return ok_result();
}

void AccessLogWriter::take_reopened_fd() {
  if (reopened_fd_ < 0) {
    return;
  }
  if (owns_fd_) {
    ::close(fd_);
  }
  fd_ = reopened_fd_;
  mode_ = reopened_mode_;
  owns_fd_ = true;
  reopened_fd_ = -1;
  reopened_cv_.notify_all();
}

AccessLogWriter::~AccessLogWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    stop_deadline_ms_.store(monotonic_ms() + kStopTimeoutMs, std::memory_order_relaxed);
  }
  cv_.notify_one();
  thread_.join();  // the writer gives up at the deadline: this returns
  if (owns_fd_) {
    ::close(fd_);
  }
  if (reopened_fd_ >= 0) {  // handed over after the writer's last look
    ::close(reopened_fd_);
  }
}

void AccessLogWriter::submit(std::string&& batch) {
  size_t n = batch.size();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_ && queued_bytes_ + n <= max_queue_bytes_) {
      queued_bytes_ += n;
      queue_.push_back(std::move(batch));
      n = 0;
    }
  }
  if (n != 0) {
    queue_dropped_.fetch_add(count_lines(batch), std::memory_order_relaxed);
    return;
  }
  cv_.notify_one();
}

void AccessLogWriter::run() {
  for (;;) {
    std::string batch;
    bool stop;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Woken by work, by the stop, or once per second to report drops.
      cv_.wait_for(lock, std::chrono::seconds(1),
                   [this] { return stopping_ || !queue_.empty() || reopened_fd_ >= 0; });
      take_reopened_fd();  // between two batches: every line is whole in one file
      stop = stopping_;
      if (!queue_.empty()) {
        batch.swap(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= batch.size();
      }
    }
    if (!batch.empty()) {
      write_batch(batch);
    }
    report_drops(false);
    if (stop) {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) {
        break;
      }
    }
  }
  report_drops(true);
}

bool AccessLogWriter::write_batch(const std::string& batch) {
  size_t done = 0;        // bytes of |batch| written
  size_t line_start = 0;  // where the line being written starts in |batch|
  while (done < batch.size()) {
    size_t want = batch.size() - done;
    if (mode_ == Mode::PollSmall) {
      if (!wait_writable()) {
        break;
      }
      want = std::min<size_t>(want, PIPE_BUF);
    }
    ssize_t n = ::write(fd_, batch.data() + done, want);
    if (n > 0) {
      done += static_cast<size_t>(n);
      const void* nl = memrchr(batch.data() + line_start, '\n', done - line_start);
      if (nl != nullptr) {
        line_start = static_cast<size_t>(static_cast<const char*>(nl) - batch.data()) + 1;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (wait_writable()) {
        continue;
      }
      break;  // shutting down and out of time
    }
    // ENOSPC, EFBIG, EIO, EPIPE...: this batch cannot be written now.
    int err = n < 0 ? errno : EIO;
    if (!failing_) {
      SY_LOG(Error,
             "access log write failed: %s; lines are dropped (and counted) until "
             "writing works again",
             std::strerror(err));
      failing_ = true;
    }
    break;
  }
  if (done == batch.size()) {
    if (failing_) {
      SY_LOG(Warn, "access log writing again; %" PRIu64 " line(s) were dropped while it failed",
             dropped_since_failure_);
      failing_ = false;  // the next failure is reported again
      dropped_since_failure_ = 0;
    }
    return true;
  }
  if (done > line_start && mode_ == Mode::File) {
    // Half a line reached the file: cut it, so that the next line starts on a line of its
    // own (an O_APPEND file's offset is its end; a plain stdout file's offset is ours).
    off_t end = lseek(fd_, 0, SEEK_CUR);
    off_t cut = end - static_cast<off_t>(done - line_start);
    if (end >= 0 && cut >= 0 && ftruncate(fd_, cut) == 0) {
      lseek(fd_, cut, SEEK_SET);
      done = line_start;
    }
  }
  dropped_since_failure_ += count_lines(std::string_view(batch).substr(line_start));
  return false;
}

bool AccessLogWriter::wait_writable() {
  for (;;) {
    uint64_t deadline = stop_deadline_ms_.load(std::memory_order_relaxed);
    if (deadline != 0 && monotonic_ms() >= deadline) {
      return false;
    }
    pollfd p{fd_, POLLOUT, 0};
    int r = ::poll(&p, 1, 100);
    if (r > 0) {
      return true;  // writable, or an error that the next write reports
    }
    report_drops(false);
  }
}

void AccessLogWriter::report_drops(bool force) {
  uint64_t dropped = queue_dropped_.load(std::memory_order_relaxed);
  uint64_t now = monotonic_ms();
  if (dropped == queue_dropped_reported_ ||
      (!force && last_report_ms_ != 0 && now - last_report_ms_ < kReportIntervalMs)) {
    return;
  }
  SY_LOG(Warn,
         "access log writer behind: %" PRIu64 " line(s) dropped (queue full, "
         "access_log.max_queue_bytes %" PRIu64 "); %" PRIu64 " in all",
         dropped - queue_dropped_reported_, max_queue_bytes_, dropped);
  queue_dropped_reported_ = dropped;
  last_report_ms_ = now;
}

void AccessLogBuffer::append(const AccessRecord& r) {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  if (tv.tv_sec != cached_second_) {
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    std::strftime(cached_time_, sizeof(cached_time_), "%Y-%m-%dT%H:%M:%S", &tm);
    cached_second_ = tv.tv_sec;
  }
  char ms[8];
  std::snprintf(ms, sizeof(ms), ".%03dZ", static_cast<int>(tv.tv_usec / 1000));
  buf_.append("{\"time\":\"").append(cached_time_).append(ms).append("\"");
  append_kv_str(buf_, "client", r.client);
  append_kv_str(buf_, "listener", r.listener);
  append_kv_str(buf_, "method", r.method);
  append_kv_str(buf_, "path", r.target);
  append_kv_str(buf_, "proto",
                r.h2 ? "HTTP/2.0" : (r.minor_version == 0 ? "HTTP/1.0" : "HTTP/1.1"));
  buf_.append(r.tls ? ",\"tls\":true" : ",\"tls\":false");
  append_kv_num(buf_, "status", static_cast<uint64_t>(r.status));
  append_kv_num(buf_, "bytes_in", r.bytes_in);
  append_kv_num(buf_, "bytes_out", r.bytes_out);
  append_kv_str(buf_, "pool", r.pool);
  append_kv_str(buf_, "upstream", r.upstream);
  append_kv_ms(buf_, "duration_ms", r.duration_ms);
  append_kv_ms(buf_, "upstream_connect_ms", r.connect_ms);
  append_kv_ms(buf_, "upstream_response_ms", r.response_ms);
  append_kv_str(buf_, "termination", std::string_view(r.termination, 2));
  static const RequestFields kNone;
  const RequestFields& f = r.fields != nullptr ? *r.fields : kNone;
  append_kv_str(buf_, "host", f.host);
  append_kv_str(buf_, "user_agent", f.user_agent);
  append_kv_str(buf_, "referer", f.referer);
  append_kv_str(buf_, "forwarded_for", f.forwarded_for);
  if (!f.client_ip.empty()) {
    append_kv_str(buf_, "client_ip", f.client_ip);  // behind trusted proxies
  }
  append_kv_str(buf_, "request_id", f.request_id);
  if (r.tunnel_closed_by != nullptr) {
    append_kv_str(buf_, "tunnel_closed_by", r.tunnel_closed_by);
    append_kv_ms(buf_, "tunnel_ms", r.tunnel_ms);
  }
  if (r.route != nullptr) {
    append_kv_str(buf_, "route", r.route);
    append_kv_num(buf_, "context", r.context);
  }
  buf_.append("}\n");
  if (buf_.size() >= kFlushBytes) {
    flush();
  }
}

void AccessLogBuffer::flush() {
  if (buf_.empty() || writer_ == nullptr) {
    return;
  }
  std::string batch;
  batch.reserve(kFlushBytes + 1024);
  batch.swap(buf_);
  writer_->submit(std::move(batch));
}

}  // namespace sy::proxy
