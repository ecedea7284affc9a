#include "proxy/stream.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>  // BEV_EVENT_* flag values only
#include <event2/event.h>

#include "proxy/stream_io.h"

namespace sy::proxy {

namespace {

// One flush writes at most this much before yielding to other connections; the rest goes
// when the socket next reports writable.
constexpr size_t kMaxWritePerFlush = 1024 * 1024;
constexpr size_t kMaxTlsRecord = 16 * 1024;  // one SSL_write = one full-size TLS record

}  // namespace

Stream::Stream(event_base* base, int fd)
    : base_(base), fd_(-1), read_timer_(base, on_read_timeout, this),
      write_timer_(base, on_write_timeout, this) {
  input_ = evbuffer_new();
  output_ = evbuffer_new();
  evbuffer_add_cb(output_, on_output_changed, this);
  flush_ev_ = event_new(base_, -1, 0, on_flush, this);
  if (fd >= 0) {
    fd_ = fd;
    read_ev_ = event_new(base_, fd_, EV_READ | EV_PERSIST, on_readable, this);
    write_ev_ = event_new(base_, fd_, EV_WRITE | EV_PERSIST, on_writable, this);
  }
}

Stream::~Stream() {
  if (splice_peer_ != nullptr) {
    Stream* p = splice_peer_;
    p->splice_peer_ = nullptr;
    if (p->splice_paused_) {
      p->enable(EV_READ);  // it waited for our output to drain: its owner expects reading
    }
  }
  if (peer_ != nullptr) {
    peer_->peer_ = nullptr;  // the peer reads what it has, then EOF
    peer_->mem_eof_ = true;
    event_active(peer_->read_ev_, EV_READ, 1);
    if (peer_->mem_waiting_) {
      // It holds output for us that nobody will read; while it is not reading itself it
      // would never hear of the EOF either. Its flush now reports EPIPE.
      peer_->schedule_flush();
    }
  }
  if (ssl_ != nullptr) {
    if (!handshaking_ && !tls_failed_ && !tls_shutdown_sent_ && fd_ >= 0) {
      ERR_clear_error();
      SSL_shutdown(ssl_);  // close_notify, best effort: the socket is non-blocking
    }
    SSL_free(ssl_);
    ERR_clear_error();
  }
  if (handshake_timer_ != nullptr) {
    event_free(handshake_timer_);
  }
  if (read_ev_ != nullptr) {
    event_free(read_ev_);
  }
  if (write_ev_ != nullptr) {
    event_free(write_ev_);
  }
  event_free(flush_ev_);
  evbuffer_free(input_);
  evbuffer_free(output_);
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void Stream::make_pair(event_base* base, Stream** a, Stream** b) {
  Stream* x = new Stream(base, -1);
  Stream* y = new Stream(base, -1);
  for (Stream* s : {x, y}) {
    s->mem_ = true;
    s->read_ev_ = event_new(base, -1, 0, on_mem_readable, s);  // activated by hand only
  }
  x->peer_ = y;
  y->peer_ = x;
  *a = x;
  *b = y;
}

void Stream::on_mem_readable(int, short, void* arg) {
  auto* s = static_cast<Stream*>(arg);
  if (!s->read_enabled_) {
    return;  // enable(EV_READ) lets the peer's held output move, which activates us again
  }
  if (s->mem_new_data_) {
    s->mem_new_data_ = false;
    s->arm_read_timer();
    if (s->mem_eof_) {
      event_active(s->read_ev_, EV_READ, 1);  // the end after the data
    }
    if (s->read_cb_ != nullptr) {
      s->read_cb_(s, s->arg_);
    }
    return;
  }
  if (s->mem_eof_ && !s->mem_eof_reported_) {
    s->mem_eof_reported_ = true;
    s->read_enabled_ = false;
    s->del_read_timer();
    if (s->event_cb_ != nullptr) {
      errno = 0;
      s->event_cb_(s, BEV_EVENT_EOF | BEV_EVENT_READING, s->arg_);
    }
  }
}

bool Stream::write_mem(bool* wrote) {
  *wrote = false;
  if (peer_ == nullptr) {
    write_enabled_ = false;
    if (event_cb_ != nullptr) {
      errno = EPIPE;
      event_cb_(this, BEV_EVENT_ERROR | BEV_EVENT_WRITING, arg_);
    }
    return false;
  }
  size_t len = evbuffer_get_length(output_);
  if (len == 0) {
    return true;
  }
  if (!peer_->read_enabled_) {
    mem_waiting_ = true;  // the peer's enable(EV_READ) schedules our flush
    return true;
  }
  mem_waiting_ = false;
  evbuffer_remove_buffer(output_, peer_->input_, len);
  *wrote = true;
  peer_->mem_new_data_ = true;
  event_active(peer_->read_ev_, EV_READ, 1);
  return true;
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
    del_write_timer();
  }
}

void Stream::enable(short what) {
  if (mem_) {
    if (what & EV_READ) {
      read_enabled_ = true;
      arm_read_timer();
      if (peer_ != nullptr && peer_->mem_waiting_) {
        peer_->mem_waiting_ = false;
        peer_->schedule_flush();
      }
      if (mem_eof_ && !mem_eof_reported_) {
        event_active(read_ev_, EV_READ, 1);
      }
    }
    if (what & EV_WRITE) {
      write_enabled_ = true;
      if (evbuffer_get_length(output_) > 0) {
        schedule_flush();
      }
    }
    return;
  }
  if (what & EV_READ) {
    read_enabled_ = true;
    splice_paused_ = false;
    if (read_ev_ != nullptr && !connecting_ && !read_registered_) {
      event_add(read_ev_, nullptr);
      read_registered_ = true;
    }
    arm_read_timer();
    // Bytes OpenSSL decrypted (or an end it saw) while reading was off: epoll cannot see them.
    if (ssl_ != nullptr && !handshaking_ && (tls_pending_end_ != 0 || SSL_has_pending(ssl_))) {
      event_active(read_ev_, EV_READ, 1);
    }
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
    splice_paused_ = false;  // the owner's own stop: the splice does not undo it
    del_read_timer();
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
    if (ssl_ != nullptr) {
      SSL_set_fd(ssl_, fd_);
    }
  }
  if (::connect(fd_, addr, len) != 0 && errno != EINPROGRESS) {
    return -1;
  }
  // Even an immediate success is reported from the loop, never from inside connect().
  connecting_ = true;
  watch_writable(true);
  return 0;
}

void Stream::start_tls_server(ssl_st* ssl, const timeval& handshake_timeout) {
  ssl_ = ssl;
  SSL_set_fd(ssl_, fd_);
  handshaking_ = true;
  handshake_timer_ = evtimer_new(base_, on_handshake_timeout, this);
  evtimer_add(handshake_timer_, &handshake_timeout);
}

void Stream::start_tls_client(ssl_st* ssl, const timeval& handshake_timeout) {
  ssl_ = ssl;
  tls_client_ = true;
  if (fd_ >= 0) {
    SSL_set_fd(ssl_, fd_);
  }
  handshaking_ = true;
  handshake_timer_ = evtimer_new(base_, on_handshake_timeout, this);
  evtimer_add(handshake_timer_, &handshake_timeout);
}

void Stream::shutdown_write() {
  if (mem_) {
    if (peer_ != nullptr) {
      peer_->mem_eof_ = true;
      event_active(peer_->read_ev_, EV_READ, 1);
    }
    return;
  }
  if (ssl_ != nullptr && !handshaking_ && !tls_failed_ && !tls_shutdown_sent_) {
    tls_shutdown_sent_ = true;
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
  }
  if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_WR);
  }
}

bool Stream::continue_handshake() {
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    handshaking_ = false;
    handshake_ok_ = true;
    evtimer_del(handshake_timer_);
    watch_writable(false);
    if (tls_client_) {
      // As finish_connect() does for a cleartext stream, now that the channel is up.
      if (!read_enabled_ && read_registered_) {
        event_del(read_ev_);
        read_registered_ = false;
      } else if (read_enabled_ && !read_registered_) {
        event_add(read_ev_, nullptr);
        read_registered_ = true;
      }
      arm_read_timer();
      if (SSL_has_pending(ssl_)) {
        event_active(read_ev_, EV_READ, 1);
      }
      if (evbuffer_get_length(output_) > 0) {
        schedule_flush();
      }
      if (event_cb_ != nullptr) {
        event_cb_(this, BEV_EVENT_CONNECTED, arg_);
      }
      return true;
    }
    arm_read_timer();
    // The client's first request often arrives with its Finished message, already read.
    event_active(read_ev_, EV_READ, 1);
    if (evbuffer_get_length(output_) > 0) {
      schedule_flush();
    }
    return true;
  }
  int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ) {
    if (!read_registered_) {
      event_add(read_ev_, nullptr);
      read_registered_ = true;
    }
    watch_writable(false);
    return true;
  }
  if (e == SSL_ERROR_WANT_WRITE) {
    watch_writable(true);
    return true;
  }
  int err = e == SSL_ERROR_SYSCALL && errno != 0 ? errno : EPROTO;
  tls_errno_ = e == SSL_ERROR_SYSCALL ? errno : 0;
  tls_error_ = ERR_peek_last_error();
  ERR_clear_error();
  handshaking_ = false;
  tls_failed_ = true;
  read_enabled_ = false;
  write_enabled_ = false;
  event_del(read_ev_);
  read_registered_ = false;
  watch_writable(false);
  evtimer_del(handshake_timer_);
  del_read_timer();
  if (event_cb_ != nullptr) {
    errno = err;
    event_cb_(this, BEV_EVENT_ERROR | BEV_EVENT_READING, arg_);
  }
  return false;
}

void Stream::on_handshake_timeout(int, short, void* arg) {
  auto* s = static_cast<Stream*>(arg);
  if (!s->handshaking_) {
    return;
  }
  s->handshaking_ = false;
  s->tls_timed_out_ = !s->connecting_;  // still connecting: a connect timeout
  s->connecting_ = false;
  s->tls_failed_ = true;  // no close_notify for a peer that never finished the handshake
  s->read_enabled_ = false;
  s->write_enabled_ = false;
  if (s->read_ev_ != nullptr) {  // null: a client stream whose connect() never ran
    event_del(s->read_ev_);
  }
  s->read_registered_ = false;
  s->watch_writable(false);
  if (s->event_cb_ != nullptr) {
    s->event_cb_(s, BEV_EVENT_TIMEOUT | BEV_EVENT_READING, s->arg_);
  }
}

void Stream::read_tls() {
  size_t want = std::min(max_read_, sizeof(read_scratch));
  size_t got = 0;
  short end = tls_pending_end_;
  int err = tls_pending_errno_;
  tls_pending_end_ = 0;
  while (end == 0 && got < want) {
    ERR_clear_error();
    int n = SSL_read(ssl_, read_scratch + got, static_cast<int>(want - got));
    if (n > 0) {
      got += static_cast<size_t>(n);
      continue;
    }
    int e = SSL_get_error(ssl_, n);
    if (e == SSL_ERROR_WANT_READ) {
      break;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
      read_wants_write_ = true;
      watch_writable(true);
      break;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
      end = BEV_EVENT_EOF;
    } else if (e == SSL_ERROR_SYSCALL) {
      err = errno;
      if (err != 0 && would_block(err)) {
        break;
      }
      end = err == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR;
    } else {
      tls_failed_ = true;
      err = EPROTO;
      end = BEV_EVENT_ERROR;
    }
    ERR_clear_error();
  }
  if (write_wants_read_) {
    write_wants_read_ = false;
    schedule_flush();
  }
  if (got > 0) {
    evbuffer_add(input_, read_scratch, got);
    arm_read_timer();
    if (end != 0) {
      tls_pending_end_ = end;  // data first; the end on the next round
      tls_pending_errno_ = err;
      event_active(read_ev_, EV_READ, 1);
    } else if (got >= want && SSL_has_pending(ssl_)) {
      event_active(read_ev_, EV_READ, 1);  // budget spent; OpenSSL still holds bytes
    }
    if (read_cb_ != nullptr) {
      read_cb_(this, arg_);
    }
    return;
  }
  if (end == 0) {
    return;
  }
  read_enabled_ = false;
  event_del(read_ev_);
  read_registered_ = false;
  del_read_timer();
  if (event_cb_ != nullptr) {
    errno = err;
    event_cb_(this, static_cast<short>(end | BEV_EVENT_READING), arg_);
  }
}

int Stream::write_tls(size_t* written, size_t budget) {
  *written = 0;
  while (*written < budget) {
    size_t len = evbuffer_get_length(output_);
    if (len == 0) {
      break;
    }
    size_t chunk = std::min(tls_retry_len_ != 0 ? tls_retry_len_ : kMaxTlsRecord, len);
    unsigned char* data = evbuffer_pullup(output_, static_cast<ev_ssize_t>(chunk));
    ERR_clear_error();
    int n = SSL_write(ssl_, data, static_cast<int>(chunk));
    if (n > 0) {
      tls_retry_len_ = 0;
      evbuffer_drain(output_, static_cast<size_t>(n));
      *written += static_cast<size_t>(n);
      continue;
    }
    int e = SSL_get_error(ssl_, n);
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
      tls_retry_len_ = chunk;  // OpenSSL wants the same write repeated
      write_wants_read_ = e == SSL_ERROR_WANT_READ;
      return 1;
    }
    int err = e == SSL_ERROR_SYSCALL && errno != 0 ? errno : EPROTO;
    ERR_clear_error();
    tls_failed_ = true;
    errno = err;
    return -1;
  }
  return 1;
}

void Stream::schedule_flush() {
  if (!flush_scheduled_ && write_enabled_ && !connecting_ && !handshaking_ && (fd_ >= 0 || mem_)) {
    flush_scheduled_ = true;
    event_active(flush_ev_, EV_WRITE, 1);  // runs later in this loop iteration; no syscall
  }
}

void Stream::watch_writable(bool on) {
  if (mem_) {
    return;  // no socket to poll: the peer's enable(EV_READ) restarts a held flush
  }
  if (on && !write_registered_) {
    event_add(write_ev_, nullptr);
    write_registered_ = true;
    arm_write_timer();
  } else if (!on && write_registered_) {
    event_del(write_ev_);
    write_registered_ = false;
    del_write_timer();
  }
}

void Stream::arm_read_timer() {
  if (has_read_tv_ && read_enabled_) {
    read_timer_.arm(read_tv_);
  } else {
    read_timer_.disarm();
  }
}

void Stream::arm_write_timer() {
  if (has_write_tv_) {
    write_timer_.arm(write_tv_);
  } else {
    write_timer_.disarm();
  }
}

bool Stream::write_some(bool* wrote) {
  if (mem_) {
    return write_mem(wrote);
  }
  *wrote = false;
  size_t written = 0;
  bool fatal = false;
  int err = 0;
  if (ssl_ != nullptr) {
    fatal = write_tls(&written, kMaxWritePerFlush) < 0;
    err = errno;
  } else {
    while (evbuffer_get_length(output_) > 0 && written < kMaxWritePerFlush) {
      ssize_t n = send_buffer(output_, fd_);
      if (n < 0) {
        err = errno;
        fatal = !would_block(err);
        break;
      }
      if (n == 0) {
        break;
      }
      written += static_cast<size_t>(n);
    }
  }
  if (fatal) {
    watch_writable(false);
    write_enabled_ = false;
    if (event_cb_ != nullptr) {
      errno = err;
      event_cb_(this, BEV_EVENT_ERROR | BEV_EVENT_WRITING, arg_);
    }
    return false;
  }
  *wrote = written > 0;
  if (splice_peer_ != nullptr) {
    resume_splice_peer();  // also after a flush_now() that left nothing to write
  }
  // A TLS write waiting for the peer's bytes is retried by read_tls, not by EV_WRITE.
  if (evbuffer_get_length(output_) > 0 && !write_wants_read_) {
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
  if (!flush_scheduled_ || !write_enabled_ || connecting_ || handshaking_ || write_registered_ ||
      mem_) {
    return;
  }
  if (ssl_ != nullptr) {
    size_t written = 0;
    int saved = errno;
    (void)write_tls(&written, SIZE_MAX);  // errors are left to the scheduled flush
    errno = saved;
    wrote_early_ = wrote_early_ || written > 0;
    return;
  }
  while (evbuffer_get_length(output_) > 0) {
    ssize_t n = send_buffer(output_, fd_);
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
  if (!s->write_enabled_ || s->connecting_ || s->handshaking_ || (s->fd_ < 0 && !s->mem_) ||
      s->write_registered_) {
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
  if (s->handshaking_) {
    s->continue_handshake();
    return;
  }
  if (s->read_wants_write_) {
    s->read_wants_write_ = false;
    event_active(s->read_ev_, EV_READ, 1);  // the SSL_read that wanted to write goes again
    if (!s->write_enabled_ || evbuffer_get_length(s->output_) == 0) {
      s->watch_writable(false);
      return;
    }
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
    del_read_timer();
    if (handshake_timer_ != nullptr) {
      evtimer_del(handshake_timer_);
    }
    handshaking_ = false;
    tls_failed_ = true;  // (TLS client) no handshake happened: nothing to close_notify
    if (event_cb_ != nullptr) {
      errno = err;
      event_cb_(this, BEV_EVENT_ERROR, arg_);
    }
    return;
  }
  if (ssl_ != nullptr && handshaking_) {
    continue_handshake();  // CONNECTED is reported when it is done
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
  if (s->handshaking_) {
    s->continue_handshake();
    return;
  }
  if (!s->read_enabled_) {
    event_del(s->read_ev_);  // the lazy disable becomes real
    s->read_registered_ = false;
    return;
  }
  if (s->ssl_ != nullptr) {
    s->read_tls();
    return;
  }
  // Read into a per-thread scratch buffer and append only what arrived: reserving 64 KiB of
  // evbuffer space per read made glibc grow and trim the worker's arena on every request
  // (sysmalloc + madvise were 14% of the proxy's CPU under wrk).
  ssize_t n;
  if (s->splice_peer_ != nullptr && evbuffer_get_length(s->input_) == 0) {
    n = s->relay(fd);  // the tunnel fast path (stream_splice.cpp)
    if (n > 0) {
      return;
    }
  } else {
    char* scratch = read_scratch;
    size_t want = s->max_read_ < sizeof(read_scratch) ? s->max_read_ : sizeof(read_scratch);
    n = ::recv(fd, scratch, want, 0);  // not read(): see send_buffer
    if (n > 0) {
      evbuffer_add(s->input_, scratch, static_cast<size_t>(n));
      s->arm_read_timer();
      if (s->read_cb_ != nullptr) {
        s->read_cb_(s, s->arg_);
      }
      return;
    }
  }
  int err = n < 0 ? errno : 0;
  if (n < 0 && would_block(err)) {
    return;
  }
  // EOF or error: reading stops, as with a bufferevent.
  s->read_enabled_ = false;
  event_del(s->read_ev_);
  s->read_registered_ = false;
  s->del_read_timer();
  if (s->event_cb_ != nullptr) {
    errno = err;
    s->event_cb_(s,
                 static_cast<short>((n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR) | BEV_EVENT_READING),
                 s->arg_);
  }
}

void Stream::on_read_timeout(void* arg) {
  auto* s = static_cast<Stream*>(arg);
  s->read_enabled_ = false;
  if (s->event_cb_ != nullptr) {
    s->event_cb_(s, BEV_EVENT_TIMEOUT | BEV_EVENT_READING, s->arg_);
  }
}

void Stream::on_write_timeout(void* arg) {
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

void tune_socket(Stream* s) {
  if (s->fd() < 0) {
    return;
  }
  int one = 1;
  setsockopt(s->fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  s->set_max_single_read(64 * 1024);
}

}  // namespace sy::proxy
