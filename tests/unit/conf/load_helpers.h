#pragma once
// Shared by the conf/load unit tests: every error of a result as text, and "exactly one error,
// here".

#include "conf/load.h"

#include <catch.hpp>

#include <string>

namespace sy::conf::test {

// Every error of |result|, formatted, one per line (for INFO).
inline std::string all(const LoadResult& result) {
  std::string out;
  for (const auto& e : result.errors) {
    out += format(e) + "\n";
  }
  return out;
}

// The only error of |yaml| (loaded as "t.yaml") is at |line|:|col| on |path| and its message
// contains |part|.
inline void require_one_error(const std::string& yaml, int line, int col, const std::string& path,
                              const std::string& part) {
  LoadResult result = load_config_string(yaml, "t.yaml");
  INFO(all(result));
  REQUIRE(result.errors.size() == 1);
  const ConfigError& e = result.errors[0];
  CHECK(e.file == "t.yaml");
  CHECK(e.line == line);
  CHECK(e.col == col);
  CHECK(e.path == path);
  CHECK_THAT(e.message, Catch::Contains(part));
}

}  // namespace sy::conf::test
