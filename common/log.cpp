#include "common/log.h"

#include "common/result.h"

#include <cstdio>
#include <cstring>
#include <ctime>
#include <sys/time.h>
#include <unistd.h>

namespace sy {

const char* to_string(Errc code) {
  switch (code) {
  case Errc::InvalidArgument: return "invalid-argument";
  case Errc::NotFound: return "not-found";
  case Errc::Io: return "io";
  case Errc::Timeout: return "timeout";
  case Errc::Protocol: return "protocol";
  case Errc::Config: return "config";
  case Errc::Database: return "database";
  case Errc::Unavailable: return "unavailable";
  case Errc::Internal: return "internal";
  }
  return "unknown";
}

const char* to_string(ErrorSource source) {
  switch (source) {
  case ErrorSource::Downstream: return "downstream";
  case ErrorSource::Upstream: return "upstream";
  case ErrorSource::Internal: return "internal";
  }
  return "unknown";
}

namespace log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::Info)};

const char* level_name(Level level) {
  switch (level) {
  case Level::Debug: return "DEBUG";
  case Level::Info: return "INFO";
  case Level::Warn: return "WARN";
  case Level::Error: return "ERROR";
  case Level::Off: return "OFF";
  }
  return "?";
}
}  // namespace

void set_level(Level level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

bool parse_level(const char* text, Level* out) {
  static const struct {
    const char* name;
    Level level;
  } kLevels[] = {{"debug", Level::Debug},
                 {"info", Level::Info},
                 {"warn", Level::Warn},
                 {"error", Level::Error},
                 {"off", Level::Off}};
  for (const auto& l : kLevels) {
    if (std::strcmp(text, l.name) == 0) {
      *out = l.level;
      return true;
    }
  }
  return false;
}

void write(Level lvl, const char* fmt, ...) {
  char line[2048];
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  int n = std::snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s ",
                        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                        tm.tm_sec, static_cast<int>(tv.tv_usec / 1000), level_name(lvl));
  va_list ap;
  va_start(ap, fmt);
  int m = std::vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
  va_end(ap);
  size_t len = n + (m < 0 ? 0 : std::min<size_t>(m, sizeof(line) - n - 2));
  line[len++] = '\n';
  ssize_t ignored = ::write(STDERR_FILENO, line, len);
  (void)ignored;
}

}  // namespace log
}  // namespace sy
