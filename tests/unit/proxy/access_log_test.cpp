// proxy/access_log.h: JSON string escaping (valid UTF-8 JSON for any bytes) and the request
// fields the log keeps (first of each name, X-Request-Id generated once per request).

#include "proxy/access_log.h"

#include <catch.hpp>

#include <string>
#include <vector>

using sy::http1::Header;
using sy::proxy::append_json_string;
using sy::proxy::RequestFields;

namespace {

std::string escaped(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

}  // namespace

TEST_CASE("ASCII, quotes, backslashes and control bytes") {
  CHECK(escaped("") == "");
  CHECK(escaped("/plain?q=1&r=2") == "/plain?q=1&r=2");
  CHECK(escaped("a\"b\\c") == "a\\\"b\\\\c");
  CHECK(escaped(std::string_view("\x00\x01\n\t\x1f\x7f", 6)) ==
        "\\u0000\\u0001\\u000a\\u0009\\u001f\\u007f");
}

TEST_CASE("well-formed UTF-8 is kept as is") {
  CHECK(escaped("\xc3\xa9") == "\xc3\xa9");                  // é, 2 bytes
  CHECK(escaped("\xe2\x82\xac") == "\xe2\x82\xac");          // €, 3 bytes
  CHECK(escaped("\xef\xbf\xbd") == "\xef\xbf\xbd");          // U+FFFD itself
  CHECK(escaped("\xf0\x9f\x98\x80") == "\xf0\x9f\x98\x80");  // 😀, 4 bytes
  CHECK(escaped("\xf4\x8f\xbf\xbf") == "\xf4\x8f\xbf\xbf");  // U+10FFFF, the last
  CHECK(escaped("\xed\x9f\xbf") == "\xed\x9f\xbf");          // U+D7FF, before the surrogates
  CHECK(escaped("\xe0\xa0\x80") == "\xe0\xa0\x80");          // U+0800, shortest 3-byte form
}

TEST_CASE("every byte outside a well-formed sequence becomes \\u00XX") {
  CHECK(escaped("/x\xff\xfe") == "/x\\u00ff\\u00fe");                    // the example
  CHECK(escaped("\x80") == "\\u0080");                                   // lone continuation byte
  CHECK(escaped("\xc0\xaf") == "\\u00c0\\u00af");                        // overlong '/'
  CHECK(escaped("\xc1\xbf") == "\\u00c1\\u00bf");                        // overlong
  CHECK(escaped("\xe0\x9f\xbf") == "\\u00e0\\u009f\\u00bf");             // overlong 3-byte form
  CHECK(escaped("\xf0\x8f\xbf\xbf") == "\\u00f0\\u008f\\u00bf\\u00bf");  // overlong 4-byte
  CHECK(escaped("\xed\xa0\x80") == "\\u00ed\\u00a0\\u0080");             // surrogate U+D800
  CHECK(escaped("\xf4\x90\x80\x80") == "\\u00f4\\u0090\\u0080\\u0080");  // above U+10FFFF
  CHECK(escaped("\xf5\x80\x80\x80") == "\\u00f5\\u0080\\u0080\\u0080");
  // Cut short: the lead byte is escaped, and what follows is looked at afresh.
  CHECK(escaped("\xe2\x82") == "\\u00e2\\u0082");
  CHECK(escaped("\xe2\x82/") == "\\u00e2\\u0082/");
  CHECK(escaped("\xe2\xc3\xa9") == "\\u00e2\xc3\xa9");  // é after a broken lead byte
  CHECK(escaped("\xf0\x9f\x98") == "\\u00f0\\u009f\\u0098");
}

TEST_CASE("escaping appends") {
  std::string out = "{\"k\":\"";
  append_json_string(out, "v\xff");
  CHECK(out == "{\"k\":\"v\\u00ff");
}

TEST_CASE("request fields: the first of each name, case-insensitively") {
  std::vector<Header> h = {{"host", "a.example"},      {"User-Agent", "ua"},
                           {"REFERER", "http://r/"},   {"X-Forwarded-For", "1.2.3.4"},
                           {"Host", "second.example"}, {"user-agent", "second"},
                           {"X-Request-Id", "id-1"},   {"x-request-id", "id-2"}};
  RequestFields f;
  f.capture(h.data(), h.size());
  CHECK(f.host == "a.example");
  CHECK(f.user_agent == "ua");
  CHECK(f.referer == "http://r/");
  CHECK(f.forwarded_for == "1.2.3.4");
  CHECK(f.request_id == "id-1");
  CHECK_FALSE(f.request_id_generated);
  CHECK(f.generated_id().empty());  // a received id is forwarded with the other fields
}

TEST_CASE("request fields: an id is generated once per request, kept when parsed again") {
  std::vector<Header> h = {{"Host", "a"}, {"User-Agent", "ua"}};
  RequestFields f;
  f.capture(h.data(), h.size());
  REQUIRE(f.request_id_generated);
  REQUIRE(f.request_id.size() == 32);
  std::string first = f.request_id;
  // A held request's head is parsed again when it is released: the same id.
  f.capture(h.data(), h.size());
  CHECK(f.request_id == first);
  CHECK(f.generated_id() == first);
  // The next request on the connection: fields forgotten, a new id.
  f.clear();
  CHECK(f.host.empty());
  std::vector<Header> none;
  f.capture(none.data(), none.size());
  CHECK(f.host.empty());
  CHECK(f.user_agent.empty());
  CHECK(f.request_id.size() == 32);
  CHECK(f.request_id != first);
  CHECK(f.request_id.substr(0, 16) == first.substr(0, 16));  // same thread, same prefix
}
