#pragma once
// Shared by the conf/load unit tests: a document from its lines, every error of a result as
// text, and "exactly one error, here".

#include "conf/load.h"

#include <catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>

namespace sy::conf::test {

// Joins |lines| with '\n': line N of the document is element N-1, which keeps the expected
// positions in the tests readable.
inline std::string doc(std::initializer_list<const char*> lines) {
  std::string out;
  for (const char* line : lines) {
    out += line;
    out += '\n';
  }
  return out;
}

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

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/sy-conf-test-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Writes |text| to |name| (relative to the directory; parent directories are created) and
  // returns its full path.
  std::string write(const std::string& name, const std::string& text) const {
    std::string full = path_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(full).parent_path());
    std::ofstream(full, std::ios::trunc) << text;
    return full;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace sy::conf::test
