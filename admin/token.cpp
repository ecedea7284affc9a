#include "admin/token.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "admin/protocol.h"

namespace sy::admin {

Result<std::string> read_token_file(const std::string& path, const std::string& key) {
  std::ifstream f(path);
  if (!f) {
    return make_error(Errc::Config, key + " " + path + ": " + std::strerror(errno));
  }
  std::string line;
  std::getline(f, line);
  std::string token = token_from_line(std::move(line));
  if (token.size() < 8) {
    return make_error(Errc::Config,
                      key + " " + path + ": the token must have at least 8 characters");
  }
  return token;
}

bool token_matches(const std::string& given, const std::string& expected) {
  unsigned char a[SHA256_DIGEST_LENGTH];
  unsigned char b[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(given.data()), given.size(), a);
  SHA256(reinterpret_cast<const unsigned char*>(expected.data()), expected.size(), b);
  return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

}  // namespace sy::admin
