// proxy/h2_convert.h: preface detection and the checks an HTTP/2 request must pass.
// (How an HTTP/2 request is forwarded over HTTP/1.1 is tested in forwarding_test.cpp.)

#include "proxy/h2_convert.h"

#include <catch.hpp>

using namespace sy::proxy::h2;

TEST_CASE("the client preface is recognised, byte by byte") {
  std::string preface(kClientPreface);
  for (size_t n = 0; n < preface.size(); ++n) {
    CHECK(match_preface(preface.substr(0, n)) == PrefaceMatch::Partial);
  }
  CHECK(match_preface(preface) == PrefaceMatch::Yes);
  CHECK(match_preface(preface + "\x00\x00\x12\x04") == PrefaceMatch::Yes);
  CHECK(match_preface("GET / HTTP/1.1\r\n") == PrefaceMatch::No);
  CHECK(match_preface("P") == PrefaceMatch::Partial);
  CHECK(match_preface("PRI * HTTP/1.1\r\n\r\nSM\r\n\r\n") == PrefaceMatch::No);
  CHECK(match_preface("POST / HTTP/1.1") == PrefaceMatch::No);
}

TEST_CASE("connection-specific fields") {
  for (const char* name :
       {"Connection", "keep-alive", "Proxy-Connection", "transfer-encoding", "Upgrade", "TE"}) {
    CHECK(is_connection_specific(name));
  }
  CHECK_FALSE(is_connection_specific("content-length"));
  CHECK_FALSE(is_connection_specific("trailer"));
}

TEST_CASE("requests the proxy answers itself: CONNECT, other schemes, disagreeing names") {
  auto with = [](std::string method, std::string scheme, std::string authority, std::string path,
                 std::vector<Field> fields = {}) {
    Request r;
    r.method = std::move(method);
    r.scheme = std::move(scheme);
    r.authority = std::move(authority);
    r.path = std::move(path);
    r.fields = std::move(fields);
    return check_request(r);
  };
  CHECK(with("GET", "https", "a.test", "/x").status == 0);
  CHECK(with("GET", "HTTP", "a.test", "/x").status == 0);
  CHECK(with("OPTIONS", "http", "a.test", "*").status == 0);
  CHECK(with("GET", "http", "", "/x", {{"host", "a.test"}}).status == 0);
  CHECK(with("GET", "http", "a.test", "/x", {{"host", "A.TEST"}}).status == 0);

  Refusal connect = with("CONNECT", "", "a.test:443", "");
  CHECK(connect.status == 501);
  CHECK(std::string(connect.why) == "connect-not-supported");
  Refusal scheme = with("GET", "ftp", "a.test", "http://b.test/x");
  CHECK(scheme.status == 400);
  CHECK(std::string(scheme.why) == "bad-scheme");
  CHECK(std::string(with("GET", "http", "a.test", "http://b.test/x").why) == "bad-path");
  CHECK(std::string(with("GET", "http", "a.test", "*").why) == "bad-path");
  CHECK(std::string(with("GET", "http", "u@b.test", "/x").why) == "userinfo-in-authority");
  Refusal host = with("GET", "http", "a.test", "/x", {{"host", "b.test"}});
  CHECK(host.status == 400);
  CHECK(std::string(host.why) == "host-differs-from-authority");
  // No :authority and no host: refused as an HTTP/1.1 request without Host is.
  Refusal nohost = with("GET", "http", "", "/x");
  CHECK(nohost.status == 400);
  CHECK(std::string(nohost.why) == "missing-host");
}

TEST_CASE("extended CONNECT (RFC 8441): websocket only, then checked like any request") {
  auto with = [](std::string protocol, std::string scheme, std::string path) {
    Request r;
    r.method = "CONNECT";
    r.protocol = std::move(protocol);
    r.scheme = std::move(scheme);
    r.authority = "a.test";
    r.path = std::move(path);
    return check_request(r);
  };
  CHECK(with("websocket", "https", "/chat").status == 0);
  CHECK(with("WebSocket", "http", "/chat?x=1").status == 0);
  Refusal other = with("connect-udp", "https", "/x");
  CHECK(other.status == 501);
  CHECK(std::string(other.why) == "protocol-not-supported");
  CHECK(std::string(with("", "https", "/chat").why) == "connect-not-supported");
  CHECK(std::string(with("websocket", "ftp", "/chat").why) == "bad-scheme");
  CHECK(std::string(with("websocket", "https", "chat").why) == "bad-path");
}

TEST_CASE("the WebSocket handshake values the proxy makes for an HTTP/1.1 member") {
  // RFC 6455 1.3's worked example.
  char accept[kWebSocketAcceptLen];
  websocket_accept("dGhlIHNhbXBsZSBub25jZQ==", accept);
  CHECK(std::string_view(accept, sizeof accept) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  char a[kWebSocketKeyLen];
  char b[kWebSocketKeyLen];
  make_websocket_key(a);
  make_websocket_key(b);
  std::string_view ka(a, sizeof a);
  CHECK(ka.size() == 24);
  CHECK(ka.substr(22) == "==");  // 16 bytes in base64
  CHECK(ka.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
        std::string_view::npos);
  CHECK(ka != std::string_view(b, sizeof b));
}
