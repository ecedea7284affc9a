#include "routing/context_key.h"

#include <limits>
#include <optional>
#include <utility>

// GCC 12 with -O2 and ASan reports -Wmaybe-uninitialized inside libstdc++'s regex compiler
// (std::function moves in regex_automaton.h), a known false positive; keep -Werror usable.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace sy::routing {

struct KeyExtractor::Pattern {
  std::regex re;
  size_t group = 0;  // capture group number of (?<context>...) in |re|
};

namespace {

// libstdc++'s regex executor recurses per input character; a bounded input keeps a worker's
// stack safe whatever the pattern. Real hosts and paths are far shorter.
constexpr size_t kMaxRegexInput = 4096;

constexpr std::string_view kContextGroup = "(?<context>";
constexpr std::string_view kFormType = "application/x-www-form-urlencoded";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// The decoded byte at |*i| of |s|; advances |*i| past it. An invalid escape is a literal '%'.
char decode_at(std::string_view s, size_t* i, bool plus_is_space) {
  char c = s[*i];
  if (c == '%' && *i + 2 < s.size()) {
    int hi = hex_value(s[*i + 1]);
    int lo = hex_value(s[*i + 2]);
    if (hi >= 0 && lo >= 0) {
      *i += 3;
      return static_cast<char>(hi * 16 + lo);
    }
  }
  *i += 1;
  return plus_is_space && c == '+' ? ' ' : c;
}

// Decimal uint32 > 0 over the (optionally percent-decoded) bytes of |s|; no allocation.
std::optional<ContextId> parse_id(std::string_view s, bool decode, bool plus_is_space = false) {
  uint64_t v = 0;
  size_t digits = 0;
  for (size_t i = 0; i < s.size();) {
    char c = decode ? decode_at(s, &i, plus_is_space) : s[i++];
    if (!is_digit(c)) {
      return std::nullopt;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
    if (v > std::numeric_limits<ContextId>::max()) {
      return std::nullopt;
    }
    ++digits;
  }
  if (digits == 0 || v == 0) {
    return std::nullopt;
  }
  return static_cast<ContextId>(v);
}

// True when the urlencoded |raw| decodes to exactly |expected|.
bool decoded_equals(std::string_view raw, std::string_view expected) {
  size_t n = 0;
  for (size_t i = 0; i < raw.size();) {
    char c = decode_at(raw, &i, true);
    if (n == expected.size() || expected[n] != c) {
      return false;
    }
    ++n;
  }
  return n == expected.size();
}

// The raw value of the first parameter named |name| in the urlencoded |query| ("a=1&b=2").
// First, not last: with "?cid=1&cid=2" every layer that looks at the request must agree on the
// tenant, and most application frameworks take the first value.
std::optional<std::string_view> find_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (decoded_equals(pair.substr(0, eq), name)) {
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    }
  }
  return std::nullopt;
}

// The value of cookie |name| from any Cookie header (HTTP/2 clients send one per cookie).
// Cookie names are case-sensitive (RFC 6265), unlike header names.
std::optional<std::string_view> find_cookie(const RequestFacts& f, std::string_view name) {
  for (size_t h = 0; h < f.header_count; ++h) {
    if (!iequals(f.headers[h].name, "cookie")) {
      continue;
    }
    std::string_view rest = f.headers[h].value;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view part = trim(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      size_t eq = part.find('=');
      if (eq == std::string_view::npos || trim(part.substr(0, eq)) != name) {
        continue;
      }
      std::string_view value = trim(part.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return value;
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> find_header(const RequestFacts& f, std::string_view name) {
  for (size_t h = 0; h < f.header_count; ++h) {
    if (iequals(f.headers[h].name, name)) {
      return trim(f.headers[h].value);
    }
  }
  return std::nullopt;
}

// Segment |index| of |path| ("/a/b": a = 0, b = 1); nullopt when out of range.
std::optional<std::string_view> path_segment(std::string_view path, int index) {
  if (!path.empty() && path.front() == '/') {
    path.remove_prefix(1);
  }
  for (int n = 0;; ++n) {
    size_t slash = path.find('/');
    if (n == index) {
      return path.substr(0, slash);
    }
    if (slash == std::string_view::npos) {
      return std::nullopt;
    }
    path.remove_prefix(slash + 1);
  }
}

// Rewrites the one (?<context>...) into a plain group and counts the capturing groups before
// it. std::regex (ECMAScript) knows (?:, (?= and (?! but no named groups.
Result<std::pair<std::string, size_t>> translate_pattern(std::string_view p) {
  std::string out;
  out.reserve(p.size());
  size_t groups = 0;
  size_t context_group = 0;
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\') {
      out += c;
      if (i + 1 < p.size()) {
        out += p[++i];
      }
      continue;
    }
    if (in_class) {
      if (c == '[' && i + 1 < p.size() && (p[i + 1] == ':' || p[i + 1] == '.' || p[i + 1] == '=')) {
        // [:alpha:], [.x.], [=x=]: copy through the closing ":]" so its ']' does not end the class.
        size_t close = p.find(std::string{p[i + 1], ']'}, i + 2);
        size_t end = close == std::string_view::npos ? p.size() : close + 2;
        out.append(p.substr(i, end - i));
        i = end - 1;
        continue;
      }
      in_class = c != ']';
      out += c;
      continue;
    }
    if (c == '[') {
      // ECMAScript (and libstdc++): "[]" is an empty class and "[^]" any character, so a ']'
      // right after '[' or '[^' closes the class, unlike POSIX.
      in_class = true;
      out += c;
      if (i + 1 < p.size() && p[i + 1] == '^') {
        out += p[++i];
      }
      continue;
    }
    if (c == '(') {
      if (p.substr(i).starts_with(kContextGroup)) {
        if (context_group != 0) {
          return make_error(Errc::Config, "pattern has more than one (?<context>...) group");
        }
        context_group = ++groups;
        out += '(';
        i += kContextGroup.size() - 1;
        continue;
      }
      if (i + 1 < p.size() && p[i + 1] == '?') {
        if (i + 2 < p.size() && p[i + 2] == '<') {
          return make_error(Errc::Config,
                            "only the named group (?<context>...) is supported (std::regex has "
                            "no other named groups or lookbehind)");
        }
      } else {
        ++groups;
      }
    }
    out += c;
  }
  if (context_group == 0) {
    return make_error(Errc::Config, "pattern has no (?<context>...) group");
  }
  return std::pair<std::string, size_t>(std::move(out), context_group);
}

bool needs_name(KeyRuleKind k) {
  return k == KeyRuleKind::Header || k == KeyRuleKind::Cookie || k == KeyRuleKind::QueryParam ||
         k == KeyRuleKind::LoginQuery || k == KeyRuleKind::LoginForm;
}

bool is_regex(KeyRuleKind k) { return k == KeyRuleKind::HostRegex || k == KeyRuleKind::PathRegex; }

}  // namespace

const char* to_string(KeyRuleKind kind) {
  switch (kind) {
  case KeyRuleKind::HostRegex: return "host_regex";
  case KeyRuleKind::Header: return "header";
  case KeyRuleKind::Cookie: return "cookie";
  case KeyRuleKind::PathSegment: return "path_segment";
  case KeyRuleKind::PathRegex: return "path_regex";
  case KeyRuleKind::QueryParam: return "query_param";
  case KeyRuleKind::LoginQuery: return "login_query";
  case KeyRuleKind::LoginForm: return "login_form";
  }
  return "unknown";
}

std::string_view origin_form(std::string_view target) {
  if (!target.empty() && target.front() == '/') {
    return target;
  }
  size_t scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) {
    return {};
  }
  size_t start = target.find_first_of("/?", scheme_end + 3);
  return start == std::string_view::npos ? std::string_view{} : target.substr(start);
}

std::string_view strip_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  return host.substr(0, host.find(':'));
}

void percent_decode(std::string_view in, bool plus_is_space, std::string* out) {
  out->reserve(out->size() + in.size());
  for (size_t i = 0; i < in.size();) {
    *out += decode_at(in, &i, plus_is_space);
  }
}

Result<KeyExtractor> KeyExtractor::compile(std::vector<KeyRule> rules) {
  KeyExtractor x;
  x.rules_.reserve(rules.size());
  for (size_t n = 0; n < rules.size(); ++n) {
    KeyRule& rule = rules[n];
    auto fail = [&](const std::string& what) {
      return make_error(Errc::Config,
                        "rules[" + std::to_string(n) + "] (" + to_string(rule.kind) + "): " + what);
    };
    Compiled c;
    if (needs_name(rule.kind) && rule.name.empty()) {
      return fail("name is empty");
    }
    if (rule.kind == KeyRuleKind::PathSegment && rule.segment < 0) {
      return fail("segment must be >= 0, got " + std::to_string(rule.segment));
    }
    if (is_regex(rule.kind)) {
      auto translated = translate_pattern(rule.pattern);
      if (!translated) {
        return fail(translated.error().message);
      }
      auto flags = std::regex::ECMAScript;
      if (rule.kind == KeyRuleKind::HostRegex) {
        flags |= std::regex::icase;  // host names are case-insensitive
      }
      auto pattern = std::make_shared<Pattern>();
      try {
        pattern->re = std::regex(translated->first, flags);
      } catch (const std::regex_error& e) {
        return fail("bad pattern \"" + rule.pattern + "\": " + e.what());
      }
      pattern->group = translated->second;
      if (pattern->group > pattern->re.mark_count()) {
        return fail("pattern has no (?<context>...) group");  // defensive; translate counted it
      }
      c.pattern = std::move(pattern);
    }
    c.rule = std::move(rule);
    x.rules_.push_back(std::move(c));
  }
  return x;
}

ContextKey KeyExtractor::extract(const RequestFacts& f) const {
  std::string_view target = origin_form(f.target);
  target = target.substr(0, target.find('#'));
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);

  auto regex_group = [](const Compiled& c, std::string_view in) -> std::optional<std::string_view> {
    if (in.size() > kMaxRegexInput) {
      return std::nullopt;
    }
    const Pattern& p = *c.pattern;
    std::cmatch m;
    if (!std::regex_search(in.data(), in.data() + in.size(), m, p.re) || !m[p.group].matched) {
      return std::nullopt;
    }
    return std::string_view(m[p.group].first, static_cast<size_t>(m[p.group].length()));
  };
  auto is_form = [&] {
    std::string_view media = trim(f.content_type.substr(0, f.content_type.find(';')));
    return iequals(media, kFormType);
  };

  // Values stay views into |f| until one rule wins; only a login is copied (it outlives |f| in
  // the ContextKey).
  ContextKey key;
  for (size_t n = 0; n < rules_.size(); ++n) {
    const Compiled& c = rules_[n];
    std::optional<ContextId> id;
    std::optional<std::string_view> login;  // raw, urlencoded
    switch (c.rule.kind) {
    case KeyRuleKind::HostRegex:
      if (auto v = regex_group(c, strip_port(f.host))) {
        id = parse_id(*v, false);
      }
      break;
    case KeyRuleKind::Header:
      if (auto v = find_header(f, c.rule.name)) {
        id = parse_id(*v, false);
      }
      break;
    case KeyRuleKind::Cookie:
      if (auto v = find_cookie(f, c.rule.name)) {
        id = parse_id(*v, false);
      }
      break;
    case KeyRuleKind::PathSegment:
      if (auto v = path_segment(path, c.rule.segment)) {
        id = parse_id(*v, true);
      }
      break;
    case KeyRuleKind::PathRegex:
      if (auto v = regex_group(c, path)) {
        id = parse_id(*v, true);
      }
      break;
    case KeyRuleKind::QueryParam:
      if (auto v = find_param(query, c.rule.name)) {
        id = parse_id(*v, true, true);
      }
      break;
    case KeyRuleKind::LoginQuery: login = find_param(query, c.rule.name); break;
    case KeyRuleKind::LoginForm:
      // The media type is checked here too, so a JSON or multipart body that happens to
      // contain "login=" is never read as a form.
      if (!f.body.empty() && is_form()) {
        login = find_param(f.body, c.rule.name);
      }
      break;
    }
    if (id) {
      key.kind = ContextKey::Id;
      key.id = *id;
      key.rule_index = n;
      return key;
    }
    if (login && !login->empty()) {
      percent_decode(*login, true, &key.login);
      key.kind = ContextKey::Login;
      key.rule_index = n;
      return key;
    }
  }
  return key;
}

}  // namespace sy::routing
