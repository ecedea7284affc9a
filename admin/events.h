#pragma once
// Upgrade events (cluster transitions, schema results, runs started and finished), through the
// shared state database (docs/admin.md "Events", docs/decisions.md 60):
//
//   EventSink::emit()  appends the event to sy_events (store/event_store.h) on the caller's
//                      session: inside the transaction of the change it describes when the
//                      caller has one open (cluster transitions), else right after it. Logs
//                      and counts it. Admin and upgrade threads.
//   EventHook          one thread per instance, its own session: reads sy_events after this
//                      instance's position (sy_event_cursor, keyed by routing.instance_id),
//                      runs `admin.event_hook` for each event in id order, and moves the
//                      position past it once the hook exited 0. A hook that fails or times
//                      out (10 s) is run again for the same event (1 s, 2 s, ... up to 30 s
//                      apart), so delivery is at least once and in order; SY_EVENT_ID lets the
//                      receiver drop a repeat. A slow hook delays only later events, never an
//                      admin command. A new instance starts at the newest event (no replay
//                      of the history); a restarted one resumes after its position.
//
// The hook runs without a shell (argv split on spaces) with the event in its environment:
// SY_EVENT_ID, SY_EVENT (e.g. "cluster.transition", "schema.done", "schema.failed"),
// SY_EVENT_JSON (the whole event as a JSON object), SY_SCHEMA, SY_STATE.
//
// Without a state database (no database, or profile sql without state_dsns) there is nothing
// that makes an event: cluster state and upgrade runs live there.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "admin/protocol.h"
#include "admin/stores.h"
#include "common/result.h"
#include "store/db.h"
#include "store/event_store.h"

namespace sy::admin {

struct Event {
  std::string kind;    // "cluster.transition", "schema.done", "schema.failed", "schema.skipped",
                       // "upgrade.started", "upgrade.stopped", "upgrade.finished"
  std::string schema;  // "" when not about a schema
  std::string state;   // cluster state after a transition
  std::string detail;
};

class EventSink {
 public:
  // |actor|: who makes the events here ("<instance id>/admin").
  explicit EventSink(std::string actor = {}) : actor_(std::move(actor)) {}
  // Appends |e| to sy_events on |state| and logs and counts it; the new event id. A failure
  // is logged and returned; the caller decides whether the change it describes stands.
  Result<uint64_t> emit(store::Db& state, const Event& e);
  std::map<std::string, uint64_t> counts() const;  // per kind, emitted by this process

 private:
  std::string actor_;
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> counts_;
};

// The event as one JSON object: id, time (ISO 8601 UTC), kind, schema, state, detail, actor.
Json event_doc(const store::EventRow& e);
std::string event_json(const store::EventRow& e);  // event_doc(e), compact
// The event on one text line: "<id> <time> <kind>[ schema=S][ state=X] actor=A[: detail]".
std::string event_line(const store::EventRow& e);

struct EventHookOptions {
  std::string command;                   // admin.event_hook
  std::string instance_id;               // the position's key
  std::chrono::milliseconds poll{250};   // how often sy_events is read when idle
  std::chrono::milliseconds timeout{10000};  // per hook run
  std::chrono::milliseconds max_backoff{30000};
};

class EventHook {
 public:
  EventHook(EventHookOptions options, StoreOptions stores);
  ~EventHook();  // stop()
  void start();  // starts the thread (no-op without a command)
  void stop();   // wakes it and joins it (a hook running now is waited for, up to its timeout)
  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

 private:
  void loop();
  // One round: reads and delivers what is new; false when it must back off (database or hook
  // failure).
  bool round(bool* idle);
  bool wait_for(std::chrono::milliseconds d);  // false when stopping

  EventHookOptions opt_;
  Stores stores_;
  std::optional<uint64_t> position_;  // loaded on first successful round
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> failures_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sy::admin
