// libFuzzer target for context-key extraction (routing/context_key.*): one rule of every kind,
// over request facts taken from the input.
//
// Input: lines separated by '\n': method, target, Host, Content-Type, body (with "\x01" standing
// for '\n' so a body can span lines), then one header per line as "name:value". Every view
// points into an exact-size heap copy, so ASan sees any read past a field's end.
//
// Checked beyond "no crash, no sanitizer report":
//   - first match wins: the extractor with all rules yields what the single-rule extractor of
//     the matching rule yields, and every earlier rule alone yields nothing;
//   - an Id is > 0, a Login is not empty, rule_index is in range;
//   - origin_form() and strip_port() return views inside their argument; percent_decode never
//     grows its input.
// Build and run: tests/fuzz/run.sh [seconds] (or make fuzz).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "routing/context_key.h"

using namespace sy::routing;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "contract violated: %s\n", what);
    std::abort();
  }
}

std::vector<KeyRule> all_rules() {
  return {
      {KeyRuleKind::HostRegex, "", 0, "^c(?<context>[0-9]+)\\."},
      {KeyRuleKind::Header, "X-Context-Id", 0, ""},
      {KeyRuleKind::Cookie, "ctx", 0, ""},
      {KeyRuleKind::PathSegment, "", 1, ""},
      {KeyRuleKind::PathRegex, "", 0, "^/t/(?<context>[^/]+)"},
      {KeyRuleKind::QueryParam, "cid", 0, ""},
      {KeyRuleKind::LoginQuery, "login", 0, ""},
      {KeyRuleKind::LoginForm, "login", 0, ""},
  };
}

KeyExtractor compile_or_die(std::vector<KeyRule> rules) {
  auto r = KeyExtractor::compile(std::move(rules));
  if (!r.ok()) {
    std::fprintf(stderr, "context_key_fuzz: %s\n", r.error().message.c_str());
    std::abort();
  }
  return std::move(r.value());
}

struct Extractors {
  KeyExtractor all;
  std::vector<KeyExtractor> single;  // single[i]: rule i alone
};

const Extractors& extractors() {
  static const Extractors* e = [] {
    auto* out = new Extractors{compile_or_die(all_rules()), {}};
    for (const KeyRule& rule : all_rules()) {
      out->single.push_back(compile_or_die({rule}));
    }
    return out;
  }();
  return *e;
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

bool same(const ContextKey& a, const ContextKey& b) {
  return a.kind == b.kind && a.id == b.id && a.login == b.login;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) {
    return 0;
  }
  std::string text(reinterpret_cast<const char*>(data), size);
  // Split into lines, each copied to its own exact-size buffer.
  std::vector<std::unique_ptr<char[]>> buffers;
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) {
      end = text.size();
    }
    size_t n = end - pos;
    buffers.push_back(std::make_unique<char[]>(n == 0 ? 1 : n));
    for (size_t i = 0; i < n; ++i) {
      char c = text[pos + i];
      buffers.back()[i] = lines.size() == 4 && c == '\x01' ? '\n' : c;
    }
    lines.emplace_back(buffers.back().get(), n);
    pos = end + 1;
  }
  auto field = [&](size_t i) { return i < lines.size() ? lines[i] : std::string_view(); };
  std::vector<Header> headers;
  for (size_t i = 5; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string_view::npos) {
      headers.push_back({lines[i], {}});
    } else {
      headers.push_back({lines[i].substr(0, colon), lines[i].substr(colon + 1)});
    }
  }
  RequestFacts f;
  f.method = field(0);
  f.target = field(1);
  f.host = field(2);
  f.content_type = field(3);
  f.body = field(4);
  f.headers = headers.data();
  f.header_count = headers.size();

  const Extractors& ex = extractors();
  ContextKey key = ex.all.extract(f);
  switch (key.kind) {
  case ContextKey::Id: check(key.id > 0, "an id is > 0"); break;
  case ContextKey::Login: check(!key.login.empty(), "a login is not empty"); break;
  case ContextKey::None: break;
  }
  size_t matched = key.kind == ContextKey::None ? ex.single.size() : key.rule_index;
  check(matched <= ex.single.size(), "rule_index in range");
  for (size_t i = 0; i < ex.single.size() && i <= matched; ++i) {
    ContextKey alone = ex.single[i].extract(f);
    if (i < matched) {
      check(alone.kind == ContextKey::None, "an earlier rule alone yields nothing");
    } else {
      check(same(alone, key), "the matching rule alone yields the same key");
    }
  }

  check(inside(origin_form(f.target), f.target), "origin_form is a view into the target");
  std::string_view stripped = strip_port(f.host);
  check(inside(stripped, f.host) && stripped.data() == f.host.data(),
        "strip_port is a prefix of the host");
  std::string decoded;
  percent_decode(f.target, true, &decoded);
  check(decoded.size() <= f.target.size(), "percent_decode does not grow");
  return 0;
}
