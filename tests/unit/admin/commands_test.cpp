// admin/commands.h: dispatch through the one table with an in-memory AdminContext (no
// database): each kind of mistake gets its own error code, privilege is enforced, and `help`
// lists every row.

#include "admin/commands.h"

#include <catch.hpp>

#include <string>
#include <vector>

using namespace sy::admin;

namespace {

struct Fixture {
  AdminContext ctx;
  ServerOptions options;
  std::atomic<bool> running{false};
  Stores stores{StoreOptions{}};  // no database configured
  CommandEnv env;
  MemberRuntime last;

  Fixture() {
    ctx.instance_id = "test";
    ctx.stats = [] { return StatsView{}; };
    ctx.pools = [] {
      PoolView p;
      p.name = "old";
      MemberView m;
      m.address = "127.0.0.1:9001";
      m.inflight = 2;
      p.members.push_back(m);
      return std::vector<PoolView>{p};
    };
    ctx.set_member = [this](const MemberRuntime& m) {
      last = m;
      return true;
    };
    env.ctx = &ctx;
    env.options = &options;
    env.upgrade_running = &running;
    env.stores = &stores;
  }

  Reply run(const std::string& line, Privilege level = Privilege::Admin) {
    auto words = tokenize(line);
    REQUIRE(words.ok());
    return dispatch(env, make_request(words.value()), level);
  }
};

}  // namespace

TEST_CASE("every mistake has its own error code") {
  Fixture f;
  CHECK(f.run("bogus").code == "unknown-command");
  CHECK(f.run("show bogus").code == "unknown-command");
  CHECK_THAT(f.run("show bogus").message, Catch::Contains("show stats"));
  Reply usage = f.run("show context");
  CHECK(usage.code == "usage");
  CHECK(usage.message == "show context ID");
  CHECK(f.run("show context 1 2").code == "usage");
  CHECK(f.run("show info --nope").code == "usage");
  CHECK(f.run("pool member wait old 127.0.0.1:9001 --timeout").code == "usage");
  CHECK(f.run("show context abc").code == "invalid-argument");
  CHECK(f.run("pool member weight old 127.0.0.1:9001 999").code == "invalid-argument");
  CHECK(f.run("pool member drain old 127.0.0.1:1").code == "not-found");
  CHECK(f.run("pool member drain nopool x").code == "not-found");
  CHECK(f.run("show servers").code == "database");
  CHECK(f.run("").code == "usage");
  // --resume-from (runs S) and --continue-after / OX's -m (starts after S) exclude each other;
  // -m is --continue-after's short spelling; other short flags are unknown.
  CHECK(f.run("upgrade schemata --server x --resume-from a -m b").code == "usage");
  CHECK(f.run("upgrade schemata --server x -m b").code == "database");
  CHECK(f.run("upgrade schemata -n x -f -k a,b -m c").code == "database");  // OX's spelling
  CHECK(f.run("upgrade schemata -f").code == "usage");  // -f takes no value, -n is missing
  CHECK(f.run("upgrade schemata --server x -q b").code == "usage");
  // A required flag is a bit of its row in the table; dispatch names the missing one.
  for (const char* cmd : {"upgrade schemata --continue", "schema move s1"}) {
    INFO(cmd);
    Reply r = f.run(cmd);
    CHECK(r.code == "usage");
    CHECK(r.message.find("(missing --server)") != std::string::npos);
  }
}

TEST_CASE("the profile decides what the directory commands may do") {
  Fixture f;
  StoreOptions sql;
  sql.profile = sy::conf::Profile::Sql;
  sql.dsns.push_back(sy::store::Dsn{});
  Stores read_only(sql);
  f.env.stores = &read_only;
  Reply r = f.run("schema disable s1");
  CHECK(r.code == "read-only");
  CHECK_THAT(r.message, Catch::Contains("profile own or ox"));
  CHECK(f.run("upgrade schemata --server x").code == "read-only");
  // Member state needs a state database; profile sql has none here: applied, not persisted.
  REQUIRE(f.run("pool member drain old 127.0.0.1:9001").ok);
}

TEST_CASE("admin commands are refused on a read-only listener") {
  Fixture f;
  Reply r = f.run("pool member drain old 127.0.0.1:9001", Privilege::ReadOnly);
  CHECK(r.code == "permission");
  CHECK(f.run("show info", Privilege::ReadOnly).ok);
  CHECK(f.run("help", Privilege::ReadOnly).ok);
}

TEST_CASE("member commands apply through the context (no database: not persisted)") {
  Fixture f;
  Reply r = f.run("pool member drain old 127.0.0.1:9001");
  REQUIRE(r.ok);
  CHECK(f.last.admin == MemberAdmin::Drain);
  CHECK_THAT(render_reply(r, false), Catch::Contains("not persisted"));
  REQUIRE(f.run("pool member weight old 127.0.0.1:9001 7").ok);
  CHECK(f.last.weight == 7);
  // wait: 2 requests in flight and a 0 ms timeout -> says why.
  Reply w = f.run("pool member wait old 127.0.0.1:9001 --timeout 0ms");
  REQUIRE(w.poll);
  auto done = w.poll();
  REQUIRE(done);
  CHECK(done->code == "timeout");
  CHECK_THAT(done->message, Catch::Contains("2 request(s) still in flight"));
}

TEST_CASE("drain waits for a member's tunnels, then cuts them and says how many") {
  Fixture f;
  uint64_t tunnels = 3;
  int cuts = 0;
  f.ctx.pools = [&tunnels] {
    PoolView p;
    p.name = "old";
    MemberView m;
    m.address = "127.0.0.1:9001";
    m.inflight = tunnels;
    m.tunnels = tunnels;
    p.members.push_back(m);
    return std::vector<PoolView>{p};
  };
  f.ctx.cut_tunnels = [&cuts](const std::string& pool, const std::string& member) {
    CHECK(pool == "old");
    CHECK(member == "127.0.0.1:9001");
    ++cuts;
    return true;
  };
  CHECK(f.run("pool member drain old 127.0.0.1:9001 --tunnel-wait soon").code ==
        "invalid-argument");
  // A bound of 0: the first poll cuts the three tunnels; the reply comes once they are gone.
  Reply r = f.run("pool member drain old 127.0.0.1:9001 --tunnel-wait 0ms");
  REQUIRE(r.ok);
  REQUIRE(r.poll);
  CHECK(f.last.admin == MemberAdmin::Drain);
  CHECK_FALSE(r.poll());
  CHECK(cuts == 1);
  CHECK_FALSE(r.poll());
  CHECK(cuts == 1);
  tunnels = 0;
  auto done = r.poll();
  REQUIRE(done);
  REQUIRE(done->ok);
  CHECK_THAT(render_reply(*done, true), Catch::Contains("\"tunnels_cut\":3"));
  // Their peers closed them within the bound: nothing cut.
  tunnels = 1;
  Reply w = f.run("pool member drain old 127.0.0.1:9001 --tunnel-wait 1h");
  REQUIRE(w.poll);
  CHECK_FALSE(w.poll());
  tunnels = 0;
  auto closed = w.poll();
  REQUIRE(closed);
  CHECK_THAT(render_reply(*closed, true), Catch::Contains("\"tunnels_cut\":0"));
  CHECK(cuts == 1);
  // No tunnel open: the reply is immediate, as before.
  CHECK_FALSE(f.run("pool member drain old 127.0.0.1:9001").poll);
}

TEST_CASE("help lists every row of the table, in text and JSON") {
  Fixture f;
  Reply r = f.run("help --json");
  REQUIRE(r.ok);
  std::string json = render_reply(r, true);
  std::string text = render_reply(f.run("help"), false);
  for (const auto& c : command_table()) {
    CHECK_THAT(json, Catch::Contains(json_escape(c.usage())));
    CHECK_THAT(text, Catch::Contains(c.usage()));
  }
  CHECK(text.find("\n\n") == std::string::npos);  // an empty line would end the reply
}
