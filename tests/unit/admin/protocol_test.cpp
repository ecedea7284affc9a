// admin/protocol.h: splitting at ';', tokenizing with quotes, the JSON flag, JSON escaping,
// text rendering, error and progress lines. Pure.

#include "admin/protocol.h"

#include <catch.hpp>
#include <cstdlib>
#include <ctime>

#include <string>
#include <vector>

using namespace sy::admin;
using Words = std::vector<std::string>;

TEST_CASE("split_commands splits at ';' outside quotes and drops blank commands") {
  CHECK(split_commands("show info") == Words{"show info"});
  CHECK(split_commands("show info; show stats") == Words{"show info", " show stats"});
  CHECK(split_commands(";; show info ;  ;") == Words{" show info "});
  CHECK(split_commands("schema disable \"a;b\"; help") == Words{"schema disable \"a;b\"", " help"});
  CHECK(split_commands("x 'a;b' \"c\\\";d\"") == Words{"x 'a;b' \"c\\\";d\""});
  CHECK(split_commands("").empty());
  CHECK(split_commands("   ").empty());
}

TEST_CASE("tokenize splits on blanks; quotes group; escapes in double quotes") {
  auto words = [](const char* text) {
    auto r = tokenize(text);
    REQUIRE(r.ok());
    return r.value();
  };
  CHECK(words("show  info\t") == Words{"show", "info"});
  CHECK(words("  pool member drain old 127.0.0.1:9001") ==
        Words{"pool", "member", "drain", "old", "127.0.0.1:9001"});
  CHECK(words("a \"b c\" 'd e'") == Words{"a", "b c", "d e"});
  CHECK(words("a \"say \\\"hi\\\" \\\\ now\"") == Words{"a", "say \"hi\" \\ now"});
  CHECK(words("a 'no \\escape'") == Words{"a", "no \\escape"});
  CHECK(words("x\"y z\"w") == Words{"xy zw"});
  CHECK(words("a \"\"") == Words{"a", ""});
  CHECK(words("").empty());
  auto bad = tokenize("a \"open");
  REQUIRE_FALSE(bad.ok());
  CHECK(std::string(bad.error().tag) == "invalid-argument");
  CHECK_FALSE(tokenize("a 'open").ok());
}

TEST_CASE("quote_word round-trips through tokenize") {
  for (std::string w :
       {"plain", "", "two words", "semi;colon", "q\"uote", "back\\slash", "it's", "tab\there"}) {
    auto r = tokenize("cmd " + quote_word(w));
    REQUIRE(r.ok());
    REQUIRE(r->size() == 2);
    CHECK((*r)[1] == w);
  }
  CHECK(quote_word("plain") == "plain");
  CHECK(quote_word("a b") == "\"a b\"");
}

TEST_CASE("make_request takes --json anywhere and a 'format json' prefix") {
  Request r = make_request({"show", "--json", "stats"});
  CHECK(r.json);
  CHECK(r.words == Words{"show", "stats"});
  r = make_request({"format", "json", "show", "info"});
  CHECK(r.json);
  CHECK(r.words == Words{"show", "info"});
  r = make_request({"show", "info"});
  CHECK_FALSE(r.json);
  r = make_request({"show", "format", "json"});
  CHECK_FALSE(r.json);  // only a prefix selects JSON
}

TEST_CASE("json_escape escapes quotes, backslashes and control characters") {
  CHECK(json_escape("plain") == "plain");
  CHECK(json_escape("a\"b\\c") == "a\\\"b\\\\c");
  CHECK(json_escape("l1\nl2\r\t") == "l1\\nl2\\r\\t");
  CHECK(json_escape(std::string("\x01\x1f\x7f", 3)) == "\\u0001\\u001f\\u007f");
  CHECK(json_escape("caf\xc3\xa9") == "caf\xc3\xa9");  // UTF-8 passes through
}

TEST_CASE("Json dumps compact JSON in insertion order") {
  Json j = Json::object();
  j.set("b", 1).set("a", "x\"y").set("t", true).set("n", nullptr);
  j.set("list", Json::array().push(1).push("two"));
  j.set("empty", Json::object());
  CHECK(j.dump() ==
        "{\"b\":1,\"a\":\"x\\\"y\",\"t\":true,\"n\":null,\"list\":[1,\"two\"],\"empty\":{}}");
  CHECK(j.find("a") != nullptr);
  CHECK(j.find("zz") == nullptr);
}

TEST_CASE("render_text: scalars, nested objects, tables, message") {
  Json j = Json::object();
  j.set("message", "done");
  j.set("state", "STABLE").set("ok", true).set("none", "");
  j.set("loader", Json::object().set("db_up", false).set("refreshes", 3));
  j.set("rows", Json::array()
                    .push(Json::object().set("name", "s1").set("n", 10))
                    .push(Json::object().set("name", "schema2").set("n", 2)));
  j.set("tags", Json::array().push("a").push("b"));
  CHECK(render_text(j) == "done\n"
                          "state: STABLE\n"
                          "ok: yes\n"
                          "none: -\n"
                          "loader.db_up: no\n"
                          "loader.refreshes: 3\n"
                          "rows:\n"
                          "  name     n\n"
                          "  s1       10\n"
                          "  schema2  2\n"
                          "tags: a, b\n");
}

TEST_CASE("format_error: one line in text and in JSON") {
  CHECK(format_error("usage", "show context ID", false) == "ERR usage: show context ID");
  CHECK(format_error("database", "down\nreally", false) == "ERR database: down really");
  CHECK(format_error("auth", "wrong \"token\"", true) ==
        "{\"error\":{\"code\":\"auth\",\"message\":\"wrong \\\"token\\\"\"}}");
  sy::Error e = sy::make_tagged_error(sy::Errc::InvalidArgument, "one-way-door", "no");
  CHECK(error_code(e) == "one-way-door");
  CHECK(error_code(sy::make_error(sy::Errc::Database, "x")) == "database");
}

TEST_CASE("progress lines: format and parse round-trip") {
  ProgressLine p{3, 20, "s07", "update", "done", 12345, 67890, "2 tasks ok"};
  std::string line = format_progress(p, false);
  CHECK(line == "progress 3/20 s07 update done 12345 67890 2 tasks ok");
  auto back = parse_progress(line);
  REQUIRE(back);
  CHECK(back->done == 3);
  CHECK(back->total == 20);
  CHECK(back->schema == "s07");
  CHECK(back->step == "update");
  CHECK(back->phase == "done");
  CHECK(back->elapsed_ms == 12345);
  CHECK(back->eta_ms == 67890);
  CHECK(back->detail == "2 tasks ok");
  auto no_detail = parse_progress("progress 0/2 - disable begin 0 -");
  REQUIRE(no_detail);
  CHECK(no_detail->schema.empty());
  CHECK(no_detail->eta_ms == -1);
  CHECK(no_detail->detail.empty());
  CHECK_FALSE(parse_progress("progress x/2 s d b 0 -"));
  CHECK_FALSE(parse_progress("progress 1/2 s d"));
  CHECK_FALSE(parse_progress("progress 1/2 s d b 0"));  // no eta field
  CHECK_FALSE(parse_progress("progress 1/2 s d b 0 -5"));
  CHECK_FALSE(parse_progress("state: STABLE"));
  CHECK(format_progress(p, true) ==
        "{\"progress\":{\"done\":3,\"total\":20,\"schema\":\"s07\",\"step\":\"update\","
        "\"phase\":\"done\",\"elapsed_ms\":12345,\"eta_ms\":67890,\"detail\":\"2 tasks ok\"}}");
}

TEST_CASE("durations read like 1.3s and 2m05s, times as ISO 8601") {
  CHECK(format_duration(0) == "0.0s");
  CHECK(format_duration(-7) == "0.0s");
  CHECK(format_duration(1340) == "1.3s");
  CHECK(format_duration(59999) == "59.9s");
  CHECK(format_duration(60000) == "1m00s");
  CHECK(format_duration(125400) == "2m05s");
  CHECK(format_duration(3600000 + 2 * 60000 + 59000) == "1h02m");
  CHECK(format_time(0, false) == "1970-01-01T00:00:00.000Z");
  CHECK(format_time(1796652451123, false) == "2026-12-07T14:07:31.123Z");
  setenv("TZ", "CET-1", 1);
  tzset();
  CHECK(format_time(1796652451123, true) == "2026-12-07T15:07:31.123+01:00");
  setenv("TZ", "<-0330>3:30", 1);
  tzset();
  CHECK(format_time(1796652451123, true) == "2026-12-07T10:37:31.123-03:30");
  unsetenv("TZ");
  tzset();
}

TEST_CASE("the token is the first line without trailing blanks, for server and ctl alike") {
  CHECK(token_from_line("secret-token\r") == "secret-token");
  CHECK(token_from_line("secret-token \t \r") == "secret-token");
  CHECK(token_from_line("  lead stays") == "  lead stays");
  CHECK(token_from_line(" \t") == "");
}
