// libFuzzer target for the admin line protocol (admin/protocol.*) and the command table
// (admin/commands.*): one input is one request line as the admin server receives it. Each
// command on it is tokenized, dispatched through the real table (no database: commands that
// need one answer `ERR database`; one pool with two members, so the pool commands get as far as
// the database), and its reply rendered in text and JSON.
//
// Checked beyond "no crash, no sanitizer report":
//   - a reply never contains an empty line and never ends in '\n' (the empty line ends a reply
//     on the wire: one inside would desynchronise every later reply); JSON is one line;
//   - quote_word() round-trips: tokenize(quote_word(w)) == {w}, and a quoted word is never split
//     by split_commands();
//   - json_escape() leaves no control byte and no bare '"';
//   - a text progress line that parses formats back to the same line's fields.
// Build and run: tests/fuzz/run.sh [seconds] (or make fuzz).
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "admin/commands.h"
#include "admin/protocol.h"
#include "admin/stores.h"
#include "common/log.h"

using namespace sy;
using namespace sy::admin;

namespace {

void check(bool ok, const char* what, const std::string& detail = "") {
  if (!ok) {
    std::fprintf(stderr, "contract violated: %s\n%s\n", what, detail.c_str());
    std::abort();
  }
}

struct Env {
  ServerOptions options;
  AdminContext ctx;
  std::atomic<bool> upgrade_running{false};
  Stores stores{StoreOptions{}};  // no database: every command that needs one says so
  CommandEnv env;
};

Env& environment() {
  static Env* e = [] {
    log::set_level(log::Level::Off);
    auto* out = new Env;
    out->ctx.instance_id = "fuzz";
    out->ctx.version = "0";
    out->ctx.stats = [] { return StatsView{}; };
    out->ctx.pools = [] {
      PoolView p;
      p.name = "old";
      p.members = {MemberView{"127.0.0.1:9001"}, MemberView{"127.0.0.1:9002"}};
      return std::vector<PoolView>{p};
    };
    out->ctx.set_member = [](const MemberRuntime&) { return true; };
    out->ctx.reload = []() -> Result<ReloadOutcome> {
      return make_error(Errc::Config, "fuzz: no reload");
    };
    out->env.ctx = &out->ctx;
    out->env.options = &out->options;
    out->env.events_owner = std::make_shared<EventSink>();
    out->env.events = out->env.events_owner.get();
    out->env.stores = &out->stores;
    out->env.upgrade_running = &out->upgrade_running;
    out->env.actor = "fuzz/admin";
    return out;
  }();
  return *e;
}

void check_reply_text(const std::string& text, bool json) {
  check(text.find("\n\n") == std::string::npos, "no empty line inside a reply", text);
  check(text.empty() || text.back() != '\n', "a reply does not end in a newline", text);
  check(text.empty() || text.front() != '\n', "a reply does not start with an empty line", text);
  if (json) {
    check(text.find('\n') == std::string::npos, "a JSON reply is one line", text);
  }
}

void check_json_string(const std::string& escaped) {
  for (size_t i = 0; i < escaped.size(); ++i) {
    auto c = static_cast<unsigned char>(escaped[i]);
    check(c >= 0x20, "json_escape leaves no control byte", escaped);
    if (c == '\\') {
      ++i;  // the escaped character
    } else {
      check(c != '"', "json_escape leaves no bare quote", escaped);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) {
    return 0;
  }
  std::string line(reinterpret_cast<const char*>(data), size);
  if (line.find('\n') != std::string::npos) {
    return 0;  // the server splits lines first
  }
  Env& e = environment();
  for (const std::string& cmd : split_commands(line)) {
    auto words = tokenize(cmd);
    if (!words.ok()) {
      check_reply_text(format_error("usage", words.error().message, false), false);
      continue;
    }
    for (const std::string& w : words.value()) {
      auto back = tokenize(quote_word(w));
      check(back.ok() && back.value().size() == 1 && back.value()[0] == w,
            "tokenize(quote_word(w)) == {w}", w);
      check(split_commands(quote_word(w)).size() == 1, "a quoted word is one command", w);
      check_json_string(json_escape(w));
    }
    Request rq = make_request(std::move(words.value()));
    // Read-only first: nothing that changes state runs twice per input.
    Reply r = dispatch(e.env, rq, Privilege::ReadOnly);
    if (!r.poll && !r.long_job) {
      check_reply_text(render_reply(r, rq.json), rq.json);
      check_reply_text(render_reply(r, !rq.json), !rq.json);
    }
    Reply a = dispatch(e.env, rq, Privilege::Admin);
    if (!a.poll && !a.long_job) {
      check_reply_text(render_reply(a, rq.json), rq.json);
    }
  }
  if (auto p = parse_progress(line)) {
    auto again = parse_progress(format_progress(*p, false));
    check(again.has_value() && again->done == p->done && again->total == p->total &&
              again->schema == p->schema && again->step == p->step && again->phase == p->phase &&
              again->elapsed_ms == p->elapsed_ms && again->eta_ms == p->eta_ms &&
              again->detail == p->detail,
          "progress lines round-trip", line);
  }
  return 0;
}
