// Pass 1: the values any section of the config uses (strings, names, numbers, durations, sizes,
// addresses, paths, lists, secrets read from files, PEM files), and the syntax helpers they and
// the sections share (declared in load_internal.h).

#include "conf/load.h"

#include "conf/load_internal.h"
#include "conf/overlay.h"

#include <yaml-cpp/yaml.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <functional>

namespace sy::conf::detail::pass1 {

std::string plain_or_quoted(std::string_view text) {
  bool plain =
      !text.empty() && text.size() <= 32 && std::all_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) > ' ' && static_cast<unsigned char>(c) < 0x7f;
      });
  return plain ? std::string(text) : quoted(text);
}

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

bool is_name(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

bool is_header_safe(const std::string& text) {
  return std::none_of(text.begin(), text.end(),
                      [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; });
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

}  // namespace sy::conf::detail::pass1
