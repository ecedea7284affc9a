// Pass 1: YAML text -> Config, keeping every value's position for error messages and pass 2.
//
// Each mapping in the schema is a table of Fields (key, required?, value decoder). mapping()
// walks the YAML mapping itself rather than looking keys up, because that is the only way to see
// unknown keys and the duplicates yaml-cpp 0.7 keeps. Value decoders check everything that can
// be checked on one value alone (type, syntax, range); checks that need two values are in
// validate.cpp. yaml-cpp exceptions are caught here and become errors.
//
// Pass 1 is split by what it parses: this file holds the entry points, the mapping walker, the
// top-level document and limits; load_values.cpp the values any section uses; load_listeners.cpp,
// load_routing.cpp and load_pools.cpp their sections; load_text.cpp how values appear in messages
// and the raw-text checks made before yaml-cpp sees a document. The decoder they share is
// declared in load_internal.h.

#include "conf/load.h"

#include "conf/load_internal.h"
#include "conf/overlay.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

namespace sy::conf::detail::pass1 {

void Decoder::mapping(const YAML::Node& node, const std::string& path,
                      const std::vector<Field>& fields) {
  // An empty document is an empty top-level mapping: it reports the missing required keys.
  if (!node.IsMap() && !(path.empty() && node.IsNull())) {
    wrong_type(node, path, "a mapping");
    positions_->set_failed(path);
    return;
  }
  // Walk the entries ourselves: node[key] would hide unknown keys and yaml-cpp 0.7 keeps
  // duplicate keys as separate entries.
  std::vector<Mark> seen(fields.size());  // line 0 = key not seen yet
  for (const auto& entry : node) {
    Mark key_mark = to_mark(entry.first.Mark());
    key_mark.file = positions_->origin(path);
    if (!entry.first.IsScalar()) {
      error_at(key_mark, path, "wrong type: expected a key name, got " + describe(entry.first));
      continue;
    }
    const std::string& key = entry.first.Scalar();
    std::string key_path = detail::join_path(path, plain_or_quoted(key));
    key_mark.file = positions_->origin(key_path);
    auto field =
        std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.key == key; });
    if (field == fields.end()) {
      std::string expected;
      for (const Field& f : fields) {
        expected += (expected.empty() ? "" : ", ") + std::string(f.key);
      }
      error_at(key_mark, key_path, "unknown key (expected one of: " + expected + ")");
      continue;
    }
    Mark& first = seen[field - fields.begin()];
    if (first.line != 0) {
      error_at(key_mark, key_path,
               "duplicate key (first at line " + std::to_string(first.line) + ")");
      continue;
    }
    first = key_mark;
    // yaml-cpp places an empty value ("key:") on the following line; point at the key instead.
    positions_->set(key_path, entry.second.IsNull() ? key_mark : to_mark(entry.second.Mark()));
    if (!field->decode(entry.second, key_path)) {
      positions_->set_failed(key_path);
    }
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].required && seen[i].line == 0) {
      std::string key_path = detail::join_path(path, fields[i].key);
      // Reported where the mapping starts: the key has no position of its own.
      error_at(positions_->find(path), key_path, "missing required key");
      positions_->set_failed(key_path);
    }
  }
}

void Decoder::document(const YAML::Node& root, Config* config) {
  positions_->set("", Mark{1, 1});
  AccessLog* access_log = &config->access_log;
  mapping(
      root, "",
      {
          {"include_dir", kOptional,
           [this, config](const YAML::Node& node, const std::string& path) {
             // Read by stage 0 (conf/overlay.h); here only checked and kept.
             if (!string(&config->include_dir)(node, path)) {
               return false;
             }
             if (config->include_dir.empty()) {
               error(path, "must not be empty (expected a directory, e.g. conf.d)");
               return false;
             }
             return true;
           }},
          {"workers", kOptional, integer(&config->workers, 0, 256)},
          {"log_level", kOptional, one_of(&config->log_level, {"debug", "info", "warn", "error"})},
          {"listeners", kRequired, list(&config->listeners, "listener", &Decoder::listener)},
          {"pools", kRequired, list(&config->pools, "pool", &Decoder::pool)},
          {"limits", kOptional,
           nested([this, config](const YAML::Node& node, const std::string& path) {
             limits(node, path, &config->limits);
           })},
          {"access_log", kOptional,
           nested([this, access_log](const YAML::Node& node, const std::string& path) {
             mapping(node, path,
                     {{"path", kOptional, string(&access_log->path)},
                      {"max_queue_bytes", kOptional,
                       size(&access_log->max_queue_bytes, 64 * 1024, "64k")}});
           })},
          {"database", kOptional,
           nested([this, config](const YAML::Node& node, const std::string& path) {
             config->database.enabled = true;
             database(node, path, &config->database);
           })},
          {"routing", kOptional,
           nested([this, config](const YAML::Node& node, const std::string& path) {
             config->routing.enabled = true;
             routing(node, path, &config->routing);
           })},
          {"resolver", kOptional,
           nested([this, config](const YAML::Node& node, const std::string& path) {
             Resolver* r = &config->resolver;
             mapping(node, path,
                     {{"nameservers", kOptional, nameserver_list(&r->nameservers)},
                      {"resolve_interval", kOptional, duration(&r->resolve_interval)},
                      {"timeout", kOptional, duration(&r->timeout)}});
             for (auto [key, value] : {std::pair{"resolve_interval", r->resolve_interval},
                                       std::pair{"timeout", r->timeout}}) {
               if (value < Millis{100}) {
                 error(path + "." + key,
                       "is " + std::to_string(value.count()) + "ms (expected at least 100ms)");
               }
             }
           })},
          {"admin", kOptional,
           nested([this, config](const YAML::Node& node, const std::string& path) {
             config->admin.enabled = true;
             admin(node, path, &config->admin);
           })},
      });
}

void Decoder::limits(const YAML::Node& node, const std::string& path, Limits* out) {
  mapping(node, path,
          {
              {"max_header_bytes", kOptional, size(&out->max_header_bytes, 1, "1")},
              {"max_headers", kOptional, integer(&out->max_headers, 1, 10000)},
              {"max_uri_bytes", kOptional, size(&out->max_uri_bytes, 1, "1")},
              {"max_body_bytes", kOptional, size(&out->max_body_bytes, 0, "0")},
              {"client_header_timeout", kOptional, duration(&out->client_header_timeout)},
              {"client_body_timeout", kOptional, duration(&out->client_body_timeout)},
              {"client_idle_timeout", kOptional, duration(&out->client_idle_timeout)},
              {"send_timeout", kOptional, duration(&out->send_timeout)},
              {"drain_timeout", kOptional, duration(&out->drain_timeout)},
              {"buffer_high_water", kOptional, size(&out->buffer_high_water, 4096, "4k")},
              {"max_connections", kOptional, integer(&out->max_connections, 0, INT_MAX)},
              {"underscores_in_headers", kOptional, boolean(&out->underscores_in_headers)},
          });
}

}  // namespace sy::conf::detail::pass1

namespace sy::conf {

namespace detail {

std::string parent_path(std::string_view path) {
  size_t cut = path.find_last_of(".[");
  return cut == std::string_view::npos ? std::string() : std::string(path.substr(0, cut));
}

Mark Positions::find(const std::string& path) const {
  for (std::string p = path;; p = parent_path(p)) {
    auto it = marks_.find(p);
    if (it != marks_.end() && it->second.line > 0) {
      return it->second;
    }
    if (p.empty()) {
      return Mark{1, 1};
    }
  }
}

bool Positions::failed(const std::string& path) const {
  for (std::string p = path;; p = parent_path(p)) {
    if (failed_.count(p) != 0) {
      return true;
    }
    if (p.empty()) {
      return false;
    }
  }
}

}  // namespace detail

using detail::pass1::Decoder;
using detail::pass1::parse_scaled;
using detail::pass1::Unit;

namespace {

// Stage 0 (conf/overlay.h: the main document, its overlays, ${VAR}) and both passes over
// |yaml|; fills |result|. Never throws.
void load(std::string_view yaml, const std::string& file_label, LoadResult* result) {
  detail::Positions positions;
  try {
    YAML::Node root;
    if (detail::gather_sources(yaml, file_label, process_environment(), &root, &positions,
                               &result->errors)) {
      Decoder(detail::directory_of(file_label), &result->errors, &positions)
          .document(root, &result->config);
      detail::validate(result->config, positions, &result->errors);
    }
  } catch (const std::exception& e) {
    // Not expected (we never call as<T>()), but no exception may leave conf/.
    result->errors.push_back(
        ConfigError{file_label, 0, 0, "", std::string("internal error: ") + e.what()});
  }
  result->config.files = positions.files();
  // Pass 1 and pass 2 errors interleave in document order, file by file (main file first);
  // a stable sort keeps the pass order for errors at the same position.
  std::stable_sort(result->errors.begin(), result->errors.end(),
                   [&](const ConfigError& a, const ConfigError& b) {
                     size_t fa = positions.file_index(a.file), fb = positions.file_index(b.file);
                     if (fa != fb) {
                       return fa < fb;
                     }
                     return a.line != b.line ? a.line < b.line : a.col < b.col;
                   });
}

}  // namespace

std::string format(const ConfigError& error) {
  std::string out = error.file;
  if (error.line > 0) {
    out += ":" + std::to_string(error.line) + ":" + std::to_string(error.col);
  }
  out += ": ";
  if (!error.path.empty()) {
    out += error.path + ": ";
  }
  // Values are already quoted and cut (quote_value); this keeps yaml-cpp's own messages, which
  // may quote an offending character, on one printable line too.
  return detail::escape_controls(out + error.message);
}

LoadResult load_config_file(const std::string& path) {
  LoadResult result;
  result.config.file = path;
  std::string text;
  if (!detail::read_file(path, &text)) {
    result.errors.push_back(
        ConfigError{path, 0, 0, "", std::string("cannot read file: ") + std::strerror(errno)});
    return result;
  }
  load(text, path, &result);
  return result;
}

LoadResult load_config_string(std::string_view yaml, const std::string& file_label) {
  LoadResult result;
  load(yaml, file_label, &result);
  return result;
}

bool parse_duration(std::string_view text, Millis* out) {
  static constexpr Unit kUnits[] = {
      {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 60 * 60 * 1000}};
  uint64_t ms = 0;
  if (!parse_scaled(text, kUnits, std::size(kUnits), /*ignore_case=*/false,
                    static_cast<uint64_t>(std::numeric_limits<Millis::rep>::max()), &ms)) {
    return false;
  }
  *out = Millis{static_cast<Millis::rep>(ms)};
  return true;
}

bool parse_size(std::string_view text, uint64_t* out) {
  static constexpr Unit kUnits[] = {
      {"", 1}, {"k", 1ull << 10}, {"m", 1ull << 20}, {"g", 1ull << 30}};
  return parse_scaled(text, kUnits, std::size(kUnits), /*ignore_case=*/true,
                      std::numeric_limits<uint64_t>::max(), out);
}

}  // namespace sy::conf
