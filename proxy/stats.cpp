#include "proxy/stats.h"

namespace sy::proxy {

const char* stat_name(Stat stat) {
  switch (stat) {
  case Stat::ConnectionsAccepted: return "connections_accepted";
  case Stat::ConnectionsActive: return "connections_active";
  case Stat::Requests: return "requests";
  case Stat::Responses1xx: return "responses_1xx";
  case Stat::Responses2xx: return "responses_2xx";
  case Stat::Responses3xx: return "responses_3xx";
  case Stat::Responses4xx: return "responses_4xx";
  case Stat::Responses5xx: return "responses_5xx";
  case Stat::BadRequests: return "bad_requests";
  case Stat::ClientTimeouts: return "client_timeouts";
  case Stat::ClientAborts: return "client_aborts";
  case Stat::UpstreamConnects: return "upstream_connects";
  case Stat::UpstreamConnectFailures: return "upstream_connect_failures";
  case Stat::UpstreamReuses: return "upstream_reuses";
  case Stat::UpstreamRetries: return "upstream_retries";
  case Stat::UpstreamTimeouts: return "upstream_timeouts";
  case Stat::UpstreamErrors: return "upstream_errors";
  case Stat::NoHealthyMember: return "no_healthy_member";
  case Stat::PassiveEjections: return "passive_ejections";
  case Stat::RouteProxies: return "route_proxies";
  case Stat::RouteRedirects: return "route_redirects";
  case Stat::RouteRejects: return "route_rejects";
  case Stat::RouteHolds: return "route_holds";
  case Stat::HoldRefused: return "hold_refused";
  case Stat::HeldNow: return "held_now";
  case Stat::TrailerFieldsDropped: return "trailer_fields_dropped";
  case Stat::UnderscoreFieldsDropped: return "underscore_fields_dropped";
  case Stat::ProxyHeadersRejected: return "proxy_headers_rejected";
  case Stat::Tunnels: return "tunnels";
  case Stat::TunnelTimeouts: return "tunnel_timeouts";
  case Stat::TunnelsCut: return "tunnels_cut";
  case Stat::StickyHits: return "sticky_hits";
  case Stat::StickyFallbacks: return "sticky_fallbacks";
  case Stat::kCount: break;
  }
  return "?";
}

void count_status(WorkerStats& stats, int status) {
  if (status < 200) {
    stats.inc(Stat::Responses1xx);
  } else if (status < 300) {
    stats.inc(Stat::Responses2xx);
  } else if (status < 400) {
    stats.inc(Stat::Responses3xx);
  } else if (status < 500) {
    stats.inc(Stat::Responses4xx);
  } else {
    stats.inc(Stat::Responses5xx);
  }
}

}  // namespace sy::proxy
