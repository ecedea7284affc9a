#pragma once
// Pure HTTP/2 helpers (STYLE rule 6: no fd, no timer, no libevent): recognising the HTTP/2
// client connection preface on a cleartext connection (h2c with prior knowledge), the checks
// a request must pass before it is routed (what nghttp2 leaves to the application), and the
// WebSocket handshake values an RFC 8441 extended CONNECT needs when it is forwarded to an
// HTTP/1.1 member (RFC 6455 4.1/4.2.2). Thread: any.

#include <string>
#include <string_view>
#include <vector>

#include "proxy/http1_parser.h"

namespace sy::proxy::h2 {

// RFC 9113 3.4: what an HTTP/2 client sends first.
constexpr std::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum class PrefaceMatch {
  No,       // not HTTP/2: parse as HTTP/1.1
  Partial,  // |first_bytes| is a proper prefix of the preface: wait for more
  Yes,      // starts with the whole preface
};
PrefaceMatch match_preface(std::string_view first_bytes);

struct Field {
  std::string name;  // lower case (HTTP/2 requires it)
  std::string value;
};

// One HTTP/2 request head, as received (pseudo-header fields split out).
struct Request {
  std::string method;
  std::string protocol;  // RFC 8441 :protocol; "" when absent
  std::string scheme;
  std::string authority;  // "" when absent
  std::string path;
  std::vector<Field> fields;  // regular fields in order, including "cookie" crumbs
};

// Why a complete HTTP/2 request head is answered by the proxy itself instead of being
// proxied: |status| 0 = proxy it; else the status to answer with and a short stable reason.
struct Refusal {
  int status = 0;
  const char* why = "";
};

// Checks what nghttp2 leaves to the application (RFC 9113 8.3.1, 8.5; nghttp2 itself checks
// pseudo-header presence, order and syntax): plain CONNECT is not supported (501, as over
// HTTP/1.1); an extended CONNECT (RFC 8441, |protocol| = :protocol not empty) is accepted for
// "websocket" only (any other protocol: 501) and then checked like any other request;
// :scheme must be http or https and :path origin-form ("*" only for OPTIONS), so that no
// absolute URI is routed; :authority must carry no userinfo; a host field that names another
// authority than :authority makes the request malformed (the proxy routes on one name, so the
// two must agree); and a request naming no authority at all is refused as an HTTP/1.1 one
// without Host is. Each failure is a 400 except CONNECT.
Refusal check_request(std::string_view method, std::string_view protocol, std::string_view scheme,
                      std::string_view authority, std::string_view path,
                      const http1::Header* fields, size_t num_fields);
Refusal check_request(const Request& req);  // the same over a Request (tests)

// True for HTTP/1.1 fields that are connection-specific and never sent in HTTP/2
// (RFC 9113 8.2.2): Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, TE.
// Case-insensitive.
bool is_connection_specific(std::string_view name);

// WebSocket over HTTP/2 to an HTTP/1.1 member: the proxy makes the handshake the HTTP/2 client
// does not (RFC 8441 5: no Sec-WebSocket-Key/-Accept over HTTP/2). A fresh key is 16 random
// bytes in base64 (24 characters, RAND_bytes); the member must answer its 101 with
// websocket_accept(key): base64(SHA-1(key + the RFC 6455 GUID)), 28 characters.
constexpr size_t kWebSocketKeyLen = 24;
constexpr size_t kWebSocketAcceptLen = 28;
void make_websocket_key(char (&out)[kWebSocketKeyLen]);
void websocket_accept(std::string_view key, char (&out)[kWebSocketAcceptLen]);

}  // namespace sy::proxy::h2
