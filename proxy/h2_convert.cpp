#include "proxy/h2_convert.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>  // SHA_DIGEST_LENGTH

#include <chrono>
#include <cstdint>
#include <cstring>

#include "proxy/http1_parser.h"

namespace sy::proxy::h2 {

PrefaceMatch match_preface(std::string_view first_bytes) {
  if (first_bytes.size() >= kClientPreface.size()) {
    return first_bytes.substr(0, kClientPreface.size()) == kClientPreface ? PrefaceMatch::Yes
                                                                          : PrefaceMatch::No;
  }
  return kClientPreface.substr(0, first_bytes.size()) == first_bytes ? PrefaceMatch::Partial
                                                                     : PrefaceMatch::No;
}

bool is_connection_specific(std::string_view name) {
  return http1::iequals(name, "connection") || http1::iequals(name, "keep-alive") ||
         http1::iequals(name, "proxy-connection") || http1::iequals(name, "transfer-encoding") ||
         http1::iequals(name, "upgrade") || http1::iequals(name, "te");
}

Refusal check_request(std::string_view method, std::string_view protocol, std::string_view scheme,
                      std::string_view authority, std::string_view path,
                      const http1::Header* fields, size_t num_fields) {
  if (method == "CONNECT") {
    if (protocol.empty()) {
      return {501, "connect-not-supported"};
    }
    if (!http1::iequals(protocol, "websocket")) {
      return {501, "protocol-not-supported"};
    }
  }
  if (!http1::iequals(scheme, "http") && !http1::iequals(scheme, "https")) {
    return {400, "bad-scheme"};
  }
  if (path.empty() || (path[0] != '/' && !(path == "*" && method == "OPTIONS"))) {
    return {400, "bad-path"};
  }
  if (authority.find('@') != std::string_view::npos) {
    return {400, "userinfo-in-authority"};
  }
  bool has_host = false;
  for (size_t i = 0; i < num_fields; ++i) {
    if (fields[i].name != "host") {
      continue;
    }
    has_host = true;
    if (!authority.empty() && !http1::iequals(fields[i].value, authority)) {
      return {400, "host-differs-from-authority"};
    }
  }
  if (authority.empty() && !has_host) {
    return {400, "missing-host"};
  }
  return {};
}

Refusal check_request(const Request& req) {
  std::vector<http1::Header> fields;
  for (const Field& f : req.fields) {
    fields.push_back(http1::Header{f.name, f.value});
  }
  return check_request(req.method, req.protocol, req.scheme, req.authority, req.path,
                       fields.data(), fields.size());
}

void make_websocket_key(char (&out)[kWebSocketKeyLen]) {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    // The key is a nonce, not a secret (RFC 6455 10.3 asks only that it be unpredictable to
    // defeat cache poisoning of intermediaries): the monotonic clock's bits do when the CSPRNG
    // cannot be read.
    uint64_t t = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    std::memcpy(raw, &t, sizeof t);
    std::memcpy(raw + 8, &t, sizeof t);
  }
  unsigned char text[kWebSocketKeyLen + 1];  // EVP_EncodeBlock writes a NUL
  EVP_EncodeBlock(text, raw, sizeof raw);
  std::memcpy(out, text, kWebSocketKeyLen);
}

void websocket_accept(std::string_view key, char (&out)[kWebSocketAcceptLen]) {
  static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha1(), nullptr);
  EVP_DigestUpdate(md, key.data(), key.size());
  EVP_DigestUpdate(md, kGuid.data(), kGuid.size());
  EVP_DigestFinal_ex(md, digest, nullptr);
  EVP_MD_CTX_free(md);
  unsigned char text[kWebSocketAcceptLen + 1];  // EVP_EncodeBlock writes a NUL
  EVP_EncodeBlock(text, digest, SHA_DIGEST_LENGTH);
  std::memcpy(out, text, kWebSocketAcceptLen);
}

}  // namespace sy::proxy::h2
