// ${NAME} / ${NAME:-default} expansion. One left-to-right pass over the text: what a variable
// expands to is appended to the output and never scanned again.

#include "conf/substitute.h"

#include <cstdlib>

#include "conf/load_internal.h"

namespace sy::conf {

namespace {

// |text| as the error shows it: as written while short, else cut the way values are
// (detail::quote_value), so that a huge reference still gives one short error line.
std::string shown(std::string_view text) {
  return text.size() <= detail::kMaxShownBytes ? std::string(text) : detail::quote_value(text);
}

bool name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

}  // namespace

EnvLookup process_environment() {
  return [](const std::string& name) -> const char* { return std::getenv(name.c_str()); };
}

bool substitute(std::string_view text, const EnvLookup& lookup, std::string* out,
                std::string* error, bool* used) {
  out->clear();
  out->reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t dollar = text.find('$', i);
    if (dollar == std::string_view::npos) {
      out->append(text.substr(i));
      break;
    }
    out->append(text.substr(i, dollar - i));
    std::string_view rest = text.substr(dollar);
    if (rest.substr(0, 3) == "$${") {  // the escape: "$${" -> "${"
      out->append("${");
      i = dollar + 3;
      continue;
    }
    if (rest.substr(0, 2) != "${") {  // a '$' on its own is itself
      out->push_back('$');
      i = dollar + 1;
      continue;
    }
    if (used != nullptr) {
      *used = true;
    }
    size_t close = rest.find('}');
    if (close == std::string_view::npos) {
      *error = "unterminated ${ (expected ${NAME} or ${NAME:-default}; write $${ for a literal ${)";
      return false;
    }
    std::string_view inner = rest.substr(2, close - 2);
    size_t n = 0;
    while (n < inner.size() && name_char(inner[n])) {
      ++n;
    }
    std::string name(inner.substr(0, n));
    bool has_default = inner.substr(n, 2) == ":-";
    if (name.empty() || !name_start(name[0]) || (n != inner.size() && !has_default)) {
      *error = "bad variable reference ${" + shown(inner) +
               "} (expected ${NAME} or ${NAME:-default}, NAME of letters, digits and '_')";
      return false;
    }
    const char* value = lookup(name);
    if (has_default && (value == nullptr || *value == '\0')) {
      out->append(inner.substr(n + 2));
    } else if (value == nullptr) {
      *error = "environment variable " + shown(name) + " is not set (expected it set, or ${" +
               shown(name) + ":-default})";
      return false;
    } else {
      out->append(value);
    }
    i = dollar + close + 1;
  }
  return true;
}

}  // namespace sy::conf
