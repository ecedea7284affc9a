#pragma once
// A parsed HTTP/1.1 response head handed from an internal ClientConnection (the HTTP/1.1 end
// of an HTTP/2 stream's in-memory pair) straight to the HTTP/2 stream at the other end,
// instead of being serialised into the pair and parsed there again (docs/tls-h2.md, "Costs").
//
//   ClientConnection (internal) ── take_response_head(status, fields, body) ──▶ H2 stream
//                               ══ body bytes, as before ══════════════════════▶
//
// Only the head takes the short cut; the body still follows through the pair, framed as
// announced (content-length bytes, or chunked). The caller hands a head over only while
// nothing is queued between the two ends (its output and the other end's input are empty),
// so nothing written earlier (a 1xx) can be overtaken; otherwise, or when the sink declines,
// it writes the head as bytes as before. Thread: the worker owning both ends.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sy::proxy {

class Stream;

struct HeadField {
  std::string_view name;  // as received (any case); valid during the call only
  std::string_view value;
};

class ResponseHeadSink {
 public:
  enum class Body {
    Length,   // exactly |content_length| (> 0) bytes follow through the pair
    Chunked,  // the chunked coding follows (trailers possibly after the last chunk)
  };
  // |fields|: the response fields without hop-by-hop ones, Via included. |keep_alive|: the
  // internal connection stays open after this response. True = taken (the sink answers
  // the client from it; the caller writes no head); false = write the head as bytes.
  // Never frees the caller or its Streams.
  virtual bool take_response_head(int status, const HeadField* fields, size_t num_fields, Body body,
                                  uint64_t content_length, bool keep_alive) = 0;
  // After a head was taken and no body bytes followed it in the same read: send the
  // HEADERS frame now rather than with the first DATA. Never frees anything.
  virtual void send_head_now() = 0;

 protected:
  ~ResponseHeadSink() = default;
};

}  // namespace sy::proxy
