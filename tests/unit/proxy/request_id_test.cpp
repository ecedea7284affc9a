#include "proxy/request_id.h"

#include <catch.hpp>

#include <set>
#include <string>

using sy::proxy::format_request_id;
using sy::proxy::kRequestIdLength;
using sy::proxy::RequestIdSource;

namespace {

std::string id_of(uint64_t prefix, uint64_t sequence) {
  std::string out(kRequestIdLength, '?');
  format_request_id(prefix, sequence, out.data());
  return out;
}

}  // namespace

TEST_CASE("a request id is the prefix then the sequence, 16 hex digits each") {
  CHECK(id_of(0, 0) == "00000000000000000000000000000000");
  CHECK(id_of(0x0123456789abcdefULL, 1) == "0123456789abcdef0000000000000001");
  CHECK(id_of(~0ULL, ~0ULL) == "ffffffffffffffffffffffffffffffff");
  CHECK(id_of(0xa, 0xfedcba9876543210ULL) == "000000000000000afedcba9876543210");
}

TEST_CASE("a source gives distinct ids under its prefix and reuses the string") {
  RequestIdSource source(0x00000000deadbeefULL);
  std::string id = "something longer than an id, to be replaced whole............";
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    source.next(&id);
    REQUIRE(id.size() == kRequestIdLength);
    REQUIRE(id.rfind("00000000deadbeef", 0) == 0);
    REQUIRE(seen.insert(id).second);
  }
  CHECK(*seen.begin() == "00000000deadbeef0000000000000000");
  CHECK(*seen.rbegin() == "00000000deadbeef00000000000003e7");
}

TEST_CASE("a source's sequence carries across digits and wraps like a 64-bit counter") {
  RequestIdSource source(0xabcULL);
  std::string id;
  source.set_sequence(0x9ULL);
  source.next(&id);
  source.next(&id);
  CHECK(id == "0000000000000abc000000000000000a");
  source.set_sequence(0x19fffULL);
  source.next(&id);
  source.next(&id);
  CHECK(id == "0000000000000abc000000000001a000");
  source.set_sequence(~0ULL);
  source.next(&id);
  CHECK(id == "0000000000000abcffffffffffffffff");
  source.next(&id);
  CHECK(id == "0000000000000abc0000000000000000");  // the prefix is never touched
}

TEST_CASE("random prefixes differ") {
  // Two draws of 64 random bits are equal with probability 2^-64: a failure means no entropy.
  CHECK(RequestIdSource::random_prefix() != RequestIdSource::random_prefix());
}
