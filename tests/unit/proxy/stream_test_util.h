#pragma once
// What the Stream tests share (stream_test.cpp, stream_splice_test.cpp).
#include <string>

#include <event2/buffer.h>

namespace sy::proxy::testing {

// Removes and returns everything in |buf|.
inline std::string take_all(evbuffer* buf) {
  std::string out(evbuffer_get_length(buf), '\0');
  evbuffer_remove(buf, out.data(), out.size());
  return out;
}

}  // namespace sy::proxy::testing
