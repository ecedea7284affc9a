#include "proxy/forwarding.h"

#include <cstring>
#include <optional>

#include "proxy/sticky.h"

namespace sy::proxy {
namespace {

using http1::iequals;

bool has_underscore(std::string_view name) { return name.find('_') != std::string_view::npos; }

// "trailers" as one token of a TE field value ("trailers", "trailers, deflate;q=0.5").
bool names_trailers(std::string_view te) {
  size_t start = 0;
  while (start <= te.size()) {
    size_t end = te.find(',', start);
    std::string_view token =
        te.substr(start, end == std::string_view::npos ? te.npos : end - start);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) {
      token.remove_prefix(1);
    }
    size_t param = token.find(';');
    token = token.substr(0, param);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) {
      token.remove_suffix(1);
    }
    if (iequals(token, "trailers")) {
      return true;
    }
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }
  return false;
}

// The X-Forwarded-For (or Forwarded) value a request leaves with: what a trusted peer sent
// (every field joined, in order) followed by the peer's own element.
class ForwardedFor {
 public:
  void add(std::string_view value) {
    if (count_++ == 0) {
      first_ = value;
      return;
    }
    if (count_ == 2) {
      joined_.assign(first_);
    }
    joined_.append(", ").append(value);
  }
  // Appends "<received>, <element>" (or just the element) to |out|.
  void append_to(std::string* out, std::string_view element) const {
    std::string_view received = count_ > 1 ? std::string_view(joined_) : first_;
    if (!received.empty()) {
      out->append(received).append(", ");
    }
    out->append(element);
  }
  bool received() const { return count_ > 0; }

 private:
  int count_ = 0;
  std::string_view first_;
  std::string joined_;
};

// The Forwarded element for the peer (RFC 7239 4): for=192.0.2.1;proto=https, an IPv6
// address quoted in brackets.
void append_forwarded_element(std::string* out, const ForwardPolicy& p) {
  bool v6 = p.client_ip.find(':') != std::string_view::npos;
  out->append(v6 ? "for=\"[" : "for=").append(p.client_ip).append(v6 ? "]\"" : "");
  out->append(";proto=").append(p.proto);
}

// A request field the forwarded-field policy rewrites; false for every other field.
bool take_forwarded_field(const Field& h, const ForwardPolicy& p, ForwardedFor* xff,
                          ForwardedFor* fwd, bool* forwarded_seen) {
  if (iequals(h.name, "x-forwarded-for")) {
    if (p.keep_received) {
      xff->add(h.value);
    }
    return true;
  }
  if (iequals(h.name, "forwarded")) {
    *forwarded_seen = true;
    if (p.keep_received) {
      fwd->add(h.value);
    }
    return true;
  }
  return iequals(h.name, "x-forwarded-proto");
}

// Appends "name: value\r\n" with one std::string append instead of four: the pieces are
// gathered on the stack first. Four appends (each a capacity check and a memcpy call) per
// forwarded field were a tenth of a proxied request's head building (callgrind).
void append_field(std::string* out, std::string_view name, std::string_view value) {
  char line[256];
  const size_t n = name.size() + value.size() + 4;
  if (n > sizeof line) {
    out->append(name).append(": ").append(value).append("\r\n");
    return;
  }
  char* p = line;
  std::memcpy(p, name.data(), name.size());
  p += name.size();
  *p++ = ':';
  *p++ = ' ';
  if (!value.empty()) {  // an empty view may hold nullptr: memcpy(p, nullptr, 0) is UB
    std::memcpy(p, value.data(), value.size());
    p += value.size();
  }
  *p++ = '\r';
  *p = '\n';
  out->append(line, n);
}

void append_status_digits(int status, char out[3]) {
  out[0] = static_cast<char>('0' + status / 100 % 10);
  out[1] = static_cast<char>('0' + status / 10 % 10);
  out[2] = static_cast<char>('0' + status % 10);
}

}  // namespace

void NvList::clear() {
  arena_.clear();
  spans_.clear();
}

void NvList::add(std::string_view name, std::string_view value, bool lower) {
  Span s;
  s.name_off = static_cast<uint32_t>(arena_.size());
  s.name_len = static_cast<uint32_t>(name.size());
  arena_.append(name);
  if (lower) {
    for (size_t i = s.name_off; i < arena_.size(); ++i) {
      char c = arena_[i];
      if (c >= 'A' && c <= 'Z') {
        arena_[i] = static_cast<char>(c + ('a' - 'A'));
      }
    }
  }
  s.value_off = static_cast<uint32_t>(arena_.size());
  s.value_len = static_cast<uint32_t>(value.size());
  arena_.append(value);
  spans_.push_back(s);
}

nghttp2_nv* NvList::nv() {
  nv_.resize(spans_.size());
  auto* base = reinterpret_cast<uint8_t*>(arena_.data());
  for (size_t i = 0; i < spans_.size(); ++i) {
    const Span& s = spans_[i];
    nv_[i] = nghttp2_nv{base + s.name_off, base + s.value_off, s.name_len, s.value_len,
                        NGHTTP2_NV_FLAG_NONE};
  }
  return nv_.data();
}

std::string_view NvList::name(size_t i) const {
  return std::string_view(arena_).substr(spans_[i].name_off, spans_[i].name_len);
}

std::string_view NvList::value(size_t i) const {
  return std::string_view(arena_).substr(spans_[i].value_off, spans_[i].value_len);
}

size_t append_upstream_h1_head(const HttpRequest& req, const ForwardPolicy& p, std::string* out) {
  out->append(req.method).append(" ").append(req.target).append(" HTTP/1.1\r\n");
  const bool join_cookies = req.protocol == Protocol::Http2;
  bool has_host = false;
  if (req.host_rule == HostRule::FromPseudoField) {
    append_field(out, "Host", req.authority);
    has_host = true;
  }
  const http1::ConnectionListed listed(req.fields, req.num_fields);
  size_t underscores = 0;
  ForwardedFor xff;
  ForwardedFor fwd;
  bool forwarded_seen = false;
  std::string cookie;
  for (size_t i = 0; i < req.num_fields; ++i) {
    const Field& h = req.fields[i];
    if (!listed.forwards(h.name)) {
      continue;
    }
    if (p.drop_underscores && has_underscore(h.name)) {
      // CGI-style back ends read X_Forwarded_For as X-Forwarded-For: a client could pass one
      // for the other (nginx's underscores_in_headers off does the same).
      ++underscores;
      continue;
    }
    if (p.strip_expect && iequals(h.name, "expect")) {
      continue;
    }
    if (!p.websocket_key.empty() && iequals(h.name, "sec-websocket-key")) {
      continue;  // the proxy's own key goes instead (an HTTP/2 client has none to send)
    }
    if (iequals(h.name, "host")) {
      if (req.host_rule == HostRule::FromPseudoField) {
        continue;
      }
      has_host = true;
      if (req.host_rule == HostRule::FromTarget) {
        // RFC 9112 3.2.2: a proxy forwarding an absolute-form request sends the target's
        // authority as Host, never the Host it received (which may name another tenant).
        append_field(out, "Host", req.authority);
        continue;
      }
    }
    if (p.chunked && iequals(h.name, "content-length")) {
      continue;
    }
    if (p.add_forwarded && take_forwarded_field(h, p, &xff, &fwd, &forwarded_seen)) {
      continue;
    }
    if (join_cookies && h.name == "cookie") {
      append_cookie_without(h.value, p.strip_cookie, !cookie.empty(), &cookie);
      continue;
    }
    if (!p.strip_cookie.empty() && iequals(h.name, "cookie")) {
      size_t mark = out->size();
      out->append(h.name).append(": ");
      size_t value_at = out->size();
      append_cookie_without(h.value, p.strip_cookie, false, out);
      if (out->size() == value_at) {
        out->resize(mark);  // only our cookie: no field at all
      } else {
        out->append("\r\n");
      }
      continue;
    }
    append_field(out, h.name, h.value);
  }
  if (!cookie.empty()) {
    out->append("cookie: ").append(cookie).append("\r\n");
  }
  if (!has_host) {  // HTTP/1.0 may omit it: the target's authority, else the member
    out->append("Host: ")
        .append(req.authority.empty() ? p.fallback_host : req.authority)
        .append("\r\n");
  }
  if (p.add_forwarded) {
    out->append("X-Forwarded-For: ");
    xff.append_to(out, p.client_ip);
    if (forwarded_seen) {
      std::string element;
      append_forwarded_element(&element, p);
      out->append("\r\nForwarded: ");
      fwd.append_to(out, element);
    }
    out->append("\r\n");
    append_field(out, "X-Forwarded-Proto", p.proto);
    out->append(kViaLine);
    if (!p.loop_guard.empty()) {
      out->append(p.loop_guard).append(": 1\r\n");
    }
  }
  if (!p.request_id.empty()) {
    append_field(out, "X-Request-Id", p.request_id);
  }
  if (p.chunked) {
    out->append("Transfer-Encoding: chunked\r\n");
  }
  if (!p.upgrade.empty()) {
    out->append("Connection: upgrade\r\nUpgrade: ").append(p.upgrade).append("\r\n");
  }
  if (!p.websocket_key.empty()) {
    out->append("Sec-WebSocket-Key: ").append(p.websocket_key).append("\r\n");
  }
  out->append("\r\n");
  return underscores;
}

size_t make_upstream_h2_head(const HttpRequest& req, const ForwardPolicy& p, NvList* out) {
  out->clear();
  out->add(":method", req.method);
  out->add(":scheme", p.upstream_scheme.empty() ? std::string_view("http") : p.upstream_scheme);
  out->add(":authority", req.authority.empty() ? p.fallback_host : req.authority);
  out->add(":path", req.target);
  const http1::ConnectionListed listed(req.fields, req.num_fields);
  size_t underscores = 0;
  ForwardedFor xff;
  ForwardedFor fwd;
  bool forwarded_seen = false;
  for (size_t i = 0; i < req.num_fields; ++i) {
    const Field& h = req.fields[i];
    if (iequals(h.name, "te")) {
      if (names_trailers(h.value)) {
        out->add("te", "trailers");  // the only TE value HTTP/2 allows (RFC 9113 8.2.2)
      }
      continue;
    }
    if (!listed.forwards(h.name)) {
      continue;
    }
    if (p.drop_underscores && has_underscore(h.name)) {
      ++underscores;
      continue;
    }
    if ((p.strip_expect && iequals(h.name, "expect")) || iequals(h.name, "host")) {
      continue;  // :authority carries the host
    }
    if (p.add_forwarded && take_forwarded_field(h, p, &xff, &fwd, &forwarded_seen)) {
      continue;
    }
    if (!p.strip_cookie.empty() && iequals(h.name, "cookie")) {
      out->add_written("cookie", [&](std::string* arena) {
        append_cookie_without(h.value, p.strip_cookie, false, arena);
      });
      continue;
    }
    out->add(h.name, h.value, true);
  }
  if (p.add_forwarded) {
    std::string value;
    xff.append_to(&value, p.client_ip);
    out->add("x-forwarded-for", value);
    if (forwarded_seen) {
      std::string element;
      append_forwarded_element(&element, p);
      value.clear();
      fwd.append_to(&value, element);
      out->add("forwarded", value);
    }
    out->add("x-forwarded-proto", p.proto);
    out->add("via", kViaValue);
    if (!p.loop_guard.empty()) {
      out->add(p.loop_guard, "1", true);
    }
  }
  if (!p.request_id.empty()) {
    out->add("x-request-id", p.request_id);
  }
  return underscores;
}

std::string_view trusted_client_ip(const HttpRequest& req, std::string_view peer_ip,
                                   bool peer_trusted, const std::vector<Cidr>& trusted) {
  if (!peer_trusted) {
    return peer_ip;
  }
  std::string_view client = peer_ip;
  // Fields right to left, and each field's elements right to left.
  for (size_t i = req.num_fields; i-- > 0;) {
    const Field& h = req.fields[i];
    if (!iequals(h.name, "x-forwarded-for")) {
      continue;
    }
    std::string_view list = h.value;
    while (!list.empty()) {
      size_t comma = list.rfind(',');
      std::string_view element = comma == std::string_view::npos ? list : list.substr(comma + 1);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(0, comma);
      while (!element.empty() && (element.front() == ' ' || element.front() == '\t')) {
        element.remove_prefix(1);
      }
      while (!element.empty() && (element.back() == ' ' || element.back() == '\t')) {
        element.remove_suffix(1);
      }
      std::optional<IpBytes> ip = parse_ip(element);
      if (!ip) {
        return client;  // not an address: believe nothing further left
      }
      client = element;
      if (!any_contains(trusted, *ip)) {
        return client;
      }
    }
  }
  return client;
}

void append_downstream_h1_head(const HttpResponse& resp, const H1Framing& framing, bool interim,
                               std::string* out) {
  char line[13] = {'H', 'T', 'T', 'P', '/', '1', '.', '1', ' ', 0, 0, 0, ' '};
  append_status_digits(resp.status, line + 9);  // no snprintf per response
  out->append(line, sizeof(line))
      .append(resp.reason.empty() ? reason_phrase(resp.status) : resp.reason)
      .append("\r\n");
  const http1::ConnectionListed listed(resp.fields, resp.num_fields);
  for (size_t i = 0; i < resp.num_fields; ++i) {
    const Field& h = resp.fields[i];
    if (listed.forwards(h.name)) {
      append_field(out, h.name, h.value);
    }
  }
  if (!interim) {
    if (!resp.set_cookie.empty()) {
      append_field(out, "Set-Cookie", resp.set_cookie);
    }
    out->append(kViaLine);
    if (framing.chunked) {
      out->append("Transfer-Encoding: chunked\r\n");
    }
    if (!framing.upgrade.empty()) {
      out->append("Connection: upgrade\r\nUpgrade: ").append(framing.upgrade).append("\r\n");
    } else if (framing.close) {
      out->append("Connection: close\r\n\r\n");
      return;
    } else if (framing.keep_alive) {
      out->append("Connection: keep-alive\r\n\r\n");
      return;
    }
  }
  out->append("\r\n");
}

void make_downstream_h2_head(const HttpResponse& resp, bool interim, NvList* out) {
  out->clear();
  char code[3];
  append_status_digits(resp.status, code);
  out->add(":status", std::string_view(code, 3));
  // Hop-by-hop and Connection-listed fields: a superset of HTTP/2's connection-specific ones.
  const http1::ConnectionListed listed(resp.fields, resp.num_fields);
  for (size_t i = 0; i < resp.num_fields; ++i) {
    const Field& h = resp.fields[i];
    if (listed.forwards(h.name)) {
      out->add(h.name, h.value, true);
    }
  }
  if (!interim) {
    if (!resp.set_cookie.empty()) {
      out->add("set-cookie", resp.set_cookie);
    }
    out->add("via", kViaValue);
  }
}

void trailer_to_nv(std::string_view text, NvList* out) {
  while (!text.empty()) {
    size_t eol = text.find("\r\n");
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      continue;
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
      value.remove_suffix(1);
    }
    out->add(line.substr(0, colon), value, true);
  }
}

void append_trailer_line(std::string_view name, std::string_view value, std::string* out) {
  out->append(name).append(": ").append(value).append("\r\n");
}

std::string_view reason_phrase(int status) {
  switch (status) {
  case 100: return "Continue";
  case 103: return "Early Hints";
  case 200: return "OK";
  case 201: return "Created";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  case 508: return "Loop Detected";
  default: return "";
  }
}

}  // namespace sy::proxy
