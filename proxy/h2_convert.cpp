#include "proxy/h2_convert.h"

#include "proxy/http1_parser.h"

namespace sy::proxy::h2 {

PrefaceMatch match_preface(std::string_view first_bytes) {
  if (first_bytes.size() >= kClientPreface.size()) {
    return first_bytes.substr(0, kClientPreface.size()) == kClientPreface ? PrefaceMatch::Yes
                                                                          : PrefaceMatch::No;
  }
  return kClientPreface.substr(0, first_bytes.size()) == first_bytes ? PrefaceMatch::Partial
                                                                     : PrefaceMatch::No;
}

bool is_connection_specific(std::string_view name) {
  return http1::iequals(name, "connection") || http1::iequals(name, "keep-alive") ||
         http1::iequals(name, "proxy-connection") || http1::iequals(name, "transfer-encoding") ||
         http1::iequals(name, "upgrade") || http1::iequals(name, "te");
}

Refusal check_request(const Request& req) {
  if (req.method == "CONNECT") {
    return {501, "connect-not-supported"};
  }
  if (!http1::iequals(req.scheme, "http") && !http1::iequals(req.scheme, "https")) {
    return {400, "bad-scheme"};
  }
  if (req.path.empty() || (req.path[0] != '/' && !(req.path == "*" && req.method == "OPTIONS"))) {
    return {400, "bad-path"};
  }
  if (req.authority.find('@') != std::string::npos) {
    return {400, "userinfo-in-authority"};
  }
  for (const Field& f : req.fields) {
    if (f.name == "host" && !req.authority.empty() && !http1::iequals(f.value, req.authority)) {
      return {400, "host-differs-from-authority"};
    }
  }
  return {};
}

void build_h1_request(const Request& req, bool chunked_body, std::string* out) {
  out->append(req.method).append(" ").append(req.path).append(" HTTP/1.1\r\n");
  if (!req.authority.empty()) {
    out->append("Host: ").append(req.authority).append("\r\n");
  }
  std::string cookie;
  for (const Field& f : req.fields) {
    if (is_connection_specific(f.name) || (!req.authority.empty() && f.name == "host") ||
        (chunked_body && f.name == "content-length")) {
      continue;
    }
    if (f.name == "cookie") {
      cookie.append(cookie.empty() ? "" : "; ").append(f.value);
      continue;
    }
    out->append(f.name).append(": ").append(f.value).append("\r\n");
  }
  if (!cookie.empty()) {
    out->append("cookie: ").append(cookie).append("\r\n");
  }
  if (chunked_body) {
    out->append("Transfer-Encoding: chunked\r\n");
  }
  out->append("\r\n");
}

}  // namespace sy::proxy::h2
