// proxy/forwarding.h: what a request and a response look like when they are forwarded, for
// each protocol on each side.

#include "proxy/forwarding.h"

#include <catch.hpp>

#include <map>
#include <string>
#include <vector>

using namespace sy::proxy;

namespace {

// An HttpRequest over owned storage.
struct Req {
  std::vector<std::pair<std::string, std::string>> raw;
  std::vector<Field> fields;
  HttpRequest req;
  Req(std::string method, std::string target, std::string authority,
      std::vector<std::pair<std::string, std::string>> f, Protocol protocol)
      : raw(std::move(f)), method_(std::move(method)), target_(std::move(target)),
        authority_(std::move(authority)) {
    for (const auto& [n, v] : raw) {
      fields.push_back(Field{n, v});
    }
    req.method = method_;
    req.target = target_;
    req.authority = authority_;
    req.fields = fields.data();
    req.num_fields = fields.size();
    req.protocol = protocol;
    if (protocol == Protocol::Http2 && !authority_.empty()) {
      req.host_rule = HostRule::FromPseudoField;
    }
  }

 private:
  std::string method_, target_, authority_;
};

ForwardPolicy bare(bool chunked) {
  ForwardPolicy p;
  p.add_forwarded = false;
  p.drop_underscores = false;
  p.chunked = chunked;
  return p;
}

std::map<std::string, std::string> as_map(NvList& nv) {
  std::map<std::string, std::string> m;
  for (size_t i = 0; i < nv.size(); ++i) {
    m[std::string(nv.name(i))] = std::string(nv.value(i));
  }
  return m;
}

}  // namespace

// --- an HTTP/2 request to an HTTP/1.1 member (these cases were h2_convert_test's, when an
// HTTP/2 stream was turned into HTTP/1.1 text for an internal connection) ---

TEST_CASE("an HTTP/2 request becomes an HTTP/1.1 head") {
  Req r("POST", "/a/b?c=d", "example.test:8443",
        {{"content-type", "text/plain"},
         {"cookie", "a=1"},
         {"x-context-id", "11"},
         {"cookie", "b=2"},
         {"te", "trailers"},
         {"host", "ignored.example"}},
        Protocol::Http2);
  std::string out;
  append_upstream_h1_head(r.req, bare(true), &out);
  CHECK(out == "POST /a/b?c=d HTTP/1.1\r\n"
               "Host: example.test:8443\r\n"
               "content-type: text/plain\r\n"
               "x-context-id: 11\r\n"
               "cookie: a=1; b=2\r\n"
               "Transfer-Encoding: chunked\r\n"
               "\r\n");
}

TEST_CASE("a chunked head drops content-length, an unchunked one keeps it") {
  // Request trailers announced with content-length: the body goes upstream chunked. (The
  // trailer field itself is hop-by-hop here, http1::is_hop_by_hop, and never reached the
  // member: the internal HTTP/1.1 connection dropped it before; this head drops it at once.)
  Req r("POST", "/t", "a.test", {{"content-length", "10"}, {"trailer", "x-req"}}, Protocol::Http2);
  r.req.body = BodySize::Known;
  r.req.content_length = 10;
  r.req.announces_trailer = true;
  std::string out;
  append_upstream_h1_head(r.req, bare(true), &out);
  CHECK(out == "POST /t HTTP/1.1\r\n"
               "Host: a.test\r\n"
               "Transfer-Encoding: chunked\r\n"
               "\r\n");
  out.clear();
  append_upstream_h1_head(r.req, bare(false), &out);
  CHECK(out == "POST /t HTTP/1.1\r\n"
               "Host: a.test\r\n"
               "content-length: 10\r\n"
               "\r\n");
}

TEST_CASE("without :authority the host field is kept") {
  Req r("GET", "/", "h.example",
        {{"host", "h.example"}, {"connection", "close"}, {"keep-alive", "1"}}, Protocol::Http2);
  r.req.host_rule = HostRule::AsReceived;
  std::string out;
  append_upstream_h1_head(r.req, bare(false), &out);
  CHECK(out == "GET / HTTP/1.1\r\nhost: h.example\r\n\r\n");
}

// --- HTTP/1.x requests ---

TEST_CASE("the forwarded-field policy over HTTP/1.1") {
  Req r("GET", "/p?q", "a.test",
        {{"Host", "a.test"},
         {"Connection", "keep-alive, X-Secret"},
         {"X-Secret", "1"},
         {"Keep-Alive", "5"},
         {"X-Forwarded-For", "1.1.1.1"},
         {"X_Tenant", "7"},
         {"x-forwarded-for", "2.2.2.2"},
         {"X-Forwarded-Proto", "gopher"},
         {"Expect", "100-continue"},
         {"Accept", "*/*"}},
        Protocol::Http11);
  ForwardPolicy p;
  p.client_ip = "10.0.0.9";
  p.keep_received = true;  // a trusted proxy's X-Forwarded-For is extended
  p.proto = "https";
  p.loop_guard = "X-Switchyard-Redirected";
  p.strip_expect = true;
  std::string out;
  CHECK(append_upstream_h1_head(r.req, p, &out) == 1);  // X_Tenant
  CHECK(out == "GET /p?q HTTP/1.1\r\n"
               "Host: a.test\r\n"
               "Accept: */*\r\n"
               "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 10.0.0.9\r\n"
               "X-Forwarded-Proto: https\r\n"
               "Via: 1.1 switchyard\r\n"
               "X-Switchyard-Redirected: 1\r\n"
               "\r\n");
}

TEST_CASE("X-Forwarded-For and Forwarded from an untrusted peer are replaced, not extended") {
  Req r("GET", "/", "a.test",
        {{"Host", "a.test"},
         {"X-Forwarded-For", "6.6.6.6"},
         {"Forwarded", "for=6.6.6.6;proto=https"},
         {"Accept", "*/*"}},
        Protocol::Http11);
  ForwardPolicy p;
  p.client_ip = "10.0.0.9";
  p.proto = "http";
  std::string out;
  append_upstream_h1_head(r.req, p, &out);
  CHECK(out == "GET / HTTP/1.1\r\n"
               "Host: a.test\r\n"
               "Accept: */*\r\n"
               "X-Forwarded-For: 10.0.0.9\r\n"
               "Forwarded: for=10.0.0.9;proto=http\r\n"
               "X-Forwarded-Proto: http\r\n"
               "Via: 1.1 switchyard\r\n"
               "\r\n");
  // From a trusted peer both are extended; an IPv6 peer is quoted in brackets (RFC 7239 6).
  p.keep_received = true;
  p.client_ip = "fd00::7";
  NvList nv;
  make_upstream_h2_head(r.req, p, &nv);
  auto m = as_map(nv);
  CHECK(m["x-forwarded-for"] == "6.6.6.6, fd00::7");
  CHECK(m["forwarded"] == "for=6.6.6.6;proto=https, for=\"[fd00::7]\";proto=http");
  // No Forwarded received: none is added (X-Forwarded-For is what members read).
  Req plain("GET", "/", "a.test", {{"Host", "a.test"}}, Protocol::Http11);
  make_upstream_h2_head(plain.req, p, &nv);
  CHECK(as_map(nv).count("forwarded") == 0);
}

TEST_CASE("the client's address is read through trusted proxies only") {
  std::string why;
  std::vector<sy::Cidr> trusted = {*sy::parse_cidr("10.0.0.0/8", &why),
                                   *sy::parse_cidr("fd00::/8", &why)};
  Req r("GET", "/", "a.test",
        {{"X-Forwarded-For", "203.0.113.7, 10.1.1.1"}, {"X-Forwarded-For", "10.2.2.2"}},
        Protocol::Http11);
  // An untrusted peer: its own address, whatever it claims.
  CHECK(trusted_client_ip(r.req, "198.51.100.1", false, trusted) == "198.51.100.1");
  // A trusted peer: right to left past the trusted hops, to the first address that is not one.
  CHECK(trusted_client_ip(r.req, "10.9.9.9", true, trusted) == "203.0.113.7");
  // Every hop trusted: the leftmost.
  Req inner("GET", "/", "a.test", {{"X-Forwarded-For", "10.3.3.3, fd00::1"}}, Protocol::Http11);
  CHECK(trusted_client_ip(inner.req, "10.9.9.9", true, trusted) == "10.3.3.3");
  // Garbage stops the walk at the last good address.
  Req junk("GET", "/", "a.test", {{"X-Forwarded-For", "203.0.113.7, nonsense, 10.1.1.1"}},
           Protocol::Http11);
  CHECK(trusted_client_ip(junk.req, "10.9.9.9", true, trusted) == "10.1.1.1");
  // No X-Forwarded-For: the peer.
  Req none("GET", "/", "a.test", {{"Host", "a.test"}}, Protocol::Http11);
  CHECK(trusted_client_ip(none.req, "10.9.9.9", true, trusted) == "10.9.9.9");
}

TEST_CASE("absolute-form replaces Host in place; HTTP/1.0 without Host gets one") {
  Req abs("GET", "/x", "b.example", {{"Host", "a.example"}, {"Accept", "*/*"}}, Protocol::Http11);
  abs.req.host_rule = HostRule::FromTarget;
  std::string out;
  append_upstream_h1_head(abs.req, bare(false), &out);
  CHECK(out == "GET /x HTTP/1.1\r\nHost: b.example\r\nAccept: */*\r\n\r\n");

  Req old("GET", "/", "", {{"Accept", "*/*"}}, Protocol::Http10);
  ForwardPolicy p = bare(false);
  p.fallback_host = "127.0.0.1:9001";
  out.clear();
  append_upstream_h1_head(old.req, p, &out);
  CHECK(out == "GET / HTTP/1.1\r\nAccept: */*\r\nHost: 127.0.0.1:9001\r\n\r\n");
}

// --- requests to HTTP/2 members ---

TEST_CASE("an HTTP/2 member gets pseudo-header fields first and lower-case names") {
  Req r("POST", "/svc.Echo/Say", "grpc.test",
        {{"Host", "grpc.test"},
         {"Content-Type", "application/grpc"},
         {"TE", "trailers"},
         {"Connection", "keep-alive"},
         {"Transfer-Encoding", "chunked"},
         {"X-Forwarded-For", "1.1.1.1"}},
        Protocol::Http11);
  ForwardPolicy p;
  p.client_ip = "10.0.0.9";
  p.keep_received = true;
  p.proto = "http";
  p.upstream_scheme = "https";
  NvList nv;
  make_upstream_h2_head(r.req, p, &nv);
  REQUIRE(nv.size() >= 4);
  CHECK(nv.name(0) == ":method");
  CHECK(nv.value(0) == "POST");
  CHECK(nv.name(1) == ":scheme");
  CHECK(nv.value(1) == "https");
  CHECK(nv.name(2) == ":authority");
  CHECK(nv.value(2) == "grpc.test");
  CHECK(nv.name(3) == ":path");
  CHECK(nv.value(3) == "/svc.Echo/Say");
  auto m = as_map(nv);
  CHECK(m["content-type"] == "application/grpc");
  CHECK(m["te"] == "trailers");  // gRPC needs it; the only TE value HTTP/2 allows
  CHECK(m.count("host") == 0);
  CHECK(m.count("connection") == 0);
  CHECK(m.count("transfer-encoding") == 0);
  CHECK(m["x-forwarded-for"] == "1.1.1.1, 10.0.0.9");
  CHECK(m["x-forwarded-proto"] == "http");
  CHECK(m["via"] == "1.1 switchyard");
  for (size_t i = 0; i < nv.size(); ++i) {
    for (char c : nv.name(i)) {
      CHECK_FALSE((c >= 'A' && c <= 'Z'));
    }
  }
  // A TE other than trailers is not forwarded at all.
  Req gz("GET", "/", "a.test", {{"TE", "gzip"}}, Protocol::Http11);
  make_upstream_h2_head(gz.req, p, &nv);
  CHECK(as_map(nv).count("te") == 0);
  nghttp2_nv* arr = nv.nv();
  CHECK(std::string(reinterpret_cast<char*>(arr[0].name), arr[0].namelen) == ":method");
}

// --- responses ---

TEST_CASE("a response head for an HTTP/1.x client") {
  std::vector<Field> f = {{"Content-Type", "text/plain"},
                          {"Connection", "keep-alive, X-Hop"},
                          {"X-Hop", "1"},
                          {"Transfer-Encoding", "chunked"},
                          {"Set-Cookie", "a=1"}};
  HttpResponse resp;
  resp.status = 200;
  resp.reason = "OK";
  resp.fields = f.data();
  resp.num_fields = f.size();
  resp.body = BodySize::Unknown;
  std::string out;
  append_downstream_h1_head(resp, H1Framing{true, false, false, {}}, false, &out);
  CHECK(out == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\n"
               "Via: 1.1 switchyard\r\nTransfer-Encoding: chunked\r\n\r\n");
  out.clear();
  resp.reason = "";  // from an HTTP/2 member
  resp.num_fields = 1;
  append_downstream_h1_head(resp, H1Framing{false, true, false, {}}, false, &out);
  CHECK(out == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nVia: 1.1 switchyard\r\n"
               "Connection: close\r\n\r\n");
  out.clear();
  HttpResponse hints;
  std::vector<Field> link = {{"Link", "</s.css>; rel=preload"}};
  hints.status = 103;
  hints.fields = link.data();
  hints.num_fields = 1;
  append_downstream_h1_head(hints, H1Framing{}, true, &out);
  CHECK(out == "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n");
}

TEST_CASE("an upgrade goes to an HTTP/1.1 member and its 101 back to the client") {
  // The client's Upgrade and Connection fields are hop-by-hop like any other; the policy sends
  // the upgrade the session recognised (HttpRequest::upgrade) in a form of its own.
  Req r("GET", "/chat", "a.test",
        {{"Host", "a.test"}, {"Connection", "keep-alive, Upgrade"}, {"Upgrade", "websocket"},
         {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}},
        Protocol::Http11);
  ForwardPolicy p = bare(false);
  p.upgrade = "websocket";
  std::string out;
  append_upstream_h1_head(r.req, p, &out);
  CHECK(out == "GET /chat HTTP/1.1\r\nHost: a.test\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Connection: upgrade\r\nUpgrade: websocket\r\n\r\n");
  std::vector<Field> f = {{"Upgrade", "websocket"},
                          {"Connection", "Upgrade"},
                          {"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}};
  HttpResponse resp;
  resp.status = 101;
  resp.reason = "Switching Protocols";
  resp.fields = f.data();
  resp.num_fields = f.size();
  resp.upgrade = "websocket";
  H1Framing framing;
  framing.upgrade = resp.upgrade;
  out.clear();
  append_downstream_h1_head(resp, framing, false, &out);
  CHECK(out == "HTTP/1.1 101 Switching Protocols\r\n"
               "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nVia: 1.1 switchyard\r\n"
               "Connection: upgrade\r\nUpgrade: websocket\r\n\r\n");
}

TEST_CASE("an HTTP/2 extended CONNECT goes to an HTTP/1.1 member with the proxy's key") {
  // Exchange::proxy turns the CONNECT into a GET; the client's own key (it has none to send
  // over HTTP/2, RFC 8441 5) never reaches the member.
  Req r("GET", "/chat", "a.test",
        {{"sec-websocket-version", "13"}, {"sec-websocket-protocol", "chat"},
         {"sec-websocket-key", "Y2xpZW50J3Mgb3duIGtleQ=="}},
        Protocol::Http2);
  r.req.host_rule = HostRule::FromPseudoField;
  ForwardPolicy p = bare(false);
  p.upgrade = "websocket";
  p.websocket_key = "dGhlIHNhbXBsZSBub25jZQ==";
  std::string out;
  append_upstream_h1_head(r.req, p, &out);
  CHECK(out == "GET /chat HTTP/1.1\r\nHost: a.test\r\n"
               "sec-websocket-version: 13\r\nsec-websocket-protocol: chat\r\n"
               "Connection: upgrade\r\nUpgrade: websocket\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
}

TEST_CASE("a response head for an HTTP/2 client") {
  std::vector<Field> f = {{"Content-Type", "text/plain"},
                          {"Connection", "close"},
                          {"Keep-Alive", "timeout=5"},
                          {"Content-Length", "5"}};
  HttpResponse resp;
  resp.status = 404;
  resp.fields = f.data();
  resp.num_fields = f.size();
  NvList nv;
  make_downstream_h2_head(resp, false, &nv);
  CHECK(nv.name(0) == ":status");
  CHECK(nv.value(0) == "404");
  auto m = as_map(nv);
  CHECK(m["content-type"] == "text/plain");
  CHECK(m["content-length"] == "5");
  CHECK(m["via"] == "1.1 switchyard");
  CHECK(m.count("connection") == 0);
  CHECK(m.count("keep-alive") == 0);
  make_downstream_h2_head(resp, true, &nv);
  CHECK(as_map(nv).count("via") == 0);
}

TEST_CASE("trailer text and HTTP/2 trailer fields") {
  NvList nv;
  trailer_to_nv("Grpc-Status: 0\r\ngrpc-message:  ok \r\nbroken\r\n", &nv);
  REQUIRE(nv.size() == 2);
  CHECK(nv.name(0) == "grpc-status");
  CHECK(nv.value(0) == "0");
  CHECK(nv.name(1) == "grpc-message");
  CHECK(nv.value(1) == "ok");
  std::string text;
  append_trailer_line("grpc-status", "0", &text);
  CHECK(text == "grpc-status: 0\r\n");
  CHECK(reason_phrase(307) == "Temporary Redirect");
  CHECK(reason_phrase(299) == "");
}

// --- sticky sessions (proxy/sticky.h) ---

TEST_CASE("sticky insert mode: our cookie never reaches the member, over either protocol") {
  ForwardPolicy p = bare(false);
  p.strip_cookie = "SYSRV";
  Req h1("GET", "/", "a.test",
         {{"Cookie", "a=1; SYSRV=node2; b=2"}, {"Cookie", "SYSRV=node2"}, {"X", "1"}},
         Protocol::Http11);
  std::string out;
  append_upstream_h1_head(h1.req, p, &out);
  CHECK(out == "GET / HTTP/1.1\r\nCookie: a=1; b=2\r\nX: 1\r\nHost: a.test\r\n\r\n");
  Req h2("GET", "/", "a.test", {{"cookie", "a=1"}, {"cookie", "SYSRV=n"}, {"cookie", "b=2"}},
         Protocol::Http2);
  out.clear();
  append_upstream_h1_head(h2.req, p, &out);
  CHECK(out == "GET / HTTP/1.1\r\nHost: a.test\r\ncookie: a=1; b=2\r\n\r\n");
  NvList nv;
  make_upstream_h2_head(h2.req, p, &nv);
  std::vector<std::string> cookies;
  for (size_t i = 0; i < nv.size(); ++i) {
    if (nv.name(i) == "cookie") {
      cookies.emplace_back(nv.value(i));
    }
  }
  CHECK(cookies == std::vector<std::string>{"a=1", "b=2"});
}

TEST_CASE("a Set-Cookie the proxy adds goes to HTTP/1.x and HTTP/2 clients") {
  std::vector<Field> f = {{"Set-Cookie", "app=1"}};
  HttpResponse resp;
  resp.status = 200;
  resp.reason = "OK";
  resp.fields = f.data();
  resp.num_fields = f.size();
  resp.set_cookie = "SYSRV=node1; Path=/";
  std::string out;
  append_downstream_h1_head(resp, H1Framing{}, false, &out);
  CHECK(out == "HTTP/1.1 200 OK\r\nSet-Cookie: app=1\r\nSet-Cookie: SYSRV=node1; Path=/\r\n"
               "Via: 1.1 switchyard\r\n\r\n");
  NvList nv;
  make_downstream_h2_head(resp, false, &nv);
  int ours = 0;
  for (size_t i = 0; i < nv.size(); ++i) {
    ours += nv.name(i) == "set-cookie" && nv.value(i) == "SYSRV=node1; Path=/";
  }
  CHECK(ours == 1);
}
