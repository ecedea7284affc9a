#pragma once
// The hitless self-upgrade (DESIGN decision 8; docs/decisions.md 48): a successor process takes
// the listening sockets of the running one over a Unix socket with SCM_RIGHTS, starts serving on
// them, then tells the old process, which stops accepting, drains and exits. The listening
// sockets are never closed in between, so no connection is refused or reset.
//
// The rendezvous is the *listener lock*: one abstract Unix socket per listener address,
// "\0switchyard/listen/<ip:port>", bound and listening for as long as a process holds the
// listener. It is
//   - the guard against a second instance: SO_REUSEPORT would let it join the port and split
//     the traffic, but the lock name is taken (EADDRINUSE) and SO_PEERCRED on a connection to it
//     names the holder's pid. The kernel frees the name when the last holder dies, kill -9
//     included: no stale file to clean up;
//   - the takeover channel: the holder's HandoverServer accepts on it (a peer of the same uid
//     only) and offers every socket; the successor receives the lock sockets too and calls
//     listen() on them again, which makes SO_PEERCRED report the successor from then on.
//
// Conversation (SOCK_SEQPACKET: one message each, fds travel with the message that names them):
//
//   successor                           holder
//     "TAKEOVER 1"               ──▶
//                                ◀──    "SOCKETS" + lines "<kind> <key>", one fd per line
//                                       (several messages, at most kMaxFdsPerMessage fds each)
//                                ◀──    "END <total>"
//     (binds what is new, starts the workers, the admin server, writes the ready file)
//     "SERVING <pid>"            ──▶
//                                       stops accepting takeovers, starts its drain
//                                ◀──    "DRAINING <pid>"
//
// A successor that fails before "SERVING" (bad configuration, database down) just exits: the
// holder keeps serving and accepts the next takeover.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"

namespace sy::proxy {

// What a passed socket is. The key matches it to the successor's configuration.
enum class HandoverKind {
  Listen,     // a listening TCP socket of a listener (one per old worker); key: listener_key()
  Lock,       // the listener's lock socket; key: listener_key()
  AdminUnix,  // the admin Unix socket; key: its path
  AdminTcp,   // the admin TCP listener; key: configured "address:port"
  AdminHttp,  // the admin HTTP listener (/metrics, /ready); key: configured "address:port"
};

const char* to_string(HandoverKind kind);

struct HandoverSocket {
  HandoverKind kind = HandoverKind::Listen;
  std::string key;  // no spaces or newlines (checked by the encoder)
  int fd = -1;      // owned by whoever holds the HandoverSocket
};

// The key of a listener: "<address>:<port>" as configured, plus "/<name>" when the port is 0
// (the kernel picked the port, so the same name is what makes it the same listener). Pure.
std::string listener_key(std::string_view name, std::string_view address, int port);

// --- the codec (pure: bytes and fd counts in, values out; unit-tested without sockets) ---

constexpr size_t kMaxFdsPerMessage = 64;  // below the kernel's SCM_MAX_FD (253)
constexpr size_t kMaxMessageBytes = 16384;

// One "SOCKETS" message per batch of at most kMaxFdsPerMessage entries, in order; the fds to
// attach to message i are those of the entries it names. Fails on a key with a space, newline
// or NUL, or an empty key. Pure.
Result<std::vector<std::string>> encode_offer(const std::vector<HandoverSocket>& sockets);
std::string encode_end(size_t total);

// A parsed holder message: a batch of sockets (fds filled from |fds| in order) or the end.
struct OfferMessage {
  bool end = false;
  size_t total = 0;                     // end: how many sockets were sent in all
  std::vector<HandoverSocket> sockets;  // not end: one per line, fd from |fds|
};
// Parses one message |text| that arrived with |fds| (in order). Fails when the count of lines
// and fds differ, a kind is unknown, a key is empty, or the message is neither SOCKETS nor END.
// Does not close |fds| (the caller does on error). Pure.
Result<OfferMessage> decode_offer(std::string_view text, const std::vector<int>& fds);

// "TAKEOVER 1", "SERVING <pid>", "DRAINING <pid>". parse_pid_message returns the pid after
// |word|, or an error naming what arrived instead. Pure.
constexpr std::string_view kTakeoverRequest = "TAKEOVER 1";
std::string pid_message(std::string_view word, pid_t pid);
Result<pid_t> parse_pid_message(std::string_view text, std::string_view word);

// --- the lock ---

// The abstract name of the lock for |bound_address| ("127.0.0.1:8080", "[::1]:8080").
std::string lock_name(std::string_view bound_address);

struct LockAttempt {
  int fd = -1;       // >= 0: the lock is ours (listening, non-blocking, close-on-exec)
  pid_t holder = 0;  // fd < 0: the holder's pid (0 = unknown: it could not be asked)
};
// Takes the lock for |bound_address|, or reports who holds it. Main thread; does not block.
Result<LockAttempt> take_lock(std::string_view bound_address);
// Calls listen() again on a received lock socket so that its holder, as seen by SO_PEERCRED, is
// this process. Main thread.
Result<Unit> adopt_lock(int fd);

// --- the successor's side ---

// A takeover in progress, from the successor's side. Owns the connection; the sockets it
// received are handed out by take_sockets() and then owned by the caller.
class TakeoverClient {
 public:
  // Connects to the lock of |bound_address|, asks for the sockets and receives them all.
  // Main thread; blocks up to |timeout| (the holder answers at once unless another takeover is
  // in progress). On error every fd received so far is closed.
  static Result<TakeoverClient> connect(std::string_view bound_address,
                                        std::chrono::milliseconds timeout);
  TakeoverClient(TakeoverClient&& other) noexcept;
  TakeoverClient& operator=(TakeoverClient&&) = delete;
  ~TakeoverClient();  // closes the connection and every socket not taken

  pid_t holder() const { return holder_; }
  std::vector<HandoverSocket>& sockets() { return sockets_; }
  // Tells the holder that this process serves now and waits (up to |timeout|) for its
  // "DRAINING". Main thread.
  Result<Unit> confirm_serving(std::chrono::milliseconds timeout);

 private:
  TakeoverClient() = default;
  int fd_ = -1;
  pid_t holder_ = 0;
  std::vector<HandoverSocket> sockets_;
};

// --- the holder's side ---

// Serves takeovers on the lock sockets (borrowed; they stay open) from its own thread: one
// conversation at a time, peers of another uid refused. |offer| returns the sockets to pass
// (borrowed fds; called on the handover thread). |on_handed_over| runs on the handover thread
// once a successor says it serves; afterwards the server answers nothing more (its lock sockets
// stay open until the process exits: the successor has them too).
class HandoverServer {
 public:
  HandoverServer(std::vector<int> lock_fds, std::function<std::vector<HandoverSocket>()> offer,
                 std::function<void(pid_t successor)> on_handed_over);
  ~HandoverServer();  // stops
  HandoverServer(const HandoverServer&) = delete;
  HandoverServer& operator=(const HandoverServer&) = delete;

  Result<Unit> start();  // main thread
  void stop();           // main thread; idempotent

  // How long a successor may take between receiving the sockets and "SERVING" (loading a big
  // tenant directory, waiting for the database) before the holder gives up on it.
  static constexpr std::chrono::milliseconds kSuccessorStartTimeout{300000};

 private:
  void run();
  // One conversation on the accepted |fd|; true when the successor took over.
  bool serve(int fd);

  std::vector<int> lock_fds_;
  std::function<std::vector<HandoverSocket>()> offer_;
  std::function<void(pid_t)> on_handed_over_;
  int stop_fd_ = -1;  // eventfd: stop() wakes the poll
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace sy::proxy
