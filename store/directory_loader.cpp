#include "store/directory_loader.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "common/fnv.h"
#include "common/log.h"
#include "routing/versions.h"
#include "store/cluster_store.h"
#include "store/db_error.h"

namespace sy::store {

uint64_t hash_directory(const DirectoryData& d) {
  Fnv64 f;
  for (const auto& s : d.servers) {
    f.num(s.id);
    f.str(s.name);
    f.str(s.pool);
    f.str(s.version);
    f.str(s.redirect_url);
  }
  for (const auto& s : d.schemas) {
    f.str(s.name);
    f.num(static_cast<int>(s.state));
    f.num(s.server_id);
  }
  for (const auto& c : d.contexts) {
    f.num(c.id);
    f.num(c.schema_index);
    f.num(c.server_id);
    f.num(c.enabled);
  }
  for (const auto& l : d.logins) {
    f.str(l.login);
    f.num(l.context_id);
  }
  return f.h;
}

namespace {

// Applies |held| to one schema row on a server of version |version| ("" = no server known):
// still below the version it had reached = shown disabled; reached it = no longer held.
void hold_row(SchemaRow& row, const std::string& version, HeldBack& held) {
  auto it = held.find(row.name);
  if (it == held.end()) {
    return;
  }
  if (!version.empty() && !routing::version_less(version, it->second)) {
    held.erase(it);
  } else if (row.state == SchemaState::Enabled) {
    row.state = SchemaState::Disabled;
  }
}

std::string version_in(const std::vector<ServerRow>& servers, ServerId id) {
  for (const auto& s : servers) {
    if (s.id == id) {
      return s.version;
    }
  }
  return {};
}

}  // namespace

std::vector<std::string> hold_moved_back(const RoutingSnapshot* before, bool lost,
                                         DirectoryData& after, HeldBack& held) {
  std::vector<std::string> added;
  if (before != nullptr && lost) {
    for (const SchemaRow& row : after.schemas) {
      const auto i = before->schema_index(row.name);
      const ServerRow* was = i ? before->server(before->schema(*i).server_id) : nullptr;
      if (was == nullptr || held.count(row.name) != 0) {
        continue;
      }
      const std::string now = version_in(after.servers, row.server_id);
      if (!now.empty() && routing::version_less(now, was->version)) {
        held.emplace(row.name, was->version);
        added.push_back(row.name);
      }
    }
  }
  if (held.empty()) {
    return added;  // the usual case: nothing to look at
  }
  for (SchemaRow& row : after.schemas) {
    hold_row(row, version_in(after.servers, row.server_id), held);
  }
  return added;
}

void hold_moved_back(const RoutingSnapshot& current, DirectoryDelta& delta, HeldBack& held) {
  for (SchemaRow& row : delta.schemas) {
    std::string version = version_in(delta.servers, row.server_id);
    if (version.empty()) {
      const ServerRow* s = current.server(row.server_id);
      version = s != nullptr ? s->version : "";
    }
    hold_row(row, version, held);
  }
}

DirectoryLoader::DirectoryLoader(LoaderOptions options, SnapshotPublisher* publisher)
    : opt_(std::move(options)), publisher_(publisher) {
  reader_ = opt_.make_reader();
  publisher_->set_stale_after(static_cast<uint64_t>(opt_.stale_after.count()));
}

DirectoryLoader::~DirectoryLoader() { stop(); }

void DirectoryLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool DirectoryLoader::wait(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [this] { return stopping_; });
  return !stopping_;
}

Result<Unit> DirectoryLoader::connect() {
  std::vector<Dsn> dir = opt_.dsns;
  std::vector<Dsn> st = opt_.state == StateStore::Separate ? opt_.state_dsns : std::vector<Dsn>{};
  if (opt_.dsn_source) {
    dsn_generation_ = opt_.dsn_source->generation();  // before the lists: a change re-reads
    DsnLists lists = opt_.dsn_source->lists();
    dir = lists.read();
    st = opt_.state == StateStore::None ? std::vector<Dsn>{} : lists.loader_state();
  }
  state_separate_ = !st.empty();
  // The directory session writes heartbeats unless the state has a session of its own.
  const DsnRole role =
      opt_.state != StateStore::None && !state_separate_ ? DsnRole::Writer : DsnRole::Reader;
  auto report = [this](const char* who, const auto& r) {
    if (!opt_.dsn_source) {
      return;
    }
    if (r.ok()) {
      opt_.dsn_source->connected(who, **r);
    } else {
      opt_.dsn_source->failed(who, r.error());
    }
  };
  auto db = Db::connect(dir, opt_.connect_timeout, opt_.io_timeout, role);
  report("loader", db);
  if (!db.ok()) {
    return db.error();
  }
  if (state_separate_) {
    auto s = Db::connect(st, opt_.connect_timeout, opt_.io_timeout, DsnRole::Writer);
    report("loader state", s);
    if (!s.ok()) {
      return make_error(Errc::Database, "state database: " + s.error().message);
    }
    state_db_ = std::move(s.value());
  }
  db_ = std::move(db.value());
  reader_->set_state(state());
  return ok_result();
}

void DirectoryLoader::drop_sessions() {
  reader_->set_state(nullptr);
  db_.reset();
  state_db_.reset();
}

void DirectoryLoader::leave(const char* who, const Db& db, const std::string& why) {
  SY_LOG(Warn, "directory: leaving %s (%s session): %s; connecting to the next DSN that fits",
         db.dsn().label().c_str(), who, why.c_str());
  if (opt_.dsn_source) {
    opt_.dsn_source->left(who, db, why);
  }
  drop_sessions();
}

void DirectoryLoader::check_health() {
  const auto now = std::chrono::steady_clock::now();
  if (!db_ || now - last_health_ < kHealthEvery) {
    return;
  }
  last_health_ = now;
  if (std::string why = db_->health_problem(); !why.empty()) {
    leave("loader", *db_, why);
  } else if (state_db_) {
    if (std::string why_state = state_db_->health_problem(); !why_state.empty()) {
      leave("loader state", *state_db_, why_state);
    }
  }
}

Db* DirectoryLoader::state() {
  switch (opt_.state) {
  case StateStore::None: return nullptr;
  case StateStore::Directory:
  case StateStore::Separate: return state_separate_ ? state_db_.get() : db_.get();
  }
  return nullptr;
}

void DirectoryLoader::set_pool_names(std::vector<std::string> names) {
  std::lock_guard<std::mutex> lock(pools_mu_);
  pool_names_ = std::move(names);
}

void DirectoryLoader::take_pool_names() {
  std::optional<std::vector<std::string>> names;
  {
    std::lock_guard<std::mutex> lock(pools_mu_);
    names.swap(pool_names_);
  }
  if (!names || *names == opt_.input.pool_names) {
    return;
  }
  opt_.input.pool_names = *names;
  if (current_) {  // servers naming an added pool route to it from this snapshot on
    publish(current_->with_pool_names(std::move(*names), ++generation_));
  }
}

void DirectoryLoader::publish(std::shared_ptr<const RoutingSnapshot> snap) {
  current_ = snap;
  publisher_->publish(std::move(snap));
  status_.publishes.fetch_add(1, std::memory_order_relaxed);
  status_.last_publish_unix_ms.store(now_unix_ms(), std::memory_order_relaxed);
  status_.last_load_us.store(
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - round_start_)
                                .count()),
      std::memory_order_relaxed);
  if (opt_.on_publish) {
    opt_.on_publish();
  }
}

Result<Unit> DirectoryLoader::read_cluster_state() {
  Db* st = state();
  if (st == nullptr) {
    cluster_stable_ = true;  // no state database: no upgrade is driven through Switchyard
    return ok_result();
  }
  auto row = read_cluster_row(*st);
  if (!row.ok()) {
    return db_error("reading sy_cluster", row.error());
  }
  // No row yet: nobody has started an upgrade (ensure_cluster_row creates it as STABLE).
  cluster_stable_ = !row->has_value() || (*row)->state == "STABLE";
  return ok_result();
}

void DirectoryLoader::record_good_round() {
  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  publisher_->record_good_round(
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()),
      cluster_stable_);
}

Result<Unit> DirectoryLoader::full_load_and_publish(bool only_if_changed) {
  auto data = reader_->full_load(*db_);
  if (!data.ok()) {
    return data.error();
  }
  apply_overrides(opt_.overrides, &data->servers);
  // Changes lost (a promoted replica that lagged): the one-way door still holds here.
  const bool lost = current_ && reader_->incremental() && data->change_seq < current_->change_seq();
  for (const std::string& name : hold_moved_back(current_.get(), lost, *data, held_back_)) {
    SY_LOG(Warn,
           "directory: schema '%s' was on a server of version %s before the database lost "
           "changes (change seq %llu, now %llu: a promoted replica that lagged?); its requests "
           "are held until it is on such a server again (upgrade schemata --continue)",
           name.c_str(), held_back_[name].c_str(),
           static_cast<unsigned long long>(current_->change_seq()),
           static_cast<unsigned long long>(data->change_seq));
  }
  uint64_t h = hash_directory(*data);
  if (only_if_changed && current_ && h == data_hash_ &&
      data->change_seq == current_->change_seq()) {
    return ok_result();
  }
  data_hash_ = h;
  size_t contexts = data->contexts.size();
  size_t schemas = data->schemas.size();
  auto t0 = std::chrono::steady_clock::now();
  auto snap = RoutingSnapshot::build(std::move(data.value()), opt_.input, ++generation_);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  SY_LOG(Info, "directory: loaded %zu contexts over %zu schemas (snapshot %llu, built in %lld ms)",
         contexts, schemas, static_cast<unsigned long long>(generation_),
         static_cast<long long>(ms));
  publish(std::move(snap));
  return ok_result();
}

Result<Unit> DirectoryLoader::refresh() {
  if (!reader_->incremental()) {
    return full_load_and_publish(true);
  }
  auto delta = reader_->changes_since(*db_, current_->change_seq());
  if (!delta.ok() && delta.error().code == Errc::NotFound) {
    // The change log was pruned past our sequence: the session is fine, start over.
    SY_LOG(Info, "directory: %s; doing a full load", delta.error().message.c_str());
    return full_load_and_publish(false);  // always: the new snapshot carries the new sequence
  }
  if (!delta.ok()) {
    return delta.error();
  }
  if (delta->empty() && delta->to_seq <= current_->change_seq()) {
    return ok_result();
  }
  apply_overrides(opt_.overrides, &delta->servers);
  if (!held_back_.empty()) {
    hold_moved_back(*current_, *delta, held_back_);
  }
  publish(current_->apply(*delta, ++generation_));
  return ok_result();
}

Result<Unit> DirectoryLoader::start() {
  auto backoff = std::chrono::milliseconds(250);
  for (;;) {
    round_start_ = std::chrono::steady_clock::now();
    auto r = connect();
    if (r.ok()) {
      r = read_cluster_state();
    }
    if (r.ok()) {
      r = full_load_and_publish(false);
    }
    if (r.ok()) {
      break;
    }
    if (!opt_.wait_at_start) {
      return make_error(Errc::Database, "cannot load the tenant directory: " + r.error().message +
                                            " (set database.wait_at_start: true to wait)");
    }
    SY_LOG(Warn, "directory: %s; retrying in %lld ms (wait_at_start)", r.error().message.c_str(),
           static_cast<long long>(backoff.count()));
    drop_sessions();
    if (!wait(backoff)) {
      return make_error(Errc::Database, "stopped while waiting for the database");
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
  status_.db_up = true;
  status_.last_ok_unix_ms = now_unix_ms();
  record_good_round();
  thread_ = std::thread([this] { run(); });
  return ok_result();
}

void DirectoryLoader::run() {
  // Building and copying snapshots must not take CPU from the workers when cores are scarce:
  // the loader runs at a lower priority (Linux: nice is per thread).
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10) != 0) {
    SY_LOG(Debug, "directory: cannot lower the loader thread's priority");
  }
  auto backoff = std::chrono::milliseconds(250);
  bool outage_logged = false;
  while (wait(db_ ? opt_.refresh_interval : backoff)) {
    if (db_ && opt_.dsn_source && opt_.dsn_source->generation() != dsn_generation_) {
      leave("loader", *db_, "the DSN lists changed (reload)");
    }
    status_.round_started_unix_ms = now_unix_ms();  // the health check can stall too
    round_start_ = std::chrono::steady_clock::now();
    take_pool_names();
    check_health();
    Result<Unit> r = ok_result();
    const bool reconnect = !db_;
    if (reconnect) {
      r = connect();
    }
    // The cluster state first: a snapshot published by this round is then never judged by an
    // older state.
    if (r.ok()) {
      r = read_cluster_state();
    }
    if (r.ok()) {
      // After a reconnect anything may have changed while we were away: a full load.
      r = reconnect ? full_load_and_publish(true) : refresh();
    }
    status_.round_started_unix_ms = 0;
    if (!r.ok()) {
      status_.failures.fetch_add(1, std::memory_order_relaxed);
      status_.db_up = false;
      if (!outage_logged) {
        SY_LOG(Warn,
               "directory: database unavailable (%s); serving the last snapshot, "
               "reconnecting with backoff",
               r.error().message.c_str());
        outage_logged = true;
      }
      // Whatever dropped a connected session (a dead node's lost connection as much as a
      // wrong node's 1047/1290): `show database` says which server the loader left and why.
      if (db_ && opt_.dsn_source) {
        opt_.dsn_source->left("loader", *db_, r.error().message);
      }
      drop_sessions();
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    if (outage_logged) {
      SY_LOG(Info, "directory: database reachable again");
      outage_logged = false;
    }
    backoff = std::chrono::milliseconds(250);
    // Replaced snapshots are freed here, on the loader thread, never on a worker.
    publisher_->collect();
    status_.db_up = true;
    status_.refreshes.fetch_add(1, std::memory_order_relaxed);
    status_.last_ok_unix_ms = now_unix_ms();
    // Ends a stale period at once: each worker sees it at its next request or 100 ms flush
    // and re-decides what it holds (Forwarder::refresh).
    record_good_round();
    if (opt_.on_tick && state() != nullptr) {
      status_.round_started_unix_ms = now_unix_ms();  // a heartbeat write can stall too
      auto ticked = opt_.on_tick(*state());
      status_.round_started_unix_ms = 0;
      if (!ticked.ok() && is_wrong_node(ticked.error())) {
        leave(state_db_ ? "loader state" : "loader", *state(), ticked.error().message);
      }
    }
  }
}

}  // namespace sy::store
