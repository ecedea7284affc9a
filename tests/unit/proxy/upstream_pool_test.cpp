// proxy/upstream_pool.h: WorkerPool::pick honours the admin state and weight override of
// MemberState — drained and maintenance members are never picked, not even in panic mode —
// and the in-flight mirror follows exchange_started/finished.

#include "proxy/upstream_pool.h"

#include <sys/un.h>

#include <catch.hpp>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

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
  const std::string& hashed = ps->members[1]->sticky_id;
  CHECK(hashed.size() == 16);
  CHECK(ps->members[0]->set_cookie[0] == "SYSRV=a; Path=/; HttpOnly; SameSite=Lax");
  CHECK(ps->members[1]->set_cookie[1] ==
        "SYSRV=" + hashed + "; Path=/; HttpOnly; SameSite=Lax; Secure");
  CHECK(pool.sticky_member(CookieRequest("x=1; SYSRV=a").req) == 0);
  std::string second = "SYSRV=" + hashed;
  CHECK(pool.sticky_member(CookieRequest(second).req) == 1);
  CHECK(pool.sticky_member(CookieRequest("SYSRV=127.0.0.1:2").req) == WorkerPool::kStickyUnknown);
  CHECK(pool.sticky_member(CookieRequest("other=a").req) == -1);

  CHECK(pool.sticky_pick(1, 0, 1000) == &pool.member(1));
  CHECK(pool.sticky_pick(1, uint64_t{1} << 1, 1000) == nullptr);  // failed to connect: excluded
  ps->members[1]->healthy.store(false);
  CHECK(pool.sticky_pick(1, 0, 1000) == nullptr);
  ps->members[1]->healthy.store(true);
  set_admin(ps->members[1].get(), MemberAdminState::Drain);
  CHECK(pool.sticky_pick(1, 0, 1000) == nullptr);
  set_admin(ps->members[1].get(), MemberAdminState::Ready);
  pool.member(1).ejected_until_ms = 2000;
  CHECK(pool.sticky_pick(1, 0, 1000) == nullptr);
  CHECK(pool.sticky_pick(1, 0, 2000) == &pool.member(1));
  CHECK(pool.sticky_pick(-1, 0, 1000) == nullptr);
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
  CHECK((*reg)->find("p")->members[0]->set_cookie[0].empty());  // nothing is inserted
  CHECK(pool.sticky_member(CookieRequest("JSESSIONID=abc.node2").req) == 1);
  CHECK(pool.sticky_member(CookieRequest("JSESSIONID=abc").req) == -1);
  CHECK(pool.sticky_member(CookieRequest("JSESSIONID=abc.node3").req) ==
        WorkerPool::kStickyUnknown);
}

TEST_CASE("a unix: member gets an AF_UNIX address and localhost as its Host") {
  conf::Config c = load_ok(
      "pools:\n"
      "  - name: p\n"
      "    members: [{address: 'unix:/run/app.sock'}, {address: '127.0.0.1:2'}]\n");
  auto reg = PoolRegistry::build(c);
  REQUIRE(reg.ok());
  const MemberState& m = *(*reg)->find("p")->members[0];
  REQUIRE(m.addr.ss_family == AF_UNIX);
  CHECK(std::string(reinterpret_cast<const sockaddr_un*>(&m.addr)->sun_path) == "/run/app.sock");
  CHECK(m.addr_len == offsetof(sockaddr_un, sun_path) + sizeof("/run/app.sock"));
  CHECK(m.label == "unix:/run/app.sock");
  CHECK(m.host_header == "localhost");
  CHECK((*reg)->find("p")->members[1]->host_header == "127.0.0.1:2");
}
