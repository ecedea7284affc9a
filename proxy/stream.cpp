#include "proxy/stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <event2/buffer.h>
#include <event2/bufferevent.h>  // BEV_EVENT_* flag values only
#include <event2/event.h>

namespace sy::proxy {

namespace {

// One flush writes at most this much before yielding to other connections; the rest goes
// when the socket next reports writable.
constexpr size_t kMaxWritePerFlush = 1024 * 1024;
constexpr size_t kMaxReadScratch = 64 * 1024;

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

}  // namespace

Stream::Stream(event_base* base, int fd) : base_(base), fd_(-1) {
  input_ = evbuffer_new();
  output_ = evbuffer_new();
  evbuffer_add_cb(output_, on_output_changed, this);
  flush_ev_ = event_new(base_, -1, 0, on_flush, this);
  read_timer_ = evtimer_new(base_, on_read_timeout, this);
  write_timer_ = evtimer_new(base_, on_write_timeout, this);
  if (fd >= 0) {
    fd_ = fd;
    read_ev_ = event_new(base_, fd_, EV_READ | EV_PERSIST, on_readable, this);
    write_ev_ = event_new(base_, fd_, EV_WRITE | EV_PERSIST, on_writable, this);
  }
}

Stream::~Stream() {
  if (read_ev_ != nullptr) {
    event_free(read_ev_);
  }
  if (write_ev_ != nullptr) {
    event_free(write_ev_);
  }
  event_free(flush_ev_);
  event_free(read_timer_);
  event_free(write_timer_);
  evbuffer_free(input_);
  evbuffer_free(output_);
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void Stream::set_callbacks(DataCb read_cb, DataCb write_cb, EventCb event_cb, void* arg) {
  read_cb_ = read_cb;
  write_cb_ = write_cb;
  event_cb_ = event_cb;
  arg_ = arg;
}

void Stream::set_timeouts(const timeval* read, const timeval* write) {
  has_read_tv_ = read != nullptr;
  if (has_read_tv_) {
    read_tv_ = *read;
  }
  has_write_tv_ = write != nullptr;
  if (has_write_tv_) {
    write_tv_ = *write;
  }
  arm_read_timer();
  if (write_registered_) {
    arm_write_timer();
  } else {
    evtimer_del(write_timer_);
  }
}

void Stream::enable(short what) {
  if (what & EV_READ) {
    read_enabled_ = true;
    if (read_ev_ != nullptr && !connecting_ && !read_registered_) {
      event_add(read_ev_, nullptr);
      read_registered_ = true;
    }
    arm_read_timer();
  }
  if (what & EV_WRITE) {
    write_enabled_ = true;
    if (evbuffer_get_length(output_) > 0) {
      schedule_flush();
    }
  }
}

void Stream::disable(short what) {
  if (what & EV_READ) {
    // Lazy: stay registered; on_readable unregisters if the peer actually sends meanwhile.
    read_enabled_ = false;
    evtimer_del(read_timer_);
  }
  if (what & EV_WRITE) {
    write_enabled_ = false;
    if (!connecting_) {
      watch_writable(false);
    }
  }
}

int Stream::connect(const sockaddr* addr, socklen_t len) {
  if (fd_ < 0) {
    int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      return -1;
    }
    fd_ = fd;
    read_ev_ = event_new(base_, fd_, EV_READ | EV_PERSIST, on_readable, this);
    write_ev_ = event_new(base_, fd_, EV_WRITE | EV_PERSIST, on_writable, this);
  }
  if (::connect(fd_, addr, len) != 0 && errno != EINPROGRESS) {
    return -1;
  }
  // Even an immediate success is reported from the loop, never from inside connect().
  connecting_ = true;
  watch_writable(true);
  return 0;
}

void Stream::schedule_flush() {
  if (!flush_scheduled_ && write_enabled_ && !connecting_ && fd_ >= 0) {
    flush_scheduled_ = true;
    event_active(flush_ev_, EV_WRITE, 1);  // runs later in this loop iteration; no syscall
  }
}

void Stream::watch_writable(bool on) {
  if (on && !write_registered_) {
    event_add(write_ev_, nullptr);
    write_registered_ = true;
    arm_write_timer();
  } else if (!on && write_registered_) {
    event_del(write_ev_);
    write_registered_ = false;
    evtimer_del(write_timer_);
  }
}

void Stream::arm_read_timer() {
  if (has_read_tv_ && read_enabled_) {
    evtimer_add(read_timer_, &read_tv_);
  } else {
    evtimer_del(read_timer_);
  }
}

void Stream::arm_write_timer() {
  if (has_write_tv_) {
    evtimer_add(write_timer_, &write_tv_);
  } else {
    evtimer_del(write_timer_);
  }
}

bool Stream::write_some(bool* wrote) {
  *wrote = false;
  size_t written = 0;
  while (evbuffer_get_length(output_) > 0 && written < kMaxWritePerFlush) {
    int n = evbuffer_write_atmost(output_, fd_, -1);
    if (n < 0) {
      int err = errno;
      if (would_block(err)) {
        break;
      }
      watch_writable(false);
      write_enabled_ = false;
      if (event_cb_ != nullptr) {
        errno = err;
        event_cb_(this, BEV_EVENT_ERROR | BEV_EVENT_WRITING, arg_);
      }
      return false;
    }
    if (n == 0) {
      break;
    }
    written += static_cast<size_t>(n);
    *wrote = true;
  }
  if (evbuffer_get_length(output_) > 0) {
    if (write_registered_ && *wrote) {
      arm_write_timer();  // progress restarts the send timeout
    }
    watch_writable(true);
  } else {
    watch_writable(false);
  }
  return true;
}

void Stream::flush_now() {
  if (!flush_scheduled_ || !write_enabled_ || connecting_ || write_registered_) {
    return;
  }
  while (evbuffer_get_length(output_) > 0) {
    int n = evbuffer_write_atmost(output_, fd_, -1);
    if (n <= 0) {
      return;  // EAGAIN or an error: the scheduled flush retries and reports
    }
    wrote_early_ = true;
  }
}

void Stream::on_flush(int, short, void* arg) {
  auto* s = static_cast<Stream*>(arg);
  s->flush_scheduled_ = false;
  bool early = s->wrote_early_;
  s->wrote_early_ = false;
  if (!s->write_enabled_ || s->connecting_ || s->fd_ < 0 || s->write_registered_) {
    return;  // when registered, on_writable does the writing
  }
  bool wrote = false;
  if (!s->write_some(&wrote)) {
    return;
  }
  wrote = wrote || early;
  if (wrote && evbuffer_get_length(s->output_) <= s->write_low_ && s->write_cb_ != nullptr) {
    s->write_cb_(s, s->arg_);
  }
}

void Stream::on_writable(int, short, void* arg) {
  auto* s = static_cast<Stream*>(arg);
  if (s->connecting_) {
    s->finish_connect();
    return;
  }
  if (!s->write_enabled_) {
    s->watch_writable(false);
    return;
  }
  bool wrote = false;
  if (!s->write_some(&wrote)) {
    return;
  }
  if (wrote && evbuffer_get_length(s->output_) <= s->write_low_ && s->write_cb_ != nullptr) {
    s->write_cb_(s, s->arg_);
  }
}

void Stream::finish_connect() {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
    err = errno;
  }
  if (err == EINPROGRESS) {
    return;  // spurious wake-up
  }
  connecting_ = false;
  watch_writable(false);
  if (err != 0) {
    read_enabled_ = false;
    write_enabled_ = false;
    evtimer_del(read_timer_);
    if (event_cb_ != nullptr) {
      errno = err;
      event_cb_(this, BEV_EVENT_ERROR, arg_);
    }
    return;
  }
  if (read_enabled_ && !read_registered_) {
    event_add(read_ev_, nullptr);
    read_registered_ = true;
  }
  arm_read_timer();
  if (evbuffer_get_length(output_) > 0) {
    schedule_flush();
  }
  if (event_cb_ != nullptr) {
    event_cb_(this, BEV_EVENT_CONNECTED, arg_);
  }
}

void Stream::on_readable(int fd, short, void* arg) {
  auto* s = static_cast<Stream*>(arg);
  if (!s->read_enabled_) {
    event_del(s->read_ev_);  // the lazy disable becomes real
    s->read_registered_ = false;
    return;
  }
  // Read into a per-thread scratch buffer and append only what arrived: reserving 64 KiB of
  // evbuffer space per read made glibc grow and trim the worker's arena on every request
  // (sysmalloc + madvise were 14% of the proxy's CPU under wrk).
  thread_local char scratch[kMaxReadScratch];
  size_t want = s->max_read_ < sizeof(scratch) ? s->max_read_ : sizeof(scratch);
  ssize_t n = ::read(fd, scratch, want);
  if (n > 0) {
    evbuffer_add(s->input_, scratch, static_cast<size_t>(n));
    s->arm_read_timer();
    if (s->read_cb_ != nullptr) {
      s->read_cb_(s, s->arg_);
    }
    return;
  }
  int err = n < 0 ? errno : 0;
  if (n < 0 && would_block(err)) {
    return;
  }
  // EOF or error: reading stops, as with a bufferevent.
  s->read_enabled_ = false;
  event_del(s->read_ev_);
  s->read_registered_ = false;
  evtimer_del(s->read_timer_);
  if (s->event_cb_ != nullptr) {
    errno = err;
    s->event_cb_(s, static_cast<short>((n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR) |
                                       BEV_EVENT_READING),
                 s->arg_);
  }
}

void Stream::on_read_timeout(int, short, void* arg) {
  auto* s = static_cast<Stream*>(arg);
  s->read_enabled_ = false;
  if (s->event_cb_ != nullptr) {
    s->event_cb_(s, BEV_EVENT_TIMEOUT | BEV_EVENT_READING, s->arg_);
  }
}

void Stream::on_write_timeout(int, short, void* arg) {
  auto* s = static_cast<Stream*>(arg);
  s->watch_writable(false);
  s->write_enabled_ = false;
  if (s->event_cb_ != nullptr) {
    s->event_cb_(s, BEV_EVENT_TIMEOUT | BEV_EVENT_WRITING, s->arg_);
  }
}

void Stream::on_output_changed(evbuffer*, const evbuffer_cb_info* info, void* arg) {
  if (info->n_added > 0) {
    static_cast<Stream*>(arg)->schedule_flush();
  }
}

}  // namespace sy::proxy
