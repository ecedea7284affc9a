// conf/substitute.h: ${NAME}, ${NAME:-default}, the $${ escape, and errors that name the
// variable but never a value.

#include "conf/substitute.h"

#include <catch.hpp>

#include <map>
#include <string>

using namespace sy::conf;

namespace {

// A fake environment: only the names in |vars| are set.
EnvLookup env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

std::string expand(const std::string& text, const EnvLookup& lookup) {
  std::string out, error;
  INFO(text);
  REQUIRE(substitute(text, lookup, &out, &error));
  return out;
}

std::string failure(const std::string& text, const EnvLookup& lookup) {
  std::string out, error;
  INFO(text);
  REQUIRE_FALSE(substitute(text, lookup, &out, &error));
  return error;
}

}  // namespace

TEST_CASE("text without references is unchanged") {
  auto e = env({});
  CHECK(expand("", e) == "");
  CHECK(expand("plain", e) == "plain");
  CHECK(expand("costs $5, $ and $x {y}", e) == "costs $5, $ and $x {y}");
  CHECK(expand("ends with $", e) == "ends with $");
  bool used = true;
  std::string out, error;
  used = false;
  REQUIRE(substitute("no refs", e, &out, &error, &used));
  CHECK_FALSE(used);
}

TEST_CASE("${NAME} is replaced by the variable's value, anywhere in the text") {
  auto e = env({{"HOST", "db1"}, {"PORT", "3306"}, {"EMPTY", ""}, {"_x9", "u"}});
  CHECK(expand("${HOST}", e) == "db1");
  CHECK(expand("${HOST}:${PORT}", e) == "db1:3306");
  CHECK(expand("tcp://${HOST}/x", e) == "tcp://db1/x");
  CHECK(expand("[${EMPTY}]", e) == "[]");
  CHECK(expand("${_x9}", e) == "u");
  bool used = false;
  std::string out, error;
  REQUIRE(substitute("a${HOST}", e, &out, &error, &used));
  CHECK(used);
}

TEST_CASE("${NAME:-default} uses the default when NAME is unset or empty") {
  auto e = env({{"SET", "yes"}, {"EMPTY", ""}});
  CHECK(expand("${SET:-no}", e) == "yes");
  CHECK(expand("${UNSET:-no}", e) == "no");
  CHECK(expand("${EMPTY:-fallback}", e) == "fallback");
  CHECK(expand("${UNSET:-}", e) == "");
  CHECK(expand("${UNSET:-a b:c/d-e}", e) == "a b:c/d-e");
  CHECK(expand("${UNSET:-$x}", e) == "$x");
}

TEST_CASE("$${ is a literal ${ and a value is never expanded again") {
  auto e = env({{"V", "${OTHER}"}, {"OTHER", "no"}});
  CHECK(expand("$${V}", e) == "${V}");
  CHECK(expand("a$${b}c", e) == "a${b}c");
  CHECK(expand("${V}", e) == "${OTHER}");
  CHECK(expand("$$", e) == "$$");
}

TEST_CASE("an unset variable without a default is an error naming it") {
  auto e = env({{"DB_PASSWORD_OLD", "hunter2"}});
  std::string error = failure("${DB_PASSWORD}", e);
  CHECK_THAT(error, Catch::Contains("environment variable DB_PASSWORD is not set"));
  CHECK_THAT(error, Catch::Contains("${DB_PASSWORD:-default}"));
  CHECK_THAT(error, !Catch::Contains("hunter2"));
}

TEST_CASE("malformed references are errors") {
  auto e = env({{"A", "secret-value"}});
  CHECK_THAT(failure("${A", e), Catch::Contains("unterminated ${"));
  CHECK_THAT(failure("x ${", e), Catch::Contains("unterminated ${"));
  CHECK_THAT(failure("${}", e), Catch::Contains("bad variable reference ${}"));
  CHECK_THAT(failure("${9A}", e), Catch::Contains("bad variable reference ${9A}"));
  CHECK_THAT(failure("${A B}", e), Catch::Contains("bad variable reference"));
  CHECK_THAT(failure("${A-x}", e), Catch::Contains("bad variable reference"));
  CHECK_THAT(failure("${A:x}", e), Catch::Contains("bad variable reference"));
  CHECK_THAT(failure("${A}${B}", e), Catch::Contains("B is not set"));
  CHECK_THAT(failure("${A}${B}", e), !Catch::Contains("secret-value"));
}

TEST_CASE("a huge reference gives a short error: the name is cut like a value") {
  // Found by the config fuzzer: the whole ${...} was echoed, 7 KB on one error line.
  auto e = env({});
  const std::string bad = "${" + std::string(5000, '4') + std::string(2000, '\x06') + "}";
  std::string error = failure(bad, e);
  CHECK_THAT(error, Catch::Contains("bad variable reference ${\"4444"));
  CHECK_THAT(error, Catch::Contains("... (7000 bytes)"));
  CHECK(error.size() < 300);
  const std::string long_name = "${" + std::string(3000, 'N') + "}";
  error = failure(long_name, e);
  CHECK_THAT(error, Catch::Contains("... (3000 bytes) is not set"));
  CHECK(error.size() < 400);
  // Short ones read as written.
  CHECK_THAT(failure("${NOPE}", e), Catch::Contains("environment variable NOPE is not set"));
}
