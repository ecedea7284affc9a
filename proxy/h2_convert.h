#pragma once
// Pure helpers between HTTP/2 and HTTP/1.1 (STYLE rule 6: no fd, no timer, no libevent):
// recognising the HTTP/2 client connection preface on a cleartext connection (h2c with prior
// knowledge) and turning an HTTP/2 request's fields into the HTTP/1.1 request head that
// proxy/h2_connection hands to the HTTP/1.1 path. Thread: any.

#include <string>
#include <string_view>
#include <vector>

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
  std::string scheme;
  std::string authority;  // "" when absent
  std::string path;
  std::vector<Field> fields;  // regular fields in order, including "cookie" crumbs
  bool has_content_length = false;
  bool announces_trailer = false;  // a "trailer" field: trailer fields will follow the body
};

// Why a complete HTTP/2 request head is answered by the proxy itself instead of being
// proxied: |status| 0 = proxy it; else the status to answer with and a short stable reason.
struct Refusal {
  int status = 0;
  const char* why = "";
};

// Checks what nghttp2 leaves to the application (RFC 9113 8.3.1, 8.5; nghttp2 itself checks
// pseudo-header presence, order and syntax): CONNECT is not supported (501, as over HTTP/1.1);
// :scheme must be http or https and :path origin-form ("*" only for OPTIONS), so that no
// absolute URI reaches the HTTP/1.1 side; :authority must carry no userinfo; and a host field
// that names another authority than :authority makes the request malformed (the proxy routes
// on one name, so the two must agree). Each failure is a 400 except CONNECT.
Refusal check_request(const Request& req);

// Appends the HTTP/1.1 request head of |req| (request line, Host from :authority, fields
// without connection-specific ones, cookie crumbs joined with "; " (RFC 9113 8.2.3), and
// "Transfer-Encoding: chunked" instead of any content-length when |chunked_body|) and the
// blank line to |out|.
void build_h1_request(const Request& req, bool chunked_body, std::string* out);

// True for HTTP/1.1 fields that are connection-specific and never sent in HTTP/2
// (RFC 9113 8.2.2): Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, TE.
// Case-insensitive.
bool is_connection_specific(std::string_view name);

}  // namespace sy::proxy::h2
