#include "routing/snapshot.h"

#include <cassert>
#include <thread>
#include <utility>

namespace sy::routing {

namespace {

// Heap bytes of a std::string: libstdc++ keeps up to 15 chars inline.
size_t string_heap(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; }

// Linear: an instance configures a handful of pools, and this runs per server row, not per
// request (the result is cached in Servers::pool).
int pool_index(const std::vector<std::string>& pools, const std::string& name) {
  if (name.empty()) {
    return -1;
  }
  for (size_t i = 0; i < pools.size(); ++i) {
    if (pools[i] == name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace

void RoutingSnapshot::upsert_server(Servers& s, ServerRow row) {
  if (row.id == 0) {
    ++rejected_rows_;
    return;
  }
  int pool = pool_index(s.pool_names, row.pool);
  auto it = s.index.find(row.id);
  if (it != s.index.end()) {
    s.rows[it->second] = std::move(row);
    s.pool[it->second] = pool;
    return;
  }
  s.index.emplace(row.id, static_cast<uint32_t>(s.rows.size()));
  s.rows.push_back(std::move(row));
  s.pool.push_back(pool);
}

std::shared_ptr<const RoutingSnapshot>
RoutingSnapshot::with_pool_names(std::vector<std::string> pool_names, uint64_t generation) const {
  std::shared_ptr<RoutingSnapshot> s(new RoutingSnapshot(*this));
  s->generation_ = generation;
  s->rejected_rows_ = 0;
  auto servers = std::make_shared<Servers>(*servers_);
  servers->pool_names = std::move(pool_names);
  for (size_t i = 0; i < servers->rows.size(); ++i) {
    servers->pool[i] = pool_index(servers->pool_names, servers->rows[i].pool);
  }
  s->servers_ = std::move(servers);
  return s;
}

void RoutingSnapshot::remove_server(Servers& s, ServerId id) {
  auto it = s.index.find(id);
  if (it == s.index.end()) {
    return;
  }
  size_t pos = it->second;
  s.rows.erase(s.rows.begin() + static_cast<std::ptrdiff_t>(pos));
  s.pool.erase(s.pool.begin() + static_cast<std::ptrdiff_t>(pos));
  s.index.erase(it);
  for (auto& [sid, index] : s.index) {
    if (index > pos) {
      --index;
    }
  }
}

void RoutingSnapshot::end_edit() {
  schemas_.end_edit();
  contexts_.end_edit();
  logins_.end_edit();
}

std::shared_ptr<const RoutingSnapshot>
RoutingSnapshot::build(DirectoryData data, const SnapshotInput& in, uint64_t generation) {
  // The constructor is private, so no make_shared; the separate control block is negligible.
  std::shared_ptr<RoutingSnapshot> s(new RoutingSnapshot());
  s->generation_ = generation;
  s->change_seq_ = data.change_seq;

  auto servers = std::make_shared<Servers>();
  servers->pool_names = in.pool_names;
  servers->rows.reserve(data.servers.size());
  for (ServerRow& row : data.servers) {
    s->upsert_server(*servers, std::move(row));
  }
  s->servers_ = std::move(servers);
  for (SchemaRow& row : data.schemas) {
    s->schemas_.append(std::move(row));
  }

  // Contexts: count per shard first, so every shard is allocated once at its final size.
  auto valid = [&](const ContextRow& row) {
    return row.id != 0 && row.schema_index < s->schemas_.size();
  };
  s->contexts_ = detail::ContextIndex(data.contexts.size());
  {
    std::vector<uint32_t> counts(s->contexts_.shard_count(), 0);
    for (const ContextRow& row : data.contexts) {
      if (valid(row)) {
        ++counts[s->contexts_.shard_of(row.id)];
      }
    }
    s->contexts_.presize(counts);
  }
  // Every insert misses the cache (homes are spread on purpose): ask for the line a few rows
  // ahead, so that ~kAhead misses overlap (at 10M: ~90 -> ~30 ns per row on our VMs).
  // A big load is inserted by two threads, each into the shards of every other group (groups,
  // not shards: a shard's view is rewritten per insert, and neighbouring views share a cache
  // line); each reads every row and skips the other's (decision 71).
  constexpr size_t kAhead = 8;
  const std::vector<ContextRow>& rows = data.contexts;
  const unsigned parts = rows.size() >= kParallelBuildRows ? 2 : 1;
  auto insert_part = [&](unsigned part, size_t* inserted) {
    detail::ContextIndex& index = s->contexts_;
    size_t n = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      const ContextRow& row = rows[i];
      if (!valid(row) || index.group_of(row.id) % parts != part) {
        continue;
      }
      if (i + kAhead < rows.size() && index.group_of(rows[i + kAhead].id) % parts == part) {
        index.prefetch(rows[i + kAhead].id);  // only this thread's rows: the other's are not read
      }
      n += index.upsert_presized(ContextInfo{row.id, row.schema_index, row.server_id, row.enabled});
    }
    *inserted = n;
  };
  for (const ContextRow& row : rows) {
    s->rejected_rows_ += valid(row) ? 0 : 1;
  }
  size_t inserted[2] = {0, 0};
  if (parts == 2) {
    std::thread helper(insert_part, 1u, &inserted[1]);
    insert_part(0, &inserted[0]);
    helper.join();
  } else {
    insert_part(0, &inserted[0]);
  }
  s->contexts_.add_inserted(inserted[0] + inserted[1]);

  // A login naming an unknown context is kept: decide() answers CTX-0003 for it, which tells an
  // operator more than a silently missing login (CTX-0002) would.
  s->logins_ = detail::LoginShards(data.logins.size(), in.fold_login_case);
  s->logins_.build(data.logins, &s->rejected_rows_);
  s->end_edit();
  return s;
}

std::shared_ptr<const RoutingSnapshot> RoutingSnapshot::apply(const DirectoryDelta& d,
                                                              uint64_t generation) const {
  // Copy, then edit the copy: this snapshot may be pinned by requests on every worker. The copy
  // shares every table; each edit below copies only the shard, group or chunk it changes.
  std::shared_ptr<RoutingSnapshot> s(new RoutingSnapshot(*this));
  s->generation_ = generation;
  s->change_seq_ = d.to_seq;
  s->rejected_rows_ = 0;

  if (!d.servers.empty() || !d.removed_servers.empty()) {
    auto servers = std::make_shared<Servers>(*servers_);
    for (const ServerRow& row : d.servers) {
      s->upsert_server(*servers, row);
    }
    for (ServerId id : d.removed_servers) {
      remove_server(*servers, id);  // its contexts now get CTX-0010 (unknown server)
    }
    s->servers_ = std::move(servers);
  }

  detail::SchemaTable& schemas = s->schemas_;
  for (const SchemaRow& row : d.schemas) {
    if (auto index = schemas.find(row.name)) {
      schemas.set(*index, row);
    } else {
      schemas.append(row);
    }
  }

  // Delta-local schema index -> snapshot schema index; unknown names become enabled schemas
  // without a server (the contexts carry theirs, or a later delta brings the schema row).
  std::vector<uint32_t> local_to_index;
  auto resolve = [&](const std::string& name) {
    if (auto index = schemas.find(name)) {
      local_to_index.push_back(*index);
    } else {
      local_to_index.push_back(schemas.append(SchemaRow{name, SchemaState::Enabled, 0}));
    }
  };
  if (!d.schema_names.empty()) {
    for (const std::string& name : d.schema_names) {
      resolve(name);
    }
  } else {
    for (const SchemaRow& row : d.schemas) {
      resolve(row.name);
    }
  }

  for (const ContextRow& row : d.contexts) {
    if (row.id == 0 || row.schema_index >= local_to_index.size()) {
      ++s->rejected_rows_;
      continue;
    }
    s->contexts_.upsert(
        ContextInfo{row.id, local_to_index[row.schema_index], row.server_id, row.enabled});
  }
  // Removals after upserts: a row both upserted and removed in one delta is gone.
  for (ContextId id : d.removed_contexts) {
    s->contexts_.erase(id);
  }
  for (const std::string& name : d.removed_schemas) {
    // The index must survive: contexts and held requests refer to it. The name stays, with the
    // defaults a schema known only by name gets (enabled, no server).
    if (auto index = schemas.find(name)) {
      schemas.set(*index, SchemaRow{name, SchemaState::Enabled, 0});
    }
  }
  if (!d.logins.empty() || !d.removed_logins.empty()) {
    s->logins_.apply(d.logins, d.removed_logins, &s->rejected_rows_);
  }
  s->end_edit();
  return s;
}

const SchemaRow& RoutingSnapshot::schema(uint32_t index) const {
  assert(index < schemas_.size());
  return schemas_[index];
}

const ServerRow* RoutingSnapshot::server(ServerId id) const {
  auto it = servers_->index.find(id);
  return it == servers_->index.end() ? nullptr : &servers_->rows[it->second];
}

int RoutingSnapshot::pool_of_server(ServerId id) const {
  auto it = servers_->index.find(id);
  return it == servers_->index.end() ? -1 : servers_->pool[it->second];
}

size_t RoutingSnapshot::memory_bytes() const {
  const Servers& sv = *servers_;
  size_t n = sizeof(*this) + detail::kNodeOverhead + sizeof(Servers);
  n += sv.pool_names.capacity() * sizeof(std::string);
  for (const std::string& p : sv.pool_names) {
    n += string_heap(p);
  }
  n += sv.rows.capacity() * sizeof(ServerRow);
  for (const ServerRow& r : sv.rows) {
    n += string_heap(r.name) + string_heap(r.pool) + string_heap(r.version) +
         string_heap(r.redirect_url);
  }
  n += sv.pool.capacity() * sizeof(int);
  n += sv.index.bucket_count() * sizeof(void*) +
       sv.index.size() * (sizeof(std::pair<const ServerId, uint32_t>) + detail::kNodeOverhead);
  n += schemas_.memory_bytes();
  n += contexts_.memory_bytes();
  n += logins_.memory_bytes();
  return n;
}

}  // namespace sy::routing
