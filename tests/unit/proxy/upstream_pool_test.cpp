// proxy/upstream_pool.h: WorkerPool::pick honours the admin state and weight override of
// MemberState — drained and maintenance members are never picked, not even in panic mode —
// and the in-flight mirror follows exchange_started/finished.

#include "proxy/upstream_pool.h"

#include <catch.hpp>

#include <map>
#include <string>

#include "conf/load.h"
#include "proxy/stats.h"

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
    set_admin(ps->members[0].get(), MemberAdminState::Drain);
    set_admin(ps->members[1].get(), MemberAdminState::Maintenance);
    CHECK(picks(pool, 30) == std::map<std::string, int>{{"127.0.0.1:3", 30}});
    // Panic mode (every member unhealthy) still skips them.
    for (auto& m : ps->members) {
      m->healthy.store(false);
    }
    bool panic = false;
    CHECK(picks(pool, 10, &panic) == std::map<std::string, int>{{"127.0.0.1:3", 10}});
    CHECK(panic);
    set_admin(ps->members[2].get(), MemberAdminState::Drain);
    CHECK(picks(pool, 3) == std::map<std::string, int>{{"none", 3}});
    set_admin(ps->members[0].get(), MemberAdminState::Ready);
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
  ps->members[0]->weight_override.store(8);
  auto p = picks(pool, 100);
  CHECK(p["127.0.0.1:1"] == 80);
  CHECK(p["127.0.0.1:2"] == 10);
  ps->members[0]->weight_override.store(0);
  ps->members[1]->yaml_weight.store(3);  // a reload
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
  CHECK(pool.inflight_on(1) == 2);
  CHECK(pool.inflight_on(0) == 0);
  pool.upstream_released(&pool.member(1));
  CHECK(pool.inflight_on(1) == 1);
  pool.count_request();
  pool.count_5xx();
  CHECK(pool.requests() == 1);
  CHECK(pool.responses_5xx() == 1);
}
