// Upgrade events: one log line, one counter, and the operator's hook command if configured.

#include "admin/events.h"

#include <vector>

#include "admin/child_process.h"
#include "admin/protocol.h"
#include "admin/update_tasks.h"
#include "common/log.h"

namespace sy::admin {

namespace {

constexpr std::chrono::seconds kHookTimeout{10};

}  // namespace

std::string event_json(const Event& e) {
  return Json::object()
      .set("kind", e.kind)
      .set("schema", e.schema)
      .set("state", e.state)
      .set("detail", e.detail)
      .dump();
}

void EventSink::emit(const Event& e) {
  SY_LOG(Info, "event %s%s%s%s%s%s%s", e.kind.c_str(),
         e.schema.empty() ? "" : " schema=", e.schema.c_str(),
         e.state.empty() ? "" : " state=", e.state.c_str(), e.detail.empty() ? "" : ": ",
         e.detail.c_str());
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
  ChildResult r = run_child(command_argv(hook_, ""), opts);
  if (!r.ok()) {
    SY_LOG(Warn, "event hook '%s' for %s: %s%s%s", hook_.c_str(), e.kind.c_str(),
           r.describe(opts.timeout).c_str(),
           r.output.empty() ? "" : "; output: ", r.output.c_str());
  }
}

std::map<std::string, uint64_t> EventSink::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

}  // namespace sy::admin
