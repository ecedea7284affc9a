// admin/sequencer.h on a real database: a directory of four schemas, a cluster approved for the
// upgrade, an update command that records each run (and fails for the schemas listed in a
// file), and heartbeat rows standing in for the proxy instances.

#include "admin/sequencer.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

#include <catch.hpp>

#include "admin/cluster_state.h"
#include "unit/admin/admin_fixture.h"

using namespace sy::admin;
using namespace sy::store;
using namespace std::chrono_literals;
using sy::test::approve_upgrade;
using sy::test::count;
using sy::test::must_connect;
using sy::test::run_sql;
using sy::test::seed_directory;
using sy::test::TestDb;
using sy::test::text;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kSchemas = {"s_a", "s_b", "s_c", "s_d"};

struct Upgrade {
  TestDb t;
  fs::path dir;
  EventSink events;
  UpgradeOptions options;

  Upgrade() {
    seed_directory(*t.db, kSchemas);
    approve_upgrade(*t.db);
    char tmpl[] = "/tmp/sy_seq_XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    std::ofstream(dir / "fail") << "";
    std::ofstream(dir / "task.sh") << "echo \"$1\" >> " << (dir / "runs").string() << "\n"
                                   << "if grep -qx \"$1\" " << (dir / "fail").string()
                                   << "; then echo \"upgrade of $1 broke\"; exit 1; fi\n";
    options.server.name = "app-new";
    options.use_existing = true;
    options.actor = "test-driver";
    options.drain_timeout = 1000ms;
    options.poll_interval = 10ms;
    options.tasks.command = "/bin/sh " + (dir / "task.sh").string() + " {schema}";
    options.dsns = {t.dsn};
    options.events = &events;
  }
  ~Upgrade() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  void fail_for(const std::string& schemas) { std::ofstream(dir / "fail") << schemas; }

  std::map<std::string, int> runs() const {
    std::map<std::string, int> out;
    std::ifstream in(dir / "runs");
    for (std::string line; std::getline(in, line);) {
      ++out[line];
    }
    return out;
  }

  // schema -> "enabled/2"
  std::map<std::string, std::string> rows() {
    std::map<std::string, std::string> out;
    auto r = t.db->query("SELECT name, state, server_id FROM sy_schemas",
                         [&](const auto& row) { out[row.str(1)] = row.str(2) + "/" + row.str(3); });
    REQUIRE(r.ok());
    return out;
  }

  // step -> number of rows with |phase| for |schema|
  std::map<std::string, int> journal(const std::string& schema, const std::string& phase = "done") {
    std::map<std::string, int> out;
    auto r = t.db->query("SELECT step, COUNT(*) FROM sy_upgrade_journal WHERE schema_name = '" +
                             schema + "' AND phase = '" + phase + "' GROUP BY step",
                         [&](const auto& row) { out[row.str(1)] = row.i32(2); });
    REQUIRE(r.ok());
    return out;
  }

  ClusterState state() { return read_cluster(*t.db)->state; }

  UpgradeReport run_ok(const std::function<void(const Progress&)>& progress = {}) {
    auto r = run_upgrade(*make_own_directory(*t.db), *t.db, options, progress);
    if (!r) {
      FAIL(r.error().message);
    }
    return std::move(r.value());
  }
};

const std::map<std::string, int> kEveryStepOnce = {{"disable", 1}, {"drain", 1},  {"move", 1},
                                                   {"update", 1},  {"enable", 1}, {"verify", 1}};

}  // namespace

TEST_CASE("a full run moves every schema, waits for the instances, and ends STABLE") {
  Upgrade u;
  // An instance whose applied seq follows the change log a little behind, as a loader would.
  std::atomic<bool> stop{false};
  std::thread follower([&] {
    auto db = must_connect(u.t.dsn);
    while (!stop) {
      uint64_t seq = 0;
      (void)db->query("SELECT COALESCE(MAX(seq), 0) FROM sy_changes",
                      [&](const auto& row) { seq = row.u64(1); });
      std::this_thread::sleep_for(20ms);
      (void)write_heartbeat(*db, InstanceBeat{"old-1", "old", "7.10.6", 1, {}, seq});
    }
  });
  int progress_calls = 0;
  auto report = u.run_ok([&](const Progress& p) {
    ++progress_calls;
    CHECK(p.schemas_total == 4);
  });
  stop = true;
  follower.join();

  CHECK(report.status == RunState::Done);
  CHECK_FALSE(report.resumed);
  REQUIRE(report.schemas.size() == 4);
  for (const SchemaOutcome& o : report.schemas) {
    CHECK(o.status == SchemaStatus::Done);
  }
  CHECK(progress_calls == 4 * 6 * 2);
  for (const std::string& s : kSchemas) {
    CHECK(u.rows()[s] == "enabled/2");
    CHECK(u.journal(s) == kEveryStepOnce);
    CHECK(u.runs()[s] == 1);
  }
  CHECK(u.state() == ClusterState::Stable);
  CHECK(text(*u.t.db, "SELECT status FROM sy_upgrade_runs") == "done");
  CHECK(count(*u.t.db, "SELECT COUNT(*) FROM sy_upgrade_driver WHERE holder <> ''"
                       " OR expires_at IS NOT NULL") == 0);  // released
  auto c = u.events.counts();
  CHECK(c["schema.done"] == 4);
  CHECK(c["upgrade.started"] == 1);
  CHECK(c["upgrade.finished"] == 1);
  CHECK(c["cluster.transition"] == 1);

  auto status = read_run_status(*u.t.db);
  REQUIRE(status.ok());
  CHECK(status->status == RunState::Done);
  CHECK(status->target_server_id == 2);
  CHECK(status->driver.empty());
  REQUIRE(status->schemas.size() == 4);
  CHECK(status->schemas[3].status == SchemaStatus::Done);

  // STABLE again: another run is refused, naming the state.
  auto again = run_upgrade(*make_own_directory(*u.t.db), *u.t.db, u.options, {});
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().message.find("STABLE") != std::string::npos);
}

TEST_CASE("a failing update task stops the run, and the next run retries only what failed") {
  Upgrade u;
  u.fail_for("s_b\n");
  auto report = u.run_ok();
  CHECK(report.status == RunState::Failed);
  REQUIRE(report.schemas.size() == 2);
  CHECK(report.schemas[0].status == SchemaStatus::Done);
  CHECK(report.schemas[1].status == SchemaStatus::Failed);
  CHECK(report.schemas[1].error.find("update") != std::string::npos);
  CHECK(report.schemas[1].error.find("upgrade of s_b broke") != std::string::npos);
  CHECK(u.rows() == std::map<std::string, std::string>{{"s_a", "enabled/2"},
                                                       {"s_b", "disabled/2"},
                                                       {"s_c", "enabled/1"},
                                                       {"s_d", "enabled/1"}});
  CHECK(u.state() == ClusterState::UpgradeTasksFailed);
  std::vector<SchemaInfo> b{*make_own_directory(*u.t.db)->find_schema("s_b")};
  REQUIRE(merge_update_states(*u.t.db, &b).ok());
  CHECK(b[0].update_status == "failed");
  CHECK(b[0].update_error.find("exit status 1") != std::string::npos);
  CHECK(u.events.counts()["schema.failed"] == 1);
  CHECK(read_cluster(*u.t.db)->reason.find("s_b") != std::string::npos);

  u.fail_for("");
  auto second = u.run_ok();
  CHECK(second.status == RunState::Done);
  CHECK_FALSE(second.resumed);
  CHECK(second.run_id != report.run_id);
  CHECK(second.schemas[0].status == SchemaStatus::Skipped);  // s_a was done already
  for (const std::string& s : kSchemas) {
    CHECK(u.rows()[s] == "enabled/2");
  }
  CHECK(u.runs() == std::map<std::string, int>{{"s_a", 1}, {"s_b", 2}, {"s_c", 1}, {"s_d", 1}});
  CHECK(u.journal("s_a")["update"] == 1);
  CHECK(u.state() == ClusterState::Stable);
}

TEST_CASE("with force a failed schema is recorded and the run goes on") {
  Upgrade u;
  u.fail_for("s_b\n");
  u.options.force = true;
  auto report = u.run_ok();
  CHECK(report.status == RunState::Failed);
  REQUIRE(report.schemas.size() == 4);
  CHECK(report.schemas[1].status == SchemaStatus::Failed);
  CHECK(u.rows() == std::map<std::string, std::string>{{"s_a", "enabled/2"},
                                                       {"s_b", "disabled/2"},
                                                       {"s_c", "enabled/2"},
                                                       {"s_d", "enabled/2"}});
  CHECK(u.state() == ClusterState::UpgradeTasksFailed);
}

TEST_CASE("resume-from and skip leave the schemas outside the run alone") {
  Upgrade u;
  u.options.resume_from = "s_b";
  u.options.skip = {"s_c"};
  auto report = u.run_ok();
  // The run did all it was asked, but two schemas are not on the target: not "done".
  CHECK(report.status == RunState::DoneWithSkipped);
  REQUIRE(report.unfinished.size() == 2);
  CHECK(report.unfinished[0].schema == "s_a");
  CHECK(report.unfinished[0].status == SchemaStatus::Skipped);
  CHECK(report.unfinished[0].error.find("enabled on server") != std::string::npos);
  CHECK(report.unfinished[1].schema == "s_c");
  CHECK(read_run_status(*u.t.db)->status == RunState::DoneWithSkipped);
  CHECK(u.rows() == std::map<std::string, std::string>{{"s_a", "enabled/1"},
                                                       {"s_b", "enabled/2"},
                                                       {"s_c", "enabled/1"},
                                                       {"s_d", "enabled/2"}});
  CHECK(u.runs() == std::map<std::string, int>{{"s_b", 1}, {"s_d", 1}});
  // Not every schema is on the target: the cluster is still upgrading.
  CHECK(u.state() == ClusterState::RunningUpgradeTasks);
}

TEST_CASE("a run that skips a failed schema ends failed, names it, and the cluster stays failed") {
  Upgrade u;
  u.fail_for("s_b\n");
  u.options.force = true;
  CHECK(u.run_ok().status == RunState::Failed);
  CHECK(u.state() == ClusterState::UpgradeTasksFailed);

  // Nothing fixed; the operator skips the failed schema. Every other schema is done, but b is
  // still disabled and failed: the run is not done and the cluster does not become STABLE.
  u.options.force = false;
  u.options.skip = {"s_b"};
  auto skipped = u.run_ok();
  CHECK(skipped.status == RunState::Failed);
  REQUIRE(skipped.unfinished.size() == 1);
  CHECK(skipped.unfinished[0].schema == "s_b");
  CHECK(skipped.unfinished[0].status == SchemaStatus::Failed);
  CHECK(skipped.unfinished[0].error.find("disabled on server app-new, update failed") !=
        std::string::npos);
  CHECK(u.state() == ClusterState::UpgradeTasksFailed);
  CHECK(read_cluster(*u.t.db)->reason.find("s_b") != std::string::npos);

  // Fixed and run again: now it is done, and only now STABLE.
  u.fail_for("");
  u.options.skip.clear();
  auto fixed = u.run_ok();
  CHECK(fixed.status == RunState::Done);
  CHECK(fixed.unfinished.empty());
  CHECK(u.state() == ClusterState::Stable);
}

TEST_CASE("after an abort: cancel when nothing moved, else a rerun resumes and finishes") {
  Upgrade u;
  auto other = must_connect(u.t.dsn);
  // Aborted before the first schema: nothing moved, so the upgrade can be called off.
  REQUIRE(create_run(*other, 2, "", "someone").ok());
  REQUIRE(control_run(*other, "abort").ok());
  run_sql(*other, "UPDATE sy_upgrade_runs SET status = 'aborted', finished_at = NOW(6)");
  auto cancelled = transition(*u.t.db, *make_own_directory(*u.t.db), ClusterEvent::Cancel, "t");
  REQUIRE(cancelled.ok());
  CHECK(cancelled->state == ClusterState::Stable);

  // Aborted after s_a moved: cancel is refused with the way forward; a run in progress too.
  approve_upgrade(*u.t.db);
  bool refused_while_running = false;
  auto aborted = u.run_ok([&](const Progress& p) {
    if (p.schema == "s_a" && p.step == Step::Update && p.phase == Phase::Begin) {
      auto c = transition(*other, *make_own_directory(*other), ClusterEvent::Cancel, "t");
      refused_while_running = !c.ok() && c.error().message.find("in progress") != std::string::npos;
      REQUIRE(control_run(*other, "abort").ok());
    }
  });
  CHECK(refused_while_running);
  CHECK(aborted.status == RunState::Aborted);
  CHECK(aborted.unfinished.size() == 3);
  CHECK(u.state() == ClusterState::RunningUpgradeTasks);
  auto refused = transition(*u.t.db, *make_own_directory(*u.t.db), ClusterEvent::Cancel, "t");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("`upgrade schemata` again resumes") != std::string::npos);
  auto resumed = u.run_ok();
  CHECK(resumed.status == RunState::Done);
  CHECK(u.state() == ClusterState::Stable);
  CHECK(u.runs() == std::map<std::string, int>{{"s_a", 1}, {"s_b", 1}, {"s_c", 1}, {"s_d", 1}});
}

TEST_CASE("final_state: aborted, then failed, then skipped, else done") {
  CHECK(final_state(true, true, 3) == RunState::Aborted);
  CHECK(final_state(false, true, 1) == RunState::Failed);
  CHECK(final_state(false, true, 0) == RunState::Failed);
  CHECK(final_state(false, false, 2) == RunState::DoneWithSkipped);
  CHECK(final_state(false, false, 0) == RunState::Done);
}

TEST_CASE("a second driver is refused with the holder's identity") {
  Upgrade u;
  auto other = must_connect(u.t.dsn);
  std::optional<DriverLock> held;
  {
    auto taken = DriverLock::take(*other, {"up-old-4242", 60s});
    REQUIRE(taken.ok());
    held.emplace(std::move(taken.value()));
  }
  auto busy = run_upgrade(*make_own_directory(*u.t.db), *u.t.db, u.options, {});
  REQUIRE_FALSE(busy.ok());
  CHECK(std::string(busy.error().tag) == "driver-busy");
  CHECK(busy.error().message.find("up-old-4242") != std::string::npos);
  CHECK(count(*u.t.db, "SELECT COUNT(*) FROM sy_upgrade_runs") == 0);

  held.reset();  // released: the next driver takes it at once
  auto report = u.run_ok();
  CHECK(report.status == RunState::Done);
  CHECK(text(*u.t.db, "SELECT holder FROM sy_upgrade_driver WHERE name = 'upgrade'") == "");
}

TEST_CASE("an expired lease is taken over; the same instance restarted takes its own at once") {
  Upgrade u;
  // A driver that died (kill -9) leaves its lease behind until it expires.
  run_sql(*u.t.db, "UPDATE sy_upgrade_driver SET holder = 'up-dead', process = 'h:1:1',"
                   " epoch = epoch + 1, expires_at = NOW(6) + INTERVAL 1 MINUTE");
  auto busy = run_upgrade(*make_own_directory(*u.t.db), *u.t.db, u.options, {});
  REQUIRE_FALSE(busy.ok());
  CHECK(busy.error().message.find("'up-dead' (lease epoch") != std::string::npos);
  run_sql(*u.t.db, "UPDATE sy_upgrade_driver SET expires_at = NOW(6) - INTERVAL 1 SECOND");
  CHECK(u.run_ok().status == RunState::Done);

  // The same actor from another process (this instance before a restart): not waited out.
  Upgrade v;
  run_sql(*v.t.db, "UPDATE sy_upgrade_driver SET holder = 'test-driver', process = 'h:1:1',"
                   " epoch = epoch + 1, expires_at = NOW(6) + INTERVAL 1 MINUTE");
  const uint64_t before = count(*v.t.db, "SELECT epoch FROM sy_upgrade_driver");
  CHECK(v.run_ok().status == RunState::Done);
  CHECK(count(*v.t.db, "SELECT epoch FROM sy_upgrade_driver") == before + 1);
}

TEST_CASE("the renewer keeps a short lease while the driver holds it") {
  Upgrade u;
  auto taken = DriverLock::take(*u.t.db, {"renewed", 300ms});
  REQUIRE(taken.ok());
  // Several lease lengths later the lease is still held, renewed by its own thread.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  auto probe = must_connect(u.t.dsn);
  while (count(*probe, "SELECT renewals FROM sy_upgrade_driver") < 5 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK(count(*probe, "SELECT renewals FROM sy_upgrade_driver") >= 5);
  CHECK(count(*probe, "SELECT expires_at > NOW(6) FROM sy_upgrade_driver") == 1);
  auto second = DriverLock::take(*probe, {"second", 300ms});
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().message.find("'renewed'") != std::string::npos);
  CHECK_FALSE(taken->lost());
}

TEST_CASE("a driver whose lease was taken over stops at its next journal write") {
  Upgrade u;
  auto usurper = must_connect(u.t.dsn);
  bool stolen = false;
  auto r = run_upgrade(*make_own_directory(*u.t.db), *u.t.db, u.options, [&](const Progress& p) {
    if (!stolen && p.schema == "s_b" && p.step == Step::Disable && p.phase == Phase::Begin) {
      // What another driver's take does once this one's lease has run out (a long stall).
      run_sql(*usurper, "UPDATE sy_upgrade_driver SET holder = 'up-usurper', process = 'h:2:2',"
                        " epoch = epoch + 1, expires_at = NOW(6) + INTERVAL 1 MINUTE");
      stolen = true;
    }
  });
  REQUIRE_FALSE(r.ok());
  CHECK(std::string(r.error().tag) == "lease-lost");
  CHECK(r.error().message.find("'up-usurper'") != std::string::npos);
  // s_a finished; s_b's disable ran (it began before the take-over) but nothing after it was
  // journaled by the old driver, and s_c, s_d were never touched.
  CHECK(u.journal("s_a") == kEveryStepOnce);
  CHECK(u.journal("s_b").empty());
  CHECK(u.journal("s_c", "begin").empty());
  CHECK(u.rows()["s_c"] == "enabled/1");
  CHECK(u.rows()["s_d"] == "enabled/1");
  CHECK(text(*u.t.db, "SELECT holder FROM sy_upgrade_driver") == "up-usurper");
}

TEST_CASE("the target server must be the prepared one, and reused only with --continue") {
  Upgrade u;
  u.options.use_existing = false;
  auto exists = run_upgrade(*make_own_directory(*u.t.db), *u.t.db, u.options, {});
  REQUIRE_FALSE(exists.ok());
  CHECK(std::string(exists.error().tag) == "exists");
  u.options.use_existing = true;
  u.options.server.name = "app-old";
  auto other = run_upgrade(*make_own_directory(*u.t.db), *u.t.db, u.options, {});
  REQUIRE_FALSE(other.ok());
  CHECK(std::string(other.error().tag) == "invalid-argument");
  u.options.server.name = "app-newer";
  auto unknown = run_upgrade(*make_own_directory(*u.t.db), *u.t.db, u.options, {});
  REQUIRE_FALSE(unknown.ok());
  CHECK(std::string(unknown.error().tag) == "invalid-argument");
  CHECK(count(*u.t.db, "SELECT COUNT(*) FROM sy_servers WHERE name = 'app-newer'") == 0);
  u.options.server.name.clear();  // the prepared target
  CHECK(u.run_ok().status == RunState::Done);
}

TEST_CASE("an interrupted run is resumed without repeating a step journaled done") {
  Upgrade u;
  // What a driver killed during s_b's move leaves behind: s_a complete, s_b disabled and
  // drained, its move begun.
  run_sql(*u.t.db, "INSERT INTO sy_upgrade_runs (id, target_server_id, status, control, actor)"
                   " VALUES (7, 2, 'running', 'run', 'crashed')");
  for (const char* step : {"disable", "drain", "move", "update", "enable", "verify"}) {
    run_sql(*u.t.db, std::string("INSERT INTO sy_upgrade_journal (run_id, schema_name, step,"
                                 " phase) VALUES (7, 's_a', '") +
                         step + "', 'begin'), (7, 's_a', '" + step + "', 'done')");
  }
  run_sql(*u.t.db, "UPDATE sy_schemas SET server_id = 2 WHERE name = 's_a'");
  run_sql(*u.t.db, "UPDATE sy_schemas SET state = 'disabled' WHERE name = 's_b'");
  run_sql(*u.t.db,
          "INSERT INTO sy_upgrade_journal (run_id, schema_name, step, phase, change_seq) VALUES"
          " (7, 's_b', 'disable', 'begin', 0), (7, 's_b', 'disable', 'done', 1),"
          " (7, 's_b', 'drain', 'begin', 0), (7, 's_b', 'drain', 'done', 0),"
          " (7, 's_b', 'move', 'begin', 0)");

  auto report = u.run_ok();
  CHECK(report.resumed);
  CHECK(report.run_id == 7);
  CHECK(report.status == RunState::Done);
  CHECK(count(*u.t.db, "SELECT COUNT(*) FROM sy_upgrade_runs") == 1);
  CHECK(u.journal("s_a") == kEveryStepOnce);
  CHECK(u.journal("s_b") == kEveryStepOnce);
  CHECK(
      u.journal("s_b", "begin") ==
      std::map<std::string, int>{
          {"disable", 1}, {"drain", 1}, {"move", 2}, {"update", 1}, {"enable", 1}, {"verify", 1}});
  CHECK(u.runs() == std::map<std::string, int>{{"s_b", 1}, {"s_c", 1}, {"s_d", 1}});
  for (const std::string& s : kSchemas) {
    CHECK(u.rows()[s] == "enabled/2");
  }
  CHECK(u.state() == ClusterState::Stable);
}

TEST_CASE("a drain that times out names the busy and the lagging instances") {
  Upgrade u;
  REQUIRE(write_heartbeat(*u.t.db,
                          InstanceBeat{"old-busy", "old", "7", 1, {{"s_a", 3}}, uint64_t{1} << 60})
              .ok());
  REQUIRE(write_heartbeat(*u.t.db, InstanceBeat{"old-lagging", "old", "7", 2, {}, 0}).ok());
  u.options.drain_timeout = 300ms;
  const auto start = std::chrono::steady_clock::now();
  auto report = u.run_ok();
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(report.status == RunState::Failed);
  REQUIRE(report.schemas.size() == 1);
  const std::string& why = report.schemas[0].error;
  CHECK(why.find("drain") != std::string::npos);
  CHECK(why.find("'old-busy' (3 requests)") != std::string::npos);
  CHECK(why.find("'old-lagging' (applied seq 0)") != std::string::npos);
  // Nothing moved: the schema serves again from its old server.
  CHECK(u.rows()["s_a"] == "enabled/1");
  CHECK(u.runs().empty());
  CHECK(u.journal("s_a", "failed") == std::map<std::string, int>{{"drain", 1}});
}

TEST_CASE("drain fails closed with no live instance, or fewer than at the start of the run") {
  Upgrade u;
  REQUIRE(
      write_heartbeat(*u.t.db, InstanceBeat{"old-2", "old", "7", 2, {}, uint64_t{1} << 60}).ok());
  u.options.drain_timeout = 300ms;
  auto age = [&](const std::string& which) {
    return [&u, which](const Progress& p) {
      if (p.schema == "s_a" && p.step == Step::Drain && p.phase == Phase::Begin) {
        // Heartbeats age past live_within (a database that blocks commits for a while).
        run_sql(*u.t.db, "UPDATE sy_instances SET heartbeat_at = NOW(6) - INTERVAL 1 HOUR" + which);
      }
    };
  };
  auto report = u.run_ok(age(" WHERE id = 'old-2'"));
  CHECK(report.status == RunState::Failed);
  REQUIRE(report.schemas.size() == 1);
  CHECK(report.schemas[0].error.find(
            "fewer live instances than at the start of the run (1 of 2)") != std::string::npos);
  CHECK(report.schemas[0].error.find("from 'old-2'") != std::string::npos);
  CHECK(u.rows()["s_a"] == "enabled/1");  // given back, never moved

  // The next run starts with what is live then; an empty live set never counts as drained.
  REQUIRE(
      write_heartbeat(*u.t.db, InstanceBeat{"old-2", "old", "7", 2, {}, uint64_t{1} << 60}).ok());
  report = u.run_ok(age(""));
  CHECK(report.status == RunState::Failed);
  REQUIRE(report.schemas.size() == 1);
  CHECK(report.schemas[0].error.find("no live instance") != std::string::npos);
  CHECK(report.schemas[0].error.find("'new-1'") != std::string::npos);
  CHECK(report.schemas[0].error.find("'old-2'") != std::string::npos);
  CHECK(u.rows()["s_a"] == "enabled/1");
  CHECK(u.runs().empty());
}

TEST_CASE("pause waits between schemas, resume continues, abort ends the run") {
  Upgrade u;
  auto other = must_connect(u.t.dsn);
  CHECK(std::string(control_run(*other, "pause").error().tag) == "not-found");
  CHECK(std::string(control_run(*other, "stop").error().tag) == "invalid-argument");

  std::atomic<bool> saw_paused{false};
  std::thread resumer;
  auto report = u.run_ok([&](const Progress& p) {
    if (p.schema == "s_a" && p.step == Step::Verify && p.phase == Phase::Done) {
      REQUIRE(control_run(*other, "pause").ok());
      resumer = std::thread([&] {
        auto db = must_connect(u.t.dsn);
        for (int i = 0; i < 200 && !saw_paused; ++i) {
          std::this_thread::sleep_for(10ms);
          auto st = read_run_status(*db);
          saw_paused = st.ok() && st->status == RunState::Paused && st->driver == "test-driver";
        }
        REQUIRE(control_run(*db, "resume").ok());
      });
    }
    if (p.schema == "s_b" && p.step == Step::Verify && p.phase == Phase::Done) {
      REQUIRE(control_run(*other, "abort").ok());
    }
  });
  if (resumer.joinable()) {
    resumer.join();
  }
  CHECK(saw_paused);
  CHECK(report.status == RunState::Aborted);
  REQUIRE(report.schemas.size() == 2);
  CHECK(u.rows()["s_c"] == "enabled/1");
  CHECK(u.state() == ClusterState::RunningUpgradeTasks);
  auto runs = list_runs(*u.t.db, 10);
  REQUIRE(runs.ok());
  REQUIRE(runs->size() == 1);
  CHECK(runs->front().status == RunState::Aborted);
  CHECK(runs->front().control == RunControl::Abort);
  CHECK(runs->front().schemas.size() == 2);
}
