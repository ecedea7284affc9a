#pragma once
// Private to conf/: what pass 1 (load*.cpp) hands to pass 2 (validate.cpp) besides the Config,
// and the decoder the files of pass 1 share.

#include "conf/config.h"
#include "conf/load.h"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sy::conf::detail {

// Where each value was written and which values pass 1 rejected, by key path
// ("", "limits", "pools[1]", "pools[1].members[0].address"), and which file holds each path
// when overlays were merged (conf/overlay.h).
class Positions {
 public:
  // |files|: the main file first, then each overlay; error messages name them.
  explicit Positions(std::vector<std::string> files = {""}) : files_(std::move(files)) {}

  // Records that the value at |path| was written at |mark|, in the file that holds |path|.
  void set(const std::string& path, Mark mark) {
    mark.file = origin(path);
    marks_[path] = mark;
  }
  // True when |path| itself was written in the file (not defaulted).
  bool has(const std::string& path) const { return marks_.count(path) != 0; }
  // Mark of |path|, else of its nearest written ancestor (so a defaulted key is reported where
  // its mapping is), else {1, 1} in the main file.
  Mark find(const std::string& path) const;

  // Records that pass 1 reported an error for |path| (its value is a default or partial).
  void set_failed(const std::string& path) { failed_.insert(path); }
  // True when |path| or an ancestor failed; pass 2 skips such values so a mistake shows once.
  bool failed(const std::string& path) const;

  // Records that overlay |file| replaced or added the value at |path| (and everything below
  // it: origins recorded under |path| before are dropped).
  void set_origin(const std::string& path, int file);
  // The file holding |path|: the origin of |path| or of its nearest ancestor; 0 = main file.
  int origin(const std::string& path) const;

  // Adds a file to the list; returns its index.
  int add_file(std::string name) {
    files_.push_back(std::move(name));
    return static_cast<int>(files_.size() - 1);
  }
  const std::vector<std::string>& files() const { return files_; }
  const std::string& file_name(int file) const { return files_[static_cast<size_t>(file)]; }
  // Index of |name| in files(); files().size() when it is not there.
  size_t file_index(const std::string& name) const;

 private:
  std::vector<std::string> files_;
  std::map<std::string, Mark> marks_;
  std::set<std::string> failed_;
  std::map<std::string, int> origins_;
};

// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c".
inline std::string join_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

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

// yaml-cpp counts lines and columns from 0; we report them from 1. Null marks give {0, 0}.
// (Defined in overlay.cpp; declared here for Decoder::list.)
Mark to_mark(const YAML::Mark& mark);

// Pass 2: cross-field checks of |config| (pool references, unique names and addresses, limits
// that depend on each other). Appends to |errors|, each labelled with the file that holds the
// value (positions.file_name); never throws.
void validate(const Config& config, const Positions& positions, std::vector<ConfigError>* errors);

}  // namespace sy::conf::detail

// Pass 1's decoder, shared by the files of pass 1 and by nothing else: load.cpp (the mapping
// walker, the top-level document, limits), load_values.cpp (values any section uses),
// load_listeners.cpp (listeners, their TLS, the admin socket), load_routing.cpp (database,
// routing, key rules) and load_pools.cpp (pools, members, sticky sessions, pool TLS).
namespace sy::conf::detail::pass1 {

inline constexpr bool kRequired = true;
inline constexpr bool kOptional = false;

inline std::string quoted(std::string_view text) { return quote_value(text); }

// |text| as is when it is a short plain word (a key, a number), else quoted and cut like any
// value: an unknown key or a number may be anything, e.g. 1 MB of binary.
std::string plain_or_quoted(std::string_view text);

// What a node is, for "got ..." in a type error.
std::string describe(const YAML::Node& node);

// YAML says a quoted "8080" is a string; integers and booleans must be written plain.
inline bool is_plain_scalar(const YAML::Node& node) { return node.IsScalar() && node.Tag() != "!"; }

// Digits followed by a suffix from |units|, value = digits * unit factor. Rejects an empty
// number, signs, spaces, fractions, unknown suffixes and results above |max|.
struct Unit {
  std::string_view suffix;
  uint64_t factor;
};

bool parse_scaled(std::string_view text, const Unit* units, size_t unit_count, bool ignore_case,
                  uint64_t max, uint64_t* out);

// A DNS host name: dot-separated labels of letters, digits and '-' (not at a label's ends),
// at least one letter somewhere (so "1.2.3" is a bad IPv4, not a name), at most 253 chars.
bool is_dns_name(std::string_view s);

// "host:port", "[v6]:port", "localhost:port" or "name:port" -> host (without brackets) and
// port text.
bool split_member_address(std::string_view address, std::string* host, std::string_view* port);

bool is_ip_literal(const std::string& text);

// Names appear in the ready file, stats and admin command lines: keep them to one plain word.
bool is_name(const std::string& text);

// Goes into a request line or header: no spaces, no control characters.
bool is_header_safe(const std::string& text);

class Decoder {
 public:
  // |base_dir|: where relative *_file paths are read from (the main file's directory).
  Decoder(std::string base_dir, std::vector<ConfigError>* errors, detail::Positions* positions)
      : base_dir_(std::move(base_dir)), errors_(errors), positions_(positions) {}

  void document(const YAML::Node& root, Config* config);
  // One pool added through the admin socket (`pool add`): `members` is optional (its members
  // come from sy_pool_members).
  void runtime_pool(const YAML::Node& node, const std::string& path, Pool* out) {
    pool_settings(node, path, out, /*members_required=*/false);
  }

 private:
  // Decodes the value at |path|; false when it reported an error (the value is then unusable).
  using ValueFn = std::function<bool(const YAML::Node& value, const std::string& path)>;
  struct Field {
    std::string_view key;
    bool required;
    ValueFn decode;
  };

  void error(const std::string& path, std::string message) {
    error_at(positions_->find(path), path, std::move(message));
  }
  void error_at(Mark mark, const std::string& path, std::string message) {
    errors_->push_back(ConfigError{positions_->file_name(mark.file), mark.line, mark.col, path,
                                   std::move(message)});
  }
  bool wrong_type(const YAML::Node& node, const std::string& path, const std::string& expected) {
    if (node.IsNull()) {
      error(path, "missing value (expected " + expected + ")");
    } else {
      error(path, "wrong type: expected " + expected + ", got " + describe(node));
    }
    return false;
  }

  void mapping(const YAML::Node& node, const std::string& path, const std::vector<Field>& fields);
  template <class T>
  ValueFn list(std::vector<T>* out, std::string what,
               void (Decoder::*item)(const YAML::Node&, const std::string&, T*));
  ValueFn nested(std::function<void(const YAML::Node&, const std::string&)> decode) {
    return [decode](const YAML::Node& node, const std::string& path) {
      decode(node, path);
      return true;  // a nested mapping poisons its own failed keys
    };
  }

  ValueFn string(std::string* out);
  ValueFn name(std::string* out);
  ValueFn one_of(std::string* out, std::vector<std::string_view> allowed);
  ValueFn balance(Balance* out);
  ValueFn pool_protocol(PoolProtocol* out);
  ValueFn integer(int* out, int min, int max);
  ValueFn boolean(bool* out);
  ValueFn duration(Millis* out);
  ValueFn size(uint64_t* out, uint64_t min, std::string_view min_text);
  ValueFn ip_address(std::string* out);
  ValueFn member_address(Member* out);
  ValueFn http_path(std::string* out);
  ValueFn host_header(std::string* out);

  void listener(const YAML::Node& node, const std::string& path, Listener* out);
  void listener_tls(const YAML::Node& node, const std::string& path, ListenerTls* out);
  void tls_certificate(const YAML::Node& node, const std::string& path, TlsCertificate* out);
  void pool(const YAML::Node& node, const std::string& path, Pool* out) {
    pool_settings(node, path, out, /*members_required=*/true);
  }
  void pool_settings(const YAML::Node& node, const std::string& path, Pool* out,
                     bool members_required);
  void pool_tls(const YAML::Node& node, const std::string& path, PoolTls* out);
  void sticky(const YAML::Node& node, const std::string& path, Sticky* out);
  ValueFn token(std::string* out, std::string_view what, size_t max);
  ValueFn send_proxy(SendProxy* out);
  ValueFn pem_file(std::string* out);
  ValueFn server_name(std::string* out);
  void member(const YAML::Node& node, const std::string& path, Member* out);
  void limits(const YAML::Node& node, const std::string& path, Limits* out);
  void database(const YAML::Node& node, const std::string& path, Database* out);
  void dsn(const YAML::Node& node, const std::string& path, Dsn* out);
  void server_override(const YAML::Node& node, const std::string& path, ServerOverride* out);
  void routing(const YAML::Node& node, const std::string& path, Routing* out);
  void key_rule(const YAML::Node& node, const std::string& path, KeyRule* out);
  void admin(const YAML::Node& node, const std::string& path, Admin* out);
  ValueFn admin_level(AdminLevel* out);
  ValueFn file_mode(int* out);
  ValueFn loopback_address(std::string* out);
  ValueFn name_list(std::vector<std::string>* out);
  ValueFn nameserver_list(std::vector<std::string>* out);
  ValueFn cidr_list(std::vector<Cidr>* out);
  ValueFn http_url(std::string* out);
  ValueFn secret_file(std::string* out);

  std::string base_dir_;
  std::vector<ConfigError>* errors_;
  detail::Positions* positions_;
};

template <class T>
Decoder::ValueFn Decoder::list(std::vector<T>* out, std::string what,
                               void (Decoder::*item)(const YAML::Node&, const std::string&, T*)) {
  return [this, out, what, item](const YAML::Node& node, const std::string& path) {
    if (!node.IsSequence()) {
      return wrong_type(node, path, "a list of " + what + "s");
    }
    if (node.size() == 0) {
      error(path, "must not be empty (expected at least one " + what + ")");
      return false;
    }
    size_t index = 0;
    for (const auto& element : node) {
      std::string element_path = path + "[" + std::to_string(index++) + "]";
      positions_->set(element_path, to_mark(element.Mark()));
      // |item| writes through the pointer only while it runs, before the next emplace_back.
      out->emplace_back();
      (this->*item)(element, element_path, &out->back());
    }
    return true;
  };
}

}  // namespace sy::conf::detail::pass1
