// Upgrade events: one log line, one counter, and the operator's hook command if configured.

#include "admin/events.h"

#include <cstdio>
#include <vector>

#include "admin/child_process.h"
#include "common/log.h"

namespace sy::admin {

namespace {

void append_json_string(std::string& out, const std::string& s) {
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  out += '"';
}

std::vector<std::string> split_spaces(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') {
      ++i;
    }
    size_t start = i;
    while (i < s.size() && s[i] != ' ') {
      ++i;
    }
    if (i > start) {
      out.push_back(s.substr(start, i - start));
    }
  }
  return out;
}

constexpr std::chrono::seconds kHookTimeout{10};

}  // namespace

std::string event_json(const Event& e) {
  std::string out = "{\"kind\":";
  append_json_string(out, e.kind);
  out += ",\"schema\":";
  append_json_string(out, e.schema);
  out += ",\"state\":";
  append_json_string(out, e.state);
  out += ",\"detail\":";
  append_json_string(out, e.detail);
  out += '}';
  return out;
}

void EventSink::emit(const Event& e) {
  SY_LOG(Info, "event %s%s%s%s%s%s%s", e.kind.c_str(), e.schema.empty() ? "" : " schema=",
         e.schema.c_str(), e.state.empty() ? "" : " state=", e.state.c_str(),
         e.detail.empty() ? "" : ": ", e.detail.c_str());
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_[e.kind];
  }
  if (hook_.empty()) {
    return;
  }
  ChildOptions opts;
  opts.timeout = kHookTimeout;
  opts.env = {{"SY_EVENT", e.kind},
              {"SY_EVENT_JSON", event_json(e)},
              {"SY_SCHEMA", e.schema},
              {"SY_STATE", e.state}};
  ChildResult r = run_child(split_spaces(hook_), opts);
  if (!r.ok()) {
    SY_LOG(Warn, "event hook '%s' for %s: %s%s%s", hook_.c_str(), e.kind.c_str(),
           r.describe(opts.timeout).c_str(), r.output.empty() ? "" : "; output: ",
           r.output.c_str());
  }
}

std::map<std::string, uint64_t> EventSink::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

}  // namespace sy::admin
