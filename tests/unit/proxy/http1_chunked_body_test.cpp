// The chunked body mover (proxy/http1_chunked_body.h) over real evbuffers: payload handed on in
// place, framing left for the caller to drain, a trailer visible until the drain, and the two
// ways a body goes bad.
#include <string>

#include <catch.hpp>
#include <event2/buffer.h>

#include "proxy/http1_chunked_body.h"

using sy::proxy::ChunkStep;
using sy::proxy::next_chunk_step;
namespace http1 = sy::http1;

namespace {

constexpr size_t kMaxFraming = 64;

struct Buf {
  evbuffer* b = evbuffer_new();
  ~Buf() { evbuffer_free(b); }
  void add(const std::string& s) { evbuffer_add(b, s.data(), s.size()); }
  size_t size() const { return evbuffer_get_length(b); }
  std::string take(size_t n) {
    std::string s(n, '\0');
    evbuffer_remove(b, s.data(), n);
    return s;
  }
};

// Runs the steps a session or upstream runs over |in|: payload moved out, framing drained.
// Returns the payload; |last| is the step that stopped the loop.
std::string pump(http1::ChunkedDecoder& dec, Buf& in, ChunkStep* last, std::string* trailer) {
  std::string payload;
  for (;;) {
    ChunkStep s = next_chunk_step(dec, in.b, in.size(), kMaxFraming);
    *last = s;
    switch (s.kind) {
    case ChunkStep::Kind::Payload: payload += in.take(s.n); continue;
    case ChunkStep::Kind::Framing: evbuffer_drain(in.b, s.n); continue;
    case ChunkStep::Kind::Done:
      *trailer = std::string(dec.trailer());
      evbuffer_drain(in.b, s.n);
      return payload;
    default: return payload;
    }
  }
}

}  // namespace

TEST_CASE("add_chunk_header writes the size line in lower-case hex") {
  Buf out;
  CHECK(sy::proxy::add_chunk_header(out.b, 0) == 3);
  CHECK(sy::proxy::add_chunk_header(out.b, 255) == 4);
  CHECK(sy::proxy::add_chunk_header(out.b, 0x10000) == 7);
  CHECK(out.take(out.size()) == "0\r\nff\r\n10000\r\n");
}

TEST_CASE("a whole chunked body: payload in place, trailer visible at Done, nothing left") {
  http1::ChunkedDecoder dec(kMaxFraming);
  Buf in;
  in.add("5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Sum: 1\r\n\r\nNEXT");
  ChunkStep last{};
  std::string trailer;
  CHECK(pump(dec, in, &last, &trailer) == "hello world");
  CHECK(last.kind == ChunkStep::Kind::Done);
  CHECK(trailer.find("X-Sum: 1") != std::string::npos);
  CHECK(in.take(in.size()) == "NEXT");  // the next message is not touched
  CHECK(dec.total_payload() == 11);
}

TEST_CASE("a body split at every byte comes out the same") {
  const std::string body = "3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
  http1::ChunkedDecoder dec(kMaxFraming);
  Buf in;
  std::string payload, trailer;
  ChunkStep last{};
  for (char c : body) {
    in.add(std::string(1, c));
    payload += pump(dec, in, &last, &trailer);
    if (last.kind == ChunkStep::Kind::Done) {
      break;
    }
    REQUIRE(last.kind == ChunkStep::Kind::NeedMore);
  }
  CHECK(last.kind == ChunkStep::Kind::Done);
  CHECK(payload == "abc0123456789abcdef");
  CHECK(in.size() == 0);
}

TEST_CASE("bad framing is Bad with the decoder's reason; an endless size line is TooLong") {
  SECTION("not hex") {
    http1::ChunkedDecoder dec(kMaxFraming);
    Buf in;
    in.add("zz\r\n");
    ChunkStep s = next_chunk_step(dec, in.b, in.size(), kMaxFraming);
    CHECK(s.kind == ChunkStep::Kind::Bad);
    CHECK(dec.error() != http1::ParseError::None);
  }
  SECTION("no CRLF after the data") {
    http1::ChunkedDecoder dec(kMaxFraming);
    Buf in;
    in.add("1\r\naXY");
    ChunkStep last{};
    std::string trailer;
    CHECK(pump(dec, in, &last, &trailer) == "a");
    CHECK(last.kind == ChunkStep::Kind::Bad);
  }
  SECTION("a size line padded past the framing bound") {
    http1::ChunkedDecoder dec(kMaxFraming);
    Buf in;
    in.add("1;" + std::string(kMaxFraming, 'x'));
    ChunkStep s = next_chunk_step(dec, in.b, in.size(), kMaxFraming);
    CHECK(s.kind == ChunkStep::Kind::TooLong);
  }
}
