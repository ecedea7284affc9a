#include "routing/snapshot_tables.h"

#include <catch.hpp>

#include <random>
#include <string>
#include <unordered_map>
#include <vector>

using namespace sy::routing;
using namespace sy::routing::detail;

namespace {

using Model = std::unordered_map<ContextId, ContextInfo>;

// Mismatches between |index| and |model|, over |ids| (present and absent ones).
size_t mismatches(const ContextIndex& index, const Model& model,
                  const std::vector<ContextId>& ids) {
  size_t bad = index.size() == model.size() ? 0 : 1;
  for (ContextId id : ids) {
    const ContextInfo* got = index.find(id);
    auto it = model.find(id);
    bad += it == model.end() ? got != nullptr : (got == nullptr || !(*got == it->second));
  }
  return bad;
}

ContextIndex filled(size_t n) {
  ContextIndex index(n);
  std::vector<uint32_t> counts(index.shard_count(), 0);
  for (ContextId id = 1; id <= n; ++id) {
    ++counts[index.shard_of(id)];
  }
  index.presize(counts);
  for (ContextId id = 1; id <= n; ++id) {
    index.upsert(ContextInfo{id, id % 7, 0, true});
  }
  index.end_edit();
  return index;
}

}  // namespace

TEST_CASE("context index: 64 consecutive ids share a shard, and shards are sized to their load") {
  ContextIndex index = filled(100000);
  CHECK(index.shard_count() == 128);  // ~1,000 contexts per shard
  CHECK(index.size() == 100000);
  for (ContextId block = 0; block < 1000; ++block) {
    const size_t s = index.shard_of(block * 64 + 1);
    bool same = true;
    for (ContextId i = 1; i < 64; ++i) {
      same = same && index.shard_of(block * 64 + i) == s;
    }
    REQUIRE(same);
  }
  size_t slots = 0;
  for (size_t i = 0; i < index.shard_count(); ++i) {
    const ContextTable& t = index.shard(i);
    REQUIRE(t.size() * 10 <= t.capacity() * 7);
    slots += t.capacity();
  }
  // Every shard was allocated once for its own count: ~0.65 load over the whole index.
  CHECK(static_cast<double>(index.size()) / static_cast<double>(slots) > 0.6);
  CHECK(index.find(0) == nullptr);
  CHECK(index.find(100001) == nullptr);
  CHECK(index.find(777)->schema == 777 % 7);
}

TEST_CASE("context index edits agree with a model and never change the index they copied") {
  std::mt19937 rng(2024);
  std::vector<ContextId> ids;
  for (ContextId i = 1; i <= 30000; ++i) {
    ids.push_back(i);
  }
  for (int i = 0; i < 3000; ++i) {
    ids.push_back(static_cast<ContextId>(rng()) | 1u);  // sparse ids too
  }
  ContextIndex index = filled(30000);
  Model model;
  for (ContextId id = 1; id <= 30000; ++id) {
    model[id] = ContextInfo{id, id % 7, 0, true};
  }
  std::vector<std::pair<ContextIndex, Model>> history;
  for (int edit = 0; edit < 40; ++edit) {
    ContextIndex next = index;
    Model next_model = model;
    const int ops = edit % 4 == 0 ? 2000 : 1 + static_cast<int>(rng() % 50);
    for (int op = 0; op < ops; ++op) {
      ContextId id = ids[rng() % ids.size()];
      if (rng() % 4 == 0) {
        CHECK(next.erase(id) == (next_model.erase(id) == 1));
      } else {
        ContextInfo info{id, static_cast<uint32_t>(rng() % 5), static_cast<ServerId>(rng() % 3),
                         rng() % 2 == 0};
        auto it = next_model.find(id);
        CHECK(next.upsert(info) == (it == next_model.end() || !(it->second == info)));
        next_model[id] = info;
      }
    }
    next.end_edit();
    history.emplace_back(index, model);
    index = std::move(next);
    model = std::move(next_model);
    REQUIRE(mismatches(index, model, ids) == 0);
  }
  for (const auto& [old_index, old_model] : history) {
    REQUIRE(mismatches(old_index, old_model, ids) == 0);
  }
}

TEST_CASE("an edit copies only the shards it changes") {
  ContextIndex base = filled(200000);
  const size_t live = table_bytes_live();
  const size_t shard_bytes = base.shard(base.shard_of(5)).memory_bytes();

  ContextIndex same = base;
  CHECK_FALSE(same.upsert(*base.find(5)));  // unchanged: nothing copied
  CHECK_FALSE(same.erase(200001));          // absent: nothing copied
  same.end_edit();
  CHECK(table_bytes_live() == live);

  ContextIndex next = base;
  ContextInfo moved = *base.find(5);
  moved.server = 9;
  CHECK(next.upsert(moved));
  next.end_edit();
  CHECK(table_bytes_live() == live + shard_bytes);  // one ~25 KB shard out of ~5 MiB
  CHECK(next.find(5)->server == 9);
  CHECK(base.find(5)->server == 0);
  CHECK(next.find(6) != base.find(6));  // 6 sits in the copied shard
  ContextId elsewhere = 5;
  while (base.shard_of(elsewhere) == base.shard_of(5)) {
    elsewhere += 64;
  }
  CHECK(next.find(elsewhere) == base.find(elsewhere));  // shared: the very same slot
}

TEST_CASE("deltas that grow an index far past its shard count re-shard it") {
  ContextIndex index;  // sized for nothing: one shard
  CHECK(index.shard_count() == 1);
  ContextIndex grown = index;
  for (ContextId id = 1; id <= 20000; ++id) {
    grown.upsert(ContextInfo{id, 1, 0, true});
  }
  grown.end_edit();
  CHECK(grown.shard_count() == 32);
  CHECK(grown.size() == 20000);
  size_t missing = 0;
  for (ContextId id = 1; id <= 20000; ++id) {
    missing += grown.find(id) == nullptr;
  }
  CHECK(missing == 0);
  CHECK(index.size() == 0);
  CHECK(index.find(1) == nullptr);
}

TEST_CASE("schema table: indexes stay, edits copy one chunk, names are shared until added") {
  SchemaTable base;
  for (uint32_t i = 0; i < 600; ++i) {
    CHECK(base.append(SchemaRow{"s" + std::to_string(i), SchemaState::Enabled, i}) == i);
  }
  CHECK(base.append(SchemaRow{"s3", SchemaState::Disabled, 0}) == 600);  // duplicate name
  base.end_edit();
  CHECK(base.find("s3") == std::optional<uint32_t>(3));  // the first one

  SchemaTable next = base;
  next.set(300, SchemaRow{"s300", SchemaState::Disabled, 7});
  CHECK(next.append(SchemaRow{"new", SchemaState::Enabled, 0}) == 601);
  next.end_edit();
  CHECK(next[300].state == SchemaState::Disabled);
  CHECK(next[300].server_id == 7);
  CHECK(&next[10] == &base[10]);    // chunk 0 shared
  CHECK(&next[300] != &base[300]);  // chunk 1 copied
  CHECK(&next[550] != &base[550]);  // chunk 2 copied: it took the new row
  CHECK(next[550].name == "s550");
  CHECK(next.find("new") == std::optional<uint32_t>(601));
  CHECK(next.size() == 602);

  CHECK(base[300].state == SchemaState::Enabled);
  CHECK_FALSE(base.find("new").has_value());
  CHECK(base.size() == 601);
}

TEST_CASE("login shards fold case across shards and apply upserts and removals per shard") {
  LoginShards base(5000, true);
  for (ContextId i = 1; i <= 5000; ++i) {
    CHECK(base.upsert("User" + std::to_string(i) + "@Example.COM", i));
  }
  base.end_edit();
  CHECK(base.size() == 5000);
  CHECK(base.find("user77@example.com") == std::optional<ContextId>(77));
  CHECK(base.find("USER77@EXAMPLE.COM") == std::optional<ContextId>(77));

  LoginShards next = base;
  size_t rejected = 0;
  next.apply({{"USER77@example.com", 9}, {"fresh@x", 5}, {"both@x", 6}, {"zero@x", 0}},
             {"user78@EXAMPLE.com", "both@x", "nobody@x"}, &rejected);
  next.end_edit();
  CHECK(rejected == 1);
  CHECK(next.find("user77@example.com") == std::optional<ContextId>(9));
  CHECK_FALSE(next.find("user78@example.com").has_value());
  CHECK(next.find("FRESH@X") == std::optional<ContextId>(5));
  CHECK_FALSE(next.find("both@x").has_value());
  CHECK(next.size() == 5000);  // +fresh -78
  size_t wrong = 0;
  for (ContextId i = 1; i <= 5000; ++i) {
    if (i != 77 && i != 78) {
      wrong +=
          next.find("user" + std::to_string(i) + "@example.com") != std::optional<ContextId>(i);
    }
  }
  CHECK(wrong == 0);
  CHECK(base.find("user77@example.com") == std::optional<ContextId>(77));
  CHECK(base.find("user78@example.com") == std::optional<ContextId>(78));
  CHECK_FALSE(base.find("fresh@x").has_value());
}
