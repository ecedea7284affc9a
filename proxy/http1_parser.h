#pragma once
// Strict HTTP/1.1 message-head parser and chunked-body decoder (RFC 9110 / RFC 9112).
//
// Pure codec (STYLE rule 6): bytes in, results out; no fd, no timer, no libevent type, no
// allocation. Head parsing has the picohttpparser shape: it is handed the whole buffer so far,
// keeps no state between calls, and returns Complete (with the head's byte count), Incomplete
// or Error. Parsed strings are views into the caller's buffer and live as long as it does.
//
// Strictness is a security property: a proxy that parses more leniently than the backend behind
// it enables request smuggling. Everything RFC 9112 lets a server reject is rejected here:
// Content-Length with Transfer-Encoding, conflicting or repeated Content-Length, any transfer
// coding other than a single final "chunked", bad chunk sizes, whitespace before the colon,
// obs-fold, bare CR, bare LF line endings, NUL and other control bytes, oversized heads/URIs.
//
// Thread: any; every function is reentrant.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/ascii.h"

namespace sy::http1 {

enum class ParseStatus { Complete, Incomplete, Error };

// Why a message was rejected. Each maps to one response status (see status_for()).
enum class ParseError {
  None,
  BadRequestLine,            // 400 malformed request line
  BadMethod,                 // 400 method is not a token
  BadTarget,                 // 400 request target has forbidden bytes or a bad form
  BadScheme,                 // 400 absolute-form target whose scheme is not http or https
  UserinfoInTarget,          // 400 absolute-form target with "user@" before the host
  EmptyAuthority,            // 400 absolute-form target without a host ("http:///p")
  BadVersion,                // 400 (505 for HTTP/2+ on an HTTP/1 connection: status_for says 505)
  UnsupportedVersion,        // 505 "HTTP/2.0" etc. on the text protocol
  UriTooLong,                // 414 request target longer than Limits::max_uri_bytes
  HeadTooLarge,              // 431 head longer than Limits::max_head_bytes
  TooManyHeaders,            // 431 more than Limits::max_headers fields
  BadHeaderName,             // 400 empty or non-token field name
  WhitespaceBeforeColon,     // 400 "Name : value"
  ObsFold,                   // 400 a line starting with SP/HTAB (obsolete line folding)
  BareCR,                    // 400 CR not followed by LF
  BareLF,                    // 400 LF not preceded by CR
  NulByte,                   // 400 NUL anywhere in the head
  BadHeaderValue,            // 400 control byte in a field value
  BadContentLength,          // 400 not 1*DIGIT, or overflows uint64
  ConflictingContentLength,  // 400 repeated Content-Length (even with equal values) or a list
  ContentLengthWithTransferEncoding,  // 400 both present
  BadTransferEncoding,  // 501/400: anything other than exactly "chunked" (case-insensitive)
  MissingHost,          // 400 HTTP/1.1 request without exactly one Host
  BadStatusLine,        // 502 (response) malformed status line
  BadChunkSize,         // 400/502 chunk-size not 1*HEXDIG or overflows
  BadChunkExtension,    // 400/502 malformed chunk extension
  BadChunkTerminator,   // 400/502 chunk data not followed by CRLF
  BadTrailer,           // 400/502 malformed trailer section
};

const char* to_string(ParseError error);  // short stable text, e.g. "whitespace-before-colon"
// Status a server answers with when a *request* fails with |error| (400, 414, 431, 501, 505).
int status_for(ParseError error);

struct Limits {
  size_t max_head_bytes = 16 * 1024;  // bytes up to and including the blank line
  size_t max_headers = 100;           // header fields
  size_t max_uri_bytes = 8 * 1024;    // request target
};

struct Header {
  std::string_view name;   // as sent (case preserved); compare case-insensitively
  std::string_view value;  // leading/trailing SP/HTAB removed
};

// How the body that follows a head is delimited.
enum class BodyKind {
  None,        // no body
  Length,      // exactly content_length bytes
  Chunked,     // chunked transfer coding (use ChunkedDecoder)
  UntilClose,  // responses only: body ends when the upstream closes
};

struct RequestHead {
  std::string_view method;
  // The request-target as received, without a "#fragment" (never part of a request-target;
  // RFC 9112 3.2: it is dropped, not forwarded).
  std::string_view target;
  // Absolute-form ("http://host:port/path?query", RFC 9112 3.2.2): the target's authority
  // decides where the request goes (|host| is set to it; the Host field is ignored, as an
  // origin server must) and |path| is what follows the authority: the path and query, which
  // may be empty or start with '?' (origin_form() turns it into a request-target).
  bool absolute_form = false;
  std::string_view path;      // absolute-form only
  int minor_version = 1;      // HTTP/1.<minor_version>; 0 or 1
  Header* headers = nullptr;  // caller-provided array (input: capacity via max_headers)
  size_t num_headers = 0;     // output
  // Derived by parse_request() from the headers, already validated:
  BodyKind body = BodyKind::None;  // None, Length or Chunked (never UntilClose for requests)
  uint64_t content_length = 0;     // valid when body == Length
  bool keep_alive = true;          // HTTP/1.1 default; "Connection: close" / 1.0 rules applied
  bool expect_continue = false;    // "Expect: 100-continue"
  // Where the request is for: the target's authority for an absolute-form target, else the
  // Host field value ("" if absent, only for HTTP/1.0).
  std::string_view host;
  ParseError error = ParseError::None;  // set when Error is returned
};

struct ResponseHead {
  int minor_version = 1;
  int status = 0;  // 100..999
  std::string_view reason;
  Header* headers = nullptr;  // caller-provided array (capacity via max_headers)
  size_t num_headers = 0;
  bool keep_alive = true;           // whether the upstream connection may be reused
  bool has_content_length = false;  // Content-Length present (and valid)
  uint64_t content_length = 0;
  bool chunked = false;  // Transfer-Encoding: chunked
  ParseError error = ParseError::None;
};

struct ParseResult {
  ParseStatus status = ParseStatus::Incomplete;
  size_t consumed = 0;  // Complete: bytes of the head including the final CRLF CRLF
};

// Parses a request head from buf[0..len). |out->headers| must point to an array of at least
// |limits.max_headers| elements. Incomplete means "feed more bytes"; when len already exceeds
// limits.max_head_bytes without a complete head the result is Error/HeadTooLarge, and a request
// line longer than limits.max_uri_bytes allows gives Error/UriTooLong as soon as it is seen.
ParseResult parse_request(const char* buf, size_t len, const Limits& limits, RequestHead* out);

// Writes the origin-form request-target a proxy forwards for |head| into |out| (replacing its
// contents): |head.target| itself for origin-form (and "*", authority-form); for absolute-form
// its path and query, "/" when the path is empty, "*" for an OPTIONS without path and query
// (RFC 9112 3.2.1 and 3.2.4).
void origin_form(const RequestHead& head, std::string* out);

// Parses a response (status line + headers). Same contract as parse_request().
ParseResult parse_response(const char* buf, size_t len, const Limits& limits, ResponseHead* out);

// The body framing of a response (RFC 9112 section 6.3): none for HEAD requests, 1xx, 204 and
// 304; then chunked, then Content-Length, else UntilClose.
BodyKind response_body_kind(const ResponseHead& head, bool request_was_head);

// True when |name| is a hop-by-hop field a proxy must not forward: Connection, Keep-Alive,
// Proxy-Connection, TE, Trailer, Transfer-Encoding and Upgrade (case-insensitive). Fields named
// in a Connection header are hop-by-hop too: see connection_lists().
bool is_hop_by_hop(std::string_view name);
// True when |name| appears (case-insensitively) as a token in any Connection field value of
// |headers[0..n)|.
bool connection_lists(const Header* headers, size_t n, std::string_view name);
// False when no Connection field of |headers[0..n)| lists anything but "keep-alive" (a field
// that is hop-by-hop anyway): then connection_lists() is false for every field that is not
// hop-by-hop and need not be asked per field (it scans every field, O(n^2) per head).
bool connection_names_fields(const Header* headers, size_t n);

// The fields of one head that are hop-by-hop for this message because a Connection field
// names them. Scans the Connection fields once, so asking per field stays cheap when (as
// almost always) they name nothing but keep-alive.
class ConnectionListed {
 public:
  ConnectionListed(const Header* headers, size_t n)
      : headers_(headers), n_(n), any_(connection_names_fields(headers, n)) {}
  bool operator()(std::string_view name) const {
    return any_ && connection_lists(headers_, n_, name);
  }
  // What an HTTP/1.1 proxy forwards: neither hop-by-hop by definition nor listed.
  bool forwards(std::string_view name) const { return !is_hop_by_hop(name) && !(*this)(name); }

 private:
  const Header* headers_;
  size_t n_;
  bool any_;
};

// False for the fields RFC 9110 6.5.1 keeps out of a trailer section because they must be
// known before the content is processed: message framing (Content-Length, Transfer-Encoding,
// Trailer and the other hop-by-hop fields), routing (Host), request modifiers (Cache-Control,
// Expect, Max-Forwards, Pragma, Range, TE, If-*), authentication (Authorization, Cookie,
// Set-Cookie, *-Authenticate), response control (Age, Date, Expires, Location, Retry-After,
// Vary, Warning) and content format (Content-Encoding, Content-Range, Content-Type). A proxy
// drops them: a recipient that merges trailers into the head would otherwise let a trailer
// redefine framing or routing after the fact. Case-insensitive.
bool allowed_in_trailer(std::string_view name);

// Appends to |out| the field lines of |trailer| (ChunkedDecoder::trailer(): "Name: value"
// lines each ending in CRLF) that allowed_in_trailer() accepts, and with |drop_underscores|
// only those whose name has no '_'; returns how many lines were left out.
size_t append_allowed_trailer(std::string_view trailer, bool drop_underscores, std::string* out);

using ::sy::iequals;  // common/ascii.h: inline, shared with routing/

// Streaming decoder for the chunked transfer coding. It is the one stateful piece of this file:
// it remembers where in the chunk stream it is, so a body can arrive in any split.
//
// Use: while !done(): if data_remaining() > 0, move up to that many bytes of payload straight
// from the input (no copy through the decoder) and call consume_data(n); otherwise call
// parse_framing() on the bytes available (at least what it asks for) and drop |consumed|.
//
//   "1a;ext=v\r\n" <26 bytes of data> "\r\n" ... "0\r\n" [trailer fields] "\r\n"
//    \__framing__/  \___payload____/  framing   \________framing_______________/
class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(size_t max_trailer_bytes = 16 * 1024)
      : max_trailer_bytes_(max_trailer_bytes) {}

  // Payload bytes left in the current chunk; > 0 means the next input bytes are payload.
  uint64_t data_remaining() const { return data_remaining_; }
  // Records that |n| (<= data_remaining()) payload bytes were taken from the input.
  void consume_data(uint64_t n);

  // Parses framing (size line, the CRLF after a chunk's data, the last chunk and trailer
  // section) from buf[0..len). Complete: |consumed| bytes were used and the decoder is now in
  // payload (data_remaining() > 0) or done(). Incomplete: |consumed| may be > 0 (e.g. a CRLF
  // after data); call again with more. Error: |error()| says why. The trailer section is only
  // consumed when complete (all or nothing); it is then available as trailer() for one call:
  // a view into |buf| of the trailer field lines, each ending in CRLF, without the final CRLF.
  ParseResult parse_framing(const char* buf, size_t len);

  bool done() const { return state_ == State::Done; }
  ParseError error() const { return error_; }
  std::string_view trailer() const { return trailer_; }
  uint64_t total_payload() const { return total_payload_; }  // bytes of payload seen so far

 private:
  enum class State { Size, DataCrlf, Trailer, Done, Error };
  State state_ = State::Size;
  uint64_t data_remaining_ = 0;
  uint64_t total_payload_ = 0;
  size_t max_trailer_bytes_;
  std::string_view trailer_;
  ParseError error_ = ParseError::None;
};

}  // namespace sy::http1
