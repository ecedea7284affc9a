// The admin line protocol: splitting, tokenizing, JSON and text rendering. Pure.

#include "admin/protocol.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace sy::admin {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

std::vector<std::string> split_commands(std::string_view line) {
  std::vector<std::string> out;
  std::string current;
  char quote = 0;
  auto flush = [&] {
    bool blank = std::all_of(current.begin(), current.end(), is_blank);
    if (!blank) {
      out.push_back(current);
    }
    current.clear();
  };
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote != 0) {
      current += c;
      if (quote == '"' && c == '\\' && i + 1 < line.size()) {
        current += line[++i];
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
      current += c;
    } else if (c == ';') {
      flush();
    } else {
      current += c;
    }
  }
  flush();
  return out;
}

Result<std::vector<std::string>> tokenize(std::string_view command) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < command.size(); ++i) {
    char c = command[i];
    if (quote == '"') {
      if (c == '\\' && i + 1 < command.size() &&
          (command[i + 1] == '"' || command[i + 1] == '\\')) {
        word += command[++i];
      } else if (c == '"') {
        quote = 0;
      } else {
        word += c;
      }
      continue;
    }
    if (quote == '\'') {
      if (c == '\'') {
        quote = 0;
      } else {
        word += c;
      }
      continue;
    }
    if (is_blank(c)) {
      if (in_word) {
        words.push_back(std::move(word));
        word.clear();
        in_word = false;
      }
      continue;
    }
    in_word = true;
    if (c == '"' || c == '\'') {
      quote = c;
    } else {
      word += c;
    }
  }
  if (quote != 0) {
    return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                             std::string("unterminated ") + (quote == '"' ? "\"" : "'") + " quote",
                             ErrorSource::Downstream);
  }
  if (in_word) {
    words.push_back(std::move(word));
  }
  return words;
}

std::string token_from_line(std::string first_line) {
  while (!first_line.empty() &&
         (first_line.back() == '\r' || first_line.back() == ' ' || first_line.back() == '\t')) {
    first_line.pop_back();
  }
  return first_line;
}

std::string quote_word(std::string_view word) {
  bool plain = !word.empty() && std::none_of(word.begin(), word.end(), [](char c) {
    return is_blank(c) || c == '"' || c == '\'' || c == '\\' || c == ';';
  });
  if (plain) {
    return std::string(word);
  }
  std::string out = "\"";
  for (char c : word) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
  return out;
}

Request make_request(std::vector<std::string> words) {
  Request r;
  size_t start = 0;
  if (words.size() >= 2 && words[0] == "format" && words[1] == "json") {
    r.json = true;
    start = 2;
  }
  for (size_t i = start; i < words.size(); ++i) {
    if (words[i] == "--json") {
      r.json = true;
    } else {
      r.words.push_back(std::move(words[i]));
    }
  }
  return r;
}

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default:
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
        out += buf;
      } else {
        out += c;
      }
    }
  }
  return out;
}

Json& Json::set(std::string key, Json value) {
  if (!is_object()) {
    v_ = Object{};
  }
  std::get<Object>(v_).emplace_back(std::move(key), std::move(value));
  return *this;
}

Json& Json::push(Json value) {
  if (!is_array()) {
    v_ = Array{};
  }
  std::get<Array>(v_).push_back(std::move(value));
  return *this;
}

const Json* Json::find(std::string_view key) const {
  if (!is_object()) {
    return nullptr;
  }
  for (const auto& [k, v] : object_items()) {
    if (k == key) {
      return &v;
    }
  }
  return nullptr;
}

std::string Json::dump() const {
  struct Visitor {
    std::string operator()(std::nullptr_t) const { return "null"; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(const std::string& s) const { return "\"" + json_escape(s) + "\""; }
    std::string operator()(const Array& a) const {
      std::string out = "[";
      for (size_t i = 0; i < a.size(); ++i) {
        out += (i ? "," : "") + a[i].dump();
      }
      return out + "]";
    }
    std::string operator()(const Object& o) const {
      std::string out = "{";
      for (size_t i = 0; i < o.size(); ++i) {
        out += (i ? ",\"" : "\"") + json_escape(o[i].first) + "\":" + o[i].second.dump();
      }
      return out + "}";
    }
  };
  return std::visit(Visitor{}, v_);
}

std::string Json::scalar_text() const {
  if (const auto* s = std::get_if<std::string>(&v_)) {
    return s->empty() ? "-" : *s;
  }
  if (const auto* b = std::get_if<bool>(&v_)) {
    return *b ? "yes" : "no";
  }
  if (const auto* i = std::get_if<int64_t>(&v_)) {
    return std::to_string(*i);
  }
  if (std::holds_alternative<std::nullptr_t>(v_)) {
    return "-";
  }
  return dump();
}

namespace {

bool is_table(const Json& j) {
  if (!j.is_array() || j.array_items().empty()) {
    return false;
  }
  return std::all_of(j.array_items().begin(), j.array_items().end(),
                     [](const Json& e) { return e.is_object(); });
}

// Aligned columns; the columns are the keys of every row, in first-seen order. Nested
// values are shown compact (JSON).
void render_table(const Json& rows, const std::string& indent, std::string* out) {
  std::vector<std::string> columns;
  for (const Json& row : rows.array_items()) {
    for (const auto& [k, v] : row.object_items()) {
      if (std::find(columns.begin(), columns.end(), k) == columns.end()) {
        columns.push_back(k);
      }
    }
  }
  std::vector<std::vector<std::string>> cells;
  cells.push_back(columns);
  for (const Json& row : rows.array_items()) {
    std::vector<std::string> line;
    for (const auto& c : columns) {
      const Json* v = row.find(c);
      if (v == nullptr) {
        line.push_back("-");
      } else if (v->is_scalar()) {
        line.push_back(v->scalar_text());
      } else if (v->is_array() && std::all_of(v->array_items().begin(), v->array_items().end(),
                                              [](const Json& e) { return e.is_scalar(); })) {
        std::string joined;
        for (const Json& e : v->array_items()) {
          joined += (joined.empty() ? "" : ",") + e.scalar_text();
        }
        line.push_back(joined.empty() ? "-" : joined);
      } else {
        line.push_back(v->dump());
      }
    }
    cells.push_back(std::move(line));
  }
  std::vector<size_t> width(columns.size(), 0);
  for (const auto& line : cells) {
    for (size_t i = 0; i < line.size(); ++i) {
      width[i] = std::max(width[i], line[i].size());
    }
  }
  for (const auto& line : cells) {
    std::string text = indent;
    for (size_t i = 0; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) {
        text += std::string(width[i] - line[i].size() + 2, ' ');
      }
    }
    *out += text + "\n";
  }
}

void render_object(const Json& obj, const std::string& prefix, std::string* out) {
  for (const auto& [k, v] : obj.object_items()) {
    std::string key = prefix.empty() ? k : prefix + "." + k;
    if (prefix.empty() && k == "message" && v.is_scalar()) {
      *out += v.scalar_text() + "\n";
    } else if (v.is_object()) {
      render_object(v, key, out);
    } else if (is_table(v)) {
      *out += key + ":\n";
      render_table(v, "  ", out);
    } else if (v.is_array()) {
      std::string joined;
      for (const Json& e : v.array_items()) {
        joined += (joined.empty() ? "" : ", ") + (e.is_scalar() ? e.scalar_text() : e.dump());
      }
      *out += key + ": " + (joined.empty() ? "-" : joined) + "\n";
    } else {
      *out += key + ": " + v.scalar_text() + "\n";
    }
  }
}

}  // namespace

std::string render_text(const Json& doc) {
  std::string out;
  if (doc.is_object()) {
    render_object(doc, "", &out);
  } else if (is_table(doc)) {
    render_table(doc, "", &out);
  } else if (doc.is_array()) {
    for (const Json& e : doc.array_items()) {
      out += (e.is_scalar() ? e.scalar_text() : e.dump()) + "\n";
    }
  } else {
    out += doc.scalar_text() + "\n";
  }
  return out;
}

std::string format_error(std::string_view code, std::string_view message, bool json) {
  // One line, whatever the message holds.
  std::string flat(message);
  std::replace(flat.begin(), flat.end(), '\n', ' ');
  if (json) {
    return "{\"error\":{\"code\":\"" + json_escape(code) + "\",\"message\":\"" + json_escape(flat) +
           "\"}}";
  }
  return "ERR " + std::string(code) + ": " + flat;
}

std::string error_code(const Error& e) {
  return e.tag != nullptr ? std::string(e.tag) : std::string(to_string(e.code));
}

std::string format_progress(const ProgressLine& p, bool json) {
  if (json) {
    Json j = Json::object();
    j.set("done", p.done)
        .set("total", p.total)
        .set("schema", p.schema)
        .set("step", p.step)
        .set("phase", p.phase)
        .set("elapsed_ms", p.elapsed_ms)
        .set("eta_ms", p.eta_ms)
        .set("detail", p.detail);
    return Json::object().set("progress", std::move(j)).dump();
  }
  std::string detail = p.detail;
  std::replace(detail.begin(), detail.end(), '\n', ' ');
  std::string line = "progress " + std::to_string(p.done) + "/" + std::to_string(p.total) + " " +
                     (p.schema.empty() ? "-" : p.schema) + " " + p.step + " " + p.phase + " " +
                     std::to_string(p.elapsed_ms) + " " +
                     (p.eta_ms < 0 ? std::string("-") : std::to_string(p.eta_ms));
  if (!detail.empty()) {
    line += " " + detail;
  }
  return line;
}

std::optional<ProgressLine> parse_progress(std::string_view line) {
  if (line.substr(0, 9) != "progress ") {
    return std::nullopt;
  }
  std::vector<std::string> f;
  size_t pos = 9;
  while (f.size() < 6 && pos < line.size()) {
    size_t sp = line.find(' ', pos);
    if (sp == std::string_view::npos) {
      sp = line.size();
    }
    f.emplace_back(line.substr(pos, sp - pos));
    pos = sp + 1;
  }
  std::string_view rest = pos < line.size() ? line.substr(pos) : std::string_view();
  if (f.size() < 6) {
    return std::nullopt;
  }
  ProgressLine p;
  size_t slash = f[0].find('/');
  if (slash == std::string::npos) {
    return std::nullopt;
  }
  auto num = [](std::string_view t, auto* out) {
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), *out);
    return ec == std::errc{} && end == t.data() + t.size() && !t.empty();
  };
  if (!num(std::string_view(f[0]).substr(0, slash), &p.done) ||
      !num(std::string_view(f[0]).substr(slash + 1), &p.total)) {
    return std::nullopt;
  }
  p.schema = f[1] == "-" ? "" : f[1];
  p.step = f[2];
  p.phase = f[3];
  if (!num(f[4], &p.elapsed_ms) || p.elapsed_ms < 0) {
    return std::nullopt;
  }
  if (f[5] != "-" && (!num(f[5], &p.eta_ms) || p.eta_ms < 0)) {
    return std::nullopt;
  }
  p.detail = std::string(rest);
  return p;
}

std::string format_duration(int64_t ms) {
  ms = std::max<int64_t>(ms, 0);
  char buf[48];
  if (ms < 60'000) {
    std::snprintf(buf, sizeof buf, "%lld.%llds", static_cast<long long>(ms / 1000),
                  static_cast<long long>(ms % 1000 / 100));
  } else if (ms < 3'600'000) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms % 60'000 / 1000));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(ms / 3'600'000),
                  static_cast<long long>(ms % 3'600'000 / 60'000));
  }
  return buf;
}

std::string format_time(int64_t unix_ms, bool local) {
  const auto secs = static_cast<time_t>(unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000);
  const auto milli = static_cast<int>(unix_ms - static_cast<int64_t>(secs) * 1000);
  struct tm tm {};
  if (local ? localtime_r(&secs, &tm) == nullptr : gmtime_r(&secs, &tm) == nullptr) {
    return std::to_string(unix_ms);
  }
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char zone[32] = "Z";
  if (local) {
    const int off = static_cast<int>(tm.tm_gmtoff / 60);  // minutes east of UTC, |off| < 1440
    std::snprintf(zone, sizeof zone, "%c%02d:%02d", off < 0 ? '-' : '+', std::abs(off) / 60,
                  std::abs(off) % 60);
  }
  char out[96];
  std::snprintf(out, sizeof out, "%s.%03d%s", date, milli, zone);
  return out;
}

}  // namespace sy::admin
