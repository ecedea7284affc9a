#pragma once
// The loader thread (DESIGN decision 1, STYLE rule 4): the only code that reads the tenant
// directory from the database for the proxy. start() does the first full load before workers
// serve (or waits for the database when wait_at_start), then a thread refreshes every
// refresh_interval: incrementally when the profile has a change sequence, otherwise a full
// reload published only when the data changed. A new immutable snapshot is built on this
// thread and published; workers never wait on the database.
//
// Outages: a failed refresh drops the connection and logs once; the thread reconnects with
// backoff (250 ms doubling to 5 s, DSNs tried in order) while workers keep the last snapshot.
// Every round also reads sy_cluster.state from the state session (none: taken as STABLE); a
// good round (both reads answered) is recorded in the publisher with that state, and past
// stale_after without one while the cluster was not STABLE the snapshot counts as stale
// (SnapshotPublisher::stale(); the workers then hold what may have moved).
// With a separate state database both sessions are (re)connected together: a failure of either
// is an outage of the round.
// The state is readable from any thread through status().

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "routing/publisher.h"
#include "routing/snapshot.h"
#include "store/db.h"
#include "store/directory_reader.h"
#include "store/dsn_source.h"

namespace sy::store {

using routing::RoutingSnapshot;
using routing::SnapshotInput;
using routing::SnapshotPublisher;

// Where Switchyard's state database is, as the loader sees it (heartbeats, the ox profile's
// server metadata and epoch).
enum class StateStore {
  None,       // no state database: no heartbeats (profile sql without one)
  Directory,  // the directory session itself (profile own, one database)
  Separate,   // its own session to state_dsns
};

struct LoaderOptions {
  std::vector<Dsn> dsns;
  StateStore state = StateStore::Directory;
  std::vector<Dsn> state_dsns;  // StateStore::Separate
  // When set, the DSNs come from here instead (dsns = its readers; the state session = its
  // loader_state(), Separate when that is not empty) and a change of its generation makes the
  // next round reconnect with a full load (`reload`). The sessions are reported to it as
  // "loader" and "loader state".
  std::shared_ptr<DsnSource> dsn_source;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds refresh_interval{250};
  // Bounds each network read or write of the loader's sessions: a frozen database fails the
  // round after this instead of holding it (and db_up) for the client library's 120 s.
  std::chrono::seconds io_timeout{5};
  bool wait_at_start = false;
  // database.stale_after (docs/decisions.md 67): handed to the publisher, which calls the
  // snapshot stale when the last good round is older than this and the cluster was not
  // STABLE then. 0 = never stale.
  std::chrono::milliseconds stale_after{10000};
  SnapshotInput input;
  std::vector<ServerOverride> overrides;  // applied to every load and delta
  std::function<std::unique_ptr<DirectoryReader>()> make_reader;
  // Loader thread, after each publish (e.g. wake the workers to release held requests).
  std::function<void()> on_publish;
  // Loader thread, after every refresh round while connected, with the state session (never
  // called with StateStore::None); e.g. the instance heartbeat, which decides itself whether
  // to write (e.g. every heartbeat_interval, or at once when the applied change_seq moved).
  // An error that is_wrong_node() (the state server turned read-only or left the primary
  // component) drops the sessions: the next round connects to a server that fits.
  std::function<Result<Unit>(Db&)> on_tick;
};

// The one-way door across lost changes (docs/decisions.md 66). A promoted replica that lagged
// has lost the primary's last changes; a schema the primary had moved to a newer server (and
// whose update task may have run on it) reads as on its older server again. Instances that
// applied the move hold such a schema instead of routing it to the older pool, until the
// database has it on a server of at least the version it had reached (`upgrade schemata
// --continue` moves it again) or the process restarts. Name -> that version.
using HeldBack = std::map<std::string, std::string>;

// A full load |after| replaces the snapshot |before| (null = the first load: nothing to hold).
// When |lost| (the database lost changes: its position is below before's), every schema that
// before had on a server of a higher version than after has it on joins |held|. Then every
// enabled schema of |held| that after has below its version is shown disabled (its requests
// are held), and one that reached its version leaves |held|. Returns the schemas held now that
// were not before. Pure.
std::vector<std::string> hold_moved_back(const RoutingSnapshot* before, bool lost,
                                         DirectoryData& after, HeldBack& held);
// The same for a delta applied to |current|: a held schema in it that is still below its
// version is shown disabled; one that reached it leaves |held|. Pure.
void hold_moved_back(const RoutingSnapshot& current, DirectoryDelta& delta, HeldBack& held);

// How often the loader re-reads its servers' read_only / wsrep state while connected: a node
// that turned read-only or desynced is left within this (errors 1047/1290 leave at once).
inline constexpr std::chrono::milliseconds kHealthEvery{1000};

// A refresh round (or reconnect) running longer than this makes the database "slow".
inline constexpr uint64_t kSlowRoundMs = 1000;

struct LoaderStatus {
  // Whether the last round succeeded. The database's state as the admin shows it is
  // db_state(): a round still running after kSlowRoundMs reads "slow" at once, long before
  // the read timeout ends it (a frozen server answers nothing and resets nothing).
  std::atomic<bool> db_up{false};
  std::atomic<uint64_t> round_started_unix_ms{0};  // 0 = no round running
  std::atomic<uint64_t> refreshes{0};              // successful refresh rounds
  std::atomic<uint64_t> failures{0};               // failed rounds (query or connect)
  std::atomic<uint64_t> publishes{0};
  std::atomic<uint64_t> last_ok_unix_ms{0};
  std::atomic<uint64_t> last_publish_unix_ms{0};  // when the current snapshot was published
  std::atomic<uint64_t> last_load_us{0};  // the round that built it: read + build, microseconds

  // "up", "slow" (a round has been running for kSlowRoundMs or more) or "down" (the last round
  // failed), at |now_unix_ms|. Any thread.
  const char* db_state(uint64_t now_unix_ms) const {
    const uint64_t started = round_started_unix_ms.load(std::memory_order_relaxed);
    if (started != 0 && now_unix_ms >= started + kSlowRoundMs) {
      return "slow";
    }
    return db_up.load(std::memory_order_relaxed) ? "up" : "down";
  }
};

class DirectoryLoader {
 public:
  DirectoryLoader(LoaderOptions options, SnapshotPublisher* publisher);
  ~DirectoryLoader();  // stops and joins

  // First full load and publish, then the refresh thread. Fails with a clear message when the
  // database is unreachable and wait_at_start is false.
  Result<Unit> start();
  void stop();  // idempotent
  const LoaderStatus& status() const { return status_; }
  // The instance's pools changed at runtime (app/pool_sync.h): |names| by registry slot, ""
  // for a removed one. The loader thread republishes the current snapshot mapped to them at
  // once (no database read) and uses them for every later load. Any thread.
  void set_pool_names(std::vector<std::string> names);

 private:
  void run();
  Result<Unit> connect();
  Result<Unit> full_load_and_publish(bool only_if_changed);
  Result<Unit> refresh();
  // Reads sy_cluster.state through the state session into cluster_stable_ (true without a
  // state database or without the row).
  Result<Unit> read_cluster_state();
  // Tells the publisher that a round succeeded now, with cluster_stable_.
  void record_good_round();
  void publish(std::shared_ptr<const RoutingSnapshot> snap);
  std::chrono::steady_clock::time_point round_start_;  // of the round in progress (loader)
  bool wait(std::chrono::milliseconds d);              // false when stopping

  LoaderOptions opt_;
  SnapshotPublisher* publisher_;
  // set_pool_names() hands its list over here; the loader thread takes it (pools_mu_).
  void take_pool_names();
  std::mutex pools_mu_;
  std::optional<std::vector<std::string>> pool_names_;  // guarded by pools_mu_
  // The state session for the reader and on_tick; nullptr with StateStore::None.
  Db* state();
  void drop_sessions();
  // Drops the sessions because the server of |who|'s session |db| no longer fits (|why|);
  // tells the DSN source. The next round connects again.
  void leave(const char* who, const Db& db, const std::string& why);
  // Every kHealthEvery: re-reads both servers' state (Db::health_problem); leaves on a misfit.
  void check_health();
  std::chrono::steady_clock::time_point last_health_{};

  std::unique_ptr<DirectoryReader> reader_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<Db> state_db_;  // a state session of its own (state_separate_)
  bool state_separate_ = opt_.state == StateStore::Separate;
  uint64_t dsn_generation_ = 0;  // of opt_.dsn_source when connected
  std::shared_ptr<const RoutingSnapshot> current_;
  uint64_t generation_ = 0;
  uint64_t data_hash_ = 0;
  bool cluster_stable_ = true;  // sy_cluster.state read by the current round was STABLE
  HeldBack held_back_;          // hold_moved_back()
  LoaderStatus status_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// FNV-1a over every field of |data|: a full reload publishes only when this changes.
uint64_t hash_directory(const DirectoryData& data);

}  // namespace sy::store
