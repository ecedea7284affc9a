// How values appear in error messages (quoted, escaped, cut), the raw-text checks made before
// yaml-cpp sees a document (deepest nesting, a document starting with ','), and canonical IPs.

#include "conf/load_internal.h"

#include <arpa/inet.h>

#include <algorithm>

namespace sy::conf::detail {

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

}  // namespace sy::conf::detail
