// admin/status_page.h: the status page escapes every value and shows pools, members, schema
// counts and the upgrade run. Pure.

#include "admin/status_page.h"

#include <catch.hpp>

#include <string>

using namespace sy::admin;

namespace {

StatusView sample_view() {
  StatusView v;
  v.instance_id = "sy-1";
  v.version = "7.10";
  v.role = "old";
  v.ready = true;
  PoolView p;
  p.name = "old";
  p.version = "7.10";
  p.requests = 12;
  MemberView a;
  a.address = "10.0.0.1:80";
  MemberView b;
  b.address = "10.0.0.2:80";
  b.admin = MemberAdmin::Maintenance;
  b.healthy = false;
  p.members = {a, b};
  v.pools = {p};
  v.routing = true;
  v.snapshot_generation = 4;
  v.database = "up";
  v.schemas = {{"enabled", 9}, {"disabled", 1}};
  return v;
}

}  // namespace

TEST_CASE("html_escape replaces the five characters HTML gives meaning to") {
  CHECK(html_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
  CHECK(html_escape("plain") == "plain");
}

TEST_CASE("the page lists pools, members with state and health, schema counts; it refreshes") {
  std::string page = render_status_page(sample_view(), 5);
  CHECK(page.find("<meta http-equiv=\"refresh\" content=\"5\">") != std::string::npos);
  CHECK(page.find("<td class=\"pool\" rowspan=\"2\">old</td>") != std::string::npos);
  CHECK(page.find("<td class=\"address\">10.0.0.1:80</td><td class=\"up\">ready</td>"
                  "<td class=\"up\">healthy</td>") != std::string::npos);
  CHECK(page.find("<td class=\"address\">10.0.0.2:80</td><td class=\"warn\">maintenance</td>"
                  "<td class=\"down\">down</td>") != std::string::npos);
  CHECK(page.find("<td class=\"state\">enabled</td><td class=\"count\">9</td>") !=
        std::string::npos);
  CHECK(page.find("no upgrade run is driven by this instance") != std::string::npos);
  CHECK(page.find("<span id=\"ready\" class=\"up\">ready</span>") != std::string::npos);
}

TEST_CASE("the running upgrade shows its schema, step and progress") {
  StatusView v = sample_view();
  v.upgrade = ProgressLine{3, 10, "oxdb_4", "drain", "begin", 1200, -1, "waiting for 2 requests"};
  std::string page = render_status_page(v, 5);
  CHECK(page.find("schema <b>oxdb_4</b>, step drain (begin): 3 of 10 schemas done "
                  "<progress max=\"10\" value=\"3\"></progress> &mdash; waiting for 2 requests") !=
        std::string::npos);
}

TEST_CASE("every value from the view is escaped") {
  StatusView v = sample_view();
  v.instance_id = "<script>alert(1)</script>";
  v.pools[0].name = "p\"><img src=x>";
  v.pools[0].members[0].address = "<b>";
  v.not_ready_why = "<i>";
  v.ready = false;
  v.upgrade = ProgressLine{0, 1, "<s>", "&", "'", 0, -1, "\"x\""};
  std::string page = render_status_page(v, 5);
  CHECK(page.find("<script>") == std::string::npos);
  CHECK(page.find("<img") == std::string::npos);
  CHECK(page.find("<b>\"") == std::string::npos);
  CHECK(page.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(page.find("p&quot;&gt;&lt;img src=x&gt;") != std::string::npos);
  CHECK(page.find("<td class=\"address\">&lt;b&gt;</td>") != std::string::npos);
  CHECK(page.find("not ready: &lt;i&gt;") != std::string::npos);
  CHECK(page.find("<b>&lt;s&gt;</b>, step &amp; (&#39;)") != std::string::npos);
}
