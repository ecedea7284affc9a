#include "proxy/http1_parser.h"

#include <catch.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace sy::http1;

namespace {

// The parsed views point into |text|, which the result owns on the heap so that they stay
// valid however the result is moved (a temporary argument would leave them dangling).
struct Req {
  ParseResult r;
  RequestHead head;
  std::vector<Header> storage = std::vector<Header>(128);
  std::unique_ptr<std::string> text;
};

Req parse_req(const std::string& s, Limits limits = {}) {
  Req out;
  out.text = std::make_unique<std::string>(s);
  out.head.headers = out.storage.data();
  out.r = parse_request(out.text->data(), out.text->size(), limits, &out.head);
  return out;
}

ParseError req_error(const std::string& s, Limits limits = {}) {
  Req r = parse_req(s, limits);
  REQUIRE(r.r.status == ParseStatus::Error);
  return r.head.error;
}

struct Resp {
  ParseResult r;
  ResponseHead head;
  std::vector<Header> storage = std::vector<Header>(128);
  std::unique_ptr<std::string> text;  // as in Req
};

Resp parse_resp(const std::string& s) {
  Resp out;
  out.text = std::make_unique<std::string>(s);
  out.head.headers = out.storage.data();
  out.r = parse_response(out.text->data(), out.text->size(), Limits{}, &out.head);
  return out;
}

// Feeds |body| to a fresh decoder in pieces of |step| bytes the way a connection does: payload
// is taken directly, framing is parsed from the bytes buffered so far. Returns the payload, or
// "ERROR:<why>" on error, or "INCOMPLETE".
std::string decode_chunked(const std::string& body, size_t step, std::string* trailer = nullptr) {
  ChunkedDecoder d;
  std::string pending;
  std::string payload;
  size_t fed = 0;
  while (!d.done()) {
    if (d.data_remaining() > 0 && !pending.empty()) {
      size_t n = std::min<uint64_t>(d.data_remaining(), pending.size());
      payload += pending.substr(0, n);
      pending.erase(0, n);
      d.consume_data(n);
      continue;
    }
    if (d.data_remaining() == 0 && !pending.empty()) {
      ParseResult r = d.parse_framing(pending.data(), pending.size());
      if (r.status == ParseStatus::Error) {
        return std::string("ERROR:") + to_string(d.error());
      }
      if (r.status == ParseStatus::Complete && d.done() && trailer != nullptr) {
        *trailer = std::string(d.trailer());
      }
      pending.erase(0, r.consumed);
      if (r.status == ParseStatus::Complete) {
        continue;
      }
    }
    if (fed >= body.size()) {
      return "INCOMPLETE";
    }
    pending += body.substr(fed, step);
    fed += step;
  }
  return payload;
}

const char* kValidHeads[] = {
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /x?y=1 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: curl/7.88\r\n"
    "Accept: */*\r\nX-Empty:\r\n\r\n",
    "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nExpect: 100-continue\r\n\r\n",
    "PUT /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
    "GET http://a.example/p HTTP/1.1\r\nHost: a.example\r\n\r\n",
    "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET / HTTP/1.0\r\n\r\n",
    "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\nX-Utf8: caf\xc3\xa9\t \r\n\r\n",
    "GET /p?q#frag HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET HTTPS://b.example:8443?q HTTP/1.1\r\nHost: a.example\r\n\r\n",
    "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
};

}  // namespace

TEST_CASE("a simple request parses with views into the buffer") {
  std::string s =
      "GET /path?q=1 HTTP/1.1\r\nHost: example.com\r\nX-A:  padded value \t\r\n\r\nBODY";
  Req r = parse_req(s);
  REQUIRE(r.r.status == ParseStatus::Complete);
  CHECK(r.r.consumed == s.size() - 4);
  CHECK(r.head.method == "GET");
  CHECK(r.head.target == "/path?q=1");
  CHECK(r.head.minor_version == 1);
  REQUIRE(r.head.num_headers == 2);
  CHECK(r.head.headers[1].name == "X-A");
  CHECK(r.head.headers[1].value == "padded value");
  CHECK(r.head.host == "example.com");
  CHECK(r.head.body == BodyKind::None);
  CHECK(r.head.keep_alive);
  CHECK(r.head.headers[0].name.data() == r.text->data() + 24);
}

TEST_CASE("field values are scanned the same whatever their length and where a byte sits") {
  // Values up to 70 bytes cross the parser's 16-byte blocks at every offset: each byte class
  // at each position gives the verdict of the one-byte-at-a-time rule (kFieldValue).
  struct Case {
    char byte;
    ParseError error;  // None: a valid value byte
  };
  const Case cases[] = {{'a', ParseError::None},
                        {'\t', ParseError::None},
                        {'\x80', ParseError::None},
                        {'\xff', ParseError::None},
                        {'~', ParseError::None},
                        {'\x7f', ParseError::BadHeaderValue},
                        {'\x01', ParseError::BadHeaderValue},
                        {'\x1f', ParseError::BadHeaderValue},
                        {'\0', ParseError::NulByte},
                        {'\n', ParseError::BareLF}};
  for (size_t len = 1; len <= 70; ++len) {
    for (size_t at = 0; at < len; ++at) {
      for (const Case& c : cases) {
        std::string value(len, 'v');
        value[at] = c.byte;
        Req r = parse_req("GET / HTTP/1.1\r\nHost: h\r\nX-V: " + value + "\r\n\r\n");
        INFO("len " << len << " at " << at << " byte " << static_cast<int>(c.byte));
        if (c.error == ParseError::None) {
          REQUIRE(r.r.status == ParseStatus::Complete);
          std::string want = value;
          while (!want.empty() && want.back() == '\t') {
            want.pop_back();  // trailing OWS is not part of the value
          }
          while (!want.empty() && want.front() == '\t') {
            want.erase(0, 1);
          }
          CHECK(r.head.headers[1].value == want);
        } else {
          REQUIRE(r.r.status == ParseStatus::Error);
          CHECK(r.head.error == c.error);
        }
      }
    }
  }
}

TEST_CASE("request targets are scanned the same whatever their length and where a byte sits") {
  // Targets up to 70 bytes cross the parser's 16-byte blocks at every offset: each byte class
  // at each position gives the verdict of the one-byte-at-a-time rule (kTarget).
  struct Case {
    char byte;
    ParseError error;  // None: a valid target byte
  };
  const Case cases[] = {{'a', ParseError::None},         {'~', ParseError::None},
                        {'\x80', ParseError::None},      {'\xff', ParseError::None},
                        {'!', ParseError::None},         {'\x7f', ParseError::BadTarget},
                        {'\x01', ParseError::BadTarget}, {'\t', ParseError::BadTarget},
                        {'\0', ParseError::NulByte},     {' ', ParseError::BadVersion}};
  for (size_t len = 1; len <= 70; ++len) {
    for (size_t at = 1; at < len; ++at) {
      for (const Case& c : cases) {
        std::string target = "/" + std::string(len - 1, 't');
        target[at] = c.byte;
        Req r = parse_req("GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n");
        INFO("len " << len << " at " << at << " byte " << static_cast<int>(c.byte));
        if (c.error == ParseError::None) {
          REQUIRE(r.r.status == ParseStatus::Complete);
          CHECK(r.head.target == target);
        } else {
          REQUIRE(r.r.status == ParseStatus::Error);
          CHECK(r.head.error == c.error);
        }
      }
    }
  }
  Limits lim;
  lim.max_uri_bytes = 20;
  for (size_t len = 18; len <= 40; ++len) {  // the limit checked inside and after a block
    INFO("len " << len);
    Req r = parse_req("GET /" + std::string(len - 1, 'u') + " HTTP/1.1\r\nHost: h\r\n\r\n", lim);
    CHECK(r.r.status == (len <= 20 ? ParseStatus::Complete : ParseStatus::Error));
    Req partial = parse_req("GET /" + std::string(len - 1, 'u'), lim);  // no SP yet
    if (len <= 20) {
      CHECK(partial.r.status == ParseStatus::Incomplete);
    } else {
      CHECK(partial.r.status == ParseStatus::Error);
      CHECK(partial.head.error == ParseError::UriTooLong);
    }
  }
}

TEST_CASE("every prefix of a valid head is incomplete") {
  for (const char* head : kValidHeads) {
    std::string s(head);
    INFO(s);
    for (size_t n = 0; n < s.size(); ++n) {
      Req r = parse_req(s.substr(0, n));
      INFO("prefix length " << n);
      REQUIRE(r.r.status == ParseStatus::Incomplete);
    }
    Req full = parse_req(s);
    REQUIRE(full.r.status == ParseStatus::Complete);
    CHECK(full.r.consumed == s.size());
  }
}

TEST_CASE("byte-by-byte feeding equals one feed") {
  for (const char* head : kValidHeads) {
    std::string s = std::string(head) + "trailing";
    Req once = parse_req(s);
    REQUIRE(once.r.status == ParseStatus::Complete);
    std::string acc;
    Req last;
    for (char c : s) {
      acc.push_back(c);
      last = parse_req(acc);
      if (last.r.status != ParseStatus::Incomplete) {
        break;
      }
    }
    REQUIRE(last.r.status == ParseStatus::Complete);
    CHECK(last.r.consumed == once.r.consumed);
    CHECK(last.head.method == once.head.method);
    CHECK(last.head.target == once.head.target);
    CHECK(last.head.num_headers == once.head.num_headers);
    CHECK(last.head.body == once.head.body);
    CHECK(last.head.content_length == once.head.content_length);
    CHECK(last.head.keep_alive == once.head.keep_alive);
  }
}

TEST_CASE("body framing and connection semantics are derived") {
  Req cl = parse_req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n");
  REQUIRE(cl.r.status == ParseStatus::Complete);
  CHECK(cl.head.body == BodyKind::Length);
  CHECK(cl.head.content_length == 42);

  Req ch = parse_req("POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: Chunked\r\n\r\n");
  REQUIRE(ch.r.status == ParseStatus::Complete);
  CHECK(ch.head.body == BodyKind::Chunked);

  Req close = parse_req("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n");
  CHECK_FALSE(close.head.keep_alive);
  Req ten = parse_req("GET / HTTP/1.0\r\n\r\n");
  REQUIRE(ten.r.status == ParseStatus::Complete);
  CHECK_FALSE(ten.head.keep_alive);
  Req ten_ka = parse_req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  CHECK(ten_ka.head.keep_alive);

  Req exp =
      parse_req("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n");
  CHECK(exp.head.expect_continue);
  Req huge = parse_req("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n");
  REQUIRE(huge.r.status == ParseStatus::Complete);
  CHECK(huge.head.content_length == UINT64_MAX);
}

TEST_CASE("each request smuggling vector is rejected with its reason") {
  using E = ParseError;
  struct Case {
    const char* text;
    E error;
  };
  const Case cases[] = {
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
       E::ContentLengthWithTransferEncoding},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
       E::ContentLengthWithTransferEncoding},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
       E::ConflictingContentLength},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
       E::ConflictingContentLength},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", E::ConflictingContentLength},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", E::BadContentLength},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", E::BadContentLength},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", E::BadContentLength},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n",
       E::BadContentLength},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
       E::BadTransferEncoding},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
       E::BadTransferEncoding},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n",
       E::BadTransferEncoding},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
       E::BadTransferEncoding},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", E::BadTransferEncoding},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", E::BadTransferEncoding},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", E::BadTransferEncoding},
      {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", E::BadTransferEncoding},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
       E::WhitespaceBeforeColon},
      {"GET / HTTP/1.1\r\nHost: a\r\nX-A\t: b\r\n\r\n", E::WhitespaceBeforeColon},
      {"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", E::ObsFold},
      {"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n", E::ObsFold},
      {"GET / HTTP/1.1\r\n Host: a\r\n\r\n", E::ObsFold},
      {"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", E::BareCR},
      {"GET / HTTP/1.1\r\nHost: a\r\nX: b\rc\r\n\r\n", E::BareCR},
      {"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", E::BareLF},
      {"GET / HTTP/1.1\nHost: a\r\n\r\n", E::BareLF},
      {"GET / HTTP/1.1\r\nHost: a\r\n\n", E::BareLF},
      {"GET / HTTP/1.1\r\nHost: a\r\nX: b\x01\r\n\r\n", E::BadHeaderValue},
      {"GET / HTTP/1.1\r\nHost: a\r\nX: b\x7f\r\n\r\n", E::BadHeaderValue},
      {"GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", E::BadHeaderName},
      {"GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n", E::BadHeaderName},
      {"GET / HTTP/1.1\r\n\r\n", E::MissingHost},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", E::MissingHost},
      {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", E::MissingHost},
      {"GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", E::MissingHost},
      {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", E::BadMethod},
      {" GET / HTTP/1.1\r\nHost: a\r\n\r\n", E::BadRequestLine},
      {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", E::BadRequestLine},
      {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", E::BadVersion},
      {"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", E::BadTarget},
      {"GET x HTTP/1.1\r\nHost: a\r\n\r\n", E::BadTarget},
      {"GET * HTTP/1.1\r\nHost: a\r\n\r\n", E::BadTarget},
      {"GET / HTTP/1.10\r\nHost: a\r\n\r\n", E::BadVersion},
      {"GET ftp://b.example/p HTTP/1.1\r\nHost: a\r\n\r\n", E::BadScheme},
      {"GET httpx://b.example/p HTTP/1.1\r\nHost: a\r\n\r\n", E::BadScheme},
      {"GET http://user@b.example/p HTTP/1.1\r\nHost: a\r\n\r\n", E::UserinfoInTarget},
      {"GET http://a.example@b.example HTTP/1.1\r\nHost: a\r\n\r\n", E::UserinfoInTarget},
      {"GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n", E::EmptyAuthority},
      {"GET http://?q HTTP/1.1\r\nHost: a\r\n\r\n", E::EmptyAuthority},
      {"GET http://b\\c/ HTTP/1.1\r\nHost: a\r\n\r\n", E::BadTarget},
      {"GET #frag HTTP/1.1\r\nHost: a\r\n\r\n", E::BadTarget},
      {"GET http://b.example/ HTTP/1.1\r\n\r\n", E::MissingHost},
      {"GET / HTTPS/1.1\r\nHost: a\r\n\r\n", E::BadVersion},
      {"GET / http/1.1\r\nHost: a\r\n\r\n", E::BadVersion},
      {"GET / HTTP/1.10\r\nHost: a\r\n\r\n", E::BadVersion},
      {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", E::UnsupportedVersion},
      {"GET /\r\n\r\n", E::BadTarget},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    Req r = parse_req(c.text);
    REQUIRE(r.r.status == ParseStatus::Error);
    CHECK(to_string(r.head.error) == std::string(to_string(c.error)));
  }
  // NUL bytes need an explicit length.
  std::string nul("GET / HTTP/1.1\r\nHost: a\r\nX: b\0c\r\n\r\n", 35);
  CHECK(req_error(nul) == E::NulByte);
  std::string nul_target("GET /\0 HTTP/1.1\r\n\r\n", 19);
  CHECK(req_error(nul_target) == E::NulByte);
}

TEST_CASE("an absolute-form target is routed and forwarded by its authority") {
  // RFC 9112 3.2.2: the target's authority names the origin; the Host field does not.
  std::string s = "GET http://b.example:8080/p/q?x=1#frag HTTP/1.1\r\nHost: a.example\r\n\r\n";
  Req r = parse_req(s);
  REQUIRE(r.r.status == ParseStatus::Complete);
  CHECK(r.head.absolute_form);
  CHECK(r.head.target == "http://b.example:8080/p/q?x=1");
  CHECK(r.head.host == "b.example:8080");
  CHECK(r.head.path == "/p/q?x=1");
  std::string out = "stale";
  origin_form(r.head, &out);
  CHECK(out == "/p/q?x=1");

  struct Case {
    const char* request;
    const char* origin;
    const char* host;
  };
  const Case cases[] = {
      {"GET https://b.example HTTP/1.1\r\nHost: a\r\n\r\n", "/", "b.example"},
      {"GET http://b.example?x HTTP/1.1\r\nHost: a\r\n\r\n", "/?x", "b.example"},
      {"OPTIONS http://b.example HTTP/1.1\r\nHost: a\r\n\r\n", "*", "b.example"},
      {"OPTIONS http://b.example/ HTTP/1.1\r\nHost: a\r\n\r\n", "/", "b.example"},
      {"GET HTTP://[::1]:81/x HTTP/1.1\r\nHost: a\r\n\r\n", "/x", "[::1]:81"},
      {"GET /o?k#f HTTP/1.1\r\nHost: a\r\n\r\n", "/o?k", "a"},
      {"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "*", "a"},
      {"CONNECT b.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n", "b.example:443",
       "b.example:443"},
  };
  for (const Case& c : cases) {
    std::string text = c.request;  // alive while the views are read
    INFO(text);
    Req cr = parse_req(text);
    REQUIRE(cr.r.status == ParseStatus::Complete);
    origin_form(cr.head, &out);
    CHECK(out == c.origin);
    CHECK(cr.head.host == c.host);
  }
}

TEST_CASE("HTTP/1.2 and later 1.x are handled as 1.1 (RFC 9110 2.5)") {
  std::string req = "GET / HTTP/1.9\r\nHost: a\r\n\r\n";
  Req r = parse_req(req);
  REQUIRE(r.r.status == ParseStatus::Complete);
  CHECK(r.head.minor_version == 1);
  CHECK(r.head.keep_alive);
  Resp resp = parse_resp("HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(resp.r.status == ParseStatus::Complete);
  CHECK(resp.head.minor_version == 1);
  CHECK(resp.head.keep_alive);
}

TEST_CASE("trailer fields that must not be in a trailer are left out") {
  CHECK(allowed_in_trailer("X-Checksum"));
  CHECK(allowed_in_trailer("grpc-status"));
  for (const char* name : {"Content-Length", "transfer-encoding", "HOST", "Trailer", "TE",
                           "Connection", "Authorization", "Set-Cookie", "Content-Type",
                           "Cache-Control", "If-None-Match", "Location"}) {
    INFO(name);
    CHECK_FALSE(allowed_in_trailer(name));
  }
  std::string out = "kept-before\r\n";
  const std::string trailer =
      "X-Sum: 1\r\nContent-Length: 5\r\nHost: evil\r\nX_Under: 2\r\nx-b: 3\r\n";
  CHECK(append_allowed_trailer(trailer, true, &out) == 3);
  CHECK(out == "kept-before\r\nX-Sum: 1\r\nx-b: 3\r\n");
  out.clear();
  CHECK(append_allowed_trailer(trailer, false, &out) == 2);
  CHECK(out == "X-Sum: 1\r\nX_Under: 2\r\nx-b: 3\r\n");
  out.clear();
  CHECK(append_allowed_trailer("", true, &out) == 0);
  CHECK(out.empty());
}

TEST_CASE("statuses map the errors a server answers with") {
  CHECK(status_for(ParseError::UriTooLong) == 414);
  CHECK(status_for(ParseError::HeadTooLarge) == 431);
  CHECK(status_for(ParseError::TooManyHeaders) == 431);
  CHECK(status_for(ParseError::UnsupportedVersion) == 505);
  CHECK(status_for(ParseError::ObsFold) == 400);
  CHECK(status_for(ParseError::ContentLengthWithTransferEncoding) == 400);
  CHECK(status_for(ParseError::BadScheme) == 400);
  CHECK(status_for(ParseError::UserinfoInTarget) == 400);
  CHECK(status_for(ParseError::EmptyAuthority) == 400);
}

TEST_CASE("size limits: 414 as soon as the URI is too long, 431 for heads and header counts") {
  Limits lim;
  lim.max_uri_bytes = 32;
  lim.max_head_bytes = 128;
  lim.max_headers = 3;
  // Long URI is rejected before the line is complete.
  CHECK(req_error("GET /" + std::string(40, 'a'), lim) == ParseError::UriTooLong);
  Req ok = parse_req("GET /" + std::string(31, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", lim);
  CHECK(ok.r.status == ParseStatus::Complete);
  // Oversized incomplete head.
  std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(200, 'v');
  CHECK(req_error(big, lim) == ParseError::HeadTooLarge);
  // Just under: still incomplete.
  CHECK(parse_req(big.substr(0, 128), lim).r.status == ParseStatus::Incomplete);
  // Complete but oversized.
  std::string big2 = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(120, 'v') + "\r\n\r\n";
  CHECK(req_error(big2, lim) == ParseError::HeadTooLarge);
  CHECK(req_error("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", lim) ==
        ParseError::TooManyHeaders);
}

TEST_CASE("responses parse and pick their body framing") {
  Resp r = parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  REQUIRE(r.r.status == ParseStatus::Complete);
  CHECK(r.head.status == 200);
  CHECK(r.head.reason == "OK");
  CHECK(response_body_kind(r.head, false) == BodyKind::Length);
  CHECK(response_body_kind(r.head, true) == BodyKind::None);

  Resp nr = parse_resp("HTTP/1.1 204\r\n\r\n");
  REQUIRE(nr.r.status == ParseStatus::Complete);
  CHECK(nr.head.reason.empty());
  CHECK(response_body_kind(nr.head, false) == BodyKind::None);

  Resp nm = parse_resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n");
  CHECK(response_body_kind(nm.head, false) == BodyKind::None);
  Resp info = parse_resp("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
  CHECK(response_body_kind(info.head, false) == BodyKind::None);

  Resp ch = parse_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  CHECK(response_body_kind(ch.head, false) == BodyKind::Chunked);
  Resp uc = parse_resp("HTTP/1.0 200 OK\r\n\r\n");
  CHECK(response_body_kind(uc.head, false) == BodyKind::UntilClose);
  CHECK_FALSE(uc.head.keep_alive);
  Resp gz = parse_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
  CHECK(response_body_kind(gz.head, false) == BodyKind::UntilClose);
  CHECK_FALSE(gz.head.keep_alive);

  Resp same = parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n");
  CHECK(same.r.status == ParseStatus::Complete);
  Resp diff = parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n");
  CHECK(diff.r.status == ParseStatus::Error);
  Resp both =
      parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
  CHECK(both.r.status == ParseStatus::Error);
  for (const char* bad :
       {"HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTX/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 099 x\r\n\r\n", "HTTP/1.1 200 O\x01K\r\n\r\n"}) {
    INFO(bad);
    CHECK(parse_resp(bad).r.status == ParseStatus::Error);
  }
  std::string s = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n";
  for (size_t n = 0; n < s.size(); ++n) {
    CHECK(parse_resp(s.substr(0, n)).r.status == ParseStatus::Incomplete);
  }
}

TEST_CASE("hop-by-hop fields, including those a Connection field names") {
  for (const char* h : {"Connection", "keep-alive", "Proxy-Connection", "TE", "Trailer",
                        "transfer-encoding", "Upgrade"}) {
    CHECK(is_hop_by_hop(h));
  }
  CHECK_FALSE(is_hop_by_hop("Host"));
  CHECK_FALSE(is_hop_by_hop("Te2"));
  Header hs[] = {{"Connection", "close, X-Secret"}, {"X-Secret", "1"}};
  CHECK(connection_lists(hs, 2, "x-secret"));
  CHECK_FALSE(connection_lists(hs, 2, "x-other"));
}

TEST_CASE("iequals: word-at-a-time equals the byte-by-byte rule for every byte pair") {
  // Case-insensitive means: only 'A'..'Z' / 'a'..'z' pairs may differ. Each length takes a
  // different path (bytes, two 4-byte words, 8-byte words with an overlapping last one).
  auto reference = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
      return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
      if (sy::ascii_lower(a[i]) != sy::ascii_lower(b[i])) {
        return false;
      }
    }
    return true;
  };
  size_t mismatches = 0;
  for (size_t len : {1, 3, 4, 5, 7, 8, 9, 15, 16, 17}) {
    for (size_t pos : {size_t{0}, len / 2, len - 1}) {
      for (int x = 0; x < 256; ++x) {
        for (int y = 0; y < 256; ++y) {
          std::string a(len, 'q');
          std::string b(len, 'Q');
          a[pos] = static_cast<char>(x);
          b[pos] = static_cast<char>(y);
          mismatches += iequals(a, b) != reference(a, b) ? 1 : 0;
        }
      }
    }
  }
  CHECK(mismatches == 0);
  CHECK(iequals("Content-Length", "content-length"));
  CHECK(iequals("X-FORWARDED-FOR", "x-forwarded-for"));
  CHECK_FALSE(iequals("content-length", "content-lengtH2"));
  CHECK_FALSE(iequals("Content-Lengt@", "content-length`"));
  CHECK_FALSE(iequals("[host", "{host"));  // 0x5b / 0x7b differ by 0x20 but are not letters
  CHECK(iequals("", ""));
}

TEST_CASE("a Host value may hold any byte but SP, controls, / ? # @ and backslash") {
  for (int c = 0; c < 256; ++c) {
    std::string head = "GET / HTTP/1.1\r\nHost: a";
    head += static_cast<char>(c);
    head += "b\r\n\r\n";
    const bool ok =
        c > 0x20 && c != 0x7f && c != '/' && c != '?' && c != '#' && c != '@' && c != '\\';
    Req r = parse_req(head);
    INFO("byte " << c);
    if (ok) {
      CHECK(r.r.status == ParseStatus::Complete);
    } else {
      CHECK(r.r.status == ParseStatus::Error);
    }
  }
}

TEST_CASE("chunked bodies decode identically in every split") {
  std::string body = "5\r\nhello\r\n1A;name=\"v;x\"\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n";
  for (size_t step = 1; step <= body.size(); ++step) {
    INFO("step " << step);
    CHECK(decode_chunked(body, step) == "helloabcdefghijklmnopqrstuvwxyz");
  }
  std::string with_trailer = "3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-B: 2\r\n\r\n";
  for (size_t step = 1; step <= with_trailer.size(); ++step) {
    std::string trailer;
    CHECK(decode_chunked(with_trailer, step, &trailer) == "abc");
    CHECK(trailer == "X-Sum: 1\r\nX-B: 2\r\n");
  }
  CHECK(decode_chunked("3\r\nabc\r\n", 100) == "INCOMPLETE");
}

TEST_CASE("invalid chunk framing is rejected") {
  struct Case {
    const char* body;
    const char* error;
  };
  const Case cases[] = {
      {"x\r\n", "ERROR:bad-chunk-size"},
      {"-1\r\n", "ERROR:bad-chunk-size"},
      {"\r\n", "ERROR:bad-chunk-size"},
      {"5 x\r\nhello\r\n0\r\n\r\n", "ERROR:bad-chunk-extension"},  // BWS must lead to ';'
      {"5\t\r\nhello\r\n0\r\n\r\n", "hello"},
      {"11111111111111111\r\n", "ERROR:bad-chunk-size"},  // 17 hex digits overflow
      {"3\r\nabcX\r\n", "ERROR:bad-chunk-terminator"},
      {"3\r\nabc\n0\r\n\r\n", "ERROR:bad-chunk-terminator"},
      {"3\nabc\r\n", "ERROR:bad-chunk-size"},
      {"3;a\x01\r\nabc\r\n", "ERROR:bad-chunk-extension"},
      {"3\rabc\r\n", "ERROR:bare-cr"},
      {"0\r\nbad trailer\r\n\r\n", "ERROR:bad-trailer"},
      {"0\r\n folded: x\r\n\r\n", "ERROR:bad-trailer"},
      {"0\r\nX: a\n\r\n", "ERROR:bad-trailer"},
  };
  for (const Case& c : cases) {
    INFO(c.body);
    CHECK(decode_chunked(c.body, 1000) == c.error);
  }
}

TEST_CASE("an endless trailer or size line is cut at the limit") {
  ChunkedDecoder d(64);
  std::string s = "0\r\nX: " + std::string(100, 'a');
  ParseResult r = d.parse_framing(s.data(), s.size());
  CHECK(r.status == ParseStatus::Error);
  CHECK(d.error() == ParseError::BadTrailer);
  ChunkedDecoder e(64);
  std::string ext = "1;" + std::string(100, 'a');
  r = e.parse_framing(ext.data(), ext.size());
  CHECK(r.status == ParseStatus::Error);
  CHECK(e.error() == ParseError::BadChunkExtension);
}
