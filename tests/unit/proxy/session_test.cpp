// The HTTP/1.1 and HTTP/2 server sessions (proxy/http1_session.*, proxy/http2_session.*)
// without a socket: a real Worker (not started: the test's thread runs its event_base) adopts
// one end of an in-memory Stream pair (Stream::make_pair) as a client connection; the test
// holds the other end. The answers are the proxy's own: with routing configured and no
// snapshot published yet every request gets 503 CTX-0020 (a keep-alive answer), and without
// routing a pool whose only member is in maintenance gets 502 (the connection closes). So the
// sessions' framing, keep-alive, pipelining, errors and teardown are checked with no upstream.
// The HTTP/2 client is nghttp2's own client session.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <catch.hpp>

#include "conf/load.h"
#include "proxy/access_log.h"
#include "proxy/forwarder.h"
#include "proxy/stats.h"
#include "proxy/stream.h"
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"
#include "routing/publisher.h"

using namespace sy;
using namespace sy::proxy;

namespace {

// One worker whose only pool's member is never reached (127.0.0.1:9, discard).
struct Rig {
  conf::Config config;
  std::unique_ptr<PoolRegistry> registry;
  std::unique_ptr<AccessLogWriter> log;
  routing::SnapshotPublisher publisher;  // nothing published: every decision is CTX-0020
  RoutingSetup routing;
  std::unique_ptr<Worker> worker;
  WorkerListener listener;

  explicit Rig(bool with_routing) {
    conf::LoadResult loaded = conf::load_config_string(
        "workers: 1\n"
        "listeners: [{name: main, port: 0, pool: p}]\n"
        "pools:\n"
        "  - name: p\n"
        "    members: [{address: \"127.0.0.1:9\"}]\n"
        "    health_check: {enabled: false}\n"
        "limits: {max_header_bytes: 4k, max_uri_bytes: 2k, max_headers: 32}\n");
    REQUIRE(loaded.ok());
    config = std::move(loaded.config);
    auto r = PoolRegistry::build(config);
    REQUIRE(r.ok());
    registry = std::move(r.value());
    auto l = AccessLogWriter::open("/dev/null", 1 << 20);
    REQUIRE(l.ok());
    log = std::move(l.value());
    routing.publisher = &publisher;
    worker = std::make_unique<Worker>(0, config, *registry, log.get(),
                                      std::vector<std::pair<const conf::Listener*, int>>{},
                                      with_routing ? &routing : nullptr);
    worker->bind_to_current_thread();
    listener.worker = worker.get();
    listener.conf = &config.listeners[0];
    listener.pool = worker->pool_at(0);
    listener.pool_index = 0;
  }

  // Runs the worker's loop until |done| holds (a generous deadline: no timing assertion).
  template <typename F>
  bool run_until(F done) {
    for (int i = 0; i < 500 && !done(); ++i) {
      timeval tv{0, 10000};
      event_base_loopexit(worker->base(), &tv);
      event_base_dispatch(worker->base());
    }
    return done();
  }
  uint64_t stat(Stat s) const { return worker->stats().get(s); }
};

// The test's end of the pair: everything received, and whether the proxy closed.
struct Client {
  Stream* stream = nullptr;
  std::string received;
  bool closed = false;
  void (*on_bytes)(Client*) = nullptr;
  void* user = nullptr;

  Client(Rig& rig) {
    Stream* server = nullptr;
    Stream::make_pair(rig.worker->base(), &stream, &server);
    stream->set_callbacks(read_cb, nullptr, event_cb, this);
    stream->enable(EV_READ | EV_WRITE);
    rig.worker->adopt_stream(&rig.listener, server, nullptr);
  }
  ~Client() { delete stream; }
  void send(std::string_view bytes) { evbuffer_add(stream->output(), bytes.data(), bytes.size()); }

  static void read_cb(Stream* s, void* arg) {
    auto* c = static_cast<Client*>(arg);
    evbuffer* in = s->input();
    size_t n = evbuffer_get_length(in);
    std::string chunk(n, '\0');
    evbuffer_remove(in, chunk.data(), n);
    c->received += chunk;
    if (c->on_bytes != nullptr) {
      c->on_bytes(c);
    }
  }
  static void event_cb(Stream*, short what, void* arg) {
    if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) != 0) {
      static_cast<Client*>(arg)->closed = true;
    }
  }
};

struct H1Response {
  std::string head;  // status line and fields
  std::string body;
  int status = 0;
};

// Splits |bytes| into complete responses framed by Content-Length (|head_requests|: the
// indexes of responses to HEAD requests, which have none). Stops at an incomplete one.
std::vector<H1Response> parse_responses(const std::string& bytes,
                                        std::vector<size_t> head_requests = {}) {
  std::vector<H1Response> out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t end = bytes.find("\r\n\r\n", pos);
    if (end == std::string::npos) {
      break;
    }
    H1Response r;
    r.head = bytes.substr(pos, end + 2 - pos);
    r.status = std::atoi(r.head.c_str() + 9);
    size_t len = 0;
    size_t cl = r.head.find("Content-Length: ");
    if (cl != std::string::npos) {
      len = std::strtoul(r.head.c_str() + cl + 16, nullptr, 10);
    }
    bool is_head = false;
    for (size_t h : head_requests) {
      is_head = is_head || h == out.size();
    }
    if (is_head) {
      len = 0;
    }
    if (end + 4 + len > bytes.size()) {
      break;
    }
    r.body = bytes.substr(end + 4, len);
    pos = end + 4 + len;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

TEST_CASE("http1 session: pipelined requests are answered in order and the connection stays") {
  Rig rig(true);
  Client c(rig);
  c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
         "GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(rig.run_until([&] { return parse_responses(c.received).size() == 3; }));
  for (const H1Response& r : parse_responses(c.received)) {
    CHECK(r.head.rfind("HTTP/1.1 503 ", 0) == 0);
    CHECK(r.head.find("Retry-After: 1\r\n") != std::string::npos);
    CHECK(r.head.find("Connection: close") == std::string::npos);
    CHECK(r.body.find("\"error\":\"CTX-0020\"") != std::string::npos);
  }
  CHECK_FALSE(c.closed);
  CHECK(rig.stat(Stat::Requests) == 3);
  CHECK(rig.worker->connection_count() == 1);
  // The same connection serves a fourth request later.
  c.send("GET /d HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(rig.run_until([&] { return parse_responses(c.received).size() == 4; }));
  CHECK(rig.stat(Stat::Requests) == 4);
}

TEST_CASE("http1 session: a head arriving byte by byte is parsed once it is complete") {
  Rig rig(true);
  Client c(rig);
  const std::string req = "GET /slow HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n";
  for (char ch : req) {
    c.send(std::string_view(&ch, 1));
    rig.run_until([&] { return evbuffer_get_length(c.stream->output()) == 0; });
  }
  REQUIRE(rig.run_until([&] { return parse_responses(c.received).size() == 1; }));
  CHECK(parse_responses(c.received)[0].status == 503);
  CHECK(rig.stat(Stat::Requests) == 1);
}

TEST_CASE("http1 session: HEAD gets the head of the answer and no body") {
  Rig rig(true);
  Client c(rig);
  c.send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(rig.run_until([&] { return parse_responses(c.received, {0}).size() == 2; }));
  std::vector<H1Response> rs = parse_responses(c.received, {0});
  CHECK(rs[0].status == 503);
  CHECK(rs[0].head.find("Content-Length: ") != std::string::npos);
  CHECK(rs[0].body.empty());
  CHECK(rs[1].status == 503);
  CHECK(rs[1].body.find("CTX-0020") != std::string::npos);
}

TEST_CASE("http1 session: HTTP/1.0 without keep-alive is closed after its answer") {
  Rig rig(true);
  Client c(rig);
  c.send("GET / HTTP/1.0\r\n\r\n");
  REQUIRE(rig.run_until([&] { return c.closed; }));
  std::vector<H1Response> rs = parse_responses(c.received);
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].head.rfind("HTTP/1.1 503 ", 0) == 0);
  CHECK(rig.run_until([&] { return rig.worker->connection_count() == 0; }));
}

TEST_CASE("http1 session: a malformed head gets 400 and the connection closes") {
  Rig rig(true);
  Client c(rig);
  c.send("GET / HTTP/1.1\r\nHost x\r\n\r\n");
  REQUIRE(rig.run_until([&] { return c.closed; }));
  CHECK(c.received.rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(rig.run_until([&] { return rig.worker->connection_count() == 0; }));
}

TEST_CASE("http1 session: a head above max_header_bytes gets 431") {
  Rig rig(true);
  Client c(rig);
  c.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(5000, 'a') + "\r\n\r\n");
  REQUIRE(rig.run_until([&] { return c.closed; }));
  CHECK(c.received.rfind("HTTP/1.1 431 ", 0) == 0);
}

TEST_CASE("http1 session: no member in service answers 502 and closes") {
  Rig rig(false);
  rig.registry->pools()[0]->members()->at(0)->admin.store(
      static_cast<uint8_t>(MemberAdminState::Maintenance));
  Client c(rig);
  c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(rig.run_until([&] { return c.closed; }));
  std::vector<H1Response> rs = parse_responses(c.received);
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 502);
  CHECK(rs[0].head.find("Connection: close\r\n") != std::string::npos);
  CHECK(rig.stat(Stat::UpstreamConnects) == 0);
}

TEST_CASE("http1 session: a client gone in the middle of a head frees the connection") {
  Rig rig(true);
  auto c = std::make_unique<Client>(rig);
  c->send("GET / HTTP/1.1\r\nHo");
  rig.run_until([&] { return evbuffer_get_length(c->stream->output()) == 0; });
  CHECK(rig.worker->connection_count() == 1);
  c.reset();
  CHECK(rig.run_until([&] { return rig.worker->connection_count() == 0; }));
  CHECK(rig.stat(Stat::Requests) == 0);
}

namespace {

// nghttp2's client session on the test's end of the pair.
struct H2Client {
  struct Resp {
    int status = 0;
    std::string body;
    bool closed = false;
    uint32_t error_code = 0;
  };
  Client& c;
  nghttp2_session* session = nullptr;
  std::map<int32_t, Resp> streams;
  bool goaway = false;

  explicit H2Client(Client& client) : c(client) {
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame);
    nghttp2_session_client_new(&session, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
    c.user = this;
    c.on_bytes = [](Client* cl) {
      auto* self = static_cast<H2Client*>(cl->user);
      nghttp2_session_mem_recv(self->session, reinterpret_cast<const uint8_t*>(cl->received.data()),
                               cl->received.size());
      cl->received.clear();
      self->flush();
    };
    flush();
  }
  ~H2Client() {
    c.on_bytes = nullptr;
    nghttp2_session_del(session);
  }
  void flush() {
    const uint8_t* data;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(session, &data)) > 0) {
      c.send(std::string_view(reinterpret_cast<const char*>(data), static_cast<size_t>(n)));
    }
  }
  // Submits a request with these header fields (as given: may be invalid on purpose).
  int32_t request(const std::vector<std::pair<std::string, std::string>>& fields) {
    std::vector<nghttp2_nv> nva;
    for (const auto& [k, v] : fields) {
      nva.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(k.data())),
                               reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), k.size(),
                               v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    int32_t id = nghttp2_submit_request(session, nullptr, nva.data(), nva.size(), nullptr, this);
    REQUIRE(id > 0);
    streams[id];
    flush();
    return id;
  }
  int32_t get(const std::string& path) {
    return request({{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", path}});
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name,
                       size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto* self = static_cast<H2Client*>(user);
    if (std::string_view(reinterpret_cast<const char*>(name), namelen) == ":status") {
      self->streams[f->hd.stream_id].status =
          std::atoi(std::string(reinterpret_cast<const char*>(value), valuelen).c_str());
    }
    return 0;
  }
  static int on_data(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                     void* user) {
    static_cast<H2Client*>(user)->streams[id].body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }
  static int on_close(nghttp2_session*, int32_t id, uint32_t error_code, void* user) {
    auto& r = static_cast<H2Client*>(user)->streams[id];
    r.closed = true;
    r.error_code = error_code;
    return 0;
  }
  static int on_frame(nghttp2_session*, const nghttp2_frame* f, void* user) {
    if (f->hd.type == NGHTTP2_GOAWAY) {
      static_cast<H2Client*>(user)->goaway = true;
    }
    return 0;
  }
};

}  // namespace

TEST_CASE("http2 session: concurrent streams on one connection each get their answer") {
  Rig rig(true);
  Client c(rig);
  H2Client h2(c);
  int32_t a = h2.get("/a");
  int32_t b = h2.get("/b");
  int32_t d = h2.get("/d");
  REQUIRE(rig.run_until(
      [&] { return h2.streams[a].closed && h2.streams[b].closed && h2.streams[d].closed; }));
  for (int32_t id : {a, b, d}) {
    CHECK(h2.streams[id].status == 503);
    CHECK(h2.streams[id].error_code == NGHTTP2_NO_ERROR);
    CHECK(h2.streams[id].body.find("\"error\":\"CTX-0020\"") != std::string::npos);
  }
  CHECK_FALSE(h2.goaway);
  CHECK_FALSE(c.closed);
  CHECK(rig.stat(Stat::Requests) == 3);
  CHECK(rig.worker->connection_count() == 1);
}

TEST_CASE("http2 session: a malformed request is reset and the session goes on") {
  Rig rig(true);
  Client c(rig);
  H2Client h2(c);
  int32_t bad = h2.request({{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}});
  REQUIRE(rig.run_until([&] { return h2.streams[bad].closed; }));
  CHECK(h2.streams[bad].status == 0);
  CHECK(h2.streams[bad].error_code == NGHTTP2_PROTOCOL_ERROR);
  int32_t good = h2.get("/ok");
  REQUIRE(rig.run_until([&] { return h2.streams[good].closed; }));
  CHECK(h2.streams[good].status == 503);
  CHECK_FALSE(c.closed);
}

TEST_CASE("http2 session: HEAD gets a head and no DATA") {
  Rig rig(true);
  Client c(rig);
  H2Client h2(c);
  int32_t id =
      h2.request({{":method", "HEAD"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/h"}});
  REQUIRE(rig.run_until([&] { return h2.streams[id].closed; }));
  CHECK(h2.streams[id].status == 503);
  CHECK(h2.streams[id].body.empty());
  CHECK(h2.streams[id].error_code == NGHTTP2_NO_ERROR);
}

TEST_CASE("http2 session: the client going away frees the connection") {
  Rig rig(true);
  auto c = std::make_unique<Client>(rig);
  {
    H2Client h2(*c);
    int32_t id = h2.get("/a");
    REQUIRE(rig.run_until([&] { return h2.streams[id].closed; }));
  }
  CHECK(rig.worker->connection_count() == 1);
  c.reset();
  CHECK(rig.run_until([&] { return rig.worker->connection_count() == 0; }));
}

TEST_CASE("http2 session: garbage after the preface ends the session with GOAWAY") {
  Rig rig(true);
  Client c(rig);
  c.send(std::string_view(NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN));
  // A frame header announcing a DATA frame on stream 0: a connection error.
  c.send(std::string("\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00", 10));
  REQUIRE(rig.run_until([&] { return c.closed; }));
  // The server's SETTINGS and then a GOAWAY (type 7) came back before the close.
  CHECK(c.received.find(std::string("\x07\x00\x00\x00\x00\x00", 6)) != std::string::npos);
  CHECK(rig.run_until([&] { return rig.worker->connection_count() == 0; }));
}
