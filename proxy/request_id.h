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
  explicit RequestIdSource(uint64_t prefix) { format_request_id(prefix, 0, id_); }
  // The next id into |out| (replaced; its capacity is reused). Owner thread only.
  void next(std::string* out);

  // 64 random bits for a prefix; falls back to time and address mixing when getrandom fails
  // (never blocks: GRND_NONBLOCK, as it runs on a worker thread at its first request).
  static uint64_t random_prefix();

  // Sets the sequence to continue from (tests: the wrap from ffff... to 0000...).
  void set_sequence(uint64_t sequence);

 private:
  // The next id, text: the prefix's digits are written once; next() counts in the last 16
  // hex digits in place (one digit changes per id, mostly), 32 digits per id were 1.7% of
  // a proxied request's instructions.
  char id_[kRequestIdLength];
};

}  // namespace sy::proxy
