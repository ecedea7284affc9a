#pragma once
// Socket I/O that proxy/stream.cpp and proxy/stream_splice.cpp share (not for other users of
// Stream). Defined in stream_io.cpp.

#include <sys/types.h>

#include <cerrno>
#include <cstddef>

struct evbuffer;

namespace sy::proxy {

constexpr size_t kMaxReadScratch = 64 * 1024;

// Per-thread read buffer: a read appends only what arrived to the input (Stream::on_readable),
// or a splice relays it from here (Stream::relay).
extern thread_local char read_scratch[kMaxReadScratch];

// Writes the front of |out| to the socket |fd| with send()/sendmsg() and drains what went.
// Returns the bytes written, or -1 with errno.
ssize_t send_buffer(evbuffer* out, int fd);

inline bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

}  // namespace sy::proxy
