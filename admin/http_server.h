#pragma once
// The HTTP admin listener (admin.http; docs/metrics.md): a thread of its own with its own
// libevent event_base and evhttp, never a worker's loop, serving
//
//   GET /metrics   Prometheus text format (HttpHooks::metrics)
//   GET /ready     200 "ready", or 503 with the reason (draining, no routing snapshot yet)
//   GET /live      200 while the process runs
//   GET / /status  the read-only HTML status page (HttpHooks::status_page)
//
// With a token (admin.http.token_file; required off loopback) every path but /live needs
// `Authorization: Bearer <token>`. The hooks run on this thread; they read counters with
// relaxed loads and take only short mutexes, so a scrape never waits for a worker and a worker
// never waits for a scrape.

#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "conf/config.h"

namespace sy::admin {

struct HttpHooks {
  std::function<void(std::string* out)> metrics;
  // true when ready; else |why| says what is missing.
  std::function<bool(std::string* why)> ready;
  std::function<void(std::string* out)> status_page;
};

class HttpServer {
 public:
  HttpServer(conf::AdminHttp conf, HttpHooks hooks);
  ~HttpServer();  // stops
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Reads the token file (if any), binds (or serves |inherited_fd|, a listening socket a
  // predecessor passed on in a hitless self-upgrade), starts the thread. Main thread.
  Result<Unit> start(int inherited_fd = -1);
  // Stops the loop and joins the thread; idempotent. Main thread.
  void stop();
  // "ip:port" bound (the real port when admin.http.port is 0); valid after start().
  const std::string& address() const { return address_; }
  // The listening socket (for a successor), -1 before start().
  int fd() const { return fd_; }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::string address_;
  int fd_ = -1;
};

}  // namespace sy::admin
