#pragma once
// A downstream (client) connection: the socket (a Stream, cleartext or TLS), its timer, its
// place in the connection caps, and the ownership of everything behind it (nghttpx's
// ClientHandler). The protocol work is its ServerSession's: it looks once at the first bytes
// (ALPN h2, or the h2c preface) and creates an Http1Session or an Http2Session, then hands it
// every event:
//
//   Stream events, timer ──▶ ClientConnection ──▶ ServerSession ──▶ Exchange(s) ──▶ upstream
//                               (socket, timer,     (HTTP/1.1 or       (one per request /
//                                lingering close)    HTTP/2 codec)      stream)
//
// Ownership (STYLE rule 5): the Worker owns connections (its list) and frees one only through
// ConnectionScope. Every libevent callback that reaches into a connection's object graph (its
// own Stream and timer, its exchanges' upstream Streams and hold timers) opens a
// ConnectionScope; close() only marks the connection, and the outermost scope destroys it when
// it ends, so nothing is freed under a caller. A scope opened from a callback that is not the
// connection's own (a shared HTTP/2 upstream session) never destroys: it schedules the
// connection's own resume event, whose scope does.
//
// Closing: shut_down() stops the session, flushes what is queued, sends FIN and reads (and
// discards) until the client closes or kLingerMs pass, as nginx and HAProxy do: closing with
// unread input makes the kernel send a reset that can destroy the response.
//
// Thread: worker thread only, all of it.

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/thread_check.h"
#include "proxy/connection_limits.h"
#include "proxy/exchange.h"
#include "proxy/lazy_timer.h"

struct event;
struct ssl_st;

namespace sy::proxy {

class Stream;
struct TlsContexts;
struct WorkerListener;
class ClientConnection;

// What a session implements for its connection. Every call is made inside a ConnectionScope.
class ServerSession {
 public:
  virtual ~ServerSession() = default;
  virtual void on_read() = 0;             // client input grew
  virtual void on_write() = 0;            // client output drained to its low-water mark
  virtual void on_event(short what) = 0;  // EOF, ERROR or TIMEOUT (BEV_EVENT_*) from the Stream
  virtual void on_timer() = 0;            // the connection's timer fired
  virtual void on_resume() = 0;           // work the session deferred with resume_soon()
  virtual void on_peer_closed() = 0;      // the client hung up while reading was off
  virtual void on_drain() = 0;            // graceful shutdown began
  virtual void on_kill() = 0;             // the drain deadline passed: log what is in flight
};

// The worker's side: frees a connection (unlinks it; accepting may resume).
class ConnectionSet {
 public:
  virtual void destroy(ClientConnection* c) = 0;

 protected:
  ~ConnectionSet() = default;
};

class ClientConnection {
 public:
  // Takes ownership of |fd| (accepted) or of |stream| (connected; tests and fuzzing hand in
  // one end of an in-memory pair). |peer| is the client's address.
  ClientConnection(const ExchangeEnv& env, ConnectionSet* set, WorkerListener* listener,
                   ConnectionSlot slot, int fd, const sockaddr* peer);
  ClientConnection(const ExchangeEnv& env, ConnectionSet* set, WorkerListener* listener,
                   Stream* stream, const sockaddr* peer);
  ~ClientConnection();  // frees the session (its exchanges let go of their upstreams)
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  // Makes the client side TLS: takes ownership of |ssl| (a server SSL in accept state) and
  // keeps |pin| (the contexts it came from) until the connection closes. Before start().
  void use_tls(ssl_st* ssl, std::shared_ptr<const TlsContexts> pin);
  void start();
  // Graceful drain: busy connections finish; idle ones and ones without a request yet close
  // after kDrainGraceMs unless a request arrives first, which is answered, and then they close
  // (inside a ConnectionScope).
  void on_drain();
  // A request may already be on its way when the drain starts (a client reusing its
  // keep-alive connection, or one the kernel queued just before: the hitless self-upgrade
  // drains while clients keep coming); closing at once would fail it or reset it.
  static constexpr uint64_t kDrainGraceMs = 1000;
  // The drain deadline: exchanges in flight are logged as killed ('K'). The caller destroys.
  void on_kill();

  // --- for the session ---
  Stream* client() const { return client_; }
  const ExchangeEnv& env() const { return env_; }
  const ClientInfo& info() const { return info_; }
  // The address the client connected to (getsockname on first use: only a PROXY header sent
  // to a member needs it); AF_UNSPEC when the client side is no socket.
  const sockaddr_storage& local_address();
  void arm_timer(uint64_t ms);
  void disarm_timer();
  // The session's on_resume() runs from the loop soon (same loop iteration, after this
  // callback): for work that must not nest, e.g. the next pipelined request.
  void resume_soon();
  // Watches the socket for the client hanging up while reading is off (EV_CLOSED).
  void watch_close(bool on);
  // Ends the connection gracefully: the session is done; flush, FIN, lingering close.
  void shut_down();
  // Ends the connection now (frees it when the outermost ConnectionScope ends).
  void close() { close_requested_ = true; }
  bool closing() const { return close_requested_ || shutting_down_; }
  bool eof() const { return eof_; }
  bool draining() const { return draining_ || *env_.draining; }

  ClientConnection* prev_ = nullptr;  // Worker's intrusive list
  ClientConnection* next_ = nullptr;

 private:
  friend class ConnectionScope;

  static void read_cb(Stream* s, void* arg);
  static void write_cb(Stream* s, void* arg);
  static void event_cb(Stream* s, short what, void* arg);
  static void timer_cb(void* arg);
  static void resume_cb(int fd, short what, void* arg);
  static void closed_cb(int fd, short what, void* arg);
  static void proxy_header_cb(int fd, short what, void* arg);
  // The first bytes decide the protocol: false = not enough yet.
  bool choose_session();
  void count_tls();
  void linger();
  void start_io();
  // PROXY protocol listeners: reads the header off the socket (proxy/proxy_protocol.h); true
  // once it is consumed and the client's address taken from it.
  bool read_proxy_header();
  void set_peer(const sockaddr* peer);

  const ExchangeEnv& env_;
  ConnectionSet* set_;
  WorkerListener* listener_;
  Stream* client_ = nullptr;
  std::shared_ptr<const TlsContexts> tls_pin_;  // TLS listeners: keeps the SNI table alive
  ConnectionSlot slot_;                         // counted against the connection caps
  std::unique_ptr<ServerSession> session_;
  LazyTimer timer_;             // header, body, idle and linger timeouts (lazy: proxy/lazy_timer.h)
  event* resume_ev_ = nullptr;  // activated by hand: resume_soon(), deferred destruction
  event* closed_ev_ = nullptr;  // EV_CLOSED watch (watch_close)
  event* proxy_ev_ = nullptr;   // readable while the PROXY header is awaited
  std::string proxy_buf_;       // the part of the PROXY header consumed so far
  std::string label_;           // "ip:port"
  std::string ip_;              // for X-Forwarded-For
  sockaddr_storage peer_addr_{};   // the client (the PROXY header's source when there is one)
  sockaddr_storage local_addr_{};  // local_address(), once asked; AF_UNSPEC before
  uint64_t id_ = 0;                // ClientInfo::connection_id
  bool peer_trusted_ = false;   // the TCP peer is in the listener's trusted_proxies
  ClientInfo info_;
  int depth_ = 0;  // ConnectionScopes open on the stack
  bool close_requested_ = false;
  bool shutting_down_ = false;  // shut_down(): flushing, then lingering
  bool lingering_ = false;      // FIN sent; discarding input until the client closes
  bool eof_ = false;            // the client closed its side
  bool draining_ = false;
  bool tls_counted_ = false;  // its handshake's outcome is in the metrics
  ThreadOwner thread_;
};

// Open while a callback works inside a connection's object graph; the outermost one frees a
// connection that was closed meanwhile. |own| false: a callback of something the connection
// does not own (a shared upstream session) — destruction is then left to the connection's
// own resume event.
class ConnectionScope {
 public:
  explicit ConnectionScope(ClientConnection* c, bool own = true);
  ~ConnectionScope();
  ConnectionScope(const ConnectionScope&) = delete;
  ConnectionScope& operator=(const ConnectionScope&) = delete;

 private:
  ClientConnection* c_;
  bool own_;
};

}  // namespace sy::proxy
