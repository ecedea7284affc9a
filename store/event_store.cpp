// sy_events and sy_event_cursor (event_store.h): one INSERT per event, one keyed read per poll.

#include "store/event_store.h"

#include "store/db_error.h"
#include "store/query.h"

namespace sy::store {

Result<uint64_t> append_event(Db& db, const EventRow& e) {
  auto n = exec(db,
                "INSERT INTO sy_events (kind, schema_name, state, detail, instance)"
                " VALUES (?, ?, ?, ?, ?)",
                e.kind, e.schema, e.state, e.detail, e.instance);
  if (!n) {
    return db_error("appending event " + e.kind, n.error());
  }
  return in_context("appending event " + e.kind,
                    query_value<uint64_t>(db, "SELECT LAST_INSERT_ID()"));
}

Result<std::vector<EventRow>> read_events(Db& db, uint64_t since, int limit) {
  return in_context(
      "reading sy_events",
      query_all(
          db,
          "SELECT id, kind, schema_name, state, detail, instance,"
          " CAST(UNIX_TIMESTAMP(created_at) * 1000 AS SIGNED)"
          " FROM sy_events WHERE id > ? ORDER BY id LIMIT ?",
          [](const Row& r) {
            EventRow e;
            e.id = r.u64(1);
            e.kind = r.str(2);
            e.schema = r.str(3);
            e.state = r.str(4);
            e.detail = r.str(5);
            e.instance = r.str(6);
            e.created_unix_ms = r.i64(7);
            return e;
          },
          since, static_cast<int64_t>(limit)));
}

Result<uint64_t> newest_event_id(Db& db) {
  return in_context("reading sy_events",
                    query_value<uint64_t>(db, "SELECT COALESCE(MAX(id), 0) FROM sy_events"));
}

Result<std::optional<uint64_t>> read_event_cursor(Db& db, const std::string& instance) {
  return in_context("reading sy_event_cursor",
                    query_one(
                        db, "SELECT delivered_id FROM sy_event_cursor WHERE instance = ?",
                        [](const Row& r) { return r.u64(1); }, instance));
}

Result<Unit> write_event_cursor(Db& db, const std::string& instance, uint64_t delivered) {
  return in_context("writing sy_event_cursor",
                    done(exec(db,
                              "INSERT INTO sy_event_cursor (instance, delivered_id, updated_at)"
                              " VALUES (?, ?, NOW(6)) ON DUPLICATE KEY UPDATE"
                              " delivered_id = VALUES(delivered_id), updated_at = NOW(6)",
                              instance, delivered)));
}

}  // namespace sy::store
