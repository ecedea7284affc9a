#include "routing/context_key.h"

#include <catch.hpp>

#include <vector>

using namespace sy::routing;

namespace {

// A request to feed extract(); headers are owned here so the views stay valid.
struct Req {
  std::string method = "GET";
  std::string target = "/";
  std::string host = "example.com";
  std::vector<std::pair<std::string, std::string>> header_list;
  std::string body;
  std::string content_type;
  std::vector<Header> headers;

  RequestFacts facts() {
    headers.clear();
    for (auto& [n, v] : header_list) {
      headers.push_back(Header{n, v});
    }
    RequestFacts f;
    f.method = method;
    f.target = target;
    f.host = host;
    f.headers = headers.data();
    f.header_count = headers.size();
    f.body = body;
    f.content_type = content_type;
    return f;
  }
};

KeyExtractor compile_ok(std::vector<KeyRule> rules) {
  auto r = KeyExtractor::compile(std::move(rules));
  INFO((r ? std::string("ok") : r.error().message));
  REQUIRE(r.ok());
  return std::move(r).value();
}

KeyRule rule(KeyRuleKind k, std::string name = "", int segment = 0, std::string pattern = "") {
  return KeyRule{k, std::move(name), segment, std::move(pattern)};
}

ContextKey extract_one(const KeyRule& r, Req& req) { return compile_ok({r}).extract(req.facts()); }

// The id a single rule yields for |req|; 0 = nothing.
ContextId id_of(const KeyRule& r, Req& req) {
  ContextKey k = extract_one(r, req);
  return k.kind == ContextKey::Id ? k.id : 0;
}

std::string compile_error(std::vector<KeyRule> rules) {
  auto r = KeyExtractor::compile(std::move(rules));
  return r ? std::string("(compiled)") : r.error().message;
}

}  // namespace

TEST_CASE("no rules, or no rule matching, yields None") {
  Req req;
  req.target = "/123";
  CHECK(KeyExtractor().extract(req.facts()).kind == ContextKey::None);
  CHECK(compile_ok({}).extract(req.facts()).kind == ContextKey::None);
  CHECK(extract_one(rule(KeyRuleKind::Header, "X-Context"), req).kind == ContextKey::None);
}

TEST_CASE("header rule: case-insensitive name, trimmed value, first header of that name") {
  KeyRule r = rule(KeyRuleKind::Header, "X-Context");
  Req req;
  req.header_list = {{"accept", "*/*"}, {"x-context", " 42\t"}, {"X-Context", "43"}};
  CHECK(id_of(r, req) == 42);
  req.header_list = {{"X-CONTEXT", "7"}};
  CHECK(id_of(r, req) == 7);
  req.header_list = {{"X-Context-Id", "7"}};
  CHECK(id_of(r, req) == 0);
}

TEST_CASE("an id is a decimal uint32 greater than zero, anything else yields nothing") {
  KeyRule r = rule(KeyRuleKind::Header, "X-Context");
  Req req;
  auto with = [&](std::string v) {
    req.header_list = {{"X-Context", std::move(v)}};
    return id_of(r, req);
  };
  CHECK(with("1") == 1);
  CHECK(with("0042") == 42);
  CHECK(with("4294967295") == 4294967295u);
  CHECK(with("4294967296") == 0);  // overflows uint32
  CHECK(with("99999999999999999999") == 0);
  CHECK(with("0") == 0);
  CHECK(with("") == 0);
  CHECK(with("-5") == 0);
  CHECK(with("+5") == 0);
  CHECK(with("12a") == 0);
  CHECK(with("1 2") == 0);
  CHECK(with("0x10") == 0);
}

TEST_CASE("an invalid id falls through to the next rule") {
  auto x =
      compile_ok({rule(KeyRuleKind::Header, "X-Context"), rule(KeyRuleKind::PathSegment, "", 0),
                  rule(KeyRuleKind::QueryParam, "cid")});
  Req req;
  req.header_list = {{"X-Context", "abc"}};
  req.target = "/nope/x?cid=77";
  ContextKey k = x.extract(req.facts());
  CHECK(k.kind == ContextKey::Id);
  CHECK(k.id == 77);
  CHECK(k.rule_index == 2);

  req.target = "/55?cid=77";  // the earlier matching rule wins
  k = x.extract(req.facts());
  CHECK(k.id == 55);
  CHECK(k.rule_index == 1);
}

TEST_CASE("cookie rule parses several cookies across several Cookie headers") {
  KeyRule r = rule(KeyRuleKind::Cookie, "ctx");
  Req req;
  req.header_list = {{"Cookie", "a=1; b=2;ctx=31 ; d=4"}};
  CHECK(id_of(r, req) == 31);
  req.header_list = {
      {"cookie", "a=1"}, {"X-Other", "ctx=9"}, {"COOKIE", "session=abc; ctx=\"32\""}};
  CHECK(id_of(r, req) == 32);
  req.header_list = {{"Cookie", "xctx=5; ctxx=6; CTX=7; ctx"}};  // names are exact, '=' required
  CHECK(id_of(r, req) == 0);
  req.header_list = {{"Cookie", ";;  ; ctx=8;"}};
  CHECK(id_of(r, req) == 8);
  req.header_list = {{"Set-Cookie", "ctx=9"}};
  CHECK(id_of(r, req) == 0);
}

TEST_CASE("path segment rule: 0-based, percent-decoded, out of range yields nothing") {
  Req req;
  req.target = "/tenants/123/files?x=1";
  CHECK(id_of(rule(KeyRuleKind::PathSegment, "", 1), req) == 123);
  CHECK(id_of(rule(KeyRuleKind::PathSegment, "", 0), req) == 0);  // "tenants"
  CHECK(id_of(rule(KeyRuleKind::PathSegment, "", 2), req) == 0);  // "files"
  CHECK(id_of(rule(KeyRuleKind::PathSegment, "", 3), req) == 0);  // out of range
  CHECK(id_of(rule(KeyRuleKind::PathSegment, "", 9), req) == 0);
  req.target = "/%31%32";
  CHECK(id_of(rule(KeyRuleKind::PathSegment, "", 0), req) == 12);
  req.target = "/5?6";
  CHECK(id_of(rule(KeyRuleKind::PathSegment, "", 0), req) == 5);
  CHECK(id_of(rule(KeyRuleKind::PathSegment, "", 1), req) == 0);  // the query is not a segment
  req.target = "http://h.example/a/88";  // absolute-form is reduced to its path
  CHECK(id_of(rule(KeyRuleKind::PathSegment, "", 1), req) == 88);
  req.target = "//9";
  CHECK(id_of(rule(KeyRuleKind::PathSegment, "", 0), req) == 0);  // empty segment
  CHECK(id_of(rule(KeyRuleKind::PathSegment, "", 1), req) == 9);
}

TEST_CASE("query param rule: first occurrence, percent-decoded name and value") {
  KeyRule r = rule(KeyRuleKind::QueryParam, "cid");
  Req req;
  req.target = "/x?a=1&cid=17&cid=18";
  CHECK(id_of(r, req) == 17);
  req.target = "/x?c%69d=%31%39";
  CHECK(id_of(r, req) == 19);
  req.target = "/x?cid";
  CHECK(id_of(r, req) == 0);
  req.target = "/x?xcid=3&cidx=4";
  CHECK(id_of(r, req) == 0);
  req.target = "/cid=5";
  CHECK(id_of(r, req) == 0);  // path, not query
  req.target = "/x?cid=6#frag";
  CHECK(id_of(r, req) == 6);
}

TEST_CASE("host regex rule: port stripped, case-insensitive, regex without match yields nothing") {
  KeyRule r = rule(KeyRuleKind::HostRegex, "", 0, R"(^c(?<context>\d+)\.example\.com$)");
  Req req;
  req.host = "c123.example.com:8443";
  CHECK(id_of(r, req) == 123);
  req.host = "C124.EXAMPLE.COM";
  CHECK(id_of(r, req) == 124);
  req.host = "www.example.com";
  CHECK(id_of(r, req) == 0);
  req.host = "";
  CHECK(id_of(r, req) == 0);

  // Groups before the named one are counted: here it is group 3.
  KeyRule r2 = rule(KeyRuleKind::HostRegex, "", 0, R"(^(a|b)(?:x)(\w)-(?<context>\d+)\.)");
  req.host = "ax9-77.example.com";
  CHECK(id_of(r2, req) == 77);
  // Escaped and bracketed parentheses are not groups.
  KeyRule r3 = rule(KeyRuleKind::HostRegex, "", 0, R"(\(?[(]?(?<context>\d+))");
  req.host = "(5";
  CHECK(id_of(r3, req) == 5);
  // ECMAScript "[]" is an empty class: the group after it is a real group, not class content.
  KeyRule r4 = rule(KeyRuleKind::HostRegex, "", 0, R"([]|(x)?-(?<context>\d+))");
  req.host = "x-6";
  CHECK(id_of(r4, req) == 6);
  KeyRule r5 = rule(KeyRuleKind::HostRegex, "", 0, R"(^[[:alpha:](]+(?<context>\d+))");
  req.host = "ab(7";
  CHECK(id_of(r5, req) == 7);
}

TEST_CASE("path regex rule matches the path only and percent-decodes the group") {
  KeyRule r = rule(KeyRuleKind::PathRegex, "", 0, R"(^/ctx/(?<context>[^/]+)/)");
  Req req;
  req.target = "/ctx/42/mail?cid=1";
  CHECK(id_of(r, req) == 42);
  req.target = "/ctx/%34%33/mail";
  CHECK(id_of(r, req) == 43);
  req.target = "/other/42/mail";
  CHECK(id_of(r, req) == 0);
  req.target = "/ctx/abc/mail";
  CHECK(id_of(r, req) == 0);
  KeyRule q = rule(KeyRuleKind::PathRegex, "", 0, R"(cid=(?<context>\d+))");
  req.target = "/x?cid=5";
  CHECK(id_of(q, req) == 0);  // the query is not part of the path
  KeyRule optional_group = rule(KeyRuleKind::PathRegex, "", 0, R"(^/a(?:/(?<context>\d+))?)");
  req.target = "/a";
  CHECK(id_of(optional_group, req) == 0);  // group did not participate
  req.target = "/a/9";
  CHECK(id_of(optional_group, req) == 9);
}

TEST_CASE("login query rule yields a decoded login") {
  KeyRule r = rule(KeyRuleKind::LoginQuery, "name");
  Req req;
  req.target = "/login?action=login&name=user%40domain.com&password=x";
  ContextKey k = extract_one(r, req);
  CHECK(k.kind == ContextKey::Login);
  CHECK(k.login == "user@domain.com");
  req.target = "/login?name=a+b%2Bc";
  CHECK(extract_one(r, req).login == "a b+c");
  req.target = "/login?name=100%";  // invalid escape kept literally
  CHECK(extract_one(r, req).login == "100%");
  req.target = "/login?name=";
  CHECK(extract_one(r, req).kind == ContextKey::None);
  req.target = "/login?user=x";
  CHECK(extract_one(r, req).kind == ContextKey::None);
  req.target = "/login?name=12";  // a login rule never yields an id
  CHECK(extract_one(r, req).kind == ContextKey::Login);
  CHECK(extract_one(r, req).id == 0);
}

TEST_CASE("login form rule reads only an urlencoded body") {
  KeyRule r = rule(KeyRuleKind::LoginForm, "login");
  Req req;
  req.method = "POST";
  req.target = "/ajax/login?login=fromquery";
  req.body = "action=login&login=alice%40example.com&password=secret";
  req.content_type = "application/x-www-form-urlencoded; charset=UTF-8";
  ContextKey k = extract_one(r, req);
  CHECK(k.kind == ContextKey::Login);
  CHECK(k.login == "alice@example.com");
  req.content_type = "Application/X-WWW-Form-Urlencoded";
  CHECK(extract_one(r, req).login == "alice@example.com");
  req.content_type = "application/json";
  CHECK(extract_one(r, req).kind == ContextKey::None);
  req.content_type = "";
  CHECK(extract_one(r, req).kind == ContextKey::None);
  req.content_type = "application/x-www-form-urlencoded";
  req.body = "";
  CHECK(extract_one(r, req).kind == ContextKey::None);
}

TEST_CASE("compile reports bad rules with their index") {
  CHECK_THAT(compile_error({rule(KeyRuleKind::Header, "X"),
                            rule(KeyRuleKind::PathRegex, "", 0, "^/(?<context>\\d+")}),
             Catch::Matchers::StartsWith("rules[1] (path_regex): bad pattern"));
  CHECK_THAT(
      compile_error({rule(KeyRuleKind::HostRegex, "", 0, R"(^(\d+)\.)")}),
      Catch::Matchers::Equals("rules[0] (host_regex): pattern has no (?<context>...) group"));
  CHECK_THAT(compile_error({rule(KeyRuleKind::HostRegex, "", 0, R"(\(?<context>\d+))")}),
             Catch::Matchers::Contains("no (?<context>...) group"));  // escaped: not a group
  CHECK_THAT(compile_error({rule(KeyRuleKind::HostRegex, "", 0, "(?<context>a)(?<context>b)")}),
             Catch::Matchers::Contains("more than one"));
  CHECK_THAT(compile_error({rule(KeyRuleKind::PathRegex, "", 0, R"((?<tenant>\d+))")}),
             Catch::Matchers::Contains("only the named group"));
  CHECK_THAT(compile_error({rule(KeyRuleKind::Header, ""), rule(KeyRuleKind::Cookie, "c")}),
             Catch::Matchers::Equals("rules[0] (header): name is empty"));
  CHECK_THAT(compile_error({rule(KeyRuleKind::Cookie, "c"), rule(KeyRuleKind::LoginForm, "")}),
             Catch::Matchers::StartsWith("rules[1] (login_form)"));
  CHECK_THAT(compile_error({rule(KeyRuleKind::PathSegment, "", -1)}),
             Catch::Matchers::Contains("segment must be >= 0"));
  auto r = KeyExtractor::compile({rule(KeyRuleKind::PathRegex, "", 0, "[")});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == sy::Errc::Config);
}

TEST_CASE("helpers: origin_form, strip_port, percent_decode, iequals") {
  CHECK(origin_form("/a?b") == "/a?b");
  CHECK(origin_form("https://h:1/p?q") == "/p?q");
  CHECK(origin_form("http://h?q") == "?q");
  CHECK(origin_form("http://h") == "");
  CHECK(origin_form("*") == "");
  CHECK(origin_form("") == "");
  CHECK(strip_port("a.b:8080") == "a.b");
  CHECK(strip_port("a.b") == "a.b");
  CHECK(strip_port("[::1]:80") == "[::1]");
  CHECK(strip_port("[::1]") == "[::1]");
  std::string out = "x";
  percent_decode("%41%2f%2F+%zz%4", true, &out);
  CHECK(out == "xA// %zz%4");
  out.clear();
  percent_decode("a+b", false, &out);
  CHECK(out == "a+b");
  CHECK(iequals("Content-Type", "content-type"));
  CHECK_FALSE(iequals("Content-Type", "content-typ"));
  CHECK_FALSE(iequals("a", "b"));
}

TEST_CASE("regex rules do not run on oversized input") {
  KeyRule r = rule(KeyRuleKind::PathRegex, "", 0, R"(/(?<context>\d+)$)");
  Req req;
  req.target = "/" + std::string(4094, 'a') + "/5";  // 4097 bytes
  CHECK(id_of(r, req) == 0);
  req.target = "/" + std::string(4093, 'a') + "/5";  // 4096 bytes: still matched
  CHECK(id_of(r, req) == 5);
}
