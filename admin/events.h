#pragma once
// Upgrade events (cluster transitions, schema results): logged, counted and, when
// `admin.event_hook` is set, delivered to that command (no shell; argv split on spaces) with
// the event in its environment: SY_EVENT (e.g. "cluster.transition", "schema.done",
// "schema.failed"), SY_EVENT_JSON (the whole event as a JSON object), SY_SCHEMA, SY_STATE.
// The hook runs with a 10 s timeout; its failure is logged, never fatal. Any thread.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace sy::admin {

struct Event {
  std::string kind;    // "cluster.transition", "schema.done", "schema.failed", "schema.skipped",
                       // "upgrade.started", "upgrade.finished"
  std::string schema;  // "" when not about a schema
  std::string state;   // cluster state after a transition
  std::string detail;
};

class EventSink {
 public:
  explicit EventSink(std::string hook_command = {}) : hook_(std::move(hook_command)) {}
  void emit(const Event& e);  // logs, counts, runs the hook (synchronously, bounded)
  std::map<std::string, uint64_t> counts() const;

 private:
  std::string hook_;
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> counts_;
};

std::string event_json(const Event& e);

}  // namespace sy::admin
