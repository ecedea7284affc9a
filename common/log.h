#pragma once
// Leveled diagnostic logger (stderr). Hot-path call sites guard with SY_LOG_ENABLED so that
// nothing is formatted when the level is off (STYLE rule 14).
//
// Any thread may log; each call writes one whole line with a single write(2), so lines from
// different threads never interleave.

#include <atomic>
#include <cstdarg>

namespace sy::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

// Process-wide level; any thread. Default Info.
void set_level(Level level);
Level level();
// Parses "debug|info|warn|error|off"; returns false on an unknown word.
bool parse_level(const char* text, Level* out);

// Formats and writes one line: "2026-11-25T06:30:40.123Z LEVEL message\n". Any thread.
void write(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace sy::log

#define SY_LOG_ENABLED(lvl) (::sy::log::Level::lvl >= ::sy::log::level())
#define SY_LOG(lvl, ...)                                                                           \
  do {                                                                                             \
    if (SY_LOG_ENABLED(lvl)) {                                                                     \
      ::sy::log::write(::sy::log::Level::lvl, __VA_ARGS__);                                        \
    }                                                                                              \
  } while (0)
