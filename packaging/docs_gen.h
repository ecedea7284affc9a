#pragma once
// Generated documentation for the package (docs/packaging.md, "Generated files"): the man
// pages' command and configuration-key sections and the bash completion of switchyardctl.
// Two sources of truth, nothing copied by hand:
//   * the admin command table (admin/commands.h): words, usage, help, privilege, flags;
//   * the commented example configurations (conf/examples/*.yaml): every key, its example
//     value and the comment written next to (or, for a top-level key, above) it.
// check_config_reference() proves the second one complete: every key the loader accepts is
// documented, and every documented key is accepted.
//
// Pure functions over strings (the caller reads and writes the files). Build time only.

#include <string>
#include <string_view>
#include <vector>

#include "admin/commands.h"

namespace sy::packaging {

// Text for a roff line: '\' -> "\e", '-' -> "\-", a leading '.' or '\'' guarded with "\&".
std::string roff_escape(std::string_view text);

// One documented configuration key.
struct KeyDoc {
  std::string path;                   // "pools[].health_check.interval"; [] = any list item
  std::string description;            // the comment(s) of the example(s), joined
  std::vector<std::string> examples;  // distinct scalar values seen in the examples
  bool mapping = false;               // a mapping in the examples (its keys are documented)
};

struct ExampleFile {
  std::string name;  // e.g. "switchyard.yaml", for messages
  std::string text;
};

struct ConfigReference {
  std::vector<KeyDoc> keys;         // in order of first appearance over the files
  std::vector<std::string> errors;  // an example that does not parse, with its name
};

// Commented-out keys become keys: a line "#key: v" (the '#' in column 1) loses the '#',
// "  # key: v" loses "# ". Prose comments (not "lowercase_word: ...") are left alone.
std::string uncomment_keys(std::string_view text);

// Every key of every example (uncommented), with its comments and example values.
ConfigReference read_config_reference(const std::vector<ExampleFile>& files);

// The KEYS section body: one .SS per top-level key, one .TP per key path.
std::string render_config_keys(const ConfigReference& reference);

// Compares the reference with what conf::load_config_string accepts: for every mapping of
// the examples, a probe key makes the loader list the keys it expects there. Returns one line
// per problem ("pools[].zz: documented but not accepted", "admin.x: accepted but not
// documented"); empty when the reference is complete.
std::vector<std::string> check_config_reference(const std::vector<ExampleFile>& files,
                                                const ConfigReference& reference);

// The COMMANDS section body of switchyardctl(1): one .SS per first word, one .TP per row.
std::string render_commands(const std::vector<admin::Command>& table);

// A bash completion script for switchyardctl: global options, command words level by level,
// each command's flags (no completion for a flag's value, files for -s and --token-file).
// Standalone: needs no bash-completion helper functions.
std::string render_bash_completion(const std::vector<admin::Command>& table);

// |text| with every "@NAME@" of |values| (pairs of NAME, replacement) replaced.
std::string fill_template(std::string text,
                          const std::vector<std::pair<std::string, std::string>>& values);

}  // namespace sy::packaging
