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

Refusal check_request(std::string_view method, std::string_view scheme, std::string_view authority,
                      std::string_view path, const http1::Header* fields, size_t num_fields) {
  if (method == "CONNECT") {
    return {501, "connect-not-supported"};
  }
  if (!http1::iequals(scheme, "http") && !http1::iequals(scheme, "https")) {
    return {400, "bad-scheme"};
  }
  if (path.empty() || (path[0] != '/' && !(path == "*" && method == "OPTIONS"))) {
    return {400, "bad-path"};
  }
  if (authority.find('@') != std::string_view::npos) {
    return {400, "userinfo-in-authority"};
  }
  bool has_host = false;
  for (size_t i = 0; i < num_fields; ++i) {
    if (fields[i].name != "host") {
      continue;
    }
    has_host = true;
    if (!authority.empty() && !http1::iequals(fields[i].value, authority)) {
      return {400, "host-differs-from-authority"};
    }
  }
  if (authority.empty() && !has_host) {
    return {400, "missing-host"};
  }
  return {};
}

Refusal check_request(const Request& req) {
  std::vector<http1::Header> fields;
  for (const Field& f : req.fields) {
    fields.push_back(http1::Header{f.name, f.value});
  }
  return check_request(req.method, req.scheme, req.authority, req.path, fields.data(),
                       fields.size());
}

}  // namespace sy::proxy::h2
