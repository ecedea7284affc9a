// admin/import.h, the pure part: CSV lines and records, and every error located by line.

#include "admin/import.h"

#include <catch.hpp>

using namespace sy::admin;
using Kind = ImportRecord::Kind;

TEST_CASE("split_csv_line: plain, blank-trimmed and quoted fields") {
  CHECK(split_csv_line("a,b,c").value() == std::vector<std::string>{"a", "b", "c"});
  CHECK(split_csv_line(" a , b ,c\r").value() == std::vector<std::string>{"a", "b", "c"});
  CHECK(split_csv_line("a,,").value() == std::vector<std::string>{"a", "", ""});
  CHECK(split_csv_line(R"(login,"x,y@example.com", 5)").value() ==
        std::vector<std::string>{"login", "x,y@example.com", "5"});
  CHECK(split_csv_line(R"("say ""hi""",b)").value() == std::vector<std::string>{"say \"hi\"", "b"});
  CHECK(split_csv_line(R"(a,"open)").error().message.find("unterminated") != std::string::npos);
  CHECK(split_csv_line(R"("a"b,c)").error().message.find("followed by ','") != std::string::npos);
  CHECK(split_csv_line(R"(a"b,c)").error().message.find("unquoted field") != std::string::npos);
}

TEST_CASE("parse_import_csv: the three record types, comments and blank lines") {
  auto r = parse_import_csv("# tenants of site A\n"
                            "\n"
                            "login,alice@example.com,11\n"
                            "context,11,s1\n"
                            "context,12,s1,disabled\n"
                            "context,13,s1,enabled,app-new\n"
                            "schema,s1,app-old\n"
                            "schema,s2,2,disabled\n",
                            "a.csv");
  REQUIRE(r.ok());
  REQUIRE(r->size() == 6);
  const auto& v = *r;
  CHECK((v[0].kind == Kind::Login && v[0].name == "alice@example.com" && v[0].id == 11));
  CHECK(v[0].where == "a.csv:3");
  CHECK((v[1].kind == Kind::Context && v[1].id == 11 && v[1].schema == "s1" && v[1].enabled &&
         v[1].server.empty()));
  CHECK_FALSE(v[2].enabled);
  CHECK(v[3].server == "app-new");
  CHECK(
      (v[4].kind == Kind::Schema && v[4].name == "s1" && v[4].server == "app-old" && v[4].enabled));
  CHECK((v[5].server == "2" && !v[5].enabled && v[5].where == "a.csv:8"));
}

TEST_CASE("parse_import_csv: every bad line is reported with its place, nothing returned") {
  auto r = parse_import_csv("schema,s1,app-old\n"
                            "tenant,1,s1\n"
                            "context,0,s1\n"
                            "context,x,s1\n"
                            "context,5,s1,maybe\n"
                            "schema,bad name,app\n"
                            "schema,s2\n"
                            "login,has space,1\n"
                            "login,bob,\"1\n",
                            "b.csv");
  REQUIRE_FALSE(r.ok());
  const std::string& m = r.error().message;
  INFO(m);
  CHECK(std::string(r.error().tag) == "invalid-argument");
  CHECK(m.find("b.csv is not a valid import file (8 error(s))") != std::string::npos);
  CHECK(m.find("b.csv:2: unknown record type 'tenant'") != std::string::npos);
  CHECK(m.find("b.csv:3: context id '0' is not a positive integer") != std::string::npos);
  CHECK(m.find("b.csv:4: context id 'x'") != std::string::npos);
  CHECK(m.find("b.csv:5: state 'maybe' is not enabled or disabled") != std::string::npos);
  CHECK(m.find("b.csv:6: schema name 'bad name' may hold only") != std::string::npos);
  CHECK(m.find("b.csv:7: schema needs schema,NAME,SERVER[,enabled|disabled] (2 field(s) here)") !=
        std::string::npos);
  CHECK(m.find("b.csv:8: login 'has space' holds a space") != std::string::npos);
  CHECK(m.find("b.csv:9: unterminated quoted field") != std::string::npos);
  CHECK(m.find("b.csv:1:") == std::string::npos);  // the good line is not blamed
}

TEST_CASE("parse_import_csv: an empty file, and the error list is bounded") {
  auto empty = parse_import_csv("# nothing\n\n", "e.csv");
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().message.find("holds no record") != std::string::npos);
  std::string many;
  for (int i = 0; i < 50; ++i) {
    many += "junk\n";
  }
  auto r = parse_import_csv(many, "m.csv");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("(50 error(s), the first 20)") != std::string::npos);
  CHECK(r.error().message.find("m.csv:20:") != std::string::npos);
  CHECK(r.error().message.find("m.csv:21:") == std::string::npos);
}

TEST_CASE("check_schema_name and check_login") {
  CHECK(check_schema_name("oxdatabase_5").ok());
  CHECK(check_schema_name("a-b$c").ok());
  CHECK_FALSE(check_schema_name("").ok());
  CHECK_FALSE(check_schema_name(std::string(65, 'a')).ok());
  CHECK_FALSE(check_schema_name("a`b").ok());
  CHECK(check_login("alice@example.com").ok());
  CHECK_FALSE(check_login("").ok());
  CHECK_FALSE(check_login("a\tb").ok());
  CHECK_FALSE(check_login(std::string(256, 'x')).ok());
}
