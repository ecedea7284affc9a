#pragma once
// What proxy/stream.cpp and proxy/stream_splice.cpp share (not for other users of Stream).

#include <cerrno>
#include <cstddef>

namespace sy::proxy {

constexpr size_t kMaxReadScratch = 64 * 1024;

// Per-thread read buffer: a read appends only what arrived to the input (Stream::on_readable),
// or a splice relays it from here (Stream::relay). Defined in stream.cpp.
extern thread_local char read_scratch[kMaxReadScratch];

inline bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

}  // namespace sy::proxy
