#pragma once
// Stream: a non-blocking socket with an input and an output evbuffer, driven by one worker's
// event_base. It replaces libevent's bufferevent on the hot path because a bufferevent costs
// about five epoll_ctl and two FIONREAD ioctls per proxied request (measured with strace -c
// under wrk; see docs/decisions.md). A Stream instead does what HAProxy and nginx do:
//
//  * Speculative writes: data added to output() is written at the end of the current callback
//    batch (through an activated, never-polled event: no syscall to schedule it). EV_WRITE is
//    registered with epoll only when the kernel buffer is full (EAGAIN).
//  * Lazy read disable: disable(EV_READ) only sets a flag; the fd stays registered and is
//    removed from epoll only if it actually becomes readable while disabled. A request/response
//    cycle with a quiet peer therefore costs no epoll_ctl at all.
//  * One read() into a per-thread scratch buffer, appended to input(): no FIONREAD ioctl and
//    no 64 KiB evbuffer chain allocated per read.
//
// The callback contract mirrors bufferevent's so that the connection state machine reads the
// same: read_cb after new input arrived (while reading is enabled); write_cb after a write left
// at most the write low-water mark in output(); event_cb with BEV_EVENT_* flags for CONNECTED,
// EOF, ERROR (errno set) and TIMEOUT (with READING or WRITING; that direction is disabled).
// Every callback is the last thing a Stream method does, so a callback may free the Stream.
//
// TLS (start_tls_server, start_tls_client): the same Stream over an OpenSSL SSL on the same fd, so
// the HTTP code above it does not change. The handshake runs first on the Stream's own events
// (read_cb is called only once decrypted application data arrived); then reads go SSL_read ->
// input() and writes output() -> SSL_write in records of at most 16 KiB. WANT_READ/WANT_WRITE map
// onto the same EAGAIN handling; data OpenSSL already decrypted but we did not take (a read budget,
// or reading disabled) is picked up by re-activating the read event, since epoll cannot see it.
//
// In-memory pair (make_pair): two Streams without a socket, each one's output moving into the
// other's input by evbuffer_remove_buffer from the same scheduled flush, with the same
// callbacks: read_cb when bytes arrived, write_cb at the low-water mark, EOF when the peer is
// destroyed or called shutdown_write(). While the reader has reading disabled, the bytes stay
// in the writer's output (so the writer's high/low-water logic sees the backpressure) and move
// when the reader enables reading again. No fd, no syscall; no timeouts on the write side.
// Used by tests and fuzz targets to drive a connection without a socket.
//
// Splice (the tunnel fast path, proxy/stream_splice.cpp): once a connection is a byte tunnel,
// splice(a, b) makes each Stream's reads go straight to the other's socket: on readable, one
// recv() into the per-thread scratch and, when the peer's output is empty and its socket was
// not full, one send() of the same bytes in the same callback: no input evbuffer, no chain, no
// scheduled flush, no read_cb. Only what send() did not take is appended to the peer's output
// (its EV_WRITE is registered at once on EAGAIN) and flushed the usual way. Backpressure: at
// |high_water| bytes queued in the peer's output a Stream stops reading, and resumes once the
// peer's flushes bring it to half of that. EOF, errors and timeouts are reported through
// event_cb exactly as without the splice; write errors on the peer are left to the peer's own
// scheduled flush (never reported from the reader's callback). Bytes still in a Stream's input
// when it was spliced (or that arrive while its input is not empty) go the ordinary way first,
// so order is kept. Plain sockets only: splice() refuses TLS and in-memory Streams (their
// tunnels keep the evbuffer path).

#include <sys/socket.h>
#include <sys/time.h>

#include <cstddef>
#include <cstdint>

#include "proxy/lazy_timer.h"

struct event;
struct event_base;
struct ssl_st;
struct evbuffer;
struct evbuffer_cb_info;

namespace sy::proxy {

class Stream {
 public:
  using DataCb = void (*)(Stream* s, void* arg);
  using EventCb = void (*)(Stream* s, short what, void* arg);

  // Takes ownership of |fd| (closed by the destructor); -1 for a Stream that will connect().
  Stream(event_base* base, int fd);
  // Two connected in-memory Streams (see above); the caller owns both, either may be freed
  // first (the other then reports EOF).
  static void make_pair(event_base* base, Stream** a, Stream** b);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  void set_callbacks(DataCb read_cb, DataCb write_cb, EventCb event_cb, void* arg);
  // nullptr = no timeout. Read: peer silence while reading is enabled. Write: no progress
  // while output is pending (also bounds connect()).
  void set_timeouts(const timeval* read, const timeval* write);
  void set_write_low_water(size_t bytes) { write_low_ = bytes; }
  void set_max_single_read(size_t bytes) { max_read_ = bytes; }

  void enable(short what);  // EV_READ and/or EV_WRITE
  void disable(short what);
  bool read_enabled() const { return read_enabled_; }

  evbuffer* input() { return input_; }
  evbuffer* output() { return output_; }
  int fd() const { return fd_; }

  // Makes this a TLS server stream: takes ownership of |ssl| (in accept state, not yet bound
  // to a socket) and runs the handshake once enabled. A failed handshake is reported as
  // ERROR|READING, one not finished within |handshake_timeout| as TIMEOUT|READING. Call once,
  // before enable().
  void start_tls_server(ssl_st* ssl, const timeval& handshake_timeout);
  // Makes this a TLS client stream: takes ownership of |ssl| (in connect state) and runs the
  // handshake right after the TCP connect succeeds; CONNECTED is reported only once the
  // handshake is done. |handshake_timeout| counts from this call (so it bounds connect and
  // handshake together). A failed handshake is reported as ERROR (tls_error()/tls_errno()
  // say why, and SSL_get_verify_result on ssl() whether the peer's certificate was refused),
  // one not finished in time as TIMEOUT|READING. Call once, before connect().
  void start_tls_client(ssl_st* ssl, const timeval& handshake_timeout);
  ssl_st* ssl() const { return ssl_; }
  // After a failed client handshake: the OpenSSL error code (0 = none) and the errno of a
  // failed socket call (0 = none: the peer closed); the handshake (not the TCP connect)
  // timed out.
  unsigned long tls_error() const { return tls_error_; }
  int tls_errno() const { return tls_errno_; }
  bool tls_timed_out() const { return tls_timed_out_; }
  bool handshake_done() const { return ssl_ != nullptr && !handshaking_; }
  // The TLS handshake completed (whatever happened after it).
  bool handshake_succeeded() const { return handshake_ok_; }
  // The stream failed (handshake, TLS read or write error, handshake timeout).
  bool tls_failed() const { return tls_failed_; }
  // Ends the write direction: a TLS close_notify first (best effort, never blocks), then
  // shutdown(SHUT_WR). For a lingering close once output() is empty.
  void shutdown_write();

  // Writes now what a scheduled flush would write later in this loop iteration. For the owner
  // to call after it finished handling an event, so a response leaves before the rest of the
  // batch is processed (lower tail latency). Never calls a callback: errors, EAGAIN and the
  // write_cb are left to the scheduled flush.
  void flush_now();

  // Splices |a| and |b| (see above); |a_to_b| and |b_to_a| count the bytes relayed each way.
  // Returns false (and changes nothing) if either is null, TLS, in-memory or unconnected.
  // Undone by destroying either Stream.
  static bool splice(Stream* a, Stream* b, uint64_t* a_to_b, uint64_t* b_to_a, size_t high_water);
  bool spliced() const { return splice_peer_ != nullptr; }

  // Starts a non-blocking connect. 0: in progress or done (event_cb reports CONNECTED or
  // ERROR later); -1: failed at once (errno set, no callback).
  int connect(const sockaddr* addr, socklen_t len);

 private:
  static void on_readable(int fd, short what, void* arg);
  static void on_writable(int fd, short what, void* arg);
  static void on_flush(int fd, short what, void* arg);
  static void on_read_timeout(void* arg);
  static void on_write_timeout(void* arg);
  static void on_output_changed(evbuffer* buf, const evbuffer_cb_info* info, void* arg);
  static void on_mem_readable(int fd, short what, void* arg);
  // In-memory pair: moves output into the peer's input. Same contract as write_some.
  bool write_mem(bool* wrote);

  void schedule_flush();
  // Splice: one recv() relayed to the peer; returns recv's result (> 0 also when reading was
  // paused instead), <= 0 for the caller's EOF/error handling.
  ssize_t relay(int fd);
  void pause_splice();
  // After this Stream wrote: lets a peer paused on our full output read again.
  void resume_splice_peer();
  // Writes what the kernel takes. Returns false after reporting an error through event_cb
  // (the Stream may be gone); true otherwise, with *wrote set when any byte was written.
  bool write_some(bool* wrote);
  void finish_connect();
  void arm_read_timer();
  void arm_write_timer();
  void del_read_timer() { read_timer_.disarm(); }
  void del_write_timer() { write_timer_.disarm(); }
  void watch_writable(bool on);
  // TLS: drives the handshake; returns false after reporting a failure through event_cb.
  bool continue_handshake();
  static void on_handshake_timeout(int fd, short what, void* arg);
  // TLS: reads what OpenSSL gives, up to the read budget, and calls read_cb/event_cb.
  void read_tls();
  // TLS: SSL_write from output(); same contract as the plain loop in write_some.
  // Returns 1 = progress or EAGAIN-equivalent, -1 = fatal (errno or an OpenSSL error).
  int write_tls(size_t* written, size_t budget);

  event_base* base_;
  int fd_;
  evbuffer* input_;
  evbuffer* output_;
  event* read_ev_ = nullptr;   // EV_READ | EV_PERSIST on fd_
  event* write_ev_ = nullptr;  // EV_WRITE | EV_PERSIST on fd_, added only on EAGAIN/connect
  event* flush_ev_ = nullptr;  // activated by hand, never polled
  // Inactivity timeouts, re-armed on every read or write: lazy (proxy/lazy_timer.h).
  LazyTimer read_timer_;
  LazyTimer write_timer_;
  DataCb read_cb_ = nullptr;
  DataCb write_cb_ = nullptr;
  EventCb event_cb_ = nullptr;
  void* arg_ = nullptr;
  timeval read_tv_{};
  timeval write_tv_{};
  size_t write_low_ = 0;
  size_t max_read_ = 64 * 1024;
  bool has_read_tv_ = false;
  bool has_write_tv_ = false;
  bool read_enabled_ = false;
  bool write_enabled_ = false;
  bool read_registered_ = false;   // read_ev_ is in epoll
  bool write_registered_ = false;  // write_ev_ is in epoll
  bool flush_scheduled_ = false;
  bool wrote_early_ = false;  // flush_now() wrote; the scheduled flush owes the write_cb
  bool connecting_ = false;

  // --- in-memory pair (all unused when mem_ is false) ---
  bool mem_ = false;
  Stream* peer_ = nullptr;     // null once the peer is gone
  bool mem_eof_ = false;       // the peer is gone or shut its write side
  bool mem_new_data_ = false;  // bytes arrived since the last read_cb
  bool mem_eof_reported_ = false;
  bool mem_waiting_ = false;  // output held because the peer is not reading

  // --- splice (all unused when splice_peer_ is null) ---
  Stream* splice_peer_ = nullptr;     // reads go to its socket / output; it splices to us
  uint64_t* splice_count_ = nullptr;  // bytes relayed to the peer
  size_t splice_high_ = 0;            // stop reading at this much queued in the peer's output
  bool splice_paused_ = false;        // reading stopped by the splice (not by the owner)

  // --- TLS (all unused when ssl_ is null) ---
  ssl_st* ssl_ = nullptr;  // owned
  event* handshake_timer_ = nullptr;
  bool handshaking_ = false;
  bool tls_failed_ = false;         // fatal TLS error: no close_notify on close
  bool tls_shutdown_sent_ = false;  // close_notify sent
  short tls_pending_end_ = 0;       // EOF/ERROR seen after data: reported on the next read round
  int tls_pending_errno_ = 0;
  bool read_wants_write_ = false;  // SSL_read returned WANT_WRITE: retry on writable
  bool write_wants_read_ = false;  // SSL_write returned WANT_READ: retry after a read
  size_t tls_retry_len_ = 0;       // length of an SSL_write to repeat after WANT_*; 0 = none
  bool tls_client_ = false;        // start_tls_client: CONNECTED after the handshake
  bool tls_timed_out_ = false;     // the handshake timer fired
  bool handshake_ok_ = false;      // SSL_do_handshake returned 1
  int tls_errno_ = 0;              // failed handshake: socket errno (0 = none)
  unsigned long tls_error_ = 0;    // failed handshake: OpenSSL error code (0 = none)
};

// Per-socket set-up once connected: no Nagle delay (whole messages are written), and 64 KiB
// reads so bulk bodies take few syscalls. Harmless on an in-memory Stream.
void tune_socket(Stream* s);

}  // namespace sy::proxy
