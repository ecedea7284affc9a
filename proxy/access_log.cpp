#include "proxy/access_log.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/log.h"

namespace sy::proxy {
namespace {

constexpr size_t kFlushBytes = 64 * 1024;

// Appends |s| as a JSON string body (without quotes).
void append_json_escaped(std::string& out, std::string_view s) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c == 0x7f) {
      char esc[8];
      std::snprintf(esc, sizeof(esc), "\\u%04x", c);
      out.append(esc);
    } else {
      out.push_back(ch);
    }
  }
}

void append_kv_str(std::string& out, const char* key, std::string_view value) {
  out.append(",\"").append(key).append("\":\"");
  append_json_escaped(out, value);
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

}  // namespace

void format_peer(const sockaddr* sa, std::string* label, std::string* ip) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
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

Result<std::unique_ptr<AccessLogWriter>> AccessLogWriter::open(const std::string& path) {
  if (path == "-") {
    return std::unique_ptr<AccessLogWriter>(new AccessLogWriter(STDOUT_FILENO, false));
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return make_error(Errc::Io, "cannot open access log " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<AccessLogWriter>(new AccessLogWriter(fd, true));
}

AccessLogWriter::AccessLogWriter(int fd, bool owns_fd) : fd_(fd), owns_fd_(owns_fd) {
  thread_ = std::thread([this] { run(); });
}

AccessLogWriter::~AccessLogWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
  if (owns_fd_) {
    ::close(fd_);
  }
}

void AccessLogWriter::submit(std::string&& batch) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(batch));
  }
  cv_.notify_one();
}

void AccessLogWriter::run() {
  std::vector<std::string> batch;
  bool warned = false;
  for (;;) {
    bool stop;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      batch.swap(queue_);
      stop = stopping_;
    }
    for (const auto& b : batch) {
      size_t off = 0;
      while (off < b.size()) {
        ssize_t n = ::write(fd_, b.data() + off, b.size() - off);
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if (n <= 0) {
          if (!warned) {
            SY_LOG(Error, "access log write failed: %s (lines are being dropped)",
                   std::strerror(errno));
            warned = true;
          }
          break;
        }
        off += static_cast<size_t>(n);
      }
    }
    batch.clear();
    if (stop) {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) {
        return;
      }
    }
  }
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
