#include "proxy/request_id.h"

#include <sys/random.h>

#include <algorithm>
#include <chrono>

namespace sy::proxy {

void format_request_id(uint64_t prefix, uint64_t sequence, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    out[i] = kHex[prefix & 0xf];
    out[16 + i] = kHex[sequence & 0xf];
    prefix >>= 4;
    sequence >>= 4;
  }
}

void RequestIdSource::next(std::string* out) {
  out->assign(id_, kRequestIdLength);
  // The sequence + 1, in hex, in place: like an odometer, 'f' rolls over to '0' and carries.
  for (size_t i = kRequestIdLength - 1; i >= kRequestIdLength / 2; --i) {
    char& c = id_[i];
    if (c == 'f') {
      c = '0';
      continue;
    }
    c = c == '9' ? 'a' : static_cast<char>(c + 1);
    return;
  }
}

void RequestIdSource::set_sequence(uint64_t sequence) {
  char full[kRequestIdLength];
  format_request_id(0, sequence, full);
  std::copy(full + kRequestIdLength / 2, full + kRequestIdLength, id_ + kRequestIdLength / 2);
}

uint64_t RequestIdSource::random_prefix() {
  uint64_t value = 0;
  if (getrandom(&value, sizeof value, GRND_NONBLOCK) == static_cast<ssize_t>(sizeof value)) {
    return value;
  }
  // No entropy yet (early boot), a very old kernel or a seccomp filter: the clock and this
  // thread's stack address still differ between workers and restarts.
  uint64_t x = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
               reinterpret_cast<uintptr_t>(&value);
  x ^= x >> 33;  // splitmix64's finalizer spreads the low-entropy bits over all 64
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

}  // namespace sy::proxy
