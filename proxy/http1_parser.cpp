// Strict HTTP/1.1 head parser (the chunked decoder and field rules: http1_framing.cpp). See
// http1_parser.h for the contract.
//
// Shape: a single forward scan over the bytes with a character-class table, no allocation, no
// state between calls for heads. Every error is reported at the first byte that proves it, so a
// prefix of a valid head is always Incomplete (the unit tests check every prefix) and an invalid
// head fails without waiting for more input.

#include "proxy/http1_parser.h"

#include <array>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "proxy/http1_chars.h"

namespace sy::http1 {
namespace {

using detail::finish;
using detail::for_each_element;
using detail::is;
using detail::kFieldValue;
using detail::kHex;
using detail::kHost;
using detail::kTarget;
using detail::kToken;
using detail::lower;

// Result of scanning one part of a head: how far we got, or why we stopped.
struct Scan {
  ParseStatus status;
  ParseError error;
};
constexpr Scan kOk{ParseStatus::Complete, ParseError::None};
constexpr Scan kMore{ParseStatus::Incomplete, ParseError::None};
inline Scan fail(ParseError e) { return Scan{ParseStatus::Error, e}; }

// Field values are most of a head's bytes (Date, User-Agent, Cookie) and the target is the
// longest run of a request line: both are skipped 16 bytes at a time (SSE2, every x86-64 CPU)
// instead of one table lookup per byte. Each skip returns the first index in [p, len) of a
// byte outside its class, or the last whole 16-byte block's end: the caller's byte loop goes
// on from there.
#if defined(__SSE2__)
// Field-value bytes are HTAB, SP, VCHAR and obs-text (kFieldValue): stops at other controls
// and DEL.
inline __m128i field_value_stops(__m128i v) {
  const __m128i k1f = _mm_set1_epi8(0x1f);
  __m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(v, k1f), k1f);              // v <= 0x1f (unsigned)
  ctl = _mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x09)), ctl);  // ... except HTAB
  return _mm_or_si128(ctl, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));
}

// Target bytes are above SP and not DEL (kTarget).
inline __m128i target_stops(__m128i v) {
  const __m128i ksp = _mm_set1_epi8(0x20);
  __m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(v, ksp), ksp);  // v <= 0x20 (unsigned)
  return _mm_or_si128(ctl, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));
}

template <__m128i (*Stops)(__m128i)>
inline size_t skip_blocks(const char* buf, size_t p, size_t len) {
  while (len - p >= 16) {
    int bad = _mm_movemask_epi8(Stops(_mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + p))));
    if (bad != 0) {
      return p + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(bad)));
    }
    p += 16;
  }
  return p;
}

inline size_t skip_field_value_bytes(const char* buf, size_t p, size_t len) {
  return skip_blocks<field_value_stops>(buf, p, len);
}
inline size_t skip_target_bytes(const char* buf, size_t p, size_t len) {
  return skip_blocks<target_stops>(buf, p, len);
}
#else
inline size_t skip_field_value_bytes(const char*, size_t p, size_t) { return p; }
inline size_t skip_target_bytes(const char*, size_t p, size_t) { return p; }
#endif

// Expects CRLF at buf[*pos]. Bare CR / bare LF are errors.
Scan expect_crlf(const char* buf, size_t len, size_t* pos) {
  size_t p = *pos;
  if (p >= len) {
    return kMore;
  }
  if (buf[p] == '\n') {
    return fail(ParseError::BareLF);
  }
  if (buf[p] != '\r') {
    return fail(ParseError::BadRequestLine);
  }
  if (p + 1 >= len) {
    return kMore;
  }
  if (buf[p + 1] != '\n') {
    return fail(ParseError::BareCR);
  }
  *pos = p + 2;
  return kOk;
}

// Parses "HTTP/1.x" at buf[*pos]. |bad| is the error for a malformed version.
Scan parse_version(const char* buf, size_t len, size_t* pos, int* minor, ParseError bad) {
  static constexpr char kPrefix[] = "HTTP/";
  size_t p = *pos;
  for (size_t i = 0; i < 5; ++i, ++p) {
    if (p >= len) {
      return kMore;
    }
    if (buf[p] != kPrefix[i]) {
      return fail(bad);
    }
  }
  // DIGIT "." DIGIT
  if (p >= len) {
    return kMore;
  }
  char major = buf[p++];
  if (major < '0' || major > '9') {
    return fail(bad);
  }
  if (p >= len) {
    return kMore;
  }
  if (buf[p++] != '.') {
    return fail(bad);
  }
  if (p >= len) {
    return kMore;
  }
  char min = buf[p++];
  if (min < '0' || min > '9') {
    return fail(bad);
  }
  if (major != '1') {
    return fail(major > '1' && bad == ParseError::BadVersion ? ParseError::UnsupportedVersion
                                                             : bad);
  }
  // HTTP/1.2 and later minor versions are handled as 1.1, the highest we speak (RFC 9110 2.5:
  // a recipient of a higher minor version treats the message as if it were the highest minor
  // version it conforms to). The message is forwarded as 1.1.
  *minor = min > '1' ? 1 : min - '0';
  *pos = p;
  return kOk;
}

// Parses header fields from buf[*pos] up to and including the terminating empty line.
Scan parse_fields(const char* buf, size_t len, size_t* pos, Header* headers, size_t max_headers,
                  size_t* num_headers) {
  size_t p = *pos;
  size_t n = 0;
  for (;;) {
    if (p >= len) {
      return kMore;
    }
    char c = buf[p];
    if (c == '\r') {
      if (p + 1 >= len) {
        return kMore;
      }
      if (buf[p + 1] != '\n') {
        return fail(ParseError::BareCR);
      }
      *pos = p + 2;
      *num_headers = n;
      return kOk;
    }
    if (c == '\n') {
      return fail(ParseError::BareLF);
    }
    if (c == ' ' || c == '\t') {
      return fail(ParseError::ObsFold);
    }
    // field-name
    size_t name_start = p;
    while (p < len && is(buf[p], kToken)) {
      ++p;
    }
    if (p >= len) {
      return kMore;
    }
    c = buf[p];
    if (c != ':') {
      if (c == ' ' || c == '\t') {
        return fail(ParseError::WhitespaceBeforeColon);
      }
      if (c == '\0') {
        return fail(ParseError::NulByte);
      }
      if (c == '\r' && p + 1 < len && buf[p + 1] != '\n') {
        return fail(ParseError::BareCR);
      }
      if (c == '\n') {
        return fail(ParseError::BareLF);
      }
      return fail(ParseError::BadHeaderName);
    }
    if (p == name_start) {
      return fail(ParseError::BadHeaderName);
    }
    size_t name_end = p++;
    // OWS field-value OWS CRLF
    while (p < len && (buf[p] == ' ' || buf[p] == '\t')) {
      ++p;
    }
    size_t value_start = p;
    const char* cr = nullptr;
    for (p = skip_field_value_bytes(buf, p, len); p < len; ++p) {
      char v = buf[p];
      if (is(v, kFieldValue)) {
        continue;
      }
      if (v == '\r') {
        cr = buf + p;
        break;
      }
      if (v == '\0') {
        return fail(ParseError::NulByte);
      }
      if (v == '\n') {
        return fail(ParseError::BareLF);
      }
      return fail(ParseError::BadHeaderValue);
    }
    if (cr == nullptr || p + 1 >= len) {
      return kMore;
    }
    if (buf[p + 1] != '\n') {
      return fail(ParseError::BareCR);
    }
    size_t value_end = p;
    while (value_end > value_start && (buf[value_end - 1] == ' ' || buf[value_end - 1] == '\t')) {
      --value_end;
    }
    p += 2;
    if (n >= max_headers) {
      return fail(ParseError::TooManyHeaders);
    }
    headers[n].name = std::string_view(buf + name_start, name_end - name_start);
    headers[n].value = std::string_view(buf + value_start, value_end - value_start);
    ++n;
  }
}

bool parse_decimal(std::string_view s, uint64_t* out) {
  if (s.empty()) {
    return false;
  }
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) {
      return false;
    }
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// What the framing-relevant fields of a head say.
struct Framing {
  int content_length_fields = 0;
  bool content_length_list = false;      // "5, 5" or "5, 6"
  bool content_length_bad = false;       // not 1*DIGIT or overflow
  bool content_length_mismatch = false;  // repeated with a different value
  uint64_t content_length = 0;
  int transfer_encoding_fields = 0;
  int te_codings = 0;             // codings across all Transfer-Encoding fields
  bool te_final_chunked = false;  // last coding is "chunked"
  bool te_only_chunked = false;   // exactly one coding and it is "chunked"
  bool conn_close = false;
  bool conn_keep_alive = false;
  int host_fields = 0;
  std::string_view host;
  bool expect_continue = false;
};

Framing read_framing(const Header* h, size_t n) {
  Framing f;
  for (size_t i = 0; i < n; ++i) {
    std::string_view name = h[i].name;
    std::string_view value = h[i].value;
    switch (lower(name.empty() ? '\0' : name[0])) {
    case 'c':
      if (iequals(name, "content-length")) {
        ++f.content_length_fields;
        if (value.find(',') != std::string_view::npos) {
          f.content_length_list = true;
          for_each_element(value, [&](std::string_view el) {
            uint64_t v = 0;
            if (!parse_decimal(el, &v)) {
              f.content_length_bad = true;
            } else if (f.content_length_fields > 1 && v != f.content_length) {
              f.content_length_mismatch = true;
            } else {
              f.content_length = v;
            }
          });
          break;
        }
        uint64_t v = 0;
        if (!parse_decimal(value, &v)) {
          f.content_length_bad = true;
        } else {
          if (f.content_length_fields > 1 && v != f.content_length) {
            f.content_length_mismatch = true;
          }
          f.content_length = v;
        }
      } else if (iequals(name, "connection")) {
        for_each_element(value, [&](std::string_view el) {
          if (iequals(el, "close")) {
            f.conn_close = true;
          } else if (iequals(el, "keep-alive")) {
            f.conn_keep_alive = true;
          }
        });
      }
      break;
    case 't':
      if (iequals(name, "transfer-encoding")) {
        ++f.transfer_encoding_fields;
        for_each_element(value, [&](std::string_view el) {
          ++f.te_codings;
          f.te_final_chunked = iequals(el, "chunked");
        });
        if (value.empty()) {
          ++f.te_codings;  // an empty coding is still "something other than chunked"
          f.te_final_chunked = false;
        }
      }
      break;
    case 'h':
      if (iequals(name, "host")) {
        ++f.host_fields;
        f.host = value;
      }
      break;
    case 'e':
      if (iequals(name, "expect")) {
        for_each_element(value, [&](std::string_view el) {
          if (iequals(el, "100-continue")) {
            f.expect_continue = true;
          }
        });
      }
      break;
    default: break;
    }
  }
  f.te_only_chunked = f.te_codings == 1 && f.te_final_chunked;
  return f;
}

// RFC 9110 7.2 / RFC 3986 host syntax, loosely: no whitespace, no control bytes, no '/', '?',
// '#', '@' (which would change where the authority ends).
bool valid_host(std::string_view host) {
  for (char c : host) {
    if (!is(c, kHost)) {  // one table lookup a byte (seven compares before: callgrind)
      return false;
    }
  }
  return true;
}

// Checks the form of |out->target| (RFC 9112 3.2) and, for absolute-form, splits it into
// authority (-> out->host) and path. Only "http" and "https" are accepted as schemes, and the
// authority must be a plain host[:port]: userinfo ("user@host") is how a target can name one
// host to a proxy and another to whoever reads it after, so it is refused, as HAProxy does.
Scan check_target(RequestHead* out) {
  std::string_view method = out->method;
  std::string_view target = out->target;
  if (target.empty()) {
    return fail(ParseError::BadTarget);  // "GET #frag HTTP/1.1"
  }
  if (target[0] == '/') {
    return kOk;  // origin-form
  }
  if (target == "*") {
    return method == "OPTIONS" ? kOk : fail(ParseError::BadTarget);
  }
  if (method == "CONNECT") {
    return kOk;  // authority-form; the connection answers 501 to CONNECT anyway
  }
  // absolute-form: scheme "://" authority [path-abempty] ["?" query]
  size_t colon = target.find("://");
  if (colon == std::string_view::npos || colon == 0) {
    return fail(ParseError::BadTarget);
  }
  for (size_t i = 0; i < colon; ++i) {
    char c = target[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
    if (!ok) {
      return fail(ParseError::BadTarget);
    }
  }
  std::string_view scheme = target.substr(0, colon);
  if (!iequals(scheme, "http") && !iequals(scheme, "https")) {
    return fail(ParseError::BadScheme);
  }
  std::string_view rest = target.substr(colon + 3);
  size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  if (authority.find('@') != std::string_view::npos) {
    return fail(ParseError::UserinfoInTarget);
  }
  if (authority.empty()) {
    return fail(ParseError::EmptyAuthority);
  }
  if (!valid_host(authority)) {
    return fail(ParseError::BadTarget);
  }
  out->absolute_form = true;
  out->host = authority;
  out->path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  return kOk;
}

}  // namespace

const char* to_string(ParseError error) {
  switch (error) {
  case ParseError::None: return "none";
  case ParseError::BadRequestLine: return "bad-request-line";
  case ParseError::BadMethod: return "bad-method";
  case ParseError::BadTarget: return "bad-target";
  case ParseError::BadScheme: return "bad-scheme";
  case ParseError::UserinfoInTarget: return "userinfo-in-target";
  case ParseError::EmptyAuthority: return "empty-authority";
  case ParseError::BadVersion: return "bad-version";
  case ParseError::UnsupportedVersion: return "unsupported-version";
  case ParseError::UriTooLong: return "uri-too-long";
  case ParseError::HeadTooLarge: return "head-too-large";
  case ParseError::TooManyHeaders: return "too-many-headers";
  case ParseError::BadHeaderName: return "bad-header-name";
  case ParseError::WhitespaceBeforeColon: return "whitespace-before-colon";
  case ParseError::ObsFold: return "obs-fold";
  case ParseError::BareCR: return "bare-cr";
  case ParseError::BareLF: return "bare-lf";
  case ParseError::NulByte: return "nul-byte";
  case ParseError::BadHeaderValue: return "bad-header-value";
  case ParseError::BadContentLength: return "bad-content-length";
  case ParseError::ConflictingContentLength: return "conflicting-content-length";
  case ParseError::ContentLengthWithTransferEncoding:
    return "content-length-with-transfer-encoding";
  case ParseError::BadTransferEncoding: return "bad-transfer-encoding";
  case ParseError::MissingHost: return "missing-or-repeated-host";
  case ParseError::BadStatusLine: return "bad-status-line";
  case ParseError::BadChunkSize: return "bad-chunk-size";
  case ParseError::BadChunkExtension: return "bad-chunk-extension";
  case ParseError::BadChunkTerminator: return "bad-chunk-terminator";
  case ParseError::BadTrailer: return "bad-trailer";
  }
  return "unknown";
}

int status_for(ParseError error) {
  switch (error) {
  case ParseError::UriTooLong: return 414;
  case ParseError::HeadTooLarge:
  case ParseError::TooManyHeaders: return 431;
  case ParseError::UnsupportedVersion: return 505;
  case ParseError::BadStatusLine: return 502;
  default: return 400;
  }
}

ParseResult parse_request(const char* buf, size_t len, const Limits& limits, RequestHead* out) {
  auto error = [&](ParseError e) {
    out->error = e;
    return finish(ParseStatus::Error, 0);
  };
  auto more = [&]() {
    if (len > limits.max_head_bytes) {
      return error(ParseError::HeadTooLarge);
    }
    return finish(ParseStatus::Incomplete, 0);
  };
  out->error = ParseError::None;
  out->num_headers = 0;
  out->absolute_form = false;
  out->path = std::string_view();
  out->host = std::string_view();

  // method SP
  size_t p = 0;
  while (p < len && is(buf[p], kToken)) {
    ++p;
  }
  if (p >= len) {
    return more();
  }
  if (buf[p] != ' ') {
    if (buf[p] == '\0') {
      return error(ParseError::NulByte);
    }
    return error(p == 0 ? ParseError::BadRequestLine : ParseError::BadMethod);
  }
  if (p == 0) {
    return error(ParseError::BadRequestLine);
  }
  out->method = std::string_view(buf, p);
  ++p;

  // request-target SP
  size_t target_start = p;
  p = skip_target_bytes(buf, p, len);
  if (p - target_start > limits.max_uri_bytes) {
    return error(ParseError::UriTooLong);
  }
  while (p < len && is(buf[p], kTarget)) {
    ++p;
    if (p - target_start > limits.max_uri_bytes) {
      return error(ParseError::UriTooLong);
    }
  }
  if (p >= len) {
    return more();
  }
  if (buf[p] != ' ') {
    if (buf[p] == '\0') {
      return error(ParseError::NulByte);
    }
    return error(p == target_start ? ParseError::BadRequestLine : ParseError::BadTarget);
  }
  if (p == target_start) {
    return error(ParseError::BadRequestLine);
  }
  out->target = std::string_view(buf + target_start, p - target_start);
  if (size_t hash = out->target.find('#'); hash != std::string_view::npos) {
    out->target = out->target.substr(0, hash);  // a fragment is not part of a request-target
  }
  ++p;

  Scan s = parse_version(buf, len, &p, &out->minor_version, ParseError::BadVersion);
  if (s.status == ParseStatus::Complete) {
    s = expect_crlf(buf, len, &p);
  }
  if (s.status == ParseStatus::Incomplete) {
    return more();
  }
  if (s.status == ParseStatus::Error) {
    return error(s.error == ParseError::BadRequestLine ? ParseError::BadVersion : s.error);
  }
  if (Scan t = check_target(out); t.status == ParseStatus::Error) {
    return error(t.error);
  }

  s = parse_fields(buf, len, &p, out->headers, limits.max_headers, &out->num_headers);
  if (s.status == ParseStatus::Incomplete) {
    return more();
  }
  if (s.status == ParseStatus::Error) {
    return error(s.error);
  }
  if (p > limits.max_head_bytes) {
    return error(ParseError::HeadTooLarge);
  }

  Framing f = read_framing(out->headers, out->num_headers);
  if (f.transfer_encoding_fields > 0) {
    if (f.content_length_fields > 0) {
      return error(ParseError::ContentLengthWithTransferEncoding);
    }
    // RFC 9112 6.1: only "chunked", exactly once and last. HTTP/1.0 has no chunked coding, so
    // a 1.0 request with Transfer-Encoding has faulty framing.
    if (!f.te_only_chunked || out->minor_version == 0) {
      return error(ParseError::BadTransferEncoding);
    }
    out->body = BodyKind::Chunked;
  } else if (f.content_length_fields > 0) {
    if (f.content_length_fields > 1 || f.content_length_list) {
      return error(ParseError::ConflictingContentLength);
    }
    if (f.content_length_bad) {
      return error(ParseError::BadContentLength);
    }
    out->body = BodyKind::Length;
    out->content_length = f.content_length;
  } else {
    out->body = BodyKind::None;
  }
  if (out->minor_version == 1 && f.host_fields != 1) {
    return error(ParseError::MissingHost);
  }
  if (f.host_fields > 1 || (f.host_fields == 1 && !valid_host(f.host))) {
    return error(ParseError::MissingHost);
  }
  if (!out->absolute_form) {
    out->host = f.host_fields == 1 ? f.host : std::string_view();
  }
  out->keep_alive = out->minor_version == 1 ? !f.conn_close : (f.conn_keep_alive && !f.conn_close);
  out->expect_continue = out->minor_version == 1 && f.expect_continue;
  return finish(ParseStatus::Complete, p);
}

void origin_form(const RequestHead& head, std::string* out) {
  if (!head.absolute_form) {
    out->assign(head.target.data(), head.target.size());
    return;
  }
  if (head.path.empty()) {
    out->assign(head.method == "OPTIONS" ? "*" : "/");
  } else if (head.path[0] == '?') {
    out->assign("/").append(head.path.data(), head.path.size());
  } else {
    out->assign(head.path.data(), head.path.size());
  }
}

ParseResult parse_response(const char* buf, size_t len, const Limits& limits, ResponseHead* out) {
  auto error = [&](ParseError e) {
    out->error = e;
    return finish(ParseStatus::Error, 0);
  };
  auto more = [&]() {
    if (len > limits.max_head_bytes) {
      return error(ParseError::HeadTooLarge);
    }
    return finish(ParseStatus::Incomplete, 0);
  };
  out->error = ParseError::None;
  out->num_headers = 0;

  size_t p = 0;
  Scan s = parse_version(buf, len, &p, &out->minor_version, ParseError::BadStatusLine);
  if (s.status == ParseStatus::Incomplete) {
    return more();
  }
  if (s.status == ParseStatus::Error) {
    return error(ParseError::BadStatusLine);
  }
  // SP 3DIGIT
  if (p >= len) {
    return more();
  }
  if (buf[p++] != ' ') {
    return error(ParseError::BadStatusLine);
  }
  int status = 0;
  for (int i = 0; i < 3; ++i, ++p) {
    if (p >= len) {
      return more();
    }
    if (buf[p] < '0' || buf[p] > '9') {
      return error(ParseError::BadStatusLine);
    }
    status = status * 10 + (buf[p] - '0');
  }
  if (status < 100) {
    return error(ParseError::BadStatusLine);
  }
  out->status = status;
  // [SP reason-phrase] CRLF. A missing SP before an empty reason is common; accept it.
  if (p >= len) {
    return more();
  }
  size_t reason_start = p;
  if (buf[p] == ' ') {
    reason_start = ++p;
    for (; p < len && buf[p] != '\r'; ++p) {
      if (!is(buf[p], kFieldValue)) {
        return error(buf[p] == '\n' ? ParseError::BareLF : ParseError::BadStatusLine);
      }
    }
  }
  out->reason = std::string_view(buf + reason_start, p - reason_start);
  s = expect_crlf(buf, len, &p);
  if (s.status == ParseStatus::Incomplete) {
    return more();
  }
  if (s.status == ParseStatus::Error) {
    return error(s.error == ParseError::BadRequestLine ? ParseError::BadStatusLine : s.error);
  }

  s = parse_fields(buf, len, &p, out->headers, limits.max_headers, &out->num_headers);
  if (s.status == ParseStatus::Incomplete) {
    return more();
  }
  if (s.status == ParseStatus::Error) {
    return error(s.error);
  }
  if (p > limits.max_head_bytes) {
    return error(ParseError::HeadTooLarge);
  }

  Framing f = read_framing(out->headers, out->num_headers);
  out->keep_alive = out->minor_version == 1 ? !f.conn_close : (f.conn_keep_alive && !f.conn_close);
  out->has_content_length = false;
  out->chunked = false;
  if (f.transfer_encoding_fields > 0) {
    // Both framings present is how response smuggling starts: refuse the response.
    if (f.content_length_fields > 0) {
      return error(ParseError::ContentLengthWithTransferEncoding);
    }
    if (f.te_final_chunked && f.te_codings == 1) {
      out->chunked = true;
    } else if (f.te_final_chunked) {
      return error(ParseError::BadTransferEncoding);  // e.g. "gzip, chunked": we cannot relay it
                                                      // as-is safely
    } else {
      out->keep_alive = false;  // RFC 9112 6.3 item 4: read until close
    }
  } else if (f.content_length_fields > 0) {
    // Repeated identical values are tolerated from upstream (RFC 9110 8.6); differing ones not.
    if (f.content_length_bad) {
      return error(ParseError::BadContentLength);
    }
    if (f.content_length_mismatch) {
      return error(ParseError::ConflictingContentLength);
    }
    out->has_content_length = true;
    out->content_length = f.content_length;
  }
  return finish(ParseStatus::Complete, p);
}

BodyKind response_body_kind(const ResponseHead& head, bool request_was_head) {
  if (request_was_head || head.status < 200 || head.status == 204 || head.status == 304) {
    return BodyKind::None;
  }
  if (head.chunked) {
    return BodyKind::Chunked;
  }
  if (head.has_content_length) {
    return head.content_length == 0 ? BodyKind::None : BodyKind::Length;
  }
  return BodyKind::UntilClose;
}

}  // namespace sy::http1
