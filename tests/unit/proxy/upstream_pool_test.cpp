// proxy/upstream_pool.h: WorkerPool::pick honours the admin state and weight override of
// MemberState — drained and maintenance members are never picked, not even in panic mode —
// and the in-flight mirror follows exchange_started/finished; a new member set keeps the kept
// members' worker state, adds new ones and retires gone ones until nothing uses them.

#include "proxy/upstream_pool.h"

#include <sys/un.h>

#include <catch.hpp>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "conf/load.h"
#include "proxy/member_set.h"
#include "proxy/stats.h"
#include "proxy/sticky.h"

using namespace sy;
using namespace sy::proxy;

namespace {

conf::Config config(const char* balance) {
  auto r = conf::load_config_string(std::string("listeners: [{name: m, port: 1, pool: p}]\n"
                                                "pools:\n"
                                                "  - name: p\n"
                                                "    balance: ") +
                                    balance +
                                    "\n"
                                    "    members:\n"
                                    "      - {address: '127.0.0.1:1', weight: 1}\n"
                                    "      - {address: '127.0.0.1:2', weight: 1}\n"
                                    "      - {address: '127.0.0.1:3', weight: 1}\n");
  REQUIRE(r.ok());
  return r.config;
}

std::map<std::string, int> picks(WorkerPool& pool, int n, bool* any_panic = nullptr) {
  std::map<std::string, int> out;
  for (int i = 0; i < n; ++i) {
    bool panic = false;
    WorkerMember* m = pool.pick(0, 1000, &panic);
    if (any_panic != nullptr) {
      *any_panic = *any_panic || panic;
    }
    out[m == nullptr ? "none" : m->shared->label]++;
  }
  return out;
}

MemberState* at(const PoolState* ps, size_t i) { return ps->members()->at(i).get(); }

void set_admin(MemberState* m, MemberAdminState s) {
  m->admin.store(static_cast<uint8_t>(s), std::memory_order_relaxed);
}

}  // namespace

TEST_CASE("drained and maintenance members are never picked") {
  for (const char* balance : {"round_robin", "least_conn"}) {
    conf::Config c = config(balance);
    auto reg = PoolRegistry::build(c);
    REQUIRE(reg.ok());
    const PoolState* ps = (*reg)->find("p");
    WorkerStats stats;
    WorkerPool pool(ps, nullptr, &stats);
    CHECK(picks(pool, 30).size() == 3);
    set_admin(at(ps, 0), MemberAdminState::Drain);
    set_admin(at(ps, 1), MemberAdminState::Maintenance);
    CHECK(picks(pool, 30) == std::map<std::string, int>{{"127.0.0.1:3", 30}});
    // Panic mode (every member unhealthy) still skips them.
    for (auto& m : *ps->members()) {
      m->healthy.store(false);
    }
    bool panic = false;
    CHECK(picks(pool, 10, &panic) == std::map<std::string, int>{{"127.0.0.1:3", 10}});
    CHECK(panic);
    set_admin(at(ps, 2), MemberAdminState::Drain);
    CHECK(picks(pool, 3) == std::map<std::string, int>{{"none", 3}});
    set_admin(at(ps, 0), MemberAdminState::Ready);
    CHECK(picks(pool, 3) == std::map<std::string, int>{{"127.0.0.1:1", 3}});
  }
}

TEST_CASE("the weight override replaces the configured weight") {
  conf::Config c = config("round_robin");
  auto reg = PoolRegistry::build(c);
  REQUIRE(reg.ok());
  const PoolState* ps = (*reg)->find("p");
  WorkerStats stats;
  WorkerPool pool(ps, nullptr, &stats);
  at(ps, 0)->weight_override.store(8);
  auto p = picks(pool, 100);
  CHECK(p["127.0.0.1:1"] == 80);
  CHECK(p["127.0.0.1:2"] == 10);
  at(ps, 0)->weight_override.store(0);
  at(ps, 1)->yaml_weight.store(3);  // a reload
  p = picks(pool, 50);
  CHECK(p["127.0.0.1:2"] == 30);
}

TEST_CASE("the in-flight mirror and pool counters are readable from any thread") {
  conf::Config c = config("least_conn");
  auto reg = PoolRegistry::build(c);
  REQUIRE(reg.ok());
  WorkerStats stats;
  WorkerPool pool((*reg)->find("p"), nullptr, &stats);
  pool.upstream_attached(&pool.member(1));
  pool.upstream_attached(&pool.member(1));
  CHECK(pool.member(1).shared->inflight_total() == 2);
  CHECK(pool.member(0).shared->inflight_total() == 0);
  pool.upstream_released(&pool.member(1));
  CHECK(pool.member(1).shared->inflight_total() == 1);
  pool.count_request();
  pool.count_5xx();
  CHECK(pool.requests() == 1);
  CHECK(pool.responses_5xx() == 1);
}

TEST_CASE("a new member set keeps kept members, adds new ones and retires gone ones") {
  conf::Config c = config("round_robin");
  auto reg = PoolRegistry::build(c, 2);
  REQUIRE(reg.ok());
  PoolState* ps = (*reg)->find("p");
  WorkerStats stats;
  WorkerPool pool(ps, nullptr, &stats, 1);
  WorkerMember* kept = &pool.member(0);
  WorkerMember* gone = &pool.member(2);
  kept->consecutive_failures = 1;  // worker-side state survives the swap
  // An exchange in flight on the member about to go.
  WorkerPool::pin(gone);
  pool.upstream_attached(gone);
  CHECK(gone->shared->inflight_total() == 1);

  std::vector<MemberSpec> wanted = yaml_specs(c.pools[0]);
  wanted.pop_back();
  MemberSpec added;
  added.address = "127.0.0.1:4";
  added.host = "127.0.0.1";
  added.port = 4;
  added.weight = 2;
  added.origin = MemberOrigin::Db;
  wanted.push_back(added);
  auto plan = plan_members(*ps, *ps->members(), wanted);
  REQUIRE(plan.ok());
  CHECK(plan->membership_changed);
  CHECK(plan->changes == std::vector<std::string>{"member 127.0.0.1:4 added (db)",
                                                  "member 127.0.0.1:3 removed (in-flight "
                                                  "requests finish)"});
  ps->publish(plan->set);
  pool.apply(plan->set);
  REQUIRE(pool.size() == 3);
  CHECK(&pool.member(0) == kept);
  CHECK(kept->consecutive_failures == 1);
  CHECK(pool.member(2).shared->address == "127.0.0.1:4");
  CHECK(pool.member(2).shared->origin.load() == MemberOrigin::Db);
  CHECK(gone->retired);
  // The retired member is never picked; the new one is, by its weight.
  auto p = picks(pool, 40);
  CHECK(p.count("127.0.0.1:3") == 0);
  CHECK(p["127.0.0.1:4"] == 20);
  // Still in use: neither the worker's half nor the shared half is freed.
  CHECK(pool.sweep_retired() == 1);
  CHECK(ps->collect() == 1);
  pool.upstream_released(gone);
  WorkerPool::unpin(gone);
  CHECK(pool.sweep_retired() == 0);
  CHECK(ps->collect() == 0);
}

TEST_CASE("members merge: the database wins over the YAML, tombstones remove") {
  conf::Config c = config("round_robin");
  std::vector<MemberSpec> yaml = yaml_specs(c.pools[0]);
  auto spec = [](const char* address, int port, int weight) {
    MemberSpec s;
    s.address = address;
    s.host = "127.0.0.1";
    s.port = port;
    s.weight = weight;
    s.origin = MemberOrigin::Db;
    return s;
  };
  std::vector<MemberOverride> db = {{spec("127.0.0.1:9", 9, 1), false},
                                    {spec("127.0.0.1:2", 2, 7), false},
                                    {spec("127.0.0.1:3", 3, 1), true}};
  auto merged = merge_members(yaml, db);
  REQUIRE(merged.size() == 3);
  CHECK(merged[0].address == "127.0.0.1:1");
  CHECK(merged[0].origin == MemberOrigin::Yaml);
  CHECK(merged[1].address == "127.0.0.1:2");
  CHECK(merged[1].weight == 7);
  CHECK(merged[1].origin == MemberOrigin::Db);
  CHECK(merged[2].address == "127.0.0.1:9");

  // A kept member's weight change is an update, not a new member.
  auto reg = PoolRegistry::build(c);
  REQUIRE(reg.ok());
  PoolState* ps = (*reg)->find("p");
  auto plan = plan_members(*ps, *ps->members(), merged);
  REQUIRE(plan.ok());
  CHECK(plan->membership_changed);
  REQUIRE(plan->updates.size() == 1);
  CHECK(plan->updates[0].member.get() == at(ps, 1));
  apply_updates(*plan);
  CHECK(at(ps, 1)->yaml_weight.load() == 7);
  CHECK(plan->set->at(1).get() == at(ps, 1));
  // An address that is not an IP literal is refused and named.
  MemberSpec bad = spec("app.internal:80", 80, 1);
  bad.host = "app.internal";
  auto refused = plan_members(*ps, *ps->members(), {bad});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message == "pool p: member address app.internal:80 is not an IP literal");
}

TEST_CASE("a kept member's weight and origin changes are named") {
  conf::Config c = config("round_robin");
  auto reg = PoolRegistry::build(c);
  REQUIRE(reg.ok());
  PoolState* ps = (*reg)->find("p");
  std::vector<MemberSpec> wanted = yaml_specs(c.pools[0]);
  wanted[0].weight = 3;
  wanted[1].origin = MemberOrigin::Db;
  auto plan = plan_members(*ps, *ps->members(), wanted);
  REQUIRE(plan.ok());
  CHECK_FALSE(plan->membership_changed);
  CHECK(plan->changes == std::vector<std::string>{"member 127.0.0.1:1 weight: 1 -> 3",
                                                  "member 127.0.0.1:2 now from db"});
}

namespace {

conf::Config load_ok(const std::string& yaml) {
  auto r = conf::load_config_string("listeners: [{name: m, port: 1, pool: p}]\n" + yaml);
  INFO((r.errors.empty() ? std::string() : r.errors[0].message));
  REQUIRE(r.ok());
  return r.config;
}

// An HttpRequest with one Cookie field.
struct CookieRequest {
  std::vector<Field> fields;
  HttpRequest req;
  explicit CookieRequest(std::string_view cookie) {
    fields.push_back(Field{"Cookie", cookie});
    req.fields = fields.data();
    req.num_fields = fields.size();
  }
};

WorkerMember* named(const WorkerPool& pool, std::string_view cookie) {
  return pool.sticky_member(CookieRequest(cookie).req).member;
}

}  // namespace

TEST_CASE("a sticky cookie names a member while it can take requests") {
  conf::Config c = load_ok(
      "pools:\n"
      "  - name: p\n"
      "    sticky: {mode: insert, secret: k}\n"
      "    members:\n"
      "      - {address: '127.0.0.1:1', route: a}\n"
      "      - {address: '127.0.0.1:2'}\n");
  auto reg = PoolRegistry::build(c);
  REQUIRE(reg.ok());
  const PoolState* ps = (*reg)->find("p");
  WorkerStats stats;
  WorkerPool pool(ps, nullptr, &stats);
  const std::string& hashed = at(ps, 1)->sticky_id;
  CHECK(hashed.size() == 16);
  CHECK(at(ps, 0)->set_cookie[0] == "SYSRV=a; Path=/; HttpOnly; SameSite=Lax");
  CHECK(at(ps, 1)->set_cookie[1] ==
        "SYSRV=" + hashed + "; Path=/; HttpOnly; SameSite=Lax; Secure");
  CHECK(named(pool, "x=1; SYSRV=a") == &pool.member(0));
  std::string second = "SYSRV=" + hashed;
  CHECK(named(pool, second) == &pool.member(1));
  CHECK(pool.sticky_member(CookieRequest("SYSRV=127.0.0.1:2").req).unknown);
  CHECK(named(pool, "SYSRV=127.0.0.1:2") == nullptr);
  CHECK_FALSE(pool.sticky_member(CookieRequest("other=a").req).unknown);
  CHECK(named(pool, "other=a") == nullptr);

  WorkerMember* m1 = &pool.member(1);
  CHECK(pool.sticky_pick(m1, 0, 1000) == m1);
  CHECK(pool.sticky_pick(m1, uint64_t{1} << 1, 1000) == nullptr);  // failed to connect: excluded
  at(ps, 1)->healthy.store(false);
  CHECK(pool.sticky_pick(m1, 0, 1000) == nullptr);
  at(ps, 1)->healthy.store(true);
  set_admin(at(ps, 1), MemberAdminState::Drain);
  CHECK(pool.sticky_pick(m1, 0, 1000) == nullptr);
  set_admin(at(ps, 1), MemberAdminState::Ready);
  m1->ejected_until_ms = 2000;
  CHECK(pool.sticky_pick(m1, 0, 1000) == nullptr);
  CHECK(pool.sticky_pick(m1, 0, 2000) == m1);
  CHECK(pool.sticky_pick(nullptr, 0, 1000) == nullptr);
}

TEST_CASE("route mode reads the application's cookie suffix") {
  conf::Config c = load_ok(
      "pools:\n"
      "  - name: p\n"
      "    sticky: {mode: route}\n"
      "    members:\n"
      "      - {address: '127.0.0.1:1', route: node1}\n"
      "      - {address: '127.0.0.1:2', route: node2}\n");
  auto reg = PoolRegistry::build(c);
  REQUIRE(reg.ok());
  WorkerStats stats;
  WorkerPool pool((*reg)->find("p"), nullptr, &stats);
  CHECK(at((*reg)->find("p"), 0)->set_cookie[0].empty());  // nothing is inserted
  CHECK(named(pool, "JSESSIONID=abc.node2") == &pool.member(1));
  CHECK(named(pool, "JSESSIONID=abc") == nullptr);
  CHECK_FALSE(pool.sticky_member(CookieRequest("JSESSIONID=abc").req).unknown);
  CHECK(pool.sticky_member(CookieRequest("JSESSIONID=abc.node3").req).unknown);
}

TEST_CASE("a unix: member gets an AF_UNIX address and localhost as its Host") {
  conf::Config c = load_ok(
      "pools:\n"
      "  - name: p\n"
      "    members: [{address: 'unix:/run/app.sock'}, {address: '127.0.0.1:2'}]\n");
  auto reg = PoolRegistry::build(c);
  REQUIRE(reg.ok());
  const MemberState& m = *at((*reg)->find("p"), 0);
  REQUIRE(m.addr.ss_family == AF_UNIX);
  CHECK(std::string(reinterpret_cast<const sockaddr_un*>(&m.addr)->sun_path) == "/run/app.sock");
  CHECK(m.addr_len == offsetof(sockaddr_un, sun_path) + sizeof("/run/app.sock"));
  CHECK(m.label == "unix:/run/app.sock");
  CHECK(m.host_header == "localhost");
  CHECK(at((*reg)->find("p"), 1)->host_header == "127.0.0.1:2");
}

TEST_CASE("a member added at runtime gets its sticky id; a route change is a new member") {
  conf::Config c = load_ok(
      "pools:\n"
      "  - name: p\n"
      "    sticky: {mode: insert, secret: k}\n"
      "    members: [{address: '127.0.0.1:1', route: a}]\n");
  auto reg = PoolRegistry::build(c);
  REQUIRE(reg.ok());
  PoolState* ps = (*reg)->find("p");
  WorkerStats stats;
  WorkerPool pool(ps, nullptr, &stats);
  std::vector<MemberSpec> wanted = yaml_specs(c.pools[0]);
  MemberSpec added;
  added.address = "unix:/run/app.sock";
  added.unix_path = "/run/app.sock";
  added.origin = MemberOrigin::Db;
  wanted.push_back(added);
  auto plan = plan_members(*ps, *ps->members(), wanted);
  REQUIRE(plan.ok());
  ps->publish(plan->set);
  pool.apply(plan->set);
  REQUIRE(pool.size() == 2);
  const MemberState& runtime = *at(ps, 1);
  CHECK(runtime.addr.ss_family == AF_UNIX);
  CHECK(runtime.sticky_id == sticky_member_id(c.pools[0], "", "unix:/run/app.sock"));
  CHECK(runtime.set_cookie[0] == "SYSRV=" + runtime.sticky_id + "; Path=/; HttpOnly; SameSite=Lax");
  CHECK(named(pool, "SYSRV=" + runtime.sticky_id) == &pool.member(1));

  wanted[0].route = "b";  // the id is part of what the member is: a new MemberState
  auto renamed = plan_members(*ps, *ps->members(), wanted);
  REQUIRE(renamed.ok());
  CHECK(renamed->membership_changed);
  CHECK(renamed->set->at(0).get() != at(ps, 0));
  CHECK(renamed->set->at(0)->sticky_id == "b");
  CHECK(renamed->set->at(1).get() == at(ps, 1));
}

TEST_CASE("pools added at runtime take new slots; removed ones keep theirs and are not found") {
  conf::Config c = config("round_robin");
  auto reg = PoolRegistry::build(c);
  REQUIRE(reg.ok());
  PoolRegistry& r = **reg;
  REQUIRE(r.pools().size() == 1);
  conf::Pool extra;
  extra.name = "extra";
  extra.balance = conf::Balance::LeastConn;
  auto added = r.add(extra, MemberOrigin::Db);
  REQUIRE(added.ok());
  CHECK((*added)->index == 1);
  CHECK((*added)->conf->balance == conf::Balance::LeastConn);
  CHECK((*added)->origin.load() == MemberOrigin::Db);
  CHECK((*added)->members()->empty());
  CHECK(r.find("extra") == *added);
  (*added)->removed.store(true);
  CHECK(r.find("extra") == nullptr);
  CHECK(r.pools().size() == 2);  // the slot stays
  auto again = r.add(extra, MemberOrigin::Yaml);
  REQUIRE(again.ok());
  CHECK((*again)->index == 2);
  CHECK(r.find("extra") == *again);
  for (size_t i = r.pools().size(); i < kMaxPools; ++i) {
    REQUIRE(r.add(extra, MemberOrigin::Db).ok());
  }
  auto full = r.add(extra, MemberOrigin::Db);
  REQUIRE_FALSE(full.ok());
  CHECK(full.error().message.find("pool slots") != std::string::npos);
}
