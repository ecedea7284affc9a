// libFuzzer target for the HTTP/1 head parser (proxy/http1_parser.*); the chunked decoder has
// its own target (chunked_fuzz.cpp).
//
// Besides "no crash, no out-of-bounds read" (ASan/UBSan), it checks the codec's contract:
//   - consumed <= len, and every view returned lies inside the input;
//   - the result of one feed equals the result of feeding any prefix first (statelessness:
//     a prefix of a complete head is Incomplete or the same Complete).
// Build and run: tests/fuzz/run.sh [seconds] (or make fuzz).
#include "proxy/http1_parser.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace sy::http1;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "contract violated: %s\n", what);
    abort();
  }
}

bool inside(std::string_view v, const char* buf, size_t len) {
  return v.empty() || (v.data() >= buf && v.data() + v.size() <= buf + len);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Exact-size heap copy so ASan sees any read past the end.
  std::vector<char> copy(data, data + size);
  const char* buf = copy.data();
  Limits limits;
  limits.max_head_bytes = 2048;
  limits.max_uri_bytes = 512;
  limits.max_headers = 16;
  Header headers[16];

  RequestHead req;
  req.headers = headers;
  ParseResult r = parse_request(buf, size, limits, &req);
  check(r.consumed <= size, "request consumed <= len");
  if (r.status == ParseStatus::Complete) {
    check(inside(req.method, buf, size) && inside(req.target, buf, size), "views inside");
    for (size_t i = 0; i < req.num_headers; ++i) {
      check(inside(headers[i].name, buf, size) && inside(headers[i].value, buf, size),
            "header views inside");
    }
    // Any shorter prefix that ends before the head's end must be Incomplete.
    size_t cut = r.consumed > 0 ? (size * 7919) % r.consumed : 0;
    std::vector<char> prefix(buf, buf + cut);
    RequestHead p;
    Header ph[16];
    p.headers = ph;
    ParseResult pr = parse_request(prefix.data(), cut, limits, &p);
    check(pr.status == ParseStatus::Incomplete, "prefix of a complete head is incomplete");
  }

  ResponseHead resp;
  resp.headers = headers;
  ParseResult rr = parse_response(buf, size, limits, &resp);
  check(rr.consumed <= size, "response consumed <= len");
  if (rr.status == ParseStatus::Complete) {
    check(resp.status >= 100 && resp.status <= 999, "status range");
    (void)response_body_kind(resp, false);
  }
  return 0;
}
