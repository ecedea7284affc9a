#pragma once
// Upgrade events in the state database (admin/events.h): one row per event in sy_events,
// appended by the instance where it happened (inside the transaction of the change it
// describes when there is one), and one delivered position per instance in sy_event_cursor,
// so that every instance's hook thread delivers every event, in id order, and resumes after a
// restart. Blocks: admin, upgrade and hook threads only.
//
// Ids come from AUTO_INCREMENT: increasing, with gaps (a rolled-back transaction, Galera's
// auto_increment_increment). On Galera a transaction that commits late through another node
// may get an id below one already delivered; such an event is not delivered to a hook that
// had moved past it (it is in `show events`). docs/admin.md "Events".

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/db.h"

namespace sy::store {

struct EventRow {
  uint64_t id = 0;          // set by the database
  std::string kind;         // "cluster.transition", "schema.done", ...
  std::string schema;       // "" when not about a schema
  std::string state;        // cluster state after a transition
  std::string detail;
  std::string instance;     // the instance where it happened (routing.instance_id)
  int64_t created_unix_ms = 0;  // set by the database
};

// Appends |e| (id and time from the database); the new id.
Result<uint64_t> append_event(Db& db, const EventRow& e);

// Up to |limit| events with id > |since|, in id order.
Result<std::vector<EventRow>> read_events(Db& db, uint64_t since, int limit);

// The newest event id (0 when there is none).
Result<uint64_t> newest_event_id(Db& db);

// The position |instance| has delivered up to; nullopt when it has none yet.
Result<std::optional<uint64_t>> read_event_cursor(Db& db, const std::string& instance);
Result<Unit> write_event_cursor(Db& db, const std::string& instance, uint64_t delivered);

}  // namespace sy::store
