// Milliseconds as the struct timeval libevent's timers and bufferevent timeouts take.
#pragma once

#include <sys/time.h>

#include <chrono>
#include <cstdint>

namespace sy {

inline timeval ms_to_tv(uint64_t ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

inline timeval ms_to_tv(std::chrono::milliseconds ms) {
  return ms_to_tv(static_cast<uint64_t>(ms.count() < 0 ? 0 : ms.count()));
}

}  // namespace sy
