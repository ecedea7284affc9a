#pragma once
// YAML -> Config (docs/configuration.md). Stage 0 (conf/overlay.h) reads the main file and the
// overlays its `include_dir` names, expands ${VAR} references, and merges them into one tree;
// then two passes (STYLE rule 9): pass 1 decodes into plain structs keeping each node's
// position (and file), pass 2 (validate.cpp) checks across fields. Every error is collected;
// none stops the others from being found (stage 0 errors stop the passes: a broken overlay
// would only cause echo errors). Secrets (`password`, `password_file`, substituted values in
// them) never appear in a message.
//
// Startup, `switchyard --check-config`, SIGHUP and the admin `reload` call these same functions.
// Thread: any thread; blocking (reads files); never call on a worker loop.

#include "conf/config.h"

#include <string>
#include <string_view>
#include <vector>

namespace sy::conf {

struct ConfigError {
  std::string file;     // the file holding the value: the main file as given by the caller
                        // ("<string>" for load_config_string) or an overlay's path
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

// Reads and parses |path| and the overlays it includes. An unreadable file is one error with
// line 0. config.files lists every file read.
LoadResult load_config_file(const std::string& path);
// Parses |yaml|; errors carry |file_label| as their file; an include_dir is relative to the
// directory part of |file_label|.
LoadResult load_config_string(std::string_view yaml, const std::string& file_label = "<string>");

// Parses "250ms", "2s", "1m", "1h", and a bare integer (milliseconds). False on anything else.
bool parse_duration(std::string_view text, Millis* out);
// Parses "512", "16k", "1m", "1g" (binary multiples, case-insensitive). False on anything else.
bool parse_size(std::string_view text, uint64_t* out);

// Parses one pool's settings, a YAML mapping with the keys of a `pools` entry (`members`
// optional: a pool added at runtime gets its members from sy_pool_members), into |out|; false
// with every problem in |why| ("pool.connect_timeout: ..."). The admin socket's `pool add` and
// the rows of sy_pools go through it, so they accept exactly what the YAML accepts. Relative
// TLS file names stay relative (proxy::PoolRegistry resolves them against the config's
// directory, like the YAML's).
bool parse_pool_settings(std::string_view yaml, Pool* out, std::string* why);

// Parses a member address ("ip:port", "[v6]:port", "name:port", "unix:/absolute/path") into
// |out| (address, host, port, unix_path); false with a message in |why| otherwise. The YAML's,
// the admin socket's and sy_pool_members' rule.
bool parse_member_address(const std::string& text, Member* out, std::string* why);

// Why |member| (address parsed, |tls_name| its own TLS name, "" = none) cannot join |pool| at
// runtime (`pool member add`, sy_pool_members), where the YAML's checks never see it; "" when
// it can. A unix: member of a verifying TLS pool needs a name to verify; a sticky pool names a
// member without a route by a keyed hash of its address (insert mode: needs sticky.secret)
// and route mode by its route alone.
std::string runtime_member_problem(const Pool& pool, const Member& member,
                                   const std::string& tls_name);

}  // namespace sy::conf
