#pragma once
// The read-only HTML status page of the HTTP admin listener (docs/metrics.md): pools and
// members with their state, schemas counted by state, the upgrade run driven here with its
// progress. Pure: a StatusView in, a whole page out; every value from the view is escaped. The
// page reloads itself (meta refresh), so it works without JavaScript.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "admin/protocol.h"
#include "admin/server.h"

namespace sy::admin {

struct StatusView {
  std::string instance_id;
  std::string version;
  std::string role;  // "" without routing
  bool ready = false;
  std::string not_ready_why;  // when !ready: "draining", "no routing snapshot yet"
  std::vector<PoolView> pools;
  bool routing = false;
  uint64_t snapshot_generation = 0;  // 0 = none yet
  double snapshot_age_seconds = 0;
  double checked_age_seconds = 0;                         // since the last successful round
  std::string database;                                   // "up", "slow", "down"
  std::vector<std::pair<std::string, uint64_t>> schemas;  // state -> count
  std::optional<ProgressLine> upgrade;                    // the run driven here, if any
};

// &, <, >, " and ' as entities. Any thread.
std::string html_escape(std::string_view text);

// The page; it asks the browser to reload it every |refresh_seconds|. Any thread.
std::string render_status_page(const StatusView& v, int refresh_seconds);

}  // namespace sy::admin
