#include "bench/ws_frame.h"

#include <openssl/evp.h>

#include <cstring>

namespace sy::bench {

WsParse ws_parse_head(const uint8_t* p, size_t n, WsFrameHead* head, const char** error) {
  if (n < 2) {
    return WsParse::NeedMore;
  }
  if ((p[0] & 0x70) != 0) {
    *error = "reserved bits set";
    return WsParse::Bad;
  }
  const uint8_t opcode = p[0] & 0x0F;
  const bool control = (opcode & 0x08) != 0;
  if ((opcode > kWsBinary && opcode < kWsClose) || opcode > kWsPong) {
    *error = "unknown opcode";
    return WsParse::Bad;
  }
  head->opcode = opcode;
  head->fin = (p[0] & 0x80) != 0;
  head->masked = (p[1] & 0x80) != 0;
  uint64_t len = p[1] & 0x7F;
  size_t at = 2;
  if (len == 126) {
    if (n < 4) {
      return WsParse::NeedMore;
    }
    len = (uint64_t{p[2]} << 8) | p[3];
    at = 4;
    if (len < 126) {
      *error = "length not minimally encoded";
      return WsParse::Bad;
    }
  } else if (len == 127) {
    if (n < 10) {
      return WsParse::NeedMore;
    }
    len = 0;
    for (int i = 0; i < 8; ++i) {
      len = (len << 8) | p[2 + i];
    }
    at = 10;
    if (len >> 63) {
      *error = "length >= 2^63";
      return WsParse::Bad;
    }
    if (len <= 0xFFFF) {
      *error = "length not minimally encoded";
      return WsParse::Bad;
    }
  }
  if (control && (!head->fin || len > 125)) {
    *error = "control frame fragmented or longer than 125 bytes";
    return WsParse::Bad;
  }
  if (head->masked) {
    if (n < at + 4) {
      return WsParse::NeedMore;
    }
    std::memcpy(head->mask, p + at, 4);
    at += 4;
  }
  head->length = len;
  head->head_bytes = at;
  return WsParse::Ok;
}

size_t ws_write_head(uint8_t* out, uint8_t opcode, bool fin, uint64_t length, const uint8_t* mask) {
  out[0] = static_cast<uint8_t>((fin ? 0x80 : 0) | (opcode & 0x0F));
  const uint8_t mask_bit = mask ? 0x80 : 0;
  size_t at = 2;
  if (length < 126) {
    out[1] = static_cast<uint8_t>(mask_bit | length);
  } else if (length <= 0xFFFF) {
    out[1] = mask_bit | 126;
    out[2] = static_cast<uint8_t>(length >> 8);
    out[3] = static_cast<uint8_t>(length);
    at = 4;
  } else {
    out[1] = mask_bit | 127;
    for (int i = 0; i < 8; ++i) {
      out[2 + i] = static_cast<uint8_t>(length >> (56 - 8 * i));
    }
    at = 10;
  }
  if (mask) {
    std::memcpy(out + at, mask, 4);
    at += 4;
  }
  return at;
}

void ws_mask(uint8_t* data, size_t n, const uint8_t mask[4], uint64_t offset) {
  // Eight bytes at a time: the key repeats every 4, so an 8-byte word of it does too.
  uint8_t key[8];
  for (size_t j = 0; j < 8; ++j) {
    key[j] = mask[(offset + j) & 3];
  }
  uint64_t word;
  std::memcpy(&word, key, 8);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t d;
    std::memcpy(&d, data + i, 8);
    d ^= word;
    std::memcpy(data + i, &d, 8);
  }
  for (; i < n; ++i) {
    data[i] ^= mask[(offset + i) & 3];
  }
}

std::string ws_accept(std::string_view key) {
  static constexpr char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input(key);
  input += kGuid;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr);
  unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  int n = EVP_EncodeBlock(b64, digest, static_cast<int>(len));
  return std::string(reinterpret_cast<char*>(b64), static_cast<size_t>(n));
}

}  // namespace sy::bench
