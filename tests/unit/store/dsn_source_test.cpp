// store/dsn_source.h: the DSN lists a reload changes, and which list each session uses. Pure
// except for the one connect that fills a session row (the private MariaDB).

#include "store/dsn_source.h"

#include <catch.hpp>

#include "unit/test_db.h"

using namespace sy::store;

namespace {

Dsn at(int port) {
  Dsn d;
  d.port = port;
  d.user = "sy";
  d.database = "dir";
  return d;
}

}  // namespace

TEST_CASE("the loader's state session: state servers, else the writers when it reads replicas") {
  DsnLists one{{at(1)}, {}, {}};
  CHECK(one.read() == std::vector<Dsn>{at(1)});
  CHECK(one.loader_state().empty());  // the directory session writes the heartbeats itself
  DsnLists replicas{{at(1)}, {at(2), at(3)}, {}};
  CHECK(replicas.read() == std::vector<Dsn>{at(2), at(3)});
  CHECK(replicas.loader_state() == std::vector<Dsn>{at(1)});  // never a replica
  DsnLists state{{at(1)}, {at(2)}, {at(9)}};
  CHECK(state.loader_state() == std::vector<Dsn>{at(9)});
}

TEST_CASE("set() changes the generation only when the lists change") {
  DsnSource src(DsnLists{{at(1)}, {}, {}});
  const uint64_t g0 = src.generation();
  CHECK_FALSE(src.set(DsnLists{{at(1)}, {}, {}}));
  CHECK(src.generation() == g0);
  CHECK(src.set(DsnLists{{at(2)}, {}, {}}));
  CHECK(src.generation() == g0 + 1);
  CHECK(src.lists().writers == std::vector<Dsn>{at(2)});
}

TEST_CASE("sessions say where they are, what they passed over and why they left") {
  sy::test::TestDb t;
  DsnSource src(DsnLists{{t.dsn}, {}, {}});
  Dsn dead = t.dsn;
  dead.port = 1;
  auto db = Db::connect({dead, t.dsn}, std::chrono::seconds(1), std::chrono::seconds(5),
                        DsnRole::Reader);
  REQUIRE(db.ok());
  src.connected("loader", **db);
  src.left("loader", **db, "wsrep_local_state is 2");
  src.failed("admin directory", sy::make_error(sy::Errc::Database, "no database reachable"));
  auto rows = src.sessions();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].who == "admin directory");
  CHECK(rows[0].error == "no database reachable");
  CHECK(rows[1].who == "loader");
  CHECK(rows[1].dsn == t.dsn.label());
  CHECK(rows[1].role == "reader");
  REQUIRE(rows[1].passed_over.size() == 1);
  CHECK(rows[1].passed_over[0].find(dead.label()) == 0);
  CHECK(rows[1].left == t.dsn.label() + ": wsrep_local_state is 2");
}
