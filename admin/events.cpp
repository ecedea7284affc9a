// Upgrade events: appended to sy_events where they happen, delivered to each instance's hook by
// its own thread (events.h).

#include "admin/events.h"

#include <algorithm>
#include <vector>

#include "admin/child_process.h"
#include "admin/protocol.h"
#include "admin/update_tasks.h"
#include "common/log.h"

namespace sy::admin {

namespace {

constexpr int kBatch = 100;  // events read per round

}  // namespace

std::string event_json(const store::EventRow& e) { return event_doc(e).dump(); }

std::string event_line(const store::EventRow& e) {
  std::string line = std::to_string(e.id) + " " + format_time(e.created_unix_ms, false) + " " + e.kind;
  if (!e.schema.empty()) {
    line += " schema=" + e.schema;
  }
  if (!e.state.empty()) {
    line += " state=" + e.state;
  }
  line += " actor=" + e.instance;
  if (!e.detail.empty()) {
    line += ": " + e.detail;
  }
  // One event, one line.
  for (char& c : line) {
    c = (c == '\n' || c == '\r') ? ' ' : c;
  }
  return line;
}

Json event_doc(const store::EventRow& e) {
  return Json::object()
      .set("id", static_cast<int64_t>(e.id))
      .set("time", format_time(e.created_unix_ms, false))
      .set("kind", e.kind)
      .set("schema", e.schema)
      .set("state", e.state)
      .set("detail", e.detail)
      .set("actor", e.instance);
}

Result<uint64_t> EventSink::emit(store::Db& state, const Event& e) {
  store::EventRow row{0, e.kind, e.schema, e.state, e.detail, actor_, 0};
  auto id = store::append_event(state, row);
  if (!id.ok()) {
    SY_LOG(Warn, "event %s%s%s NOT STORED: %s", e.kind.c_str(), e.schema.empty() ? "" : " schema=",
           e.schema.c_str(), id.error().message.c_str());
    return id;
  }
  SY_LOG(Info, "event %llu %s%s%s%s%s%s%s", static_cast<unsigned long long>(*id), e.kind.c_str(),
         e.schema.empty() ? "" : " schema=", e.schema.c_str(), e.state.empty() ? "" : " state=",
         e.state.c_str(), e.detail.empty() ? "" : ": ", e.detail.c_str());
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[e.kind];
  return id;
}

std::map<std::string, uint64_t> EventSink::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

EventHook::EventHook(EventHookOptions options, StoreOptions stores)
    : opt_(std::move(options)), stores_(std::move(stores)) {}

EventHook::~EventHook() { stop(); }

void EventHook::start() {
  if (opt_.command.empty() || thread_.joinable()) {
    return;
  }
  thread_ = std::thread([this] { loop(); });
}

void EventHook::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool EventHook::wait_for(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [this] { return stopping_; });
  return !stopping_;
}

bool EventHook::round(bool* idle) {
  *idle = true;
  auto db = stores_.state();
  if (!db) {
    SY_LOG(Warn, "event hook: %s", db.error().message.c_str());
    return false;
  }
  if (!position_) {
    auto pos = store::read_event_cursor(**db, opt_.instance_id);
    if (!pos) {
      SY_LOG(Warn, "event hook: %s", pos.error().message.c_str());
      return false;
    }
    if (pos->has_value()) {
      position_ = **pos;
    } else {
      // A new instance: from now on, not the whole history.
      auto newest = store::newest_event_id(**db);
      if (!newest || !store::write_event_cursor(**db, opt_.instance_id, *newest)) {
        SY_LOG(Warn, "event hook: cannot record the first position of %s",
               opt_.instance_id.c_str());
        return false;
      }
      position_ = *newest;
    }
    SY_LOG(Info, "event hook: delivering events after id %llu to '%s'",
           static_cast<unsigned long long>(*position_), opt_.command.c_str());
  }
  auto events = store::read_events(**db, *position_, kBatch);
  if (!events) {
    SY_LOG(Warn, "event hook: %s", events.error().message.c_str());
    return false;
  }
  for (const store::EventRow& e : *events) {
    *idle = false;
    ChildOptions co;
    co.timeout = opt_.timeout;
    co.env = {{"SY_EVENT_ID", std::to_string(e.id)},
              {"SY_EVENT", e.kind},
              {"SY_EVENT_JSON", event_json(e)},
              {"SY_SCHEMA", e.schema},
              {"SY_STATE", e.state}};
    ChildResult r = run_child(command_argv(opt_.command, ""), co);
    if (!r.ok()) {
      failures_.fetch_add(1, std::memory_order_relaxed);
      SY_LOG(Warn, "event hook '%s' for event %llu %s: %s%s%s (will run it again)",
             opt_.command.c_str(), static_cast<unsigned long long>(e.id), e.kind.c_str(),
             r.describe(co.timeout).c_str(), r.output.empty() ? "" : "; output: ",
             r.output.c_str());
      return false;
    }
    position_ = e.id;
    delivered_.fetch_add(1, std::memory_order_relaxed);
    if (auto w = store::write_event_cursor(**db, opt_.instance_id, e.id); !w) {
      // Delivered but not recorded: after a restart it is delivered again (at least once).
      SY_LOG(Warn, "event hook: %s", w.error().message.c_str());
      return false;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      return true;
    }
  }
  return true;
}

void EventHook::loop() {
  std::chrono::milliseconds backoff{0};
  for (;;) {
    bool idle = true;
    if (round(&idle)) {
      backoff = std::chrono::milliseconds{0};
    } else {
      stores_.reset();
      backoff = std::clamp(backoff * 2, std::chrono::milliseconds{1000}, opt_.max_backoff);
    }
    auto pause = backoff.count() > 0 ? backoff : (idle ? opt_.poll : std::chrono::milliseconds{0});
    if (!wait_for(pause)) {
      return;
    }
  }
}

}  // namespace sy::admin
