#include "admin/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <cstring>
#include <string_view>
#include <thread>

#include "admin/token.h"
#include "common/log.h"

namespace sy::admin {

namespace {

constexpr int kTimeoutSeconds = 10;  // per request, both ways: a slow client is dropped
constexpr size_t kMaxHeaders = 8192;

std::string sockaddr_text(const sockaddr_storage& ss) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    port = ntohs(a->sin_port);
    return std::string(ip) + ":" + std::to_string(port);
  }
  const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
  port = ntohs(a->sin6_port);
  return "[" + std::string(ip) + "]:" + std::to_string(port);
}

}  // namespace

struct HttpServer::Impl {
  conf::AdminHttp conf;
  HttpHooks hooks;
  std::string token;  // "" = none required
  event_base* base = nullptr;
  evhttp* http = nullptr;
  event* stop_ev = nullptr;  // activated by stop() from the main thread: breaks the loop
  std::thread thread;
  std::string body;  // scratch: the reply being built (this thread only)

  static void on_request(evhttp_request* req, void* arg);
  void handle(evhttp_request* req);
  void reply(evhttp_request* req, int code, const char* reason, const char* type,
             std::string_view text);
};

void HttpServer::Impl::reply(evhttp_request* req, int code, const char* reason, const char* type,
                             std::string_view text) {
  evkeyvalq* h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", type);
  evhttp_add_header(h, "Cache-Control", "no-store");
  evbuffer* out = evhttp_request_get_output_buffer(req);
  evbuffer_add(out, text.data(), text.size());
  evhttp_send_reply(req, code, reason, nullptr);
}

void HttpServer::Impl::on_request(evhttp_request* req, void* arg) {
  static_cast<Impl*>(arg)->handle(req);
}

void HttpServer::Impl::handle(evhttp_request* req) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* p = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
  std::string_view path = p != nullptr && *p != '\0' ? p : "/";
  constexpr const char* kText = "text/plain; charset=utf-8";
  if (path == "/live") {  // liveness needs no token: it says nothing but "the loop runs"
    reply(req, 200, "OK", kText, "live\n");
    return;
  }
  if (!token.empty()) {
    const char* auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    std::string_view a = auth != nullptr ? auth : "";
    if (a.substr(0, kBearer.size()) != kBearer ||
        !token_matches(std::string(a.substr(kBearer.size())), token)) {
      evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                        "Bearer realm=\"switchyard\"");
      reply(req, 401, "Unauthorized", kText,
            auth == nullptr ? "send Authorization: Bearer <token> (admin.http.token_file)\n"
                            : "wrong token\n");
      return;
    }
  }
  body.clear();
  if (path == "/metrics") {
    hooks.metrics(&body);
    reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
  } else if (path == "/ready") {
    std::string why;
    if (hooks.ready(&why)) {
      reply(req, 200, "OK", kText, "ready\n");
    } else {
      reply(req, 503, "Service Unavailable", kText, "not ready: " + why + "\n");
    }
  } else if (path == "/" || path == "/status") {
    hooks.status_page(&body);
    reply(req, 200, "OK", "text/html; charset=utf-8", body);
  } else {
    reply(req, 404, "Not Found", kText,
          "not found (this listener serves /metrics, /ready, /live and /status)\n");
  }
}

HttpServer::HttpServer(conf::AdminHttp conf, HttpHooks hooks) : impl_(std::make_unique<Impl>()) {
  impl_->conf = std::move(conf);
  impl_->hooks = std::move(hooks);
}

HttpServer::~HttpServer() {
  stop();
  if (impl_->http != nullptr) {
    evhttp_free(impl_->http);
  }
  if (impl_->stop_ev != nullptr) {
    event_free(impl_->stop_ev);
  }
  if (impl_->base != nullptr) {
    event_base_free(impl_->base);
  }
}

Result<Unit> HttpServer::start(int inherited_fd) {
  Impl& s = *impl_;
  if (!s.conf.token_file.empty()) {
    auto token = read_token_file(s.conf.token_file, "admin.http.token_file");
    if (!token.ok()) {
      return token.error();
    }
    s.token = std::move(token.value());
  }
  s.base = event_base_new();
  s.http = s.base != nullptr ? evhttp_new(s.base) : nullptr;
  if (s.http == nullptr) {
    return make_error(Errc::Internal, "admin.http: cannot create the event loop");
  }
  evhttp_set_allowed_methods(s.http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
  evhttp_set_max_headers_size(s.http, kMaxHeaders);
  evhttp_set_max_body_size(s.http, 0);
  evhttp_set_timeout(s.http, kTimeoutSeconds);
  evhttp_set_gencb(s.http, &Impl::on_request, &s);
  evhttp_bound_socket* bound =
      inherited_fd >= 0 ? evhttp_accept_socket_with_handle(s.http, inherited_fd)
                        : evhttp_bind_socket_with_handle(s.http, s.conf.address.c_str(),
                                                         static_cast<uint16_t>(s.conf.port));
  if (bound == nullptr) {
    return make_error(Errc::Io, "admin.http: cannot listen on " + s.conf.address + ":" +
                                    std::to_string(s.conf.port) + ": " + std::strerror(errno));
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  fd_ = evhttp_bound_socket_get_fd(bound);
  getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  address_ = sockaddr_text(ss);
  // event_base_loopbreak from another thread could be lost if it came before the loop started
  // (the loop clears the flag); an activated event is not.
  s.stop_ev = event_new(
      s.base, -1, 0, [](int, short, void* b) { event_base_loopbreak(static_cast<event_base*>(b)); },
      s.base);
  s.thread = std::thread([base = s.base] { event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY); });
  SY_LOG(Info, "admin http on %s (/metrics, /ready, /live, /status)%s", address_.c_str(),
         s.token.empty() ? "" : "; bearer token required");
  return ok_result();
}

void HttpServer::stop() {
  Impl& s = *impl_;
  if (s.thread.joinable()) {
    event_active(s.stop_ev, EV_READ, 1);
    s.thread.join();
  }
}

}  // namespace sy::admin
