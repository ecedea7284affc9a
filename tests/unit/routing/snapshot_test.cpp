#include "routing/snapshot.h"

#include <catch.hpp>

#include <chrono>
#include <cstdio>
#include <random>
#include <unordered_map>

using namespace sy::routing;

namespace {

// pools here: 0 = "old", 1 = "new". Servers: 1 old, 2 new, 3 pool not configured here,
// 4 no pool at all. Schemas: 0 "s0" on server 1, 1 "s1" on server 2 (disabled), 2 "s2" no server.
DirectoryData small_directory() {
  DirectoryData d;
  d.servers = {{1, "srv-old", "old", "7.10", ""},
               {2, "srv-new", "new", "8.0", "https://new.example.com/"},
               {3, "srv-far", "elsewhere", "8.0", ""},
               {4, "srv-none", "", "8.0", ""}};
  d.schemas = {{"s0", SchemaState::Enabled, 1},
               {"s1", SchemaState::Disabled, 2},
               {"s2", SchemaState::Enabled, 0}};
  d.contexts = {{10, 0, 0, true},   // schema's server (1)
                {11, 0, 2, true},   // own server 2 overrides the schema's
                {12, 1, 0, false},  // disabled
                {13, 2, 3, true}};  // configdb style: schema has no server, context has
  d.logins = {{"alice@example.com", 10}, {"Bob", 11}};
  d.change_seq = 41;
  return d;
}

SnapshotInput pools() { return SnapshotInput{{"old", "new"}}; }

}  // namespace

TEST_CASE("build indexes contexts, schemas, servers and pools") {
  auto s = RoutingSnapshot::build(small_directory(), pools(), 7);
  CHECK(s->generation() == 7);
  CHECK(s->change_seq() == 41);
  CHECK(s->context_count() == 4);
  CHECK(s->rejected_rows() == 0);

  const ContextInfo* c10 = s->find_context(10);
  REQUIRE(c10 != nullptr);
  CHECK(c10->id == 10);
  CHECK(c10->schema == 0);
  CHECK(c10->server == 0);
  CHECK(c10->enabled);
  CHECK(s->effective_server(*c10) == 1);
  CHECK(s->effective_server(*s->find_context(11)) == 2);
  CHECK(s->effective_server(*s->find_context(13)) == 3);
  CHECK_FALSE(s->find_context(12)->enabled);
  CHECK(s->find_context(14) == nullptr);
  CHECK(s->find_context(0) == nullptr);

  CHECK(s->schema_count() == 3);
  CHECK(s->schema_index("s1") == std::optional<uint32_t>(1));
  CHECK_FALSE(s->schema_index("s9").has_value());
  CHECK(s->schema(2).name == "s2");
  CHECK(s->schema_enabled(0));
  CHECK_FALSE(s->schema_enabled(1));
  CHECK_FALSE(s->schema_enabled(3));  // out of range: not enabled

  REQUIRE(s->server(2) != nullptr);
  CHECK(s->server(2)->name == "srv-new");
  CHECK(s->server(9) == nullptr);
  CHECK(s->server(0) == nullptr);
  CHECK(s->pool_of_server(1) == 0);
  CHECK(s->pool_of_server(2) == 1);
  CHECK(s->pool_of_server(3) == -1);  // pool not configured here
  CHECK(s->pool_of_server(4) == -1);  // server has no pool
  CHECK(s->pool_of_server(9) == -1);  // unknown server
}

TEST_CASE("logins resolve by exact bytes") {
  auto s = RoutingSnapshot::build(small_directory(), pools(), 1);
  CHECK(s->login_count() == 2);
  CHECK(s->find_login("alice@example.com") == std::optional<ContextId>(10));
  CHECK(s->find_login("Bob") == std::optional<ContextId>(11));
  CHECK_FALSE(s->find_login("bob").has_value());
  CHECK_FALSE(s->find_login("alice@example.co").has_value());
  CHECK_FALSE(s->find_login("").has_value());

  auto empty = RoutingSnapshot::build(DirectoryData{}, pools(), 1);
  CHECK_FALSE(empty->find_login("Bob").has_value());
  CHECK(empty->find_context(10) == nullptr);
  CHECK(empty->context_count() == 0);
}

TEST_CASE("build drops rows it cannot represent, counts them, and lets the last duplicate win") {
  DirectoryData d = small_directory();
  d.contexts.push_back({0, 0, 0, true});    // id 0
  d.contexts.push_back({20, 3, 0, true});   // schema index out of range
  d.contexts.push_back({10, 2, 4, false});  // duplicate of 10: last wins
  d.logins.push_back({"zero", 0});          // login to context 0
  d.logins.push_back({"Bob", 13});          // duplicate login: last wins
  d.servers.push_back({0, "no-id", "old", "", ""});
  d.servers.push_back({1, "srv-old-renamed", "new", "", ""});  // duplicate server: last wins
  auto s = RoutingSnapshot::build(std::move(d), pools(), 1);
  CHECK(s->rejected_rows() == 4);
  CHECK(s->context_count() == 4);
  CHECK(s->find_context(20) == nullptr);
  REQUIRE(s->find_context(10) != nullptr);
  CHECK(s->find_context(10)->schema == 2);
  CHECK(s->find_context(10)->server == 4);
  CHECK_FALSE(s->find_context(10)->enabled);
  CHECK_FALSE(s->find_login("zero").has_value());
  CHECK(s->find_login("Bob") == std::optional<ContextId>(13));
  CHECK(s->server_count() == 4);
  CHECK(s->server(1)->name == "srv-old-renamed");
  CHECK(s->pool_of_server(1) == 1);
}

TEST_CASE("apply upserts and removes contexts and leaves the original untouched") {
  auto base = RoutingSnapshot::build(small_directory(), pools(), 1);
  DirectoryDelta d;
  d.from_seq = 41;
  d.to_seq = 45;
  d.schema_names = {"s1", "s0"};
  d.contexts = {{10, 0, 0, true},   // 10 moves to s1 (delta index 0)
                {30, 1, 2, true}};  // new context in s0 (delta index 1), own server 2
  d.removed_contexts = {12, 999};   // 999 is not there: ignored
  auto next = base->apply(d, 2);

  CHECK(next->generation() == 2);
  CHECK(next->change_seq() == 45);
  CHECK(next->context_count() == 4);
  CHECK(next->find_context(10)->schema == 1);
  REQUIRE(next->find_context(30) != nullptr);
  CHECK(next->find_context(30)->schema == 0);
  CHECK(next->effective_server(*next->find_context(30)) == 2);
  CHECK(next->find_context(12) == nullptr);
  CHECK(next->find_context(11) != nullptr);
  CHECK(next->find_login("Bob") == std::optional<ContextId>(11));  // logins copied

  // The original is what it was.
  CHECK(base->generation() == 1);
  CHECK(base->change_seq() == 41);
  CHECK(base->context_count() == 4);
  CHECK(base->find_context(10)->schema == 0);
  CHECK(base->find_context(12) != nullptr);
  CHECK(base->find_context(30) == nullptr);
}

TEST_CASE("apply appends unknown schema names and never renumbers existing schemas") {
  auto base = RoutingSnapshot::build(small_directory(), pools(), 1);
  DirectoryDelta d;
  d.schemas = {{"s1", SchemaState::Enabled, 2},    // update: s1 enabled again
               {"s7", SchemaState::Disabled, 1}};  // new schema row
  d.schema_names = {"s9", "s7", "s2"};             // s9 known nowhere: added, enabled, no server
  d.contexts = {{40, 0, 1, true}, {41, 1, 0, true}, {42, 2, 0, true}};
  auto next = base->apply(d, 2);
  REQUIRE(next->schema_count() == 5);
  CHECK(next->schema_index("s0") == std::optional<uint32_t>(0));
  CHECK(next->schema_index("s1") == std::optional<uint32_t>(1));
  CHECK(next->schema_index("s2") == std::optional<uint32_t>(2));
  CHECK(next->schema_index("s7") == std::optional<uint32_t>(3));
  CHECK(next->schema_index("s9") == std::optional<uint32_t>(4));
  CHECK(next->schema_enabled(1));
  CHECK_FALSE(next->schema_enabled(3));
  CHECK(next->schema_enabled(4));
  CHECK(next->schema(4).server_id == 0);
  CHECK(next->find_context(40)->schema == 4);
  CHECK(next->find_context(41)->schema == 3);
  CHECK(next->effective_server(*next->find_context(41)) == 1);
  CHECK(next->find_context(42)->schema == 2);
  CHECK(base->schema_count() == 3);
  CHECK_FALSE(base->schema_enabled(1));
}

TEST_CASE("apply resolves context schema indexes through delta.schemas when no names are given") {
  auto base = RoutingSnapshot::build(small_directory(), pools(), 1);
  DirectoryDelta d;
  d.schemas = {{"s2", SchemaState::Disabled, 0}, {"s8", SchemaState::Enabled, 2}};
  d.contexts = {{50, 1, 0, true}, {51, 0, 0, true}, {52, 2, 0, true}};  // 52: out of range
  auto next = base->apply(d, 2);
  CHECK(next->rejected_rows() == 1);
  CHECK(next->find_context(52) == nullptr);
  CHECK(next->find_context(50)->schema == 3);
  CHECK(next->effective_server(*next->find_context(50)) == 2);
  CHECK(next->find_context(51)->schema == 2);
  CHECK_FALSE(next->schema_enabled(2));
}

TEST_CASE("apply upserts servers and re-resolves their pools") {
  auto base = RoutingSnapshot::build(small_directory(), pools(), 1);
  DirectoryDelta d;
  d.servers = {{3, "srv-far", "new", "8.0", "https://far/"},  // now in a configured pool
               {5, "srv-5", "old", "7.10", ""}};
  auto next = base->apply(d, 2);
  CHECK(next->pool_of_server(3) == 1);
  CHECK(next->server(3)->redirect_url == "https://far/");
  CHECK(next->pool_of_server(5) == 0);
  CHECK(next->server(5)->name == "srv-5");
  CHECK(next->server_count() == 5);
  CHECK(base->pool_of_server(3) == -1);
  CHECK(base->server(5) == nullptr);
}

TEST_CASE("apply removes servers and schema rows without renumbering anything") {
  auto base = RoutingSnapshot::build(small_directory(), pools(), 1);
  DirectoryDelta d;
  d.removed_servers = {1, 42};  // 42 is not there: ignored
  d.removed_schemas = {"s1", "nope"};
  d.servers = {{5, "srv-5", "old", "", ""}};
  auto next = base->apply(d, 2);
  CHECK(next->server(1) == nullptr);
  CHECK(next->pool_of_server(1) == -1);
  CHECK(next->server_count() == 4);
  // The servers after the removed one are still found, with their own pools.
  REQUIRE(next->server(2) != nullptr);
  CHECK(next->server(2)->name == "srv-new");
  CHECK(next->pool_of_server(2) == 1);
  CHECK(next->server(4)->name == "srv-none");
  CHECK(next->pool_of_server(5) == 0);
  // Schema s1 keeps index 1 and its name, reverts to enabled with no server.
  CHECK(next->schema_count() == 3);
  CHECK(next->schema_index("s1") == std::optional<uint32_t>(1));
  CHECK(next->schema(1).name == "s1");
  CHECK(next->schema_enabled(1));
  CHECK(next->schema(1).server_id == 0);
  CHECK(next->find_context(12)->schema == 1);
  CHECK(next->effective_server(*next->find_context(12)) == 0);
  CHECK(next->effective_server(*next->find_context(10)) == 1);  // schema s0 still names it
  // The original is untouched.
  CHECK(base->server(1) != nullptr);
  CHECK_FALSE(base->schema_enabled(1));
}

TEST_CASE("apply upserts and removes logins; a login both upserted and removed is gone") {
  auto base = RoutingSnapshot::build(small_directory(), pools(), 1);
  DirectoryDelta d;
  d.logins = {{"Bob", 13}, {"carol", 12}, {"dave", 11}, {"bad", 0}};
  d.removed_logins = {"alice@example.com", "dave", "nobody"};
  auto next = base->apply(d, 2);
  CHECK(next->find_login("Bob") == std::optional<ContextId>(13));
  CHECK(next->find_login("carol") == std::optional<ContextId>(12));
  CHECK_FALSE(next->find_login("dave").has_value());
  CHECK_FALSE(next->find_login("alice@example.com").has_value());
  CHECK_FALSE(next->find_login("bad").has_value());
  CHECK(next->rejected_rows() == 1);
  CHECK(next->login_count() == 2);
  CHECK(base->find_login("alice@example.com") == std::optional<ContextId>(10));
  CHECK(base->find_login("Bob") == std::optional<ContextId>(11));
}

TEST_CASE("apply grows the context table past its initial capacity") {
  auto base = RoutingSnapshot::build(small_directory(), pools(), 1);
  DirectoryDelta d;
  d.schema_names = {"s0"};
  for (ContextId id = 1000; id < 21000; ++id) {
    d.contexts.push_back({id, 0, 0, (id % 3) != 0});
  }
  auto next = base->apply(d, 2);
  CHECK(next->context_count() == 4 + 20000);
  for (ContextId id = 1000; id < 21000; ++id) {
    const ContextInfo* c = next->find_context(id);
    REQUIRE(c != nullptr);
    REQUIRE(c->enabled == ((id % 3) != 0));
  }
  CHECK(next->find_context(10) != nullptr);
  CHECK(next->find_context(21000) == nullptr);
  CHECK(base->find_context(1000) == nullptr);
}

TEST_CASE("context table agrees with a reference map under random upserts and erases") {
  // Ids chosen to collide: multiples of large powers of two, a dense run, and random ones.
  std::mt19937 rng(12345);
  std::vector<ContextId> ids;
  for (ContextId i = 1; i <= 2000; ++i) {
    ids.push_back(i << 20);
    ids.push_back(i);
    ids.push_back(static_cast<ContextId>(rng()) | 1u);
  }
  detail::ContextTable table;
  std::unordered_map<ContextId, ContextInfo> ref;
  for (int op = 0; op < 60000; ++op) {
    ContextId id = ids[rng() % ids.size()];
    if (rng() % 3 == 0) {
      CHECK(table.erase(id) == (ref.erase(id) == 1));
    } else {
      ContextInfo info{id, static_cast<uint32_t>(op), id ^ 7u, (op & 1) != 0};
      table.upsert(info);
      ref[id] = info;
    }
  }
  REQUIRE(table.size() == ref.size());
  CHECK(table.size() * 10 <= table.capacity() * 7);
  size_t mismatches = 0;
  for (ContextId id : ids) {
    const ContextInfo* got = table.find(id);
    auto it = ref.find(id);
    if (it == ref.end()) {
      mismatches += got != nullptr;
    } else {
      mismatches += got == nullptr || got->schema != it->second.schema ||
                    got->server != it->second.server || got->enabled != it->second.enabled;
    }
  }
  CHECK(mismatches == 0);
  CHECK_FALSE(table.erase(0));
}

TEST_CASE("context table erase is correct when probe runs wrap around the end") {
  // 11 live ids keep the table at its minimum 16 slots and load ~0.7, so runs often wrap.
  std::mt19937 rng(777);
  size_t mismatches = 0;
  for (int round = 0; round < 3000; ++round) {
    std::vector<ContextId> ids;
    for (int i = 0; i < 11; ++i) {
      ids.push_back(static_cast<ContextId>(rng()) | 1u);
    }
    detail::ContextTable table;
    std::unordered_map<ContextId, uint32_t> ref;
    for (int op = 0; op < 60; ++op) {
      ContextId id = ids[rng() % ids.size()];
      if (rng() % 2 == 0) {
        table.erase(id);
        ref.erase(id);
      } else {
        table.upsert(ContextInfo{id, static_cast<uint32_t>(op), 0, true});
        ref[id] = static_cast<uint32_t>(op);
      }
      for (ContextId probe : ids) {
        const ContextInfo* got = table.find(probe);
        auto it = ref.find(probe);
        mismatches +=
            it == ref.end() ? got != nullptr : (got == nullptr || got->schema != it->second);
      }
    }
    REQUIRE(table.capacity() == 16);
  }
  CHECK(mismatches == 0);
}

TEST_CASE("login index holds many logins and finds each one") {
  DirectoryData d;
  d.schemas = {{"s0", SchemaState::Enabled, 1}};
  for (ContextId i = 1; i <= 50000; ++i) {
    d.logins.push_back({"user" + std::to_string(i) + "@tenant" + std::to_string(i % 97), i});
  }
  auto s = RoutingSnapshot::build(std::move(d), pools(), 1);
  CHECK(s->login_count() == 50000);
  size_t wrong = 0;
  for (ContextId i = 1; i <= 50000; ++i) {
    auto got = s->find_login("user" + std::to_string(i) + "@tenant" + std::to_string(i % 97));
    wrong += got != std::optional<ContextId>(i);
  }
  CHECK(wrong == 0);
  CHECK_FALSE(s->find_login("user1@tenant2").has_value());
}

namespace {
DirectoryData million(size_t contexts, size_t schemas) {
  DirectoryData d;
  d.servers = {{1, "srv-old", "old", "7.10", ""}, {2, "srv-new", "new", "8.0", "https://n"}};
  d.schemas.reserve(schemas);
  for (size_t i = 0; i < schemas; ++i) {
    d.schemas.push_back(
        {"oxdb_" + std::to_string(i), SchemaState::Enabled, static_cast<ServerId>(1 + i % 2)});
  }
  d.contexts.reserve(contexts);
  for (size_t i = 0; i < contexts; ++i) {
    d.contexts.push_back(
        {static_cast<ContextId>(i + 1), static_cast<uint32_t>(i % schemas), 0, true});
  }
  return d;
}
}  // namespace

TEST_CASE("1M contexts over 1000 schemas fit in 64 bytes per context") {
  auto t0 = std::chrono::steady_clock::now();
  auto s = RoutingSnapshot::build(million(1000000, 1000), pools(), 1);
  auto t1 = std::chrono::steady_clock::now();
  double per_context = static_cast<double>(s->memory_bytes()) / 1e6;
  double build_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  INFO("bytes/context " << per_context << ", build " << build_ms << " ms");
  CHECK(s->context_count() == 1000000);
  CHECK(per_context <= 64.0);
  CHECK(per_context >= 16.0);  // the accounting must at least see the table
  CHECK(s->find_context(1)->schema == 0);
  CHECK(s->find_context(1000000)->schema == 999);
  CHECK(s->find_context(1000001) == nullptr);
  CHECK(s->effective_server(*s->find_context(2)) == 2);
}

TEST_CASE("a build big enough for two threads agrees with a model: duplicates, bad rows, spread ids") {
  DirectoryData d;
  d.schemas = {{"s0", SchemaState::Enabled, 1}, {"s1", SchemaState::Enabled, 2}};
  std::mt19937 rng(17);
  std::uniform_int_distribution<uint32_t> any_id(1, UINT32_MAX);
  std::unordered_map<ContextId, ContextRow> model;
  size_t bad = 0;
  const size_t n = RoutingSnapshot::kParallelBuildRows + 4321;
  for (size_t i = 0; i < n; ++i) {
    // Dense ids, ids anywhere, and every 97th row again later with other values (last wins).
    const ContextId id = i % 3 == 0 ? any_id(rng) : static_cast<ContextId>(i + 1);
    ContextRow row{id, static_cast<uint32_t>(i % 2), static_cast<ServerId>(i % 5), i % 7 != 0};
    if (i % 1000 == 999) {
      row = i % 2000 == 999 ? ContextRow{0, 0, 0, true} : ContextRow{id, 9, 0, true};
      ++bad;
    } else {
      model[id] = row;
    }
    d.contexts.push_back(row);
    if (i % 97 == 0 && row.id != 0 && row.schema_index < 2) {
      ContextRow again{id, 1 - row.schema_index, 7, !row.enabled};
      d.contexts.push_back(again);
      model[id] = again;
    }
  }
  auto s = RoutingSnapshot::build(std::move(d), pools(), 1);
  CHECK(s->rejected_rows() == bad);
  CHECK(s->context_count() == model.size());
  size_t wrong = 0;
  for (const auto& [id, row] : model) {
    const ContextInfo* c = s->find_context(id);
    wrong += c == nullptr || c->schema != row.schema_index || c->server != row.server_id ||
             c->enabled != row.enabled;
  }
  CHECK(wrong == 0);
}

// Not run by ctest (hidden): `unit_routing_snapshot_test "[.bench]"` prints build and lookup
// timings for bench notes.
TEST_CASE("snapshot timings", "[.bench]") {
  auto t0 = std::chrono::steady_clock::now();
  auto s = RoutingSnapshot::build(million(1000000, 1000), pools(), 1);
  auto t1 = std::chrono::steady_clock::now();
  std::mt19937 rng(1);
  std::vector<ContextId> keys(1 << 20);
  for (auto& k : keys) {
    k = static_cast<ContextId>(rng() % 1100000 + 1);  // ~9% misses
  }
  uint64_t found = 0;
  auto t2 = std::chrono::steady_clock::now();
  for (int round = 0; round < 4; ++round) {
    for (ContextId k : keys) {
      const ContextInfo* c = s->find_context(k);
      found += c != nullptr ? c->schema + 1 : 0;
    }
  }
  auto t3 = std::chrono::steady_clock::now();
  DirectoryDelta d;
  d.schema_names = {"oxdb_1"};
  d.contexts = {{2000001, 0, 0, true}};
  auto t4 = std::chrono::steady_clock::now();
  auto next = s->apply(d, 2);
  auto t5 = std::chrono::steady_clock::now();
  using ms = std::chrono::duration<double, std::milli>;
  std::printf("build 1M: %.1f ms; memory %.2f B/context; random lookup %.1f ns; apply %.1f ms "
              "(checksum %llu)\n",
              ms(t1 - t0).count(), static_cast<double>(s->memory_bytes()) / 1e6,
              ms(t3 - t2).count() * 1e6 / (4.0 * static_cast<double>(keys.size())),
              ms(t5 - t4).count(), static_cast<unsigned long long>(found));
  CHECK(next->context_count() == 1000001);
}

namespace {

// A reference model of what a snapshot should answer: context -> (schema name, server,
// enabled), login -> context.
struct Model {
  struct Ctx {
    std::string schema;
    ServerId server;
    bool enabled;
  };
  std::unordered_map<ContextId, Ctx> contexts;
  std::unordered_map<std::string, ContextId> logins;
};

size_t disagreements(const RoutingSnapshot& s, const Model& m, ContextId max_id, size_t max_login) {
  size_t bad = s.context_count() == m.contexts.size() ? 0 : 1;
  bad += s.login_count() == m.logins.size() ? 0 : 1;
  for (ContextId id = 1; id <= max_id; ++id) {
    const ContextInfo* c = s.find_context(id);
    auto it = m.contexts.find(id);
    if (it == m.contexts.end()) {
      bad += c != nullptr;
    } else {
      bad += c == nullptr || s.schema(c->schema).name != it->second.schema ||
             c->server != it->second.server || c->enabled != it->second.enabled;
    }
  }
  for (size_t i = 0; i <= max_login; ++i) {
    std::string login = "u" + std::to_string(i);
    auto got = s.find_login(login);
    auto it = m.logins.find(login);
    bad += it == m.logins.end() ? got.has_value() : got != std::optional<ContextId>(it->second);
  }
  return bad;
}

}  // namespace

TEST_CASE("chained deltas on a many-shard snapshot agree with a model; earlier ones stay intact") {
  constexpr ContextId kContexts = 40000;
  constexpr size_t kLogins = 20000;
  DirectoryData d;
  Model m;
  for (int i = 0; i < 300; ++i) {
    d.schemas.push_back({"oxdb_" + std::to_string(i), SchemaState::Enabled, 1});
  }
  for (ContextId id = 1; id <= kContexts; ++id) {
    d.contexts.push_back({id, id % 300, 0, true});
    m.contexts[id] = {"oxdb_" + std::to_string(id % 300), 0, true};
  }
  for (size_t i = 0; i < kLogins; ++i) {
    d.logins.push_back({"u" + std::to_string(i), static_cast<ContextId>(i + 1)});
    m.logins["u" + std::to_string(i)] = static_cast<ContextId>(i + 1);
  }
  std::vector<std::pair<std::shared_ptr<const RoutingSnapshot>, Model>> history;
  history.emplace_back(RoutingSnapshot::build(std::move(d), pools(), 1), m);
  std::mt19937 rng(31337);
  for (uint64_t g = 2; g <= 30; ++g) {
    DirectoryDelta delta;
    delta.schema_names = {"oxdb_" + std::to_string(rng() % 300), "new_" + std::to_string(g)};
    const int rows = g % 5 == 0 ? 1500 : 1 + static_cast<int>(rng() % 20);
    for (int r = 0; r < rows; ++r) {
      const ContextId id = 1 + rng() % (kContexts + 2000);
      const uint32_t local = rng() % 2;
      const bool on = rng() % 3 != 0;
      const ServerId server = rng() % 3;
      delta.contexts.push_back({id, local, server, on});
      m.contexts[id] = {delta.schema_names[local], server, on};
    }
    for (int r = 0; r < 5; ++r) {
      const ContextId id = 1 + rng() % (kContexts + 2000);
      delta.removed_contexts.push_back(id);
      m.contexts.erase(id);
    }
    for (int r = 0; r < 10; ++r) {
      const std::string login = "u" + std::to_string(rng() % (kLogins + 500));
      if (rng() % 3 == 0) {
        delta.removed_logins.push_back(login);
        m.logins.erase(login);
      } else {
        const ContextId to = 1 + rng() % kContexts;
        delta.logins.push_back({login, to});
        m.logins[login] = to;
      }
    }
    // A login both upserted and removed in one delta is gone.
    for (const std::string& gone : delta.removed_logins) {
      m.logins.erase(gone);
    }
    auto next = history.back().first->apply(delta, g);
    REQUIRE(disagreements(*next, m, kContexts + 2000, kLogins + 500) == 0);
    history.emplace_back(next, m);
  }
  for (const auto& [snap, model] : history) {
    REQUIRE(disagreements(*snap, model, kContexts + 2000, kLogins + 500) == 0);
  }
}

TEST_CASE("a one-row apply shares everything but one shard with the snapshot it came from") {
  auto base = RoutingSnapshot::build(million(200000, 1000), pools(), 1);
  const size_t live = detail::table_bytes_live();
  DirectoryDelta d;
  d.schema_names = {"oxdb_3"};
  d.contexts = {{5, 0, 2, false}};
  auto next = base->apply(d, 2);
  const size_t copied = detail::table_bytes_live() - live;
  INFO("copied " << copied << " of " << base->memory_bytes() << " bytes");
  CHECK(copied > 0);
  CHECK(copied < 64 * 1024);  // one shard of ~1,000 contexts, not the 5 MiB table
  CHECK(next->find_context(5)->schema == 3);
  CHECK(base->find_context(5)->schema == 4);
  CHECK(next->find_context(150000) == base->find_context(150000));  // the very same slot
}

TEST_CASE("a re-read schema whose contexts did not change copies no context") {
  // The ox profile re-reads a whole schema after OX's disableschema: every context row comes
  // back as it was; only the schema row changed.
  auto base = RoutingSnapshot::build(million(100000, 100), pools(), 1);
  DirectoryDelta d;
  d.schema_names = {"oxdb_7"};
  d.schemas = {{"oxdb_7", SchemaState::Disabled, base->schema(7).server_id}};
  for (ContextId id = 8; id <= 100000; id += 100) {  // i % 100 == 7: the contexts of oxdb_7
    d.contexts.push_back({id, 0, 0, true});
  }
  const size_t live = detail::table_bytes_live();
  auto next = base->apply(d, 2);
  CHECK(detail::table_bytes_live() == live);
  CHECK_FALSE(next->schema_enabled(7));
  CHECK(base->schema_enabled(7));
  CHECK(next->find_context(8) == base->find_context(8));
  CHECK(next->context_count() == 100000);
}
