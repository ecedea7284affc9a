// libFuzzer target for configuration loading (conf/load.* and conf/validate.cpp): the YAML text
// goes through both passes exactly as `switchyard --check-config` does (yaml-cpp itself is the
// system library and not instrumented: the fuzzer is guided by our decoder's coverage).
//
// Checked beyond "no crash, no sanitizer report, no exception":
//   - every error, formatted, is one printable line of bounded length (values are quoted, cut
//     and escaped), with a 1-based position or none;
//   - errors come in document order;
//   - a config that loads has what validation promises: listeners and pools, every listener's
//     pool exists, every member has a port in 1..65535.
// Build and run: tests/fuzz/run.sh [seconds] (or make fuzz).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "conf/load.h"

using namespace sy::conf;

namespace {

void check(bool ok, const char* what, const std::string& detail = "") {
  if (!ok) {
    std::fprintf(stderr, "contract violated: %s\n%s\n", what, detail.c_str());
    std::abort();
  }
}

// Long enough for the longest "expected one of: ..." list plus two cut values.
constexpr size_t kMaxErrorLine = 1500;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) {
    return 0;
  }
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  LoadResult r = load_config_string(yaml, "fuzz.yaml");
  int last_line = 0;
  int last_col = 0;
  for (const ConfigError& e : r.errors) {
    std::string line = format(e);
    check(line.size() <= kMaxErrorLine, "an error line is bounded", line.substr(0, 300));
    for (char c : line) {
      auto u = static_cast<unsigned char>(c);
      check(u >= 0x20 && u != 0x7f, "an error line has no control byte", line);
    }
    check(e.line >= 0 && e.col >= 0 && (e.line > 0 || e.col == 0), "positions are 1-based", line);
    check(e.line > last_line || (e.line == last_line && e.col >= last_col),
          "errors are in document order", line);
    last_line = e.line;
    last_col = e.col;
  }
  if (r.ok()) {
    const Config& c = r.config;
    check(!c.listeners.empty() && !c.pools.empty(), "a valid config has listeners and pools");
    for (const Listener& l : c.listeners) {
      check(c.find_pool(l.pool) != nullptr, "a listener's pool exists", l.pool);
    }
    for (const Pool& p : c.pools) {
      for (const Member& m : p.members) {
        check(m.port >= 1 && m.port <= 65535, "a member's port is in range", m.address);
      }
    }
  }
  return 0;
}
