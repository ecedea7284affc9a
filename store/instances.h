#pragma once
// Instance heartbeats (DESIGN decision 5): every running Switchyard writes its row in
// sy_instances (admin/db_migrate.cpp) every few seconds with the number of requests it has in
// flight per schema. The sequencer lists the live instances and waits until none reports
// in-flight requests for a schema before it runs that schema's update tasks.
//
// All times are the database's clock (NOW(6)), so instances with skewed clocks agree on who is
// live. Every call blocks: admin/loader threads only.
//
// inflight_json holds a JSON object {"<schema>": <count>, ...}; list_instances() parses it
// strictly and fails rather than report a garbled row as "nothing in flight".

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "store/db.h"

namespace sy::store {

using InflightPerSchema = std::vector<std::pair<std::string, uint64_t>>;  // schema -> requests

// What an instance reports about itself.
struct InstanceBeat {
  std::string id;       // unique per process, e.g. "<host>:<pid>:<start time>"; <= 191 chars
  std::string role;     // e.g. "proxy"
  std::string version;  // Switchyard version
  int pid = 0;
  InflightPerSchema inflight_per_schema;  // schemas with requests in flight (others: 0)
  // The sy_changes seq of the routing snapshot every worker of this instance has pinned (the
  // minimum over workers), so the sequencer knows a disable/enable has reached it. 0 = unknown.
  uint64_t applied_seq = 0;
};

// One row of sy_instances as read back.
struct InstanceRow {
  std::string id;
  std::string role;
  std::string version;
  int pid = 0;
  int64_t started_at_us = 0;     // unix microseconds (database clock): first beat of this pid
  int64_t heartbeat_at_us = 0;   // unix microseconds (database clock): last beat
  int64_t heartbeat_age_ms = 0;  // how long ago the last beat was, on the database clock
  InflightPerSchema inflight_per_schema;
  uint64_t applied_seq = 0;  // see InstanceBeat::applied_seq

  // Requests in flight for |schema| as last reported; 0 when not listed.
  uint64_t inflight(std::string_view schema) const;
};

// Upserts |beat| into sy_instances with heartbeat_at = NOW(6). started_at is set by the first
// beat of an id and again whenever the pid changes (a restarted process reusing its id).
Result<Unit> write_heartbeat(Db& db, const InstanceBeat& beat);

// Instances whose last beat is at most |live_within| old, ordered by id.
Result<std::vector<InstanceRow>> list_instances(Db& db, std::chrono::seconds live_within);

// Deletes the row of |id| (clean shutdown). Not finding it is not an error.
Result<Unit> remove_instance(Db& db, const std::string& id);

// The JSON object stored in inflight_json, and back. decode fails on anything that is not an
// object of string keys to non-negative integers.
std::string encode_inflight(const InflightPerSchema& inflight);
Result<InflightPerSchema> decode_inflight(std::string_view json);

}  // namespace sy::store
