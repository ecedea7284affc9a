#pragma once
// The admin line protocol (STYLE rule 10, HAProxy runtime-API style). Pure: no I/O, no clock.
//
//   request   one line; several commands separated by ';' (outside quotes)
//             words split on blanks; "double" and 'single' quotes group words; inside double
//             quotes \" and \\ escape
//             `--json` anywhere as a word, or a `format json` prefix, selects JSON for that
//             command's reply
//   reply     text: zero or more lines, then one empty line
//             JSON: one line holding one JSON document, then one empty line
//   error     text: `ERR <code>: <message>` then the empty line
//             JSON: {"error":{"code":"<code>","message":"<message>"}} then the empty line
//   progress  a long command (upgrade schemata) streams lines before its reply:
//             text: `progress <done>/<total> <schema> <step> <phase> <elapsed_ms> <eta_ms>
//             [detail]` (eta_ms `-` while unknown)
//             JSON: {"progress":{"done":..,"total":..,"schema":..,...}} (one line each)
//
// The connection stays usable after any error.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/result.h"

namespace sy::admin {

// Splits one request line into commands at ';' outside quotes. Blank commands are dropped.
std::vector<std::string> split_commands(std::string_view line);

// Splits one command into words (quotes group, see above). Fails (InvalidArgument) on an
// unterminated quote.
Result<std::vector<std::string>> tokenize(std::string_view command);

// Quotes |word| so that tokenize() gives it back unchanged: as is when it has no blank, quote,
// backslash or ';' and is not empty, else in double quotes with \" and \\ escaped.
std::string quote_word(std::string_view word);

// The admin token from the first line of its file: the line without trailing blanks ('\r',
// ' ', '\t'). The one rule of the server (admin/token.h) and switchyardctl --token-file.
std::string token_from_line(std::string first_line);

// A parsed command: its words without the JSON selectors, and whether JSON was asked for.
struct Request {
  std::vector<std::string> words;
  bool json = false;
};
Request make_request(std::vector<std::string> words);

// JSON string escaping (without the surrounding quotes): ", \, control characters (\n, \t,
// \u00XX). Bytes >= 0x80 pass through (UTF-8 stays UTF-8).
std::string json_escape(std::string_view text);

// A small JSON value for replies: every command builds one, and both the JSON and the text
// rendering come from it. Objects keep insertion order.
class Json {
 public:
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;

  Json() : v_(nullptr) {}
  Json(std::nullptr_t) : v_(nullptr) {}              // NOLINT
  Json(bool b) : v_(b) {}                            // NOLINT
  Json(int v) : v_(static_cast<int64_t>(v)) {}       // NOLINT
  Json(int64_t v) : v_(v) {}                         // NOLINT
  Json(uint64_t v) : v_(static_cast<int64_t>(v)) {}  // NOLINT
  Json(uint32_t v) : v_(static_cast<int64_t>(v)) {}  // NOLINT
  Json(const char* s) : v_(std::string(s)) {}        // NOLINT
  Json(std::string s) : v_(std::move(s)) {}          // NOLINT
  Json(std::string_view s) : v_(std::string(s)) {}   // NOLINT
  static Json array() {
    Json j;
    j.v_ = Array{};
    return j;
  }
  static Json object() {
    Json j;
    j.v_ = Object{};
    return j;
  }

  // Object: appends |key| (callers do not repeat keys). Returns *this for chaining.
  Json& set(std::string key, Json value);
  // Array: appends.
  Json& push(Json value);

  bool is_object() const { return std::holds_alternative<Object>(v_); }
  bool is_array() const { return std::holds_alternative<Array>(v_); }
  bool is_scalar() const { return !is_object() && !is_array(); }
  const Object& object_items() const { return std::get<Object>(v_); }
  const Array& array_items() const { return std::get<Array>(v_); }
  // Object member by key; nullptr when absent or not an object.
  const Json* find(std::string_view key) const;

  // Compact JSON on one line.
  std::string dump() const;
  // A scalar as text: strings unquoted, null as "-", booleans "yes"/"no".
  std::string scalar_text() const;

 private:
  std::variant<std::nullptr_t, bool, int64_t, std::string, Array, Object> v_;
};

// Text rendering of a reply document:
//   object    "key: value" per scalar member; nested objects as "key.sub: value";
//             an array of objects as "key:" followed by a table (header row, aligned columns)
//   array     of objects: a table; of scalars: one per line
//   a member named "message" (string) is printed as a plain line
std::string render_text(const Json& doc);

// One error as the protocol writes it (without the terminating empty line).
std::string format_error(std::string_view code, std::string_view message, bool json);
// Error code for an Error: its tag, else to_string(code) ("database", "not-found", ...).
std::string error_code(const Error& e);

// One progress line (see above).
struct ProgressLine {
  int done = 0;
  int total = 0;
  std::string schema;
  std::string step;
  std::string phase;
  int64_t elapsed_ms = 0;
  int64_t eta_ms = -1;  // ms until the run ends, from the measured schema times; -1 = unknown
  std::string detail;   // may contain blanks; the rest of the line
};
std::string format_progress(const ProgressLine& p, bool json);
// Parses a text progress line; nullopt when |line| is not one.
std::optional<ProgressLine> parse_progress(std::string_view line);

// A duration for people: "0.4s", "1.3s", "59.9s", "1m00s", "2m05s", "1h02m" (tenths of a second
// below a minute, truncated). Negative reads as 0.
std::string format_duration(int64_t ms);
// A wall-clock time as ISO 8601 with milliseconds: |local| false = UTC
// ("2026-12-07T14:07:31.123Z"), true = local time with its offset ("2026-12-07T15:07:31.123+01:00",
// by the TZ of the process).
std::string format_time(int64_t unix_ms, bool local);

}  // namespace sy::admin
