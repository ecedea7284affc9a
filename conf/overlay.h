#pragma once
// Private to conf/: stage 0 of a load (docs/configuration.md). Reads the main document and the
// overlays its `include_dir` names (*.yaml in name order), substitutes ${VAR} references in
// every scalar value of each file, and merges the overlays over the main document into one
// YAML tree, which load.cpp then decodes and validates as if it were one file. Positions learns
// which file holds every merged path, so each error still names the file, line and column
// where the value was written.
//
// Merge rules (later file wins):
//   * a mapping merges key by key;
//   * the lists of named items `listeners`, `pools` and `database.servers` merge by `name`:
//     an item whose name exists already merges into that item, a new name is appended;
//   * everything else (scalars, other lists, a value whose type differs) is replaced whole.
//
// Thread: any thread; blocking (reads files); never call on a worker loop.

#include "conf/load.h"
#include "conf/load_internal.h"
#include "conf/substitute.h"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sy::conf::detail {

// Fills |root| with the merged document of |main_text| (labelled |main_label|; include_dir is
// relative to its directory) and its overlays, and |positions| with the file list and every
// path's origin. Returns false after appending located errors (YAML syntax, an unreadable
// overlay, a bad ${...} reference, include_dir in an overlay, a duplicate key in an overlay);
// the tree must not be decoded then.
bool gather_sources(std::string_view main_text, const std::string& main_label, const EnvLookup& env,
                    YAML::Node* root, Positions* positions, std::vector<ConfigError>* errors);

// Whole file into |out| (at most |max_bytes|, e.g. for /dev/zero named by mistake); false with
// errno set on failure (ENOENT, EACCES, EISDIR, ...).
bool read_file(const std::string& path, std::string* out, size_t max_bytes = SIZE_MAX);

// "dir/x.yaml" -> "dir", "/x.yaml" -> "/", "x.yaml" -> "".
std::string directory_of(const std::string& path);

// |path| when absolute or |dir| is empty, else "dir/path".
std::string resolve_path(const std::string& dir, const std::string& path);

}  // namespace sy::conf::detail
