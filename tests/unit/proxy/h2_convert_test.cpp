// proxy/h2_convert.h: preface detection and the HTTP/2 -> HTTP/1.1 request head.

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

TEST_CASE("an HTTP/2 request becomes an HTTP/1.1 head") {
  Request r;
  r.method = "POST";
  r.scheme = "https";
  r.authority = "example.test:8443";
  r.path = "/a/b?c=d";
  r.fields = {{"content-type", "text/plain"},
              {"cookie", "a=1"},
              {"x-context-id", "11"},
              {"cookie", "b=2"},
              {"te", "trailers"},
              {"host", "ignored.example"}};
  std::string out;
  build_h1_request(r, true, &out);
  CHECK(out == "POST /a/b?c=d HTTP/1.1\r\n"
               "Host: example.test:8443\r\n"
               "content-type: text/plain\r\n"
               "x-context-id: 11\r\n"
               "cookie: a=1; b=2\r\n"
               "Transfer-Encoding: chunked\r\n"
               "\r\n");
}

TEST_CASE("a chunked head drops content-length, an unchunked one keeps it") {
  // Request trailers announced with content-length: the body goes upstream chunked.
  Request r;
  r.method = "POST";
  r.authority = "a.test";
  r.path = "/t";
  r.fields = {{"content-length", "10"}, {"trailer", "x-req"}};
  r.has_content_length = true;
  r.announces_trailer = true;
  std::string out;
  build_h1_request(r, true, &out);
  CHECK(out == "POST /t HTTP/1.1\r\n"
               "Host: a.test\r\n"
               "trailer: x-req\r\n"
               "Transfer-Encoding: chunked\r\n"
               "\r\n");
  out.clear();
  build_h1_request(r, false, &out);
  CHECK(out == "POST /t HTTP/1.1\r\n"
               "Host: a.test\r\n"
               "content-length: 10\r\n"
               "trailer: x-req\r\n"
               "\r\n");
}

TEST_CASE("without :authority the host field is kept") {
  Request r;
  r.method = "GET";
  r.path = "/";
  r.fields = {{"host", "h.example"}, {"connection", "close"}, {"keep-alive", "1"}};
  std::string out;
  build_h1_request(r, false, &out);
  CHECK(out == "GET / HTTP/1.1\r\nhost: h.example\r\n\r\n");
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
}
