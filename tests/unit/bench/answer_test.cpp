// bench/answer.h: which answers count as failed requests, and the error codes found in bodies.

#include "bench/answer.h"

#include <catch.hpp>

using namespace sy::bench;

TEST_CASE("Switchyard's JSON errors give their CTX code") {
  CHECK(find_error_code(R"({"error":"CTX-0021","message":"held too long"})") == "CTX-0021");
  CHECK(find_error_code(R"({"error": "CTX-0012", "message": "x"})") == "CTX-0012");
}

TEST_CASE("an OX envelope gives its code, even when error is a sentence") {
  CHECK(
      find_error_code(R"({"error":"Your session expired","error_params":[],"code":"SES-0203"})") ==
      "SES-0203");
  CHECK(find_error_code(R"({"error":"context 7 is disabled","code":"APP-0001"})") == "APP-0001");
}

TEST_CASE("bodies without a code-shaped value give none") {
  CHECK(find_error_code("") == "");
  CHECK(find_error_code("old-1 7.10\n") == "");
  CHECK(find_error_code(R"({"data":{"code":"not a code"}})") == "");
  CHECK(find_error_code(R"({"error":"ctx-0001"})") == "");  // lower case is not a code
  CHECK(find_error_code(R"({"error":"CTX-00x1"})") == "");
  CHECK(find_error_code(R"({"error":"CTX-0001)") == "");  // unterminated
  CHECK(find_error_code(R"({"error":42})") == "");
}

TEST_CASE("failures: no answer, 4xx/5xx, or an error code") {
  CHECK(is_failure(0, ""));
  CHECK(is_failure(404, ""));
  CHECK(is_failure(503, "CTX-0021"));
  CHECK(is_failure(200, "APP-0001"));
  CHECK_FALSE(is_failure(200, ""));
  CHECK_FALSE(is_failure(307, ""));  // a redirect not followed is an answer
  CHECK_FALSE(is_failure(304, ""));
}
