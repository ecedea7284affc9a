// libFuzzer target for the chunked body decoder (proxy/http1_parser.h, ChunkedDecoder).
//
// Input: byte 0 picks the trailer limit (0..255 * 16 bytes) and byte 1 the feeding pattern;
// the rest is the body as it would follow a request or response head. Checked beyond "no
// crash, no out-of-bounds read" (the body is an exact-size heap copy, so ASan sees any read
// past its end):
//   - consumed <= len, and a trailer view lies inside the bytes it was parsed from;
//   - the decoder is incremental: the payload, trailer, error and end position are the same
//     when the body is fed whole, byte by byte, and in pieces of the pattern's sizes;
//   - total_payload() equals the payload bytes handed out, and bytes after the last chunk are
//     never consumed (appending garbage changes nothing).
// Build and run: tests/fuzz/run.sh [seconds] (or make fuzz).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "proxy/http1_parser.h"

using namespace sy::http1;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "contract violated: %s\n", what);
    std::abort();
  }
}

struct Outcome {
  std::string payload;
  std::string trailer;
  std::string end;  // "DONE", "INCOMPLETE" or "E:<error>"
  size_t used = 0;  // input bytes consumed when done
  bool operator==(const Outcome&) const = default;
  std::string describe() const {
    return end + " used=" + std::to_string(used) + " payload=" + std::to_string(payload.size()) +
           " trailer=" + std::to_string(trailer.size());
  }
};

void check_same(const Outcome& a, const Outcome& b, const char* what) {
  if (!(a == b)) {
    std::fprintf(stderr, "  %s\n  %s\n", a.describe().c_str(), b.describe().c_str());
  }
  check(a == b, what);
}

// Feeds |body| in pieces whose sizes cycle through |steps| (each >= 1), the way a connection
// does: payload is taken straight from the buffered bytes, framing is parsed from them.
Outcome decode(const std::vector<char>& body, size_t max_trailer,
               const std::vector<size_t>& steps) {
  ChunkedDecoder d(max_trailer);
  Outcome out;
  std::string pending;
  size_t fed = 0;
  size_t taken = 0;  // bytes of |body| consumed by the decoder (framing + payload)
  size_t step_index = 0;
  while (!d.done()) {
    if (d.data_remaining() > 0 && !pending.empty()) {
      size_t n = d.data_remaining() < pending.size() ? d.data_remaining() : pending.size();
      out.payload.append(pending, 0, n);
      pending.erase(0, n);
      d.consume_data(n);
      taken += n;
      continue;
    }
    if (d.data_remaining() == 0 && !pending.empty()) {
      ParseResult r = d.parse_framing(pending.data(), pending.size());
      check(r.consumed <= pending.size(), "consumed <= len");
      if (r.status == ParseStatus::Error) {
        // Where an error is noticed may depend on the feeding (a last-chunk line is taken on
        // its own when it arrives alone); the error itself may not. The connection ends.
        out.end = std::string("E:") + to_string(d.error());
        return out;
      }
      if (r.status == ParseStatus::Complete && d.done()) {
        std::string_view t = d.trailer();
        check(t.empty() || (t.data() >= pending.data() &&
                            t.data() + t.size() <= pending.data() + pending.size()),
              "trailer inside the input");
        out.trailer = std::string(t);
      }
      pending.erase(0, r.consumed);
      taken += r.consumed;
      if (r.status == ParseStatus::Complete) {
        continue;
      }
    }
    if (fed >= body.size()) {
      out.end = "INCOMPLETE";
      return out;
    }
    size_t step = steps[step_index++ % steps.size()];
    size_t n = body.size() - fed < step ? body.size() - fed : step;
    // An exact-size copy of what has arrived, so an over-read of |pending| is seen too.
    pending.append(body.data() + fed, n);
    fed += n;
  }
  check(d.total_payload() == out.payload.size(), "total_payload counts the payload");
  out.end = "DONE";
  out.used = taken;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size > 8192) {
    return 0;
  }
  size_t max_trailer = static_cast<size_t>(data[0]) * 16;
  uint8_t pattern = data[1];
  std::vector<char> body(data + 2, data + size);

  Outcome whole = decode(body, max_trailer, {body.empty() ? 1 : body.size()});
  Outcome bytes = decode(body, max_trailer, {1});
  check_same(whole, bytes, "one feed equals byte-by-byte");
  std::vector<size_t> steps = {static_cast<size_t>(pattern % 7) + 1,
                               static_cast<size_t>(pattern / 7 % 13) + 2, 64};
  check_same(decode(body, max_trailer, steps), whole, "one feed equals pieces");

  if (whole.end == "DONE") {
    std::vector<char> more = body;
    more.insert(more.end(), {'G', 'E', 'T', ' ', '/', '\r', '\n'});
    Outcome extended = decode(more, max_trailer, {more.size()});
    check_same(extended, whole, "bytes after the last chunk are not consumed");
    check(whole.used <= body.size(), "used <= len");
  }
  return 0;
}
