// proxy/sticky.h: reading the sticky cookie, dropping it from a forwarded Cookie value, member
// ids (never the address) and the Set-Cookie value.

#include "proxy/sticky.h"

#include <catch.hpp>

#include <string>
#include <vector>

using namespace sy::proxy;

TEST_CASE("the sticky cookie is found among other cookies and HTTP/2 crumbs") {
  std::vector<Field> f = {{"Accept", "*/*"},
                          {"Cookie", "a=1; XSYSRV=no; SYSRV=node2; b=2"},
                          {"cookie", "SYSRV=later"}};
  CHECK(find_cookie(f.data(), f.size(), "SYSRV") == "node2");
  CHECK(find_cookie(f.data(), f.size(), "XSYSRV") == "no");
  CHECK(find_cookie(f.data(), f.size(), "b") == "2");
  CHECK(find_cookie(f.data(), f.size(), "missing").empty());
  std::vector<Field> crumbs = {{"cookie", "a=1"}, {"cookie", " JSESSIONID=\"abc.node1\" "}};
  CHECK(find_cookie(crumbs.data(), crumbs.size(), "JSESSIONID") == "abc.node1");
  std::vector<Field> prefix_only = {{"Cookie", "SYSRVX=1;SYSR=2"}};
  CHECK(find_cookie(prefix_only.data(), prefix_only.size(), "SYSRV").empty());
}

TEST_CASE("our cookie is taken out of a forwarded Cookie value, the rest kept in order") {
  std::string out;
  append_cookie_without("a=1; SYSRV=node2; b=2", "SYSRV", false, &out);
  CHECK(out == "a=1; b=2");
  out.clear();
  append_cookie_without("SYSRV=node2", "SYSRV", false, &out);
  CHECK(out.empty());
  out = "x=0";
  append_cookie_without("SYSRV=n;c=3", "SYSRV", true, &out);
  CHECK(out == "x=0; c=3");
  out.clear();
  append_cookie_without("a=1; XSYSRV=keep", "SYSRV", false, &out);
  CHECK(out == "a=1; XSYSRV=keep");
  out.clear();
  append_cookie_without("a=1;b=2", "", false, &out);  // no name: as received
  CHECK(out == "a=1;b=2");
}

TEST_CASE("the route is what follows the session's last dot") {
  CHECK(route_of("abc.node1") == "node1");
  CHECK(route_of("a.b.node2") == "node2");
  CHECK(route_of("abc").empty());
  CHECK(route_of("abc.").empty());
}

TEST_CASE("a member's id is its route, else a keyed hash that does not show the address") {
  sy::conf::Pool pool;
  pool.name = "app";
  pool.sticky.mode = sy::conf::StickyMode::Insert;
  pool.sticky.cookie = "SYSRV";
  pool.sticky.secret = "s3cret";
  sy::conf::Member a;
  a.address = "10.0.0.7:8080";
  sy::conf::Member b;
  b.address = "10.0.0.8:8080";
  std::string ida = sticky_member_id(pool, a.route, a.address);
  CHECK(ida.size() == 16);
  CHECK(ida.find("10.0.0.7") == std::string::npos);
  CHECK(ida.find("8080") == std::string::npos);
  // Stable: another instance computes the same.
  CHECK(ida == sticky_member_id(pool, a.route, a.address));
  CHECK(ida != sticky_member_id(pool, b.route, b.address));
  pool.sticky.secret = "other";
  // Keyed: without the secret it cannot be guessed.
  CHECK(ida != sticky_member_id(pool, a.route, a.address));
  a.route = "node1";
  CHECK(sticky_member_id(pool, a.route, a.address) == "node1");
}

TEST_CASE("the Set-Cookie value") {
  sy::conf::Sticky s;
  s.cookie = "SYSRV";
  CHECK(sticky_set_cookie(s, "node1", false) == "SYSRV=node1; Path=/; HttpOnly; SameSite=Lax");
  s.max_age = sy::conf::Millis(3600000);
  CHECK(sticky_set_cookie(s, "node1", true) ==
        "SYSRV=node1; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600; Secure");
}
