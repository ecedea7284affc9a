// libFuzzer target for the HTTP/2 server session (proxy/http2_session.*) and everything a
// stream drives: the exchange, the HTTP/1.1 head built for the member, the upstream pool,
// response parsing and its submission as HEADERS/DATA/trailers, flow control, resets.
//
// One real Worker (not started: this thread runs its event_base) owns a ClientConnection
// whose client is one end of an in-memory Stream pair (it sees the h2c preface and runs an
// Http2Session); the fuzzer holds the other end. Each input is
//
//   byte 0        flags: bit 0 = the client reads what the server sends (else the output
//                 backs up: flow control and the output cap); bit 1 = the frames are fed in
//                 two halves with the loop run in between
//   bytes 1..     raw frames, sent after a valid preface and an empty SETTINGS frame
//
// Requests go to a canned HTTP/1.1 origin on loopback run by the same event_base: the first
// letter of the path picks its answer (see kAnswers), so the seeds reach every response shape
// (length, chunked with trailers, 1xx, 204/304, read-until-close, large, malformed).
//
// Checked beyond "no crash, no sanitizer report": once the client goes away, every connection,
// stream and upstream exchange it caused is freed without any timer firing.
// Build and run: tests/fuzz/run.sh [seconds] (or make fuzz).
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/log.h"
#include "conf/load.h"
#include "proxy/access_log.h"
#include "proxy/stream.h"
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"

using namespace sy;
using namespace sy::proxy;

namespace {

constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr unsigned char kEmptySettings[] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
constexpr int kMaxRounds = 20000;  // loop iterations before "did not settle" is a finding

// The origin's answer, by the first letter of the request path ("/b..." -> 'b').
struct Answer {
  char key;
  const char* text;
};
const Answer kAnswers[] = {
    {'a', "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"},
    {'b', "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-t\r\nConnection: close"
          "\r\n\r\n5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nx-t: 1\r\nx-u: two\r\n\r\n"},
    {'c', "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"},
    {'d', "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n"
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"},
    {'e', nullptr},  // 200 with a 300,000-byte body: more than every flow-control window
    {'f', "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close"},
    {'g', "HTTP/1.1 2x0 Bad\r\n\r\n"},
    {'h', "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nConnection: close\r\n\r\n"},
    {'i', "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nshort"},
};
const char kDefaultAnswer[] =
    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

std::string large_answer() {
  std::string body(300000, 'x');
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

struct Harness {
  conf::Config config;
  std::unique_ptr<PoolRegistry> registry;
  std::unique_ptr<AccessLogWriter> log;
  std::unique_ptr<Worker> worker;
  WorkerListener listener;
  evconnlistener* origin = nullptr;
  std::set<Stream*> origin_streams;  // accepted by the origin, alive
  std::string large;
};

Harness* h = nullptr;

void origin_done(Stream* s) {
  h->origin_streams.erase(s);
  delete s;
}

void origin_read(Stream* s, void*) {
  evbuffer* in = s->input();
  evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, nullptr);
  if (end.pos < 0) {
    return;
  }
  char line[64] = {};
  evbuffer_copyout(in, line, sizeof line - 1);
  evbuffer_drain(in, evbuffer_get_length(in));  // a body, if any, is not looked at
  const char* path = std::strchr(line, ' ');
  char key = path != nullptr && path[1] == '/' ? path[2] : 0;
  const char* text = kDefaultAnswer;
  size_t len = 0;
  for (const Answer& a : kAnswers) {
    if (a.key == key) {
      text = a.text;
    }
  }
  if (text == nullptr) {
    text = h->large.data();
    len = h->large.size();
  } else {
    len = std::strlen(text);
  }
  s->disable(EV_READ);
  evbuffer_add(s->output(), text, len);
}

void origin_write(Stream* s, void*) {
  if (evbuffer_get_length(s->output()) == 0 && !s->read_enabled()) {
    origin_done(s);  // answered: close (every answer says Connection: close)
  }
}

void origin_event(Stream* s, short, void*) { origin_done(s); }

void origin_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void*) {
  auto* s = new Stream(h->worker->base(), fd);
  h->origin_streams.insert(s);
  s->set_callbacks(origin_read, origin_write, origin_event, nullptr);
  s->enable(EV_READ | EV_WRITE);
}

// The fuzzer's end of the pair: reads (and drops) the server's output when asked to.
void client_read(Stream* s, void*) { evbuffer_drain(s->input(), evbuffer_get_length(s->input())); }
void client_write(Stream*, void*) {}
bool client_gone = false;
void client_event(Stream*, short, void*) { client_gone = true; }

// Runs the loop until nothing changes any more: no active event and the same fingerprint for a
// few rounds (loopback sockets are ready at once, so no round has to wait for the kernel).
void settle() {
  event_base* base = h->worker->base();
  uint64_t last = 0;
  int quiet = 0;
  for (int i = 0; i < kMaxRounds && quiet < 4; ++i) {
    event_base_loop(base, EVLOOP_NONBLOCK);
    const WorkerStats& st = h->worker->stats();
    uint64_t now = h->worker->connection_count() * 1000003u + h->origin_streams.size() * 7919u +
                   st.get(Stat::Requests) * 31u + st.get(Stat::UpstreamConnects) * 17u +
                   st.get(Stat::Responses2xx) + st.get(Stat::Responses4xx) +
                   st.get(Stat::Responses5xx) +
                   static_cast<uint64_t>(event_base_get_num_events(base, EVENT_BASE_COUNT_ACTIVE));
    bool active = event_base_get_num_events(base, EVENT_BASE_COUNT_ACTIVE) > 0;
    quiet = (now == last && !active) ? quiet + 1 : 0;
    last = now;
  }
}

void init() {
  signal(SIGPIPE, SIG_IGN);
  log::set_level(log::Level::Off);
  h = new Harness;  // never freed: lives for the whole run
  h->large = large_answer();

  // The origin first: its port goes into the config.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sin;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 ||
      ::listen(fd, 128) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) != 0) {
    std::perror("h2_fuzz: origin socket");
    std::abort();
  }
  std::string yaml =
      "workers: 1\n"
      "listeners: [{name: main, port: 0, pool: origin}]\n"
      "pools:\n"
      "  - name: origin\n"
      "    members: [{address: \"127.0.0.1:" +
      std::to_string(ntohs(sin.sin_port)) +
      "\"}]\n"
      "    health_check: {enabled: false}\n"
      "limits: {max_header_bytes: 4k, max_uri_bytes: 2k, max_headers: 32, max_body_bytes: 1m}\n";
  conf::LoadResult loaded = conf::load_config_string(yaml, "h2_fuzz.yaml");
  if (!loaded.ok()) {
    std::fprintf(stderr, "h2_fuzz: config: %s\n", conf::format(loaded.errors[0]).c_str());
    std::abort();
  }
  h->config = std::move(loaded.config);
  auto registry = PoolRegistry::build(h->config);
  auto log = AccessLogWriter::open("/dev/null", 1 << 20);
  if (!registry.ok() || !log.ok()) {
    std::fprintf(stderr, "h2_fuzz: set-up failed\n");
    std::abort();
  }
  h->registry = std::move(registry.value());
  h->log = std::move(log.value());
  h->worker = std::make_unique<Worker>(0, h->config, *h->registry, h->log.get(),
                                       std::vector<std::pair<const conf::Listener*, int>>{});
  h->worker->bind_to_current_thread();  // this thread runs its loop
  h->listener.worker = h->worker.get();
  h->listener.conf = &h->config.listeners[0];
  h->listener.pool = h->worker->pool_at(0);
  h->listener.pool_index = 0;
  h->origin =
      evconnlistener_new(h->worker->base(), origin_accept, nullptr, LEV_OPT_CLOSE_ON_FREE, 0, fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (h == nullptr) {
    init();
  }
  if (size == 0) {
    return 0;
  }
  const bool reads = (data[0] & 1) != 0;
  const bool halves = (data[0] & 2) != 0;
  ++data;
  --size;

  Stream* client = nullptr;  // ours
  Stream* server = nullptr;  // the ClientConnection's
  Stream::make_pair(h->worker->base(), &client, &server);
  client_gone = false;
  client->set_callbacks(client_read, client_write, client_event, nullptr);
  client->enable(reads ? EV_READ | EV_WRITE : EV_WRITE);
  evbuffer_add(client->output(), kPreface, sizeof kPreface - 1);
  evbuffer_add(client->output(), kEmptySettings, sizeof kEmptySettings);
  size_t first = halves ? size / 2 : size;
  evbuffer_add(client->output(), data, first);
  h->worker->adopt_stream(&h->listener, server, nullptr);
  settle();
  if (first < size && !client_gone) {
    evbuffer_add(client->output(), data + first, size - first);
    settle();
  }

  if (std::getenv("H2_FUZZ_VERBOSE") != nullptr) {
    const WorkerStats& st = h->worker->stats();
    std::fprintf(stderr,
                 "h2_fuzz: requests %llu, 2xx %llu, 4xx %llu, 5xx %llu, upstream %llu, "
                 "%zu bytes to the client unread, %zu connections\n",
                 static_cast<unsigned long long>(st.get(Stat::Requests)),
                 static_cast<unsigned long long>(st.get(Stat::Responses2xx)),
                 static_cast<unsigned long long>(st.get(Stat::Responses4xx)),
                 static_cast<unsigned long long>(st.get(Stat::Responses5xx)),
                 static_cast<unsigned long long>(st.get(Stat::UpstreamConnects)),
                 evbuffer_get_length(client->input()), h->worker->connection_count());
  }
  // The client goes away: everything it caused must be freed, with no timer needed.
  delete client;
  settle();
  if (h->worker->connection_count() != 0 || !h->origin_streams.empty()) {
    std::fprintf(stderr,
                 "h2_fuzz: %zu connection(s) (%llu HTTP/2 sessions) and %zu origin "
                 "stream(s) left after the client closed\n",
                 h->worker->connection_count(),
                 static_cast<unsigned long long>(h->worker->stats().get(Stat::ConnectionsActive)),
                 h->origin_streams.size());
    std::abort();
  }
  return 0;
}
