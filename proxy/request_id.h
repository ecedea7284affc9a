#pragma once
// X-Request-Id values the proxy generates for requests that arrive without one (issue 14).
//
// An id is 32 lowercase hex digits, like nginx's $request_id: 16 for a random prefix drawn
// once per source (one source per worker thread, so the prefix also says which worker and
// which process start), then 16 for the source's sequence number. Unique without any shared
// state or lock; not secret (a client can send any X-Request-Id it likes anyway).

#include <cstddef>
#include <cstdint>
#include <string>

namespace sy::proxy {

constexpr size_t kRequestIdLength = 32;

// Writes the id of |sequence| under |prefix| into |out| (exactly kRequestIdLength bytes, no
// terminator). Pure; any thread.
void format_request_id(uint64_t prefix, uint64_t sequence, char* out);

// Ids of one thread: a random prefix (getrandom(2), once), then sequence 0, 1, 2, ...
class RequestIdSource {
 public:
  explicit RequestIdSource(uint64_t prefix) : prefix_(prefix) {}
  // The next id into |out| (replaced; its capacity is reused). Owner thread only.
  void next(std::string* out);

  // 64 random bits for a prefix; falls back to time and address mixing when getrandom fails
  // (never blocks: GRND_NONBLOCK, as it runs on a worker thread at its first request).
  static uint64_t random_prefix();

 private:
  uint64_t prefix_;
  uint64_t sequence_ = 0;
};

}  // namespace sy::proxy
