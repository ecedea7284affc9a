#include "bench/answer.h"

namespace sy::bench {

std::string find_error_code(std::string_view body) {
  auto value_of = [&](std::string_view key) -> std::string {
    size_t k = body.find(key);
    if (k == std::string_view::npos)
      return "";
    size_t p = k + key.size();
    while (p < body.size() && (body[p] == ' ' || body[p] == ':'))
      ++p;
    if (p >= body.size() || body[p] != '"')
      return "";
    size_t end = body.find('"', p + 1);
    if (end == std::string_view::npos)
      return "";
    return std::string(body.substr(p + 1, end - p - 1));
  };
  // A code looks like ABC-0123: letters, a dash, digits.
  auto is_code = [](const std::string& s) {
    size_t dash = s.find('-');
    if (dash == std::string::npos || dash == 0 || dash + 1 >= s.size() || s.size() > 16) {
      return false;
    }
    for (size_t i = 0; i < s.size(); ++i) {
      char c = s[i];
      if (i < dash ? !(c >= 'A' && c <= 'Z') : i > dash && !(c >= '0' && c <= '9'))
        return false;
    }
    return true;
  };
  std::string e = value_of("\"error\"");
  if (is_code(e))
    return e;
  std::string c = value_of("\"code\"");
  if (is_code(c))
    return c;
  return "";
}

bool is_failure(int status, std::string_view error_code) {
  return status == 0 || status >= 400 || !error_code.empty();
}

}  // namespace sy::bench
