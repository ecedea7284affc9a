#pragma once
// YAML -> Config in two passes (STYLE rule 9): pass 1 decodes into plain structs keeping each
// node's position, pass 2 (validate.cpp) checks across fields. Every error is collected; none
// stops the others from being found.
//
// Startup, `switchyard --check-config` and (later) the admin reload call these same functions.
// Thread: any thread; blocking (reads a file); never call on a worker loop.

#include "conf/config.h"

#include <string>
#include <string_view>
#include <vector>

namespace sy::conf {

struct ConfigError {
  std::string file;     // as given by the caller; "<string>" for load_config_string
  int line = 0;         // 1-based; 0 when the error has no position (e.g. unreadable file)
  int col = 0;          // 1-based
  std::string path;     // key path, e.g. "pools[1].members[0].address"; "" for the document
  std::string message;  // what is wrong, with "(expected ...)" where it helps
};

// "file:line:col: path: message" (line/col/path parts omitted when absent).
std::string format(const ConfigError& error);

struct LoadResult {
  Config config;                    // meaningful only when errors is empty
  std::vector<ConfigError> errors;  // every problem found, in document order
  bool ok() const { return errors.empty(); }
};

// Reads and parses |path|. An unreadable file is one error with line 0.
LoadResult load_config_file(const std::string& path);
// Parses |yaml|; errors carry |file_label| as their file.
LoadResult load_config_string(std::string_view yaml, const std::string& file_label = "<string>");

// Parses "250ms", "2s", "1m", "1h", and a bare integer (milliseconds). False on anything else.
bool parse_duration(std::string_view text, Millis* out);
// Parses "512", "16k", "1m", "1g" (binary multiples, case-insensitive). False on anything else.
bool parse_size(std::string_view text, uint64_t* out);

}  // namespace sy::conf
