// admin/events.h: events are rows of sy_events, written on the caller's session (inside its
// transaction), and each instance's hook thread delivers them in id order, at least once, with
// their id, resuming from its stored position; a failing hook is run again for the same event.

#include "admin/events.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <catch.hpp>

#include "unit/test_db.h"
#include "store/db_migrate.h"
#include "store/event_store.h"

using namespace sy::admin;
using sy::test::TestDb;
namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::vector<std::string> out;
  std::istringstream in(read_all(p));
  for (std::string l; std::getline(in, l);) {
    out.push_back(l);
  }
  return out;
}

// Waits (polling, 30 s at most) until |pred| holds.
template <class Pred>
bool eventually(Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/sy_events_XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
};

StoreOptions stores_of(const TestDb& t) {
  StoreOptions o;
  o.profile = sy::conf::Profile::Own;
  o.dsns = {t.dsn};
  return o;
}

}  // namespace

TEST_CASE("event_json escapes every field and carries the id") {
  sy::store::EventRow e{7, "schema.failed", "s\"1", "", "line1\nline2\\ \x01", "i1/admin", 0};
  CHECK(event_json(e) ==
        "{\"id\":7,\"time\":\"1970-01-01T00:00:00.000Z\",\"kind\":\"schema.failed\","
        "\"schema\":\"s\\\"1\",\"state\":\"\",\"detail\":\"line1\\nline2\\\\ \\u0001\","
        "\"actor\":\"i1/admin\"}");
  CHECK(event_line(e) == "7 1970-01-01T00:00:00.000Z schema.failed schema=s\"1 actor=i1/admin: "
                         "line1 line2\\ \x01");
}

TEST_CASE("emit appends a row on the caller's session and counts it; a rollback takes it back") {
  TestDb t;
  REQUIRE(sy::store::migrate(*t.db).ok());
  EventSink sink("i1/admin");
  auto a = sink.emit(*t.db, {"schema.done", "a", "", ""});
  REQUIRE(a.ok());
  {
    auto txn = t.db->begin();
    REQUIRE(txn.ok());
    REQUIRE(sink.emit(*t.db, {"cluster.transition", "", "MIXED", "event mixed"}).ok());
    // no commit: the change it describes did not happen, and neither did the event
  }
  auto b = sink.emit(*t.db, {"upgrade.started", "", "", "run 1"});
  REQUIRE(b.ok());
  CHECK(*b > *a);
  auto rows = sy::store::read_events(*t.db, 0, 10);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].kind == "schema.done");
  CHECK((*rows)[0].schema == "a");
  CHECK((*rows)[0].instance == "i1/admin");
  CHECK((*rows)[1].kind == "upgrade.started");
  CHECK(sink.counts()["schema.done"] == 1);
  CHECK(sy::store::read_events(*t.db, *a, 10)->size() == 1);
}

TEST_CASE("the hook thread delivers in order with the id, resumes, and retries a failure") {
  TestDb t;
  REQUIRE(sy::store::migrate(*t.db).ok());
  TempDir dir;
  const fs::path out = dir.path / "out";
  const fs::path attempts = dir.path / "attempts";
  const fs::path fail_once = dir.path / "fail_once";
  const fs::path script = dir.path / "hook.sh";
  // Records each attempt; fails (once) for the event id written in fail_once.
  std::ofstream(script)
      << "echo \"$SY_EVENT_ID\" >> " << attempts.string() << "\n"
      << "if [ -f " << fail_once.string() << " ] && [ \"$(cat " << fail_once.string()
      << ")\" = \"$SY_EVENT_ID\" ]; then rm " << fail_once.string() << "; exit 3; fi\n"
      << "printf '%s %s %s %s\\n' \"$SY_EVENT_ID\" \"$SY_EVENT\" \"$SY_STATE\" \"$1\" >> "
      << out.string() << "\n";
  EventSink sink("i1/admin");
  // An event before the instance's first start is history: not delivered.
  REQUIRE(sink.emit(*t.db, {"upgrade.started", "", "", "old"}).ok());

  EventHookOptions ho;
  ho.command = "/bin/sh " + script.string() + " arg1";
  ho.instance_id = "i1";
  ho.poll = std::chrono::milliseconds(20);
  {
    EventHook hook(ho, stores_of(t));
    hook.start();
    // Its first position is recorded before anything is delivered.
    REQUIRE(eventually([&] {
      auto c = sy::store::read_event_cursor(*t.db, "i1");
      return c.ok() && c->has_value();
    }));
    auto e1 = sink.emit(*t.db, {"cluster.transition", "", "MIXED", ""});
    REQUIRE(e1.ok());
    std::ofstream(fail_once) << (*e1 + 1);
    auto e2 = sink.emit(*t.db, {"schema.done", "s1", "", ""});
    REQUIRE(e2.ok());
    REQUIRE(eventually([&] { return lines_of(out).size() == 2; }));
    CHECK(lines_of(out) == std::vector<std::string>{
                               std::to_string(*e1) + " cluster.transition MIXED arg1",
                               std::to_string(*e2) + " schema.done  arg1"});
    // e2 failed once and was run again; e1 once.
    CHECK(lines_of(attempts) == std::vector<std::string>{std::to_string(*e1), std::to_string(*e2),
                                                         std::to_string(*e2)});
    CHECK(hook.failures() == 1);
    REQUIRE(eventually([&] { return **sy::store::read_event_cursor(*t.db, "i1") == *e2; }));
    hook.stop();
  }
  // While the instance is down events go on; after its restart it delivers exactly those.
  auto e3 = sink.emit(*t.db, {"upgrade.finished", "", "", "done"});
  REQUIRE(e3.ok());
  EventHook again(ho, stores_of(t));
  again.start();
  REQUIRE(eventually([&] { return lines_of(out).size() == 3; }));
  CHECK(lines_of(out).back() == std::to_string(*e3) + " upgrade.finished  arg1");
  again.stop();
}

TEST_CASE("a hook that hangs is stopped at its timeout and run again, never skipped") {
  TestDb t;
  REQUIRE(sy::store::migrate(*t.db).ok());
  TempDir dir;
  const fs::path attempts = dir.path / "attempts";
  const fs::path script = dir.path / "hook.sh";
  std::ofstream(script) << "echo \"$SY_EVENT_ID\" >> " << attempts.string() << "\nexec sleep 60\n";
  EventHookOptions ho;
  ho.command = "/bin/sh " + script.string();
  ho.instance_id = "i2";
  ho.poll = std::chrono::milliseconds(20);
  ho.timeout = std::chrono::milliseconds(200);
  ho.max_backoff = std::chrono::milliseconds(1000);
  EventHook hook(ho, stores_of(t));
  hook.start();
  REQUIRE(eventually([&] { return sy::store::read_event_cursor(*t.db, "i2")->has_value(); }));
  EventSink sink("i2/admin");
  auto e = sink.emit(*t.db, {"schema.failed", "s1", "", "boom"});
  REQUIRE(e.ok());
  REQUIRE(eventually([&] { return lines_of(attempts).size() >= 2; }));
  for (const auto& l : lines_of(attempts)) {
    CHECK(l == std::to_string(*e));
  }
  CHECK(hook.delivered() == 0);
  CHECK(**sy::store::read_event_cursor(*t.db, "i2") < *e);
  hook.stop();
}
