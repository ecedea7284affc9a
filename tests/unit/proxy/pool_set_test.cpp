// proxy/pool_set.h: which pools an instance should have (YAML overlaid by sy_pools rows) and the
// steps from the registry's live pools there.

#include "proxy/pool_set.h"

#include <catch.hpp>

using namespace sy;
using namespace sy::proxy;

namespace {

conf::Pool pool(const char* name, conf::Balance balance = conf::Balance::RoundRobin,
                const char* member = "127.0.0.1:81") {
  conf::Pool p;
  p.name = name;
  p.balance = balance;
  conf::Member m;
  m.address = member;
  p.members.push_back(m);
  return p;
}

PoolOverride row(const char* name, bool removed = false,
                 conf::Balance balance = conf::Balance::RoundRobin) {
  PoolOverride o;
  o.name = name;
  o.removed = removed;
  o.settings = pool(name, balance);
  o.settings.members.clear();
  return o;
}

std::vector<std::string> names(const std::vector<WantedPool>& w) {
  std::vector<std::string> out;
  for (const auto& p : w) {
    out.push_back(p.pool.name + "/" + to_string(p.origin));
  }
  return out;
}

}  // namespace

TEST_CASE("merge_pools: the database's rows add, replace and remove YAML pools by name") {
  std::vector<conf::Pool> yaml = {pool("main"), pool("old"), pool("new")};
  std::vector<PoolOverride> db = {row("extra"), row("old", /*removed=*/true),
                                  row("new", false, conf::Balance::LeastConn),
                                  row("gone", /*removed=*/true)};
  auto out = merge_pools(yaml, db);
  CHECK(names(out) == std::vector<std::string>{"main/yaml", "new/db", "extra/db"});
  CHECK(out[1].pool.balance == conf::Balance::LeastConn);
  CHECK(merge_pools(yaml, {}).size() == 3);
  CHECK(merge_pools({}, {row("x", true)}).empty());
}

TEST_CASE("same_settings ignores members, compares every setting") {
  conf::Pool a = pool("p");
  conf::Pool b = pool("p", conf::Balance::RoundRobin, "127.0.0.1:99");
  CHECK(same_settings(a, b));
  b.connect_timeout = conf::Millis{5};
  CHECK_FALSE(same_settings(a, b));
  b = a;
  b.tls.enabled = true;
  CHECK_FALSE(same_settings(a, b));
}

TEST_CASE("plan_pools: add, replace on new settings, origin only, remove what is not wanted") {
  conf::Pool main = pool("main"), old = pool("old"), moved = pool("moved");
  std::vector<LivePool> live = {
      {&main, MemberOrigin::Yaml}, {&old, MemberOrigin::Yaml}, {&moved, MemberOrigin::Yaml}};
  std::vector<WantedPool> wanted = {{pool("main"), MemberOrigin::Yaml},
                                    {pool("moved"), MemberOrigin::Db},
                                    {pool("extra"), MemberOrigin::Db},
                                    {pool("old", conf::Balance::LeastConn), MemberOrigin::Yaml}};
  auto steps = plan_pools(live, wanted);
  REQUIRE(steps.size() == 3);
  CHECK(steps[0].kind == PoolStep::Kind::Origin);
  CHECK(steps[0].name == "moved");
  CHECK(steps[1].kind == PoolStep::Kind::Add);
  CHECK(steps[1].name == "extra");
  CHECK(steps[2].kind == PoolStep::Kind::Replace);
  CHECK(steps[2].wanted.pool.balance == conf::Balance::LeastConn);

  auto removal = plan_pools(live, {{pool("main"), MemberOrigin::Yaml}});
  REQUIRE(removal.size() == 2);
  CHECK((removal[0].kind == PoolStep::Kind::Remove && removal[0].name == "old"));
  CHECK((removal[1].kind == PoolStep::Kind::Remove && removal[1].name == "moved"));

  CHECK(plan_pools(live, {{pool("main"), MemberOrigin::Yaml},
                          {pool("old"), MemberOrigin::Yaml},
                          {pool("moved"), MemberOrigin::Yaml}})
            .empty());
}
