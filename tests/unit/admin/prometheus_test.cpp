// admin/prometheus.h: families, label escaping, histograms made cumulative. Pure.

#include "admin/prometheus.h"

#include <catch.hpp>

#include <string>

using namespace sy::admin;

TEST_CASE("a family has HELP and TYPE, then its samples; label values are escaped") {
  std::string out;
  PromWriter w(&out);
  w.family("sy_x_total", "counter", "Things \\ counted\nover lines.");
  w.sample("sy_x_total", {}, uint64_t{3});
  w.sample("sy_x_total", {{"pool", "a\"b\\c\nd"}, {"class", "2xx"}},
           uint64_t{18446744073709551615u});
  w.sample("sy_age", {{"k", "v"}}, 1.5);
  CHECK(out == "# HELP sy_x_total Things \\\\ counted\\nover lines.\n"
               "# TYPE sy_x_total counter\n"
               "sy_x_total 3\n"
               "sy_x_total{pool=\"a\\\"b\\\\c\\nd\",class=\"2xx\"} 18446744073709551615\n"
               "sy_age{k=\"v\"} 1.5\n");
}

TEST_CASE("a histogram's buckets are cumulative, in seconds, and end with +Inf") {
  std::string out;
  PromWriter w(&out);
  const uint64_t bounds[] = {500, 1000, 2500000};
  const uint64_t counts[] = {2, 0, 3, 1};  // the last is above every bound
  w.histogram("sy_d_seconds", {{"listener", "main"}}, bounds, counts, 3, 4250000);
  CHECK(out == "sy_d_seconds_bucket{listener=\"main\",le=\"0.0005\"} 2\n"
               "sy_d_seconds_bucket{listener=\"main\",le=\"0.001\"} 2\n"
               "sy_d_seconds_bucket{listener=\"main\",le=\"2.5\"} 5\n"
               "sy_d_seconds_bucket{listener=\"main\",le=\"+Inf\"} 6\n"
               "sy_d_seconds_sum{listener=\"main\"} 4.25\n"
               "sy_d_seconds_count{listener=\"main\"} 6\n");
  out.clear();
  w.histogram("sy_h_seconds", {}, bounds, counts, 3, 0);
  CHECK(out.find("sy_h_seconds_bucket{le=\"+Inf\"} 6\n") != std::string::npos);
  CHECK(out.find("sy_h_seconds_count 6\n") != std::string::npos);
}
