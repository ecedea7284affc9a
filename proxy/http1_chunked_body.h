// Moving a chunked HTTP/1.1 body through an evbuffer, shared by the client side (request
// bodies, proxy/http1_session.cpp) and the member side (response bodies,
// proxy/upstream_http1.cpp): payload bytes move across without a copy; only the framing
// (size lines, CRLFs, the last chunk and trailer) is parsed, by http1::ChunkedDecoder.
#pragma once

#include <event2/buffer.h>

#include <cstddef>
#include <cstdint>

#include "proxy/http1_parser.h"

namespace sy::proxy {

// Appends "<hex>\r\n", the size line of a chunk of |n| bytes; returns its length.
size_t add_chunk_header(evbuffer* out, uint64_t n);

// What the front of a chunked body's input holds.
struct ChunkStep {
  enum class Kind {
    Payload,   // |n| payload bytes at the front of the input: the caller moves them on
    Framing,   // |n| framing bytes parsed: the caller drains them and asks again
    Done,      // the body ended with |n| framing bytes: decoder.trailer() is a view into
               // the input, valid until the caller drains them
    NeedMore,  // nothing usable yet: wait for more input
    Bad,       // bad framing: decoder.error() says why
    TooLong,   // a size line or trailer longer than |max_framing| bytes
  };
  Kind kind;
  size_t n = 0;
};

// One step over |in| (|avail| bytes). Payload is counted as consumed by |decoder|; framing is
// parsed but left in |in| for the caller to drain (the trailer may point into it).
ChunkStep next_chunk_step(http1::ChunkedDecoder& decoder, evbuffer* in, size_t avail,
                          size_t max_framing);

}  // namespace sy::proxy
