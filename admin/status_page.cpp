#include "admin/status_page.h"

#include <cstdio>

#include "store/member_store.h"

namespace sy::admin {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    case '\'': out += "&#39;"; break;
    default: out.push_back(c);
    }
  }
  return out;
}

namespace {

constexpr char kStyle[] = "body{font-family:sans-serif;margin:1.5em;color:#222}"
                          "table{border-collapse:collapse;margin-bottom:1.5em}"
                          "th,td{border:1px solid #ccc;padding:.3em .7em;text-align:left}"
                          "th{background:#f0f0f0}.up{color:#070}.down{color:#b00}.warn{color:#a60}"
                          "progress{width:20em}";

// <td> with escaped text and an optional class.
void cell(std::string* out, std::string_view text, std::string_view cls = {}) {
  out->append("<td");
  if (!cls.empty()) {
    out->append(" class=\"").append(cls).append("\"");
  }
  out->append(">").append(html_escape(text)).append("</td>");
}

}  // namespace

std::string render_status_page(const StatusView& v, int refresh_seconds) {
  std::string o;
  o.reserve(4096);
  o += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  o += "<meta http-equiv=\"refresh\" content=\"" + std::to_string(refresh_seconds) + "\">";
  o += "<title>Switchyard " + html_escape(v.instance_id) + "</title><style>";
  o += kStyle;
  o += "</style></head><body>\n";
  o += "<h1>Switchyard <span id=\"instance\">" + html_escape(v.instance_id) + "</span></h1>\n";
  o += "<p>version " + html_escape(v.version);
  if (!v.role.empty()) {
    o += ", role " + html_escape(v.role);
  }
  o += " &mdash; <span id=\"ready\" class=\"" + std::string(v.ready ? "up" : "down") + "\">" +
       (v.ready ? std::string("ready") : "not ready: " + html_escape(v.not_ready_why)) +
       "</span></p>\n";

  o += "<h2>Pools</h2>\n<table id=\"pools\"><tr><th>pool</th><th>version</th><th>member</th>"
       "<th>state</th><th>health</th><th>weight</th><th>in flight</th><th>requests</th>"
       "<th>5xx</th></tr>\n";
  for (const PoolView& p : v.pools) {
    bool first = true;
    for (const MemberView& m : p.members) {
      o += "<tr class=\"member\">";
      if (first) {
        std::string rows = std::to_string(p.members.size());
        o += "<td class=\"pool\" rowspan=\"" + rows + "\">" + html_escape(p.name) + "</td>";
        o += "<td rowspan=\"" + rows + "\">" + html_escape(p.version) + "</td>";
      }
      cell(&o, m.address, "address");
      const char* admin = store::to_string(m.admin);
      cell(&o, admin, m.admin == MemberAdmin::Ready ? "up" : "warn");
      cell(&o, m.healthy ? "healthy" : "down", m.healthy ? "up" : "down");
      cell(&o, std::to_string(m.weight));
      cell(&o, std::to_string(m.inflight));
      if (first) {
        std::string rows = std::to_string(p.members.size());
        o += "<td rowspan=\"" + rows + "\">" + std::to_string(p.requests) + "</td>";
        o += "<td rowspan=\"" + rows + "\">" + std::to_string(p.responses_5xx) + "</td>";
      }
      first = false;
      o += "</tr>\n";
    }
  }
  o += "</table>\n";

  if (v.routing) {
    char age[64];
    std::snprintf(age, sizeof age, "%.1f s ago, directory checked %.1f s ago",
                  v.snapshot_age_seconds, v.checked_age_seconds);
    o += "<h2>Routing</h2>\n<p>snapshot <span id=\"generation\">" +
         std::to_string(v.snapshot_generation) + "</span>, published " + age +
         "; database <span class=\"" + std::string(v.database == "up" ? "up" : "down") + "\">" +
         html_escape(v.database) + "</span></p>\n";
    o += "<table id=\"schemas\"><tr><th>schema state</th><th>schemas</th></tr>\n";
    for (const auto& [state, n] : v.schemas) {
      o += "<tr class=\"schema-state\">";
      cell(&o, state, "state");
      cell(&o, std::to_string(n), "count");
      o += "</tr>\n";
    }
    o += "</table>\n";
  }

  o += "<h2>Upgrade</h2>\n";
  if (v.upgrade) {
    const ProgressLine& p = *v.upgrade;
    o += "<p id=\"upgrade\">schema <b>" + html_escape(p.schema) + "</b>, step " +
         html_escape(p.step) + " (" + html_escape(p.phase) + "): " + std::to_string(p.done) +
         " of " + std::to_string(p.total) + " schemas done <progress max=\"" +
         std::to_string(p.total) + "\" value=\"" + std::to_string(p.done) + "\"></progress>";
    if (!p.detail.empty()) {
      o += " &mdash; " + html_escape(p.detail);
    }
    o += "</p>\n";
  } else {
    o += "<p id=\"upgrade\">no upgrade run is driven by this instance</p>\n";
  }
  o += "</body></html>\n";
  return o;
}

}  // namespace sy::admin
