// admin/events.h: events are counted, serialised as JSON, and handed to the hook command in
// its environment; a failing or hanging hook is never fatal.

#include "admin/events.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <catch.hpp>

using namespace sy::admin;
namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("event_json escapes every field") {
  Event e{"schema.failed", "s\"1", "", "line1\nline2\\ \x01"};
  CHECK(event_json(e) ==
        "{\"kind\":\"schema.failed\",\"schema\":\"s\\\"1\",\"state\":\"\",\"detail\":"
        "\"line1\\nline2\\\\ \\u0001\"}");
}

TEST_CASE("emit counts per kind without a hook") {
  EventSink sink;
  sink.emit({"schema.done", "a", "", ""});
  sink.emit({"schema.done", "b", "", ""});
  sink.emit({"upgrade.started", "", "", "run 1"});
  auto c = sink.counts();
  CHECK(c["schema.done"] == 2);
  CHECK(c["upgrade.started"] == 1);
  CHECK(c.size() == 2);
}

TEST_CASE("the hook runs without a shell with the event in its environment") {
  char tmpl[] = "/tmp/sy_events_XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const fs::path dir(tmpl);
  const fs::path out = dir / "out";
  const fs::path script = dir / "hook.sh";
  std::ofstream(script) << "printf '%s|%s|%s|%s|%s' \"$SY_EVENT\" \"$SY_SCHEMA\" \"$SY_STATE\""
                           " \"$SY_EVENT_JSON\" \"$1\" > "
                        << out.string() << "\n";
  EventSink sink("/bin/sh " + script.string() + " arg1");
  Event e{"cluster.transition", "", "MIXED", "mixed"};
  sink.emit(e);
  CHECK(read_all(out) == "cluster.transition||MIXED|" + event_json(e) + "|arg1");
  CHECK(sink.counts()["cluster.transition"] == 1);

  // A failing hook and a missing one are logged, not fatal, and still counted.
  EventSink failing("/bin/false");
  failing.emit({"schema.done", "a", "", ""});
  EventSink missing("/no/such/hook");
  missing.emit({"schema.done", "a", "", ""});
  CHECK(missing.counts()["schema.done"] == 1);
  fs::remove_all(dir);
}
