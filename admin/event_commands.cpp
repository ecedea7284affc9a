// `show events` (event_commands.h).

#include "admin/event_commands.h"

#include <charconv>

#include "store/event_store.h"

namespace sy::admin {

namespace {

constexpr int kDefaultLimit = 100;
constexpr int kMaxLimit = 1000;

bool parse_u64(const std::string& text, uint64_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace

Reply cmd_show_events(CommandEnv& env, const Args& args) {
  uint64_t since = 0;
  if (args.has("--since") && !parse_u64(args.get("--since"), &since)) {
    return error_reply("invalid-argument",
                       "--since '" + args.get("--since") + "': expected an event id (0 or more)");
  }
  uint64_t limit = kDefaultLimit;
  if (args.has("--limit") &&
      (!parse_u64(args.get("--limit"), &limit) || limit < 1 || limit > kMaxLimit)) {
    return error_reply("invalid-argument", "--limit '" + args.get("--limit") +
                                               "': expected 1.." + std::to_string(kMaxLimit));
  }
  auto db = env.stores->state();
  if (!db) {
    return error_reply(db.error());
  }
  auto events = store::read_events(**db, since, static_cast<int>(limit));
  if (!events) {
    return error_reply(events.error());
  }
  uint64_t last = events->empty() ? since : events->back().id;
  Json rows = Json::array();
  std::string text;
  for (const store::EventRow& e : *events) {
    rows.push(event_doc(e));
    text += event_line(e) + "\n";
  }
  Reply r = ok_reply(Json::object().set("events", std::move(rows)).set("last_id", last));
  r.text = text + "last_id: " + std::to_string(last);
  return r;
}

}  // namespace sy::admin
