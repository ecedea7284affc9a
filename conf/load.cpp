// Pass 1: YAML text -> Config, keeping every value's position for error messages and pass 2.
//
// Each mapping in the schema is a table of Fields (key, required?, value decoder). mapping()
// walks the YAML mapping itself rather than looking keys up, because that is the only way to see
// unknown keys and the duplicates yaml-cpp 0.7 keeps. Value decoders check everything that can
// be checked on one value alone (type, syntax, range); checks that need two values are in
// validate.cpp. yaml-cpp exceptions are caught here and become errors.

#include "conf/load.h"

#include "conf/load_internal.h"
#include "conf/overlay.h"

#include <yaml-cpp/yaml.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <functional>
#include <limits>

namespace sy::conf {

namespace {

constexpr bool kRequired = true;
constexpr bool kOptional = false;

using detail::to_mark;

std::string quoted(std::string_view text) { return detail::quote_value(text); }

// |text| as is when it is a short plain word (a key, a number), else quoted and cut like any
// value: an unknown key or a number may be anything, e.g. 1 MB of binary.
std::string plain_or_quoted(std::string_view text) {
  bool plain =
      !text.empty() && text.size() <= 32 && std::all_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) > ' ' && static_cast<unsigned char>(c) < 0x7f;
      });
  return plain ? std::string(text) : quoted(text);
}

// What a node is, for "got ..." in a type error.
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
  case YAML::NodeType::Sequence: return "a list";
  case YAML::NodeType::Map: return "a mapping";
  case YAML::NodeType::Scalar:
    // A quoted scalar carries the non-specific tag "!"; a plain one "?".
    return node.Tag() == "!" ? "the string " + quoted(node.Scalar()) : quoted(node.Scalar());
  default: return "nothing";
  }
}

// YAML says a quoted "8080" is a string; integers and booleans must be written plain.
bool is_plain_scalar(const YAML::Node& node) { return node.IsScalar() && node.Tag() != "!"; }

// Digits followed by a suffix from |units|, value = digits * unit factor. Rejects an empty
// number, signs, spaces, fractions, unknown suffixes and results above |max|.
struct Unit {
  std::string_view suffix;
  uint64_t factor;
};

bool parse_scaled(std::string_view text, const Unit* units, size_t unit_count, bool ignore_case,
                  uint64_t max, uint64_t* out) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0) {
    return false;
  }
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec != std::errc{} || end != text.data() + digits) {
    return false;  // more digits than uint64_t holds
  }
  std::string_view suffix = text.substr(digits);
  for (size_t i = 0; i < unit_count; ++i) {
    const Unit& unit = units[i];
    bool same =
        suffix.size() == unit.suffix.size() &&
        std::equal(suffix.begin(), suffix.end(), unit.suffix.begin(), [&](char a, char b) {
          auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
          return ignore_case ? lower(a) == lower(b) : a == b;
        });
    if (!same) {
      continue;
    }
    if (number > max / unit.factor) {
      return false;
    }
    *out = number * unit.factor;
    return true;
  }
  return false;
}

// A DNS host name: dot-separated labels of letters, digits and '-' (not at a label's ends),
// at least one letter somewhere (so "1.2.3" is a bad IPv4, not a name), at most 253 chars.
bool is_dns_name(std::string_view s) {
  if (s.empty() || s.size() > 253) {
    return false;
  }
  bool letter = false;
  size_t label = 0;
  char prev = '.';
  for (char c : s) {
    if (c == '.') {
      if (label == 0 || prev == '-') {
        return false;
      }
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') {
      if ((label == 0 && c == '-') || ++label > 63) {
        return false;
      }
      letter = letter || std::isalpha(static_cast<unsigned char>(c));
    } else {
      return false;
    }
    prev = c;
  }
  return letter && prev != '-' && prev != '.';
}

// "host:port", "[v6]:port", "localhost:port" or "name:port" -> host (without brackets) and
// port text.
bool split_member_address(std::string_view address, std::string* host, std::string_view* port) {
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    if (close == std::string_view::npos || address.substr(close, 2) != "]:") {
      return false;
    }
    *host = std::string(address.substr(1, close - 1));
    *port = address.substr(close + 2);
    in6_addr v6;
    return inet_pton(AF_INET6, host->c_str(), &v6) == 1;
  }
  // Unbracketed, the host cannot contain ':', so "::1:80" (ambiguous) fails the host check.
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  *host = std::string(address.substr(0, colon));
  *port = address.substr(colon + 1);
  in_addr v4;
  return *host == "localhost" || inet_pton(AF_INET, host->c_str(), &v4) == 1 || is_dns_name(*host);
}

bool is_ip_literal(const std::string& text) {
  in_addr v4;
  in6_addr v6;
  return inet_pton(AF_INET, text.c_str(), &v4) == 1 || inet_pton(AF_INET6, text.c_str(), &v6) == 1;
}

// Names appear in the ready file, stats and admin command lines: keep them to one plain word.
bool is_name(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

// Goes into a request line or header: no spaces, no control characters.
bool is_header_safe(const std::string& text) {
  return std::none_of(text.begin(), text.end(),
                      [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; });
}

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

Decoder::ValueFn Decoder::string(std::string* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
      return wrong_type(node, path, "a string");
    }
    *out = node.Scalar();
    return true;
  };
}

Decoder::ValueFn Decoder::name(std::string* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
      return wrong_type(node, path, "a name");
    }
    if (!is_name(node.Scalar())) {
      error(path, "bad name " + quoted(node.Scalar()) +
                      " (expected one word of letters, digits, '-', '_' or '.')");
      return false;
    }
    *out = node.Scalar();
    return true;
  };
}

Decoder::ValueFn Decoder::one_of(std::string* out, std::vector<std::string_view> allowed) {
  return [this, out, allowed](const YAML::Node& node, const std::string& path) {
    std::string expected;
    for (std::string_view a : allowed) {
      expected += (expected.empty() ? "" : ", ") + std::string(a);
    }
    if (!node.IsScalar()) {
      return wrong_type(node, path, "one of: " + expected);
    }
    if (std::find(allowed.begin(), allowed.end(), node.Scalar()) == allowed.end()) {
      error(path, "bad value " + quoted(node.Scalar()) + " (expected one of: " + expected + ")");
      return false;
    }
    *out = node.Scalar();
    return true;
  };
}

Decoder::ValueFn Decoder::balance(Balance* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    if (node.IsScalar() && node.Scalar() == "cookie") {
      error(path, "bad value \"cookie\" (expected one of: round_robin, least_conn; cookie "
                  "persistence is the pool's `sticky` mapping, with `balance` as the fallback)");
      return false;
    }
    std::string text;
    if (!one_of(&text, {"round_robin", "least_conn"})(node, path)) {
      return false;
    }
    *out = text == "least_conn" ? Balance::LeastConn : Balance::RoundRobin;
    return true;
  };
}

Decoder::ValueFn Decoder::send_proxy(SendProxy* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    std::string text;
    if (!one_of(&text, {"off", "v1", "v2"})(node, path)) {
      return false;
    }
    *out = text == "v1" ? SendProxy::V1 : text == "v2" ? SendProxy::V2 : SendProxy::Off;
    return true;
  };
}

Decoder::ValueFn Decoder::pool_protocol(PoolProtocol* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    std::string text;
    if (!one_of(&text, {"http1", "h2"})(node, path)) {
      return false;
    }
    *out = text == "h2" ? PoolProtocol::Http2 : PoolProtocol::Http1;
    return true;
  };
}

Decoder::ValueFn Decoder::integer(int* out, int min, int max) {
  return [this, out, min, max](const YAML::Node& node, const std::string& path) {
    std::string range = max == INT_MAX ? ">= " + std::to_string(min)
                                       : std::to_string(min) + ".." + std::to_string(max);
    // Quoted scalars are strings in YAML; only a plain scalar can be an integer.
    if (!is_plain_scalar(node)) {
      return wrong_type(node, path, "an integer");
    }
    const std::string& text = node.Scalar();
    long long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range) {
      error(path, plain_or_quoted(text) + " is out of range (expected " + range + ")");
      return false;
    }
    if (ec != std::errc{} || end != text.data() + text.size()) {
      return wrong_type(node, path, "an integer");
    }
    if (value < min || value > max) {
      error(path, plain_or_quoted(text) + " is out of range (expected " + range + ")");
      return false;
    }
    *out = static_cast<int>(value);
    return true;
  };
}

Decoder::ValueFn Decoder::boolean(bool* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    bool value = false;
    if (!is_plain_scalar(node) || !YAML::convert<bool>::decode(node, value)) {
      return wrong_type(node, path, "true or false");
    }
    *out = value;
    return true;
  };
}

Decoder::ValueFn Decoder::duration(Millis* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
      return wrong_type(node, path, "a duration such as 250ms, 2s, 1m");
    }
    Millis value{};
    if (!parse_duration(node.Scalar(), &value)) {
      error(path, "bad duration " + quoted(node.Scalar()) + " (expected e.g. 250ms, 2s, 1m)");
      return false;
    }
    // Every duration in the schema is a timeout or period; 0 would mean "never" or "spin".
    if (value.count() <= 0) {
      error(path, quoted(node.Scalar()) + " is out of range (expected > 0)");
      return false;
    }
    *out = value;
    return true;
  };
}

Decoder::ValueFn Decoder::size(uint64_t* out, uint64_t min, std::string_view min_text) {
  return [this, out, min, min_text](const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
      return wrong_type(node, path, "a size such as 512, 16k, 1m");
    }
    uint64_t value = 0;
    if (!parse_size(node.Scalar(), &value)) {
      error(path, "bad size " + quoted(node.Scalar()) + " (expected e.g. 512, 16k, 1m, 1g)");
      return false;
    }
    if (value < min) {
      error(path,
            quoted(node.Scalar()) + " is out of range (expected >= " + std::string(min_text) + ")");
      return false;
    }
    *out = value;
    return true;
  };
}

Decoder::ValueFn Decoder::ip_address(std::string* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
      return wrong_type(node, path, "an IP address");
    }
    if (!is_ip_literal(node.Scalar())) {
      error(path, "bad IP address " + quoted(node.Scalar()) +
                      " (expected an IPv4 or IPv6 literal, e.g. 127.0.0.1, 0.0.0.0, ::1)");
      return false;
    }
    *out = node.Scalar();
    return true;
  };
}

Decoder::ValueFn Decoder::member_address(Member* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
      return wrong_type(node, path, "an address such as 127.0.0.1:9001");
    }
    std::string why;
    if (!parse_member_address(node.Scalar(), out, &why)) {
      error(path, why);
      return false;
    }
    return true;
  };
}

Decoder::ValueFn Decoder::http_path(std::string* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
      return wrong_type(node, path, "a path such as /health");
    }
    const std::string& text = node.Scalar();
    if (text.empty() || text.front() != '/' || !is_header_safe(text)) {
      error(path, "bad path " + quoted(text) +
                      " (expected a path starting with '/', without spaces, e.g. /health)");
      return false;
    }
    *out = text;
    return true;
  };
}

Decoder::ValueFn Decoder::host_header(std::string* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
      return wrong_type(node, path, "a Host header value");
    }
    if (!is_header_safe(node.Scalar())) {
      error(path, "bad host " + quoted(node.Scalar()) +
                      " (expected a Host header value without spaces or control characters)");
      return false;
    }
    *out = node.Scalar();
    return true;
  };
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
                 error(path + "." + key, "is " + std::to_string(value.count()) +
                                             "ms (expected at least 100ms)");
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

Decoder::ValueFn Decoder::admin_level(AdminLevel* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    std::string text;
    if (!one_of(&text, {"admin", "read-only"})(node, path)) {
      return false;
    }
    *out = text == "read-only" ? AdminLevel::ReadOnly : AdminLevel::Admin;
    return true;
  };
}

// Permission bits written as an octal string ("0600", "660"); a plain integer would be read
// as decimal by YAML, so only the quoted form is accepted.
Decoder::ValueFn Decoder::file_mode(int* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar() || node.Tag() != "!") {
      return wrong_type(node, path, "an octal mode in quotes, e.g. \"0600\"");
    }
    const std::string& text = node.Scalar();
    int value = 0;
    bool good = !text.empty() && text.size() <= 4;
    for (size_t i = 0; good && i < text.size(); ++i) {  // stops at the first bad digit: a
      good = text[i] >= '0' && text[i] <= '7';          // long bad value never overflows
      value = value * 8 + (text[i] - '0');
    }
    if (!good || value > 0777) {
      error(path, "bad mode " + quoted(text) + " (expected an octal mode such as \"0600\")");
      return false;
    }
    *out = value;
    return true;
  };
}

namespace {
bool is_loopback(const std::string& text) {
  in_addr v4;
  in6_addr v6;
  return (inet_pton(AF_INET, text.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127) ||
         (inet_pton(AF_INET6, text.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6));
}
}  // namespace

Decoder::ValueFn Decoder::loopback_address(std::string* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    std::string text;
    if (!ip_address(&text)(node, path)) {
      return false;
    }
    if (!is_loopback(text)) {
      error(path, "address " + quoted(text) +
                      " is not a loopback address (expected 127.0.0.1 or ::1: the admin TCP "
                      "listener must not be reachable from the network)");
      return false;
    }
    *out = text;
    return true;
  };
}

void Decoder::admin(const YAML::Node& node, const std::string& path, Admin* out) {
  out->mark = positions_->find(path);
  AdminSocket* sock = &out->socket;
  AdminTcp* tcp = &out->tcp;
  AdminHttp* http = &out->http;
  AdminUpdateTasks* tasks = &out->update_tasks;
  mapping(
      node, path,
      {
          {"socket", kOptional, nested([this, sock](const YAML::Node& n, const std::string& p) {
             sock->enabled = true;
             sock->mark = positions_->find(p);
             mapping(n, p,
                     {
                         {"path", kRequired, string(&sock->path)},
                         {"mode", kOptional, file_mode(&sock->mode)},
                         {"level", kOptional, admin_level(&sock->level)},
                         {"max_connections", kOptional, integer(&sock->max_connections, 1, 10000)},
                     });
           })},
          {"tcp", kOptional, nested([this, tcp](const YAML::Node& n, const std::string& p) {
             tcp->enabled = true;
             tcp->mark = positions_->find(p);
             mapping(n, p,
                     {
                         {"address", kOptional, loopback_address(&tcp->address)},
                         {"port", kRequired, integer(&tcp->port, 0, 65535)},
                         {"token_file", kRequired, string(&tcp->token_file)},
                         {"level", kOptional, admin_level(&tcp->level)},
                         {"max_connections", kOptional, integer(&tcp->max_connections, 1, 10000)},
                     });
           })},
          {"http", kOptional, nested([this, http](const YAML::Node& n, const std::string& p) {
             http->enabled = true;
             http->mark = positions_->find(p);
             mapping(n, p,
                     {
                         {"address", kOptional, ip_address(&http->address)},
                         {"port", kRequired, integer(&http->port, 0, 65535)},
                         {"token_file", kOptional, string(&http->token_file)},
                     });
             http->loopback = is_loopback(http->address);
           })},
          {"event_hook", kOptional, string(&out->event_hook)},
          {"drain_timeout", kOptional, duration(&out->drain_timeout)},
          {"live_within", kOptional, duration(&out->live_within)},
          {"driver_lease", kOptional, duration(&out->driver_lease)},
          {"update_tasks", kOptional,
           nested([this, tasks](const YAML::Node& n, const std::string& p) {
             mapping(n, p,
                     {
                         {"sql_dir", kOptional, string(&tasks->sql_dir)},
                         {"command", kOptional, string(&tasks->command)},
                         {"command_timeout", kOptional, duration(&tasks->command_timeout)},
                     });
           })},
      });
}

void Decoder::database(const YAML::Node& node, const std::string& path, Database* out) {
  auto profile = [this, out](const YAML::Node& n, const std::string& p) {
    std::string text;
    if (!one_of(&text, {"own", "sql", "ox"})(n, p)) {
      return false;
    }
    out->profile = text == "sql" ? Profile::Sql : text == "ox" ? Profile::Ox : Profile::Own;
    return true;
  };
  OxOptions* ox = &out->ox;
  mapping(node, path,
          {
              {"dsns", kRequired, list(&out->dsns, "dsn", &Decoder::dsn)},
              {"connect_timeout", kOptional, duration(&out->connect_timeout)},
              {"wait_at_start", kOptional, boolean(&out->wait_at_start)},
              {"profile", kOptional, profile},
              {"state_database", kOptional, name(&out->state_database)},
              {"state_dsns", kOptional, list(&out->state_dsns, "dsn", &Decoder::dsn)},
              {"reader_dsns", kOptional, list(&out->reader_dsns, "dsn", &Decoder::dsn)},
              {"ox", kOptional, nested([this, ox](const YAML::Node& n, const std::string& p) {
                 mapping(n, p,
                         {
                             {"maintenance_reason", kOptional,
                              integer(&ox->maintenance_reason, 1, INT_MAX)},
                             {"default_context", kOptional, string(&ox->default_context)},
                             {"checksum_interval", kOptional, duration(&ox->checksum_interval)},
                         });
               })},
              {"servers_sql", kOptional, string(&out->servers_sql)},
              {"contexts_sql", kOptional, string(&out->contexts_sql)},
              {"logins_sql", kOptional, string(&out->logins_sql)},
              {"schemas_sql", kOptional, string(&out->schemas_sql)},
              {"servers", kOptional, list(&out->servers, "server", &Decoder::server_override)},
              {"refresh_interval", kOptional, duration(&out->refresh_interval)},
              {"change_settle", kOptional, duration(&out->change_settle)},
              {"heartbeat_interval", kOptional, duration(&out->heartbeat_interval)},
              {"stale_after", kOptional, duration(&out->stale_after)},
          });
}

void Decoder::dsn(const YAML::Node& node, const std::string& path, Dsn* out) {
  out->mark = positions_->find(path);
  mapping(node, path,
          {
              {"host", kOptional, string(&out->host)},
              {"port", kOptional, integer(&out->port, 1, 65535)},
              {"user", kRequired, string(&out->user)},
              {"password", kOptional, string(&out->password)},
              {"password_file", kOptional, secret_file(&out->password)},
              {"database", kRequired, name(&out->database)},
              {"socket", kOptional, string(&out->socket)},
          });
}

void Decoder::server_override(const YAML::Node& node, const std::string& path,
                              ServerOverride* out) {
  out->mark = positions_->find(path);
  mapping(node, path,
          {
              {"name", kRequired, string(&out->name)},
              {"pool", kOptional, name(&out->pool)},
              {"version", kOptional, string(&out->version)},
              {"redirect_url", kOptional, http_url(&out->redirect_url)},
          });
}

void Decoder::routing(const YAML::Node& node, const std::string& path, Routing* out) {
  out->mark = positions_->find(path);
  Hold* hold = &out->hold;
  RoutingErrors* errors = &out->errors;
  // An HTTP status (100..599) or "native" (each code's own).
  auto status = [this, errors](const YAML::Node& n, const std::string& p) {
    if (n.IsScalar() && n.Scalar() == "native") {
      errors->status = 0;
      return true;
    }
    if (!is_plain_scalar(n)) {
      return wrong_type(n, p, "an HTTP status such as 200, or native");
    }
    return integer(&errors->status, 100, 599)(n, p);
  };
  mapping(node, path,
          {
              {"role", kRequired, one_of(&out->role, {"old", "new"})},
              {"instance_id", kOptional, name(&out->instance_id)},
              {"version", kOptional, string(&out->version)},
              {"serve_pools", kRequired, name_list(&out->serve_pools)},
              {"moved_action", kOptional, one_of(&out->moved_action, {"redirect", "proxy"})},
              {"no_key", kOptional, one_of(&out->no_key, {"not_found", "default_pool"})},
              {"loop_guard_header", kOptional, name(&out->loop_guard_header)},
              {"keys", kRequired, list(&out->keys, "key rule", &Decoder::key_rule)},
              {"hold", kOptional, nested([this, hold](const YAML::Node& n, const std::string& p) {
                 mapping(n, p,
                         {
                             {"max_requests", kOptional, integer(&hold->max_requests, 0, 1000000)},
                             {"max_bytes", kOptional, size(&hold->max_bytes, 0, "0")},
                             {"max_wait", kOptional, duration(&hold->max_wait)},
                         });
               })},
              {"errors", kOptional,
               nested([this, errors, status](const YAML::Node& n, const std::string& p) {
                 mapping(n, p,
                         {
                             {"envelope", kOptional, one_of(&errors->envelope, {"json", "ox"})},
                             {"status", kOptional, status},
                         });
               })},
          });
}

void Decoder::key_rule(const YAML::Node& node, const std::string& path, KeyRule* out) {
  out->mark = positions_->find(path);
  auto type = [this, out](const YAML::Node& n, const std::string& p) {
    static const std::vector<std::pair<std::string_view, KeyType>> kTypes = {
        {"host_regex", KeyType::HostRegex},   {"header", KeyType::Header},
        {"cookie", KeyType::Cookie},          {"path_segment", KeyType::PathSegment},
        {"path_regex", KeyType::PathRegex},   {"query", KeyType::Query},
        {"login_query", KeyType::LoginQuery}, {"login_form", KeyType::LoginForm},
    };
    std::vector<std::string_view> names;
    for (const auto& t : kTypes) {
      names.push_back(t.first);
    }
    std::string text;
    if (!one_of(&text, names)(n, p)) {
      return false;
    }
    for (const auto& t : kTypes) {
      if (t.first == text) {
        out->type = t.second;
      }
    }
    return true;
  };
  mapping(node, path,
          {
              {"type", kRequired, type},
              {"name", kOptional, string(&out->name)},
              {"index", kOptional, integer(&out->index, 0, 64)},
              {"pattern", kOptional, string(&out->pattern)},
          });
}

Decoder::ValueFn Decoder::name_list(std::vector<std::string>* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    if (!node.IsSequence() || node.size() == 0) {
      return wrong_type(node, path, "a non-empty list of names");
    }
    bool ok = true;
    size_t index = 0;
    for (const auto& element : node) {
      std::string element_path = path + "[" + std::to_string(index++) + "]";
      positions_->set(element_path, to_mark(element.Mark()));
      std::string value;
      if (name(&value)(element, element_path)) {
        out->push_back(value);
      } else {
        ok = false;
      }
    }
    return ok;
  };
}

// Nameservers: "ip", "ip:port" or "[v6]:port", each error at its element.
Decoder::ValueFn Decoder::nameserver_list(std::vector<std::string>* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    if (!node.IsSequence() || node.size() == 0) {
      return wrong_type(node, path, "a non-empty list such as [\"127.0.0.1:53\"]");
    }
    bool ok = true;
    size_t index = 0;
    for (const auto& element : node) {
      std::string element_path = path + "[" + std::to_string(index++) + "]";
      positions_->set(element_path, to_mark(element.Mark()));
      std::string text = element.IsScalar() ? element.Scalar() : std::string();
      in_addr v4;
      in6_addr v6;
      std::string with_port = inet_pton(AF_INET, text.c_str(), &v4) == 1    ? text + ":53"
                              : inet_pton(AF_INET6, text.c_str(), &v6) == 1 ? "[" + text + "]:53"
                                                                            : text;
      Member parsed;
      std::string why;
      if (!parse_member_address(with_port, &parsed, &why) ||
          (inet_pton(AF_INET, parsed.host.c_str(), &v4) != 1 &&
           inet_pton(AF_INET6, parsed.host.c_str(), &v6) != 1)) {
        error(element_path,
              "bad nameserver " + quoted(text) + " (expected ip, ip:port or [v6]:port)");
        ok = false;
        continue;
      }
      out->push_back(with_port);
    }
    return ok;
  };
}

// A list of addresses and blocks ("10.0.0.0/8", "::1"), each error at its element.
Decoder::ValueFn Decoder::cidr_list(std::vector<Cidr>* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    if (!node.IsSequence()) {
      return wrong_type(node, path, "a list of addresses or blocks such as 10.0.0.0/8");
    }
    bool ok = true;
    size_t index = 0;
    for (const auto& element : node) {
      std::string element_path = path + "[" + std::to_string(index++) + "]";
      positions_->set(element_path, to_mark(element.Mark()));
      if (!element.IsScalar()) {
        ok = wrong_type(element, element_path, "an address or block such as 10.0.0.0/8");
        continue;
      }
      std::string why;
      std::optional<Cidr> block = parse_cidr(element.Scalar(), &why);
      if (!block) {
        error(element_path, "bad address block " + quoted(element.Scalar()) + ": " + why);
        ok = false;
        continue;
      }
      out->push_back(std::move(*block));
    }
    return ok;
  };
}

// The `<secret>_file` form: the value is the content of the named file (relative to the main
// file's directory), without one trailing newline. Messages name the file, never the content.
Decoder::ValueFn Decoder::secret_file(std::string* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar() || node.Scalar().empty()) {
      return wrong_type(node, path, "the path of a file holding the secret");
    }
    constexpr size_t kMaxSecret = 64 * 1024;
    std::string file = detail::resolve_path(base_dir_, node.Scalar());
    std::string text;
    if (!detail::read_file(file, &text, kMaxSecret + 3)) {  // "\r\n" + one byte more
      error(path, "cannot read " + quoted(file) + ": " + std::strerror(errno));
      return false;
    }
    if (!text.empty() && text.back() == '\n') {
      text.pop_back();
    }
    if (!text.empty() && text.back() == '\r') {
      text.pop_back();
    }
    const char* problem = text.empty()                           ? "is empty"
                          : text.size() > kMaxSecret             ? "is larger than 64k"
                          : text.find('\n') != std::string::npos ? "has more than one line"
                                                                 : nullptr;
    if (problem != nullptr) {
      error(path, quoted(file) + " " + problem + " (expected the secret alone on one line)");
      return false;
    }
    *out = std::move(text);
    return true;
  };
}

Decoder::ValueFn Decoder::http_url(std::string* out) {
  return [this, out](const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
      return wrong_type(node, path, "an http:// or https:// URL");
    }
    const std::string& url = node.Scalar();
    bool scheme = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
    size_t host_at = url.find("//") + 2;
    if (!scheme || url.size() <= host_at || url.find_first_of("?# \t") != std::string::npos) {
      error(path, "bad URL " + quoted(url) +
                      " (expected http://host[:port][/path] or https://..., no query)");
      return false;
    }
    *out = url;
    return true;
  };
}

void Decoder::listener(const YAML::Node& node, const std::string& path, Listener* out) {
  out->mark = positions_->find(path);
  mapping(node, path,
          {
              {"name", kRequired, name(&out->name)},
              {"address", kOptional, ip_address(&out->address)},
              {"port", kRequired, integer(&out->port, 0, 65535)},
              {"pool", kRequired, name(&out->pool)},
              {"backlog", kOptional, integer(&out->backlog, 1, INT_MAX)},
              {"max_connections", kOptional, integer(&out->max_connections, 0, INT_MAX)},
              {"trusted_proxies", kOptional, cidr_list(&out->trusted_proxies)},
              {"proxy_protocol", kOptional, boolean(&out->proxy_protocol)},
              {"tls", kOptional, nested([this, out](const YAML::Node& n, const std::string& p) {
                 out->tls.enabled = true;
                 listener_tls(n, p, &out->tls);
               })},
          });
  out->proxy_protocol_mark = positions_->find(path + ".proxy_protocol");
}

void Decoder::listener_tls(const YAML::Node& node, const std::string& path, ListenerTls* out) {
  out->mark = positions_->find(path);
  mapping(node, path,
          {
              {"certificates", kRequired,
               list(&out->certificates, "certificate", &Decoder::tls_certificate)},
              {"min_version", kOptional, one_of(&out->min_version, {"1.2", "1.3"})},
              {"handshake_timeout", kOptional, duration(&out->handshake_timeout)},
              {"session_tickets", kOptional, boolean(&out->session_tickets)},
          });
}

void Decoder::tls_certificate(const YAML::Node& node, const std::string& path,
                              TlsCertificate* out) {
  out->mark = positions_->find(path);
  mapping(node, path,
          {
              {"cert", kRequired, pem_file(&out->cert)},
              {"key", kRequired, pem_file(&out->key)},
          });
}

void Decoder::pool_settings(const YAML::Node& node, const std::string& path, Pool* out,
                            bool members_required) {
  out->mark = positions_->find(path);
  HealthCheck* hc = &out->health_check;
  PassiveEjection* pe = &out->passive_ejection;
  mapping(
      node, path,
      {
          {"name", kRequired, name(&out->name)},
          {"version", kOptional, string(&out->version)},
          {"balance", kOptional, balance(&out->balance)},
          {"protocol", kOptional, pool_protocol(&out->protocol)},
          {"connect_timeout", kOptional, duration(&out->connect_timeout)},
          {"response_timeout", kOptional, duration(&out->response_timeout)},
          {"stream_timeout", kOptional, duration(&out->stream_timeout)},
          {"tunnel_timeout", kOptional, duration(&out->tunnel_timeout)},
          {"max_idle_connections", kOptional, integer(&out->max_idle_connections, 0, INT_MAX)},
          {"retries", kOptional, integer(&out->retries, 0, 10)},
          {"members", members_required ? kRequired : kOptional,
           list(&out->members, "member", &Decoder::member)},
          {"tls", kOptional, nested([this, out](const YAML::Node& n, const std::string& p) {
             out->tls.enabled = true;
             pool_tls(n, p, &out->tls);
           })},
          {"sticky", kOptional, nested([this, out](const YAML::Node& n, const std::string& p) {
             sticky(n, p, &out->sticky);
           })},
          {"send_proxy", kOptional, send_proxy(&out->send_proxy)},
          {"health_check", kOptional, nested([this, hc](const YAML::Node& n, const std::string& p) {
             mapping(n, p,
                     {
                         {"enabled", kOptional, boolean(&hc->enabled)},
                         {"path", kOptional, http_path(&hc->path)},
                         {"interval", kOptional, duration(&hc->interval)},
                         {"timeout", kOptional, duration(&hc->timeout)},
                         {"rise", kOptional, integer(&hc->rise, 1, 1000)},
                         {"fall", kOptional, integer(&hc->fall, 1, 1000)},
                         {"host", kOptional, host_header(&hc->host)},
                     });
           })},
          {"passive_ejection", kOptional,
           nested([this, pe](const YAML::Node& n, const std::string& p) {
             mapping(n, p,
                     {
                         {"consecutive_failures", kOptional,
                          integer(&pe->consecutive_failures, 0, INT_MAX)},
                         {"eject_for", kOptional, duration(&pe->eject_for)},
                     });
           })},
      });
}

Decoder::ValueFn Decoder::pem_file(std::string* out) {
  return [this, out](const YAML::Node& n, const std::string& p) {
    if (!string(out)(n, p)) {
      return false;
    }
    if (out->empty()) {
      error(p, "must not be empty (expected the path of a PEM file)");
      return false;
    }
    return true;
  };
}

// A DNS name (letters, digits, '-', dots; labels of 1..63, at most 253 in all) or an IP literal.
Decoder::ValueFn Decoder::server_name(std::string* out) {
  return [this, out](const YAML::Node& n, const std::string& p) {
    if (!n.IsScalar()) {
      return wrong_type(n, p, "a host name or an IP address");
    }
    const std::string& text = n.Scalar();
    bool good = !text.empty() && text.size() <= 253;
    size_t label = 0;
    for (size_t i = 0; good && i < text.size(); ++i) {
      char c = text[i];
      if (c == '.') {
        good = label > 0;
        label = 0;
      } else {
        good = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-') &&
               ++label <= 63;
      }
    }
    good = good && label > 0;
    if (!good && !is_ip_literal(text)) {
      error(p, "bad server name " + quoted(text) +
                   " (expected a host name like app.example.com or an IP address)");
      return false;
    }
    *out = text;
    return true;
  };
}

void Decoder::pool_tls(const YAML::Node& node, const std::string& path, PoolTls* out) {
  out->mark = positions_->find(path);
  mapping(node, path,
          {
              {"verify", kOptional, boolean(&out->verify)},
              {"ca", kOptional, pem_file(&out->ca)},
              {"server_name", kOptional, server_name(&out->server_name)},
              {"cert", kOptional, pem_file(&out->cert)},
              {"key", kOptional, pem_file(&out->key)},
              {"min_version", kOptional, one_of(&out->min_version, {"1.2", "1.3"})},
              {"session_reuse", kOptional, boolean(&out->session_reuse)},
          });
}

void Decoder::member(const YAML::Node& node, const std::string& path, Member* out) {
  out->mark = positions_->find(path);
  mapping(node, path,
          {
              {"address", kRequired, member_address(out)},
              {"weight", kOptional, integer(&out->weight, 1, 256)},
              {"route", kOptional, token(&out->route, "a route (letters, digits, '-', '_')", 64)},
          });
}

// Sticky sessions (docs/configuration.md): the cookie defaults by mode.
void Decoder::sticky(const YAML::Node& node, const std::string& path, Sticky* out) {
  out->mark = positions_->find(path);
  std::string mode;
  mapping(node, path,
          {
              {"mode", kRequired, one_of(&mode, {"insert", "route"})},
              {"cookie", kOptional,
               token(&out->cookie, "a cookie name (letters, digits, '-', '_')", 64)},
              {"secret", kOptional, string(&out->secret)},
              {"secret_file", kOptional, secret_file(&out->secret)},
              {"max_age", kOptional, duration(&out->max_age)},
          });
  out->mode = mode == "route" ? StickyMode::Route : StickyMode::Insert;
  if (out->cookie.empty()) {
    out->cookie = out->mode == StickyMode::Route ? "JSESSIONID" : "SYSRV";
  }
}

// One word of letters, digits, '-' and '_' (safe in a cookie name or value, in a route suffix
// after '.', and in a log line), 1..|max| characters.
Decoder::ValueFn Decoder::token(std::string* out, std::string_view what, size_t max) {
  return [this, out, what, max](const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
      return wrong_type(node, path, std::string(what));
    }
    const std::string& text = node.Scalar();
    bool good = !text.empty() && text.size() <= max &&
                std::all_of(text.begin(), text.end(), [](char c) {
                  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '_';
                });
    if (!good) {
      error(path, "bad value " + quoted(text) + " (expected " + std::string(what) + ", 1.." +
                      std::to_string(max) + " characters)");
      return false;
    }
    *out = text;
    return true;
  };
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

namespace {

// Length of the UTF-8 sequence starting |text| (2..4), or 0 when it is not a valid one
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t utf8_length(std::string_view text) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char c = byte(0);
  size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
  if (n == 0 || c > 0xf4 || text.size() < n) {
    return 0;
  }
  for (size_t i = 1; i < n; ++i) {
    if ((byte(i) & 0xc0) != 0x80) {
      return 0;
    }
  }
  if ((c == 0xe0 && byte(1) < 0xa0) || (c == 0xed && byte(1) >= 0xa0) ||
      (c == 0xf0 && byte(1) < 0x90) || (c == 0xf4 && byte(1) >= 0x90)) {
    return 0;
  }
  return n;
}

void append_hex(unsigned char c, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  *out += "\\x";
  *out += kHex[c >> 4];
  *out += kHex[c & 0xf];
}

}  // namespace

std::string quote_value(std::string_view text) {
  std::string out = "\"";
  size_t i = 0;
  while (i < text.size() && i < kMaxShownBytes) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      size_t n = utf8_length(text.substr(i));
      if (n > 0) {
        out.append(text.substr(i, n));
        i += n;
        continue;
      }
      append_hex(c, &out);
    } else if (c < 0x20 || c == 0x7f) {
      append_hex(c, &out);
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  out += '"';
  if (i < text.size()) {
    out += "... (" + std::to_string(text.size()) + " bytes)";
  }
  return out;
}

std::string escape_controls(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      append_hex(c, &out);
    } else {
      out += ch;
    }
  }
  return out;
}

Mark deepest_nesting(std::string_view yaml, int* depth) {
  // Block structure: a stack of the indentation columns of the enclosing lines, plus one level
  // per "- " that opens a line's content. Flow structure: open [ and { outside quotes. The
  // result only has to point at the right place; yaml-cpp has already refused the document.
  std::vector<size_t> indents;
  int flow = 0;
  int best = -1;
  Mark best_mark{1, 1};
  size_t block_scalar_indent = std::string_view::npos;  // skipping a | or > block's lines
  int line_no = 0;
  size_t pos = 0;
  while (pos <= yaml.size()) {
    size_t end = yaml.find('\n', pos);
    if (end == std::string_view::npos) {
      end = yaml.size();
    }
    std::string_view line = yaml.substr(pos, end - pos);
    ++line_no;
    pos = end + 1;
    size_t indent = line.find_first_not_of(' ');
    if (indent == std::string_view::npos || line[indent] == '#' || line[indent] == '\r') {
      continue;
    }
    if (block_scalar_indent != std::string_view::npos) {
      if (indent > block_scalar_indent) {
        continue;
      }
      block_scalar_indent = std::string_view::npos;
    }
    if (flow == 0) {
      while (!indents.empty() && indents.back() >= indent) {
        indents.pop_back();
      }
      indents.push_back(indent);
    }
    int level = static_cast<int>(indents.size()) + flow;
    char quote = 0;
    char last = 0;
    for (size_t i = indent; i < line.size(); ++i) {
      char c = line[i];
      if (quote != 0) {
        if (c == quote) {
          quote = 0;
        }
        continue;
      }
      bool line_start = i == indent || last == '-' || last == ' ';
      if ((c == '"' || c == '\'') && line_start) {
        quote = c;
      } else if (c == '#' && (i == 0 || line[i - 1] == ' ')) {
        break;
      } else if (c == '[' || c == '{') {
        ++flow;
        ++level;
      } else if (c == ']' || c == '}') {
        flow = flow > 0 ? flow - 1 : 0;
        --level;
      } else if (c == '-' && flow == 0 && (i + 1 == line.size() || line[i + 1] == ' ') &&
                 (i == indent || last == ' ')) {
        ++level;
      }
      if (level > best) {
        best = level;
        best_mark = Mark{line_no, static_cast<int>(i) + 1};
      }
      if (c != ' ') {
        last = c;
      }
    }
    if (flow == 0 && (last == '|' || last == '>')) {
      block_scalar_indent = indent;
    }
    if (end == yaml.size()) {
      break;
    }
  }
  *depth = best < 0 ? 0 : best;
  return best_mark;
}

Mark comma_starting_document(std::string_view yaml) {
  bool at_start = true;    // no node of the current document seen yet
  bool directives = true;  // before the first "---": % lines are directives
  int line_no = 0;
  for (size_t pos = 0; pos < yaml.size();) {
    size_t end = yaml.find('\n', pos);
    if (end == std::string_view::npos) {
      end = yaml.size();
    }
    std::string_view line = yaml.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    size_t i = line.find_first_not_of(" \t\r");
    if (i == std::string_view::npos || line[i] == '#') {
      continue;
    }
    if (i == 0 && (line.substr(0, 3) == "---" || line.substr(0, 3) == "...") &&
        (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r')) {
      at_start = true;
      directives = line[0] == '.';
      i = line.find_first_not_of(" \t\r", 3);
      if (i == std::string_view::npos || line[i] == '#' || line[0] == '.') {
        continue;
      }
    } else if (directives && i == 0 && line[0] == '%') {
      continue;
    }
    directives = false;
    if (!at_start) {
      continue;
    }
    // Node properties first: "!tag" and "&anchor" words.
    while (i < line.size() && (line[i] == '!' || line[i] == '&')) {
      i = line.find_first_of(" \t\r", i);
      i = i == std::string_view::npos ? line.size() : line.find_first_not_of(" \t\r", i);
      if (i == std::string_view::npos) {
        i = line.size();
      }
    }
    if (i >= line.size() || line[i] == '#') {
      continue;  // the node itself is on a later line
    }
    if (line[i] == ',') {
      return Mark{line_no, static_cast<int>(i) + 1};
    }
    at_start = false;
  }
  return Mark{};
}

std::string canonical_ip(const std::string& address) {
  char text[INET6_ADDRSTRLEN];
  in_addr v4;
  in6_addr v6;
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1 &&
      inet_ntop(AF_INET, &v4, text, sizeof text) != nullptr) {
    return text;
  }
  if (inet_pton(AF_INET6, address.c_str(), &v6) == 1 &&
      inet_ntop(AF_INET6, &v6, text, sizeof text) != nullptr) {
    return text;
  }
  return address;
}

}  // namespace detail

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

bool parse_pool_settings(std::string_view yaml, Pool* out, std::string* why) {
  std::vector<ConfigError> errors;
  detail::Positions positions;
  try {
    YAML::Node node = YAML::Load(std::string(yaml));
    if (!node.IsMap()) {
      *why = "pool settings: expected a mapping";
      return false;
    }
    Decoder(std::string(), &errors, &positions).runtime_pool(node, "pool", out);
  } catch (const std::exception& e) {
    *why = std::string("pool settings: ") + e.what();
    return false;
  }
  if (!errors.empty()) {
    why->clear();
    for (const auto& e : errors) {
      *why += (why->empty() ? "" : "; ") + (e.path.empty() ? "" : e.path + ": ") + e.message;
    }
    return false;
  }
  return true;
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

bool parse_member_address(const std::string& text, Member* out, std::string* why) {
  if (text.rfind("unix:", 0) == 0) {
    // sockaddr_un::sun_path holds 108 bytes with the terminating NUL.
    std::string socket_path = text.substr(5);
    if (socket_path.empty() || socket_path.front() != '/') {
      *why = "bad member address " + quoted(text) +
             " (expected unix: and an absolute path, e.g. unix:/run/app.sock)";
      return false;
    }
    if (socket_path.size() > 107) {
      *why = "unix socket path in " + quoted(text) + " is " +
             std::to_string(socket_path.size()) + " bytes long (at most 107)";
      return false;
    }
    out->address = text;
    out->host.clear();
    out->port = 0;
    out->unix_path = std::move(socket_path);
    return true;
  }
  std::string host;
  std::string_view port_text;
  int port = 0;
  if (!split_member_address(text, &host, &port_text) || port_text.empty() ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    *why = "bad member address " + quoted(text) +
           " (expected ip:port, [v6]:port, hostname:port or unix:/path)";
    return false;
  }
  auto parsed = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (parsed.ec != std::errc{} || port < 1 || port > 65535) {
    *why = "port " + plain_or_quoted(port_text) + " in " + quoted(text) +
           " is out of range (expected 1..65535)";
    return false;
  }
  out->address = text;
  out->host = host;
  out->port = port;
  out->unix_path.clear();
  return true;
}

std::string runtime_member_problem(const Pool& pool, const Member& member,
                                   const std::string& tls_name) {
  if (!member.unix_path.empty() && pool.tls.enabled && pool.tls.verify &&
      pool.tls.server_name.empty() && tls_name.empty()) {
    return "a unix: member of TLS pool " + pool.name +
           " needs a TLS name (--tls-name, or the pool's tls.server_name)";
  }
  if (!member.route.empty()) {
    return "";
  }
  if (pool.sticky.mode == StickyMode::Route) {
    return "pool " + pool.name + " is sticky by route and " + member.address +
           " has none (add it to the YAML with its route)";
  }
  if (pool.sticky.mode == StickyMode::Insert && pool.sticky.secret.empty()) {
    return "pool " + pool.name + " is sticky without sticky.secret, so " + member.address +
           " would have no id in the cookie (add it to the YAML with its route)";
  }
  return "";
}

}  // namespace sy::conf
