#pragma once
// RFC 6455 framing for the WebSocket bench programs (bench/ws_bench.cpp): frame heads, masking
// and the handshake's Sec-WebSocket-Accept. Pure: no I/O, no allocation except ws_accept().
//
// A frame head is 2 bytes, then the payload length in 0, 2 or 8 more bytes (126 / 127
// markers, minimal encoding required, RFC 6455 5.2), then a 4-byte masking key when the mask
// bit is set (every client frame, never a server frame: 5.1). Control frames (opcode >= 8)
// carry at most 125 bytes and are never fragmented (5.5).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sy::bench {

enum WsOpcode : uint8_t {
  kWsContinuation = 0x0,
  kWsText = 0x1,
  kWsBinary = 0x2,
  kWsClose = 0x8,
  kWsPing = 0x9,
  kWsPong = 0xA,
};

constexpr size_t kWsMaxHead = 14;  // 2 + 8 length bytes + 4 mask bytes

struct WsFrameHead {
  uint8_t opcode = 0;
  bool fin = false;
  bool masked = false;
  uint8_t mask[4] = {0, 0, 0, 0};
  uint64_t length = 0;    // payload bytes
  size_t head_bytes = 0;  // where the payload starts
};

enum class WsParse { NeedMore, Ok, Bad };

// Parses the head at |p| (|n| bytes available). Bad sets *error to a static description:
// reserved bits set (no extension is negotiated), an unknown opcode, a control frame that is
// fragmented or longer than 125 bytes, a length not minimally encoded or >= 2^63.
WsParse ws_parse_head(const uint8_t* p, size_t n, WsFrameHead* head, const char** error);

// Writes a head for |length| payload bytes at |out| (room for kWsMaxHead); |mask| null for an
// unmasked (server) frame. Returns the head's size.
size_t ws_write_head(uint8_t* out, uint8_t opcode, bool fin, uint64_t length, const uint8_t* mask);

// XORs |n| bytes at |data| with |mask|, |offset| being the position of data[0] in the payload.
void ws_mask(uint8_t* data, size_t n, const uint8_t mask[4], uint64_t offset = 0);

// base64(SHA-1(key + the RFC's GUID)): the server's Sec-WebSocket-Accept for |key| (4.2.2).
std::string ws_accept(std::string_view key);

}  // namespace sy::bench
