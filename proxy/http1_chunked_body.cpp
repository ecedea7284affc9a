#include "proxy/http1_chunked_body.h"

namespace sy::proxy {

size_t add_chunk_header(evbuffer* out, uint64_t n) {
  char line[24];
  static constexpr char kHex[] = "0123456789abcdef";
  char* end = line + sizeof(line);
  char* p = end - 2;
  p[0] = '\r';
  p[1] = '\n';
  do {
    *--p = kHex[n & 0xf];
    n >>= 4;
  } while (n != 0);
  evbuffer_add(out, p, static_cast<size_t>(end - p));
  return static_cast<size_t>(end - p);
}

ChunkStep next_chunk_step(http1::ChunkedDecoder& decoder, evbuffer* in, size_t avail,
                          size_t max_framing) {
  uint64_t data_left = decoder.data_remaining();
  if (data_left > 0) {
    size_t n = avail < data_left ? avail : static_cast<size_t>(data_left);
    if (n == 0) {
      return {ChunkStep::Kind::NeedMore};
    }
    decoder.consume_data(n);
    return {ChunkStep::Kind::Payload, n};
  }
  if (avail == 0) {
    return {ChunkStep::Kind::NeedMore};
  }
  size_t want = avail < max_framing ? avail : max_framing;
  const char* buf = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(want)));
  http1::ParseResult r = decoder.parse_framing(buf, want);
  if (r.status == http1::ParseStatus::Error) {
    return {ChunkStep::Kind::Bad};
  }
  if (r.status == http1::ParseStatus::Complete && decoder.done()) {
    return {ChunkStep::Kind::Done, r.consumed};
  }
  if (r.status == http1::ParseStatus::Incomplete && r.consumed == 0) {
    return {want >= max_framing ? ChunkStep::Kind::TooLong : ChunkStep::Kind::NeedMore};
  }
  return {ChunkStep::Kind::Framing, r.consumed};
}

}  // namespace sy::proxy
