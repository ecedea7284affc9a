// Stream's tunnel fast path: splice (proxy/stream.h, "Splice"; bench/RESULTS.md, "WebSocket
// messages through a tunnel" for what it saves).
#include <sys/socket.h>

#include <algorithm>

#include <event2/buffer.h>
#include <event2/event.h>

#include "proxy/stream.h"
#include "proxy/stream_io.h"

namespace sy::proxy {

bool Stream::splice(Stream* a, Stream* b, uint64_t* a_to_b, uint64_t* b_to_a, size_t high_water) {
  if (a == nullptr || b == nullptr || a == b) {
    return false;
  }
  for (const Stream* s : {a, b}) {
    if (s->mem_ || s->ssl_ != nullptr || s->fd_ < 0 || s->connecting_ ||
        s->splice_peer_ != nullptr) {
      return false;
    }
  }
  a->splice_peer_ = b;
  a->splice_count_ = a_to_b;
  b->splice_peer_ = a;
  b->splice_count_ = b_to_a;
  a->splice_high_ = b->splice_high_ = std::max<size_t>(high_water, 1);
  return true;
}

ssize_t Stream::relay(int fd) {
  Stream* to = splice_peer_;
  const size_t queued = evbuffer_get_length(to->output_);
  if (queued >= splice_high_) {
    // The peer is full (its owner added bytes, or we queued them): stop at once rather than
    // lazily, since the socket is known to be readable.
    pause_splice();
    event_del(read_ev_);
    read_registered_ = false;
    return 1;
  }
  size_t want = std::min(max_read_, sizeof(read_scratch));
  ssize_t n = ::recv(fd, read_scratch, want, 0);
  if (n <= 0) {
    return n;
  }
  const auto got = static_cast<size_t>(n);
  *splice_count_ += got;
  arm_read_timer();
  size_t sent = 0;
  if (queued == 0 && to->write_enabled_ && !to->write_registered_) {
    ssize_t w = ::send(to->fd_, read_scratch, got, MSG_NOSIGNAL);
    if (w == n) {
      return n;  // the common case: relayed in this callback, nothing buffered
    }
    if (w > 0) {
      sent = static_cast<size_t>(w);
    } else if (would_block(errno)) {
      to->watch_writable(true);  // the flush the add below schedules then leaves it to EV_WRITE
    }
    // Any other error: the peer's scheduled flush meets it again and reports it.
  }
  evbuffer_add(to->output_, read_scratch + sent, got - sent);
  if (evbuffer_get_length(to->output_) >= splice_high_) {
    pause_splice();  // lazily: on_readable unregisters if more arrives meanwhile
  }
  return n;
}

void Stream::pause_splice() {
  read_enabled_ = false;
  splice_paused_ = true;
  del_read_timer();
}

void Stream::resume_splice_peer() {
  Stream* p = splice_peer_;
  if (p->splice_paused_ && evbuffer_get_length(output_) <= splice_high_ / 2) {
    p->enable(EV_READ);  // clears splice_paused_
  }
}

}  // namespace sy::proxy
