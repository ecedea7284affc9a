// bench/ws_frame.h: RFC 6455 frame heads both ways, masking, the handshake's accept value.

#include "bench/ws_frame.h"

#include <catch.hpp>

#include <cstring>
#include <vector>

using namespace sy::bench;

namespace {

WsParse parse(const std::vector<uint8_t>& bytes, WsFrameHead* head, const char** error) {
  return ws_parse_head(bytes.data(), bytes.size(), head, error);
}

}  // namespace

TEST_CASE("ws_accept: the RFC 6455 4.2.2 example") {
  CHECK(ws_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("ws frame heads round-trip at every length encoding, masked and not") {
  const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  for (uint64_t len : {0ULL, 1ULL, 125ULL, 126ULL, 65535ULL, 65536ULL, 1ULL << 40}) {
    for (const uint8_t* m : {static_cast<const uint8_t*>(nullptr), mask}) {
      uint8_t buf[kWsMaxHead];
      size_t n = ws_write_head(buf, kWsBinary, true, len, m);
      CHECK(n == (len < 126 ? 2u : len <= 0xFFFF ? 4u : 10u) + (m ? 4u : 0u));
      WsFrameHead h;
      const char* error = nullptr;
      for (size_t cut = 0; cut < n; ++cut) {  // every prefix of a head asks for more
        CHECK(ws_parse_head(buf, cut, &h, &error) == WsParse::NeedMore);
      }
      REQUIRE(ws_parse_head(buf, n, &h, &error) == WsParse::Ok);
      CHECK(h.length == len);
      CHECK(h.head_bytes == n);
      CHECK(h.fin);
      CHECK(h.opcode == kWsBinary);
      CHECK(h.masked == (m != nullptr));
      if (m) {
        CHECK(std::memcmp(h.mask, mask, 4) == 0);
      }
    }
  }
}

TEST_CASE("ws_mask: the RFC 6455 5.7 masked \"Hello\", also split at any offset") {
  // 0x81 0x85 0x37 0xfa 0x21 0x3d 0x7f 0x9f 0x4d 0x51 0x58: a masked text "Hello".
  std::vector<uint8_t> frame = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  WsFrameHead h;
  const char* error = nullptr;
  REQUIRE(parse(frame, &h, &error) == WsParse::Ok);
  CHECK(h.opcode == kWsText);
  CHECK(h.length == 5);
  for (size_t split = 0; split <= 5; ++split) {
    std::vector<uint8_t> payload(frame.begin() + 6, frame.end());
    ws_mask(payload.data(), split, h.mask, 0);
    ws_mask(payload.data() + split, 5 - split, h.mask, split);
    CHECK(std::string(payload.begin(), payload.end()) == "Hello");
  }
}

TEST_CASE("ws_parse_head refuses what RFC 6455 forbids") {
  WsFrameHead h;
  const char* error = nullptr;
  CHECK(parse({0xC2, 0x00}, &h, &error) == WsParse::Bad);  // RSV1 without an extension
  CHECK(std::string(error) == "reserved bits set");
  CHECK(parse({0x83, 0x00}, &h, &error) == WsParse::Bad);  // opcode 3 is reserved
  CHECK(std::string(error) == "unknown opcode");
  CHECK(parse({0x09, 0x00}, &h, &error) == WsParse::Bad);             // a fragmented ping
  CHECK(parse({0x89, 126, 0x00, 0x7E}, &h, &error) == WsParse::Bad);  // a 126-byte ping
  CHECK(std::string(error) == "control frame fragmented or longer than 125 bytes");
  CHECK(parse({0x82, 126, 0x00, 0x7D}, &h, &error) == WsParse::Bad);  // 125 in 16 bits
  CHECK(std::string(error) == "length not minimally encoded");
  CHECK(parse({0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}, &h, &error) == WsParse::Bad);
  CHECK(parse({0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, &h, &error) == WsParse::Bad);
  CHECK(std::string(error) == "length >= 2^63");
}
