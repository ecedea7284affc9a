#pragma once
// Finding the tenant in a request: an ordered list of rules, first match wins.
//
// A KeyExtractor is compiled once from configuration (loader/admin thread: it may throw inside
// std::regex, which compile() catches) and then used read-only by every worker at the same time.
// extract() is pure: it looks only at the RequestFacts views it is given, does no I/O, and
// allocates only for a login string (std::regex_search allocates internally, too: regex rules
// are the slow path; prefer Header/Cookie/PathSegment/QueryParam rules on busy listeners).
//
// What each rule reads, and what it yields:
//
//   kind          reads                                           yields  decoding
//   HostRegex     Host without :port, regex_search, icase         Id      none
//   Header        first header named |name| (case-insensitive)    Id      OWS trimmed
//   Cookie        every Cookie header, cookie |name| (exact)      Id      OWS/quotes stripped
//   PathSegment   path segment |segment| (0-based, "/a/b": a=0)    Id      %XX
//   PathRegex     path (no query), regex_search                   Id      %XX of the group
//   QueryParam    first query parameter |name|                    Id      %XX and '+'
//   LoginQuery    first query parameter |name|                    Login   %XX and '+'
//   LoginForm     first form field |name| of an urlencoded body   Login   %XX and '+'
//
// An Id is a decimal uint32 > 0 (digits only, leading zeros allowed); anything else makes the
// rule yield nothing and the next rule is tried. An empty login yields nothing as well. Invalid
// %-escapes are kept literally (a login with "%zz" is looked up as "%zz"). Regex rules use
// regex_search (anchor with ^/$ yourself) and yield nothing for inputs over 4 KiB: libstdc++'s
// matcher recurses per character (measured ~300 B of stack per char with ".*", so ~1.3 MB at
// the cap); threads running extract() need at least 2 MiB of stack (the default is 8 MiB).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/ascii.h"
#include "common/result.h"
#include "routing/directory_rows.h"

namespace sy::routing {

struct Header {
  std::string_view name;   // as received; compared case-insensitively
  std::string_view value;  // as received (OWS trimming is the rule's job)
};

// The parts of a request key extraction and decide() look at. Views only; the caller (the
// proxy's request) owns the bytes and keeps them alive during extract()/decide().
struct RequestFacts {
  std::string_view method;
  std::string_view target;  // request-target as received: origin-form "/path?query" (an
                            // absolute-form "http://h/p?q" is reduced to "/p?q" where needed)
  std::string_view host;    // Host header / :authority, raw, may carry ":port"
  const Header* headers = nullptr;  // all request headers, in order
  size_t header_count = 0;
  std::string_view body;  // only a buffered, complete, small x-www-form-urlencoded POST body;
                          // else empty
  std::string_view content_type;  // Content-Type header value, raw ("" = none)
  int listener_pool = -1;         // pool index of the listener the request arrived on; -1 = none
  // The snapshot may be out of date in a way that matters: the database has not answered for
  // longer than database.stale_after while the cluster was not STABLE (SnapshotPublisher::
  // stale()). decide() then holds what may have moved instead of routing it (decide.h).
  bool directory_stale = false;
};

enum class KeyRuleKind {
  HostRegex,
  Header,
  Cookie,
  PathSegment,
  PathRegex,
  QueryParam,
  LoginQuery,
  LoginForm
};

// Config spelling of a kind ("host_regex", "path_segment", ...), for messages and the access log.
const char* to_string(KeyRuleKind kind);

struct KeyRule {
  KeyRuleKind kind = KeyRuleKind::Header;
  std::string name;     // Header/Cookie/QueryParam/LoginQuery/LoginForm: what to look for
  int segment = 0;      // PathSegment: 0-based index of the path segment; >= 0
  std::string pattern;  // HostRegex/PathRegex: ECMAScript regex with exactly one (?<context>...)
};

struct ContextKey {
  enum Kind { None, Id, Login } kind = None;
  ContextId id = 0;       // Kind Id: > 0
  std::string login;      // Kind Login: decoded, non-empty
  size_t rule_index = 0;  // which rule matched (position in the compiled list); for the log
};

class KeyExtractor {
 public:
  // An extractor with no rules: extract() always yields None.
  KeyExtractor() = default;

  // Validates and compiles |rules|. Errors are Errc::Config and name the rule by its 0-based
  // position, e.g. "rules[2] (path_regex): pattern has no (?<context>...) group". Checked: regex
  // syntax, exactly one (?<context>...) group and no other named group, non-empty |name| for
  // name-based kinds, |segment| >= 0. Any thread; exceptions from std::regex do not escape.
  static Result<KeyExtractor> compile(std::vector<KeyRule> rules);

  // The first rule that yields a value wins; None when no rule does. Any thread, concurrently.
  ContextKey extract(const RequestFacts& f) const;

  size_t rule_count() const { return rules_.size(); }

 private:
  struct Pattern;  // a compiled std::regex and its context group; defined in the .cpp so that
                   // <regex> stays out of every file that includes this header
  struct Compiled {
    KeyRule rule;
    std::shared_ptr<const Pattern> pattern;  // HostRegex/PathRegex only; immutable, shared
  };
  std::vector<Compiled> rules_;
};

// ---- Helpers shared with decide() and the tests ------------------------------------------------

// |target| in origin form: "/p?q" as is; "http://h:1/p?q" -> "/p?q"; "http://h" -> "";
// anything else (e.g. "*") -> "". Never allocates; returns a view into |target|.
std::string_view origin_form(std::string_view target);

// |host| without a trailing ":port" ("[::1]:80" -> "[::1]", "a.b:8080" -> "a.b").
std::string_view strip_port(std::string_view host);

// Appends the percent-decoding of |in| to |out|; |plus_is_space| for urlencoded forms/queries.
void percent_decode(std::string_view in, bool plus_is_space, std::string* out);

using ::sy::iequals;  // case-insensitive ASCII (common/ascii.h, inline)

}  // namespace sy::routing
