#pragma once
// Private to conf/: what pass 1 (load.cpp) hands to pass 2 (validate.cpp) besides the Config.

#include "conf/config.h"
#include "conf/load.h"

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sy::conf::detail {

// Where each value was written and which values pass 1 rejected, by key path
// ("", "limits", "pools[1]", "pools[1].members[0].address").
class Positions {
 public:
  // Records that the value at |path| was written at |mark|.
  void set(const std::string& path, Mark mark) { marks_[path] = mark; }
  // True when |path| itself was written in the file (not defaulted).
  bool has(const std::string& path) const { return marks_.count(path) != 0; }
  // Mark of |path|, else of its nearest written ancestor (so a defaulted key is reported where
  // its mapping is), else {1, 1}.
  Mark find(const std::string& path) const;

  // Records that pass 1 reported an error for |path| (its value is a default or partial).
  void set_failed(const std::string& path) { failed_.insert(path); }
  // True when |path| or an ancestor failed; pass 2 skips such values so a mistake shows once.
  bool failed(const std::string& path) const;

 private:
  std::map<std::string, Mark> marks_;
  std::set<std::string> failed_;
};

// "pools[1].members[0]" -> "pools[1].members" -> "pools[1]" -> "pools" -> "".
std::string parent_path(std::string_view path);

// |text| as an error message shows a value: in double quotes, control bytes and bytes that are
// not UTF-8 written as \xNN, and cut after kMaxShownBytes with "... (N bytes)". So a binary or
// huge config still gives one short, printable line per error.
constexpr size_t kMaxShownBytes = 80;
std::string quote_value(std::string_view text);

// |text| with every control byte (< 0x20, 0x7f) written as \xNN; for yaml-cpp's messages and
// key paths, which are not quoted.
std::string escape_controls(std::string_view text);

// Where |yaml| nests deepest (flow brackets and block indentation, outside quotes, comments and
// block scalars), for yaml-cpp's nesting-limit exception, which has no position. *depth
// receives the depth found there.
Mark deepest_nesting(std::string_view yaml, int* depth);

// Where a document's first node starts with ',' (after optional !tag and &anchor properties),
// or {0, 0} when none does. yaml-cpp 0.7 never returns from such a document (found by
// config_fuzz: the file "," hung --check-config, startup and admin reload), so load() refuses
// it before calling yaml-cpp.
Mark comma_starting_document(std::string_view yaml);

// "127.0.0.1" -> "127.0.0.1", "::0001" -> "::1"; |address| unchanged if it is not an IP literal.
std::string canonical_ip(const std::string& address);

// Pass 2: cross-field checks of |config| (pool references, unique names and addresses, limits
// that depend on each other). Appends to |errors|, labelled with |file|; never throws.
void validate(const Config& config, const Positions& positions, const std::string& file,
              std::vector<ConfigError>* errors);

}  // namespace sy::conf::detail
