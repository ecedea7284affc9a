#include "proxy/stream_io.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <event2/buffer.h>

namespace sy::proxy {

thread_local char read_scratch[kMaxReadScratch];

// Writes the front of |out| to the socket |fd| and drains what went: like
// evbuffer_write_atmost, but with send()/sendmsg() instead of writev(). On a socket the vfs
// write path (fdget_pos, rw_verify_area, fsnotify) is pure overhead, paid on every write of
// every relayed message (bench/RESULTS.md, "WebSocket messages"). Returns the bytes written,
// or -1 with errno.
ssize_t send_buffer(evbuffer* out, int fd) {
  constexpr int kMaxIov = 16;
  evbuffer_iovec vec[kMaxIov];
  int n = evbuffer_peek(out, -1, nullptr, vec, kMaxIov);
  if (n <= 0) {
    return 0;
  }
  n = n < kMaxIov ? n : kMaxIov;
  ssize_t sent;
  if (n == 1) {
    sent = ::send(fd, vec[0].iov_base, vec[0].iov_len, MSG_NOSIGNAL);
  } else {
    iovec iov[kMaxIov];
    for (int i = 0; i < n; ++i) {
      iov[i].iov_base = vec[i].iov_base;
      iov[i].iov_len = vec[i].iov_len;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n);
    sent = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
  }
  if (sent > 0) {
    evbuffer_drain(out, static_cast<size_t>(sent));
  }
  return sent;
}

}  // namespace sy::proxy
