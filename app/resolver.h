#pragma once
// Host-name members (issue 13): "app.internal:8080" in the YAML or a `pool member add` is
// resolved here, never on a worker: at start (blocking the main thread before the workers
// serve, at most resolver.timeout) and then every resolver.resolve_interval on this class's
// own thread (its own event_base and libevent's evdns). Every A and AAAA record becomes a
// member (origin "dns"); the answers go to MemberSync, which swaps the member sets like any
// other change (no connection dropped). A failed resolution keeps the last good addresses and
// says so (a warning in the log, `resolve_error` in `show pools`).
//
// Nameservers: resolver.nameservers when given (only those, no hosts file: a test or an
// operator points the proxy at a server it controls), else /etc/resolv.conf's and /etc/hosts
// first, like getaddrinfo.

#include <memory>
#include <string>
#include <thread>

#include "app/member_sync.h"
#include "conf/config.h"

struct event_base;
struct event;
struct evdns_base;

namespace sy::app {

class Resolver {
 public:
  // |sync| must outlive the resolver. Main thread.
  Resolver(const conf::Resolver& conf, MemberSync* sync);
  ~Resolver();  // stops and joins
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Resolves every host name of every pool once and applies the answers; returns when all are
  // answered or failed (evdns's own timeout). Main thread, before start().
  void resolve_now();
  // From now on every resolve_interval, on the resolver thread. No-op without host names (a
  // name added later at runtime is picked up only when the thread runs: it always does when
  // a database can add members).
  void start();
  void stop();  // any thread but the resolver's; idempotent

  struct Round;  // one pass over the names (the .cpp)
  // The last answer of |round| is in: hands them all to MemberSync. Resolver thread.
  void finish_round(const std::shared_ptr<Round>& round);

 private:
  void begin_round();  // resolver thread (or main, in resolve_now)
  static void tick_cb(int, short, void* arg);
  static void stop_cb(int, short, void* arg);

  conf::Resolver conf_;
  MemberSync* sync_;
  event_base* base_ = nullptr;
  evdns_base* dns_ = nullptr;
  event* tick_ = nullptr;
  event* stop_ = nullptr;
  std::shared_ptr<Round> round_;  // the pass in progress, if any
  bool blocking_ = false;         // resolve_now() runs the loop until the pass is done
  std::thread thread_;
};

}  // namespace sy::app
