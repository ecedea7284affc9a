#include "admin/prometheus.h"

#include <cstdio>

namespace sy::admin {

namespace {

void append_escaped(std::string* out, std::string_view v) {
  for (char c : v) {
    switch (c) {
    case '\\': out->append("\\\\"); break;
    case '"': out->append("\\\""); break;
    case '\n': out->append("\\n"); break;
    default: out->push_back(c);
    }
  }
}

void append_double(std::string* out, double v) {
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%.6g", v);
  out->append(buf, static_cast<size_t>(n));
}

}  // namespace

void PromWriter::family(std::string_view name, std::string_view type, std::string_view help) {
  out_->append("# HELP ").append(name).append(" ");
  for (char c : help) {  // HELP escapes only \ and newline
    if (c == '\\') {
      out_->append("\\\\");
    } else if (c == '\n') {
      out_->append("\\n");
    } else {
      out_->push_back(c);
    }
  }
  out_->append("\n# TYPE ").append(name).append(" ").append(type).append("\n");
}

void PromWriter::head(std::string_view name, std::initializer_list<Label> labels,
                      const Label* extra) {
  out_->append(name);
  if (labels.size() == 0 && extra == nullptr) {
    out_->push_back(' ');
    return;
  }
  out_->push_back('{');
  bool first = true;
  auto one = [&](const Label& l) {
    if (!first) {
      out_->push_back(',');
    }
    first = false;
    out_->append(l.first).append("=\"");
    append_escaped(out_, l.second);
    out_->push_back('"');
  };
  for (const Label& l : labels) {
    one(l);
  }
  if (extra != nullptr) {
    one(*extra);
  }
  out_->append("} ");
}

void PromWriter::sample(std::string_view name, std::initializer_list<Label> labels,
                        uint64_t value) {
  head(name, labels, nullptr);
  out_->append(std::to_string(value)).push_back('\n');
}

void PromWriter::sample(std::string_view name, std::initializer_list<Label> labels, double value) {
  head(name, labels, nullptr);
  append_double(out_, value);
  out_->push_back('\n');
}

void PromWriter::histogram(std::string_view name, std::initializer_list<Label> labels,
                           const uint64_t* bounds_us, const uint64_t* counts, size_t num_bounds,
                           uint64_t sum_us) {
  std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  std::string le;
  for (size_t i = 0; i <= num_bounds; ++i) {
    cumulative += counts[i];
    le.clear();
    if (i < num_bounds) {
      append_double(&le, static_cast<double>(bounds_us[i]) / 1e6);
    } else {
      le = "+Inf";
    }
    Label extra{"le", le};
    head(bucket, labels, &extra);
    out_->append(std::to_string(cumulative)).push_back('\n');
  }
  head(std::string(name) + "_sum", labels, nullptr);
  append_double(out_, static_cast<double>(sum_us) / 1e6);
  out_->push_back('\n');
  head(std::string(name) + "_count", labels, nullptr);
  out_->append(std::to_string(cumulative)).push_back('\n');
}

}  // namespace sy::admin
