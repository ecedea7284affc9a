#include "app/http_setup.h"

#include <array>
#include <chrono>

#include "admin/prometheus.h"
#include "admin/status_page.h"
#include "app/admin_setup.h"
#include "app/tenant_setup.h"
#include "common/version.h"
#include "proxy/metrics.h"
#include "proxy/stats.h"
#include "proxy/worker.h"
#include "routing/snapshot.h"
#include "store/member_store.h"

namespace sy::app {

using admin::PromWriter;
using proxy::Histogram;
using proxy::kLatencyBoundsUs;
using proxy::kLatencyBuckets;
using proxy::kStatusClasses;
using proxy::Stat;

namespace {

constexpr std::array<const char*, kStatusClasses> kClassNames = {"1xx", "2xx", "3xx", "4xx", "5xx"};
constexpr int kStatusRefreshSeconds = 5;

uint64_t now_unix_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

bool workers_ready(const HttpSources& s) {
  return s.workers_started->load(std::memory_order_acquire);
}

bool is_ready(const HttpSources& s, std::string* why) {
  if (s.draining.load(std::memory_order_relaxed)) {
    *why = "draining";
    return false;
  }
  if (s.publisher != nullptr && s.publisher->generation() == 0) {
    *why = "no routing snapshot yet";
    return false;
  }
  if (!workers_ready(s)) {
    *why = "starting";
    return false;
  }
  return true;
}

// Histogram buckets summed over workers.
struct HistSum {
  std::array<uint64_t, kLatencyBuckets> counts{};
  uint64_t sum_us = 0;
  void add(const Histogram& h) {
    for (size_t i = 0; i < kLatencyBuckets; ++i) {
      counts[i] += h.count_in(i);
    }
    sum_us += h.sum_us();
  }
  void write(PromWriter& w, std::string_view name, std::initializer_list<admin::Label> labels) {
    w.histogram(name, labels, kLatencyBoundsUs.data(), counts.data(), kLatencyBoundsUs.size(),
                sum_us);
  }
};

// Counts of schemas by state in the current snapshot.
std::vector<std::pair<std::string, uint64_t>> schema_states(const routing::RoutingSnapshot& snap) {
  uint64_t enabled = 0;
  for (size_t i = 0; i < snap.schema_count(); ++i) {
    enabled += snap.schema_enabled(static_cast<uint32_t>(i)) ? 1 : 0;
  }
  return {{"enabled", enabled}, {"disabled", snap.schema_count() - enabled}};
}

// The proxy counters of stats.h that have a family of their own below (decisions, responses by
// class) or are gauges.
bool has_own_family(Stat s) {
  switch (s) {
  case Stat::Responses1xx:
  case Stat::Responses2xx:
  case Stat::Responses3xx:
  case Stat::Responses4xx:
  case Stat::Responses5xx:
  case Stat::RouteProxies:
  case Stat::RouteRedirects:
  case Stat::RouteRejects:
  case Stat::RouteHolds:
  case Stat::HoldRefused:
  case Stat::ConnectionsActive:
  case Stat::HeldNow: return true;
  default: return false;
  }
}

void render_process(const HttpSources& s, PromWriter& w) {
  std::string why;
  w.family("switchyard_build_info", "gauge", "Always 1; the version in a label.");
  w.sample("switchyard_build_info", {{"version", sy::version()}}, uint64_t{1});
  w.family("switchyard_ready", "gauge", "1 when /ready answers 200.");
  w.sample("switchyard_ready", {}, uint64_t{is_ready(s, &why) ? 1u : 0u});
  w.family("switchyard_draining", "gauge", "1 once a drain (SIGTERM/SIGINT) started.");
  w.sample("switchyard_draining", {}, uint64_t{s.draining.load() ? 1u : 0u});
}

void render_proxy(const HttpSources& s, PromWriter& w) {
  const auto& workers = *s.workers;
  const conf::Config& config = *s.config;
  admin::StatsView stats = stats_view(s.workers);
  w.family("switchyard_workers", "gauge", "Worker threads.");
  w.sample("switchyard_workers", {}, static_cast<uint64_t>(workers.size()));
  for (int i = 0; i < static_cast<int>(Stat::kCount); ++i) {
    auto st = static_cast<Stat>(i);
    if (has_own_family(st)) {
      continue;
    }
    std::string name = std::string("switchyard_") + proxy::stat_name(st) + "_total";
    w.family(name, "counter",
             std::string("Proxy counter ") + proxy::stat_name(st) +
                 " (as in `show stats`), all workers.");
    w.sample(name, {}, stats.proxy[static_cast<size_t>(i)].second);
  }
  auto stat = [&](Stat st) { return stats.proxy[static_cast<size_t>(st)].second; };
  w.family("switchyard_connections_active", "gauge", "Client connections open now.");
  w.sample("switchyard_connections_active", {}, stat(Stat::ConnectionsActive));
  w.family("switchyard_responses_total", "counter",
           "Responses sent to clients by status class (proxied and local).");
  for (size_t c = 0; c < kStatusClasses; ++c) {
    w.sample("switchyard_responses_total", {{"class", kClassNames[c]}},
             stat(static_cast<Stat>(static_cast<int>(Stat::Responses1xx) + static_cast<int>(c))));
  }
  w.family("switchyard_routing_decisions_total", "counter",
           "Routing decisions: proxy, redirect, reject, hold (parked at least once), "
           "hold_refused.");
  for (const auto& [name, n] : stats.decisions) {
    w.sample("switchyard_routing_decisions_total", {{"decision", name}}, n);
  }
  w.family("switchyard_ctx_answers_total", "counter", "Local answers by CTX code.");
  for (const auto& [code, n] : stats.errors) {
    w.sample("switchyard_ctx_answers_total", {{"code", code}}, n);
  }
  w.family("switchyard_held_requests", "gauge", "Requests parked now (refreshed every 100 ms).");
  w.sample("switchyard_held_requests", {}, stats.held_now);

  if (workers.empty() || workers[0]->metrics() == nullptr) {
    return;
  }
  // Per listener.
  const size_t nl = config.listeners.size();
  auto listener_sum = [&](size_t l, auto field) {
    uint64_t n = 0;
    for (const auto& wk : workers) {
      n += field(wk->metrics()->listener(l));
    }
    return n;
  };
  using LM = proxy::ListenerMetrics;
  struct ListenerCounter {
    const char* name;
    const char* help;
    uint64_t (*get)(const LM&);
  };
  static constexpr ListenerCounter kListenerCounters[] = {
      {"switchyard_listener_requests_total", "Requests (exchanges) per listener.",
       [](const LM& m) { return m.requests.get(); }},
      {"switchyard_listener_received_bytes_total", "Request bytes from clients per listener.",
       [](const LM& m) { return m.bytes_in.get(); }},
      {"switchyard_listener_sent_bytes_total", "Response bytes to clients per listener.",
       [](const LM& m) { return m.bytes_out.get(); }},
  };
  for (const auto& lc : kListenerCounters) {
    w.family(lc.name, "counter", lc.help);
    for (size_t l = 0; l < nl; ++l) {
      w.sample(lc.name, {{"listener", config.listeners[l].name}}, listener_sum(l, lc.get));
    }
  }
  w.family("switchyard_listener_responses_total", "counter",
           "Responses per listener by status class.");
  for (size_t l = 0; l < nl; ++l) {
    for (size_t c = 0; c < kStatusClasses; ++c) {
      w.sample("switchyard_listener_responses_total",
               {{"listener", config.listeners[l].name}, {"class", kClassNames[c]}},
               listener_sum(l, [c](const LM& m) { return m.responses[c].get(); }));
    }
  }
  w.family("switchyard_listener_connections", "gauge", "Client connections open now per listener.");
  for (size_t l = 0; l < nl; ++l) {
    w.sample("switchyard_listener_connections", {{"listener", config.listeners[l].name}},
             listener_sum(l, [](const LM& m) { return m.connections.get(); }));
  }
  w.family("switchyard_tls_handshakes_total", "counter",
           "Client TLS handshakes per listener by outcome: ok, timeout, protocol, closed, "
           "aborted.");
  for (size_t l = 0; l < nl; ++l) {
    if (!config.listeners[l].tls.enabled) {
      continue;
    }
    for (size_t o = 0; o < proxy::kTlsOutcomes; ++o) {
      w.sample("switchyard_tls_handshakes_total",
               {{"listener", config.listeners[l].name},
                {"outcome", proxy::tls_outcome_name(static_cast<proxy::TlsOutcome>(o))}},
               listener_sum(l, [o](const LM& m) { return m.tls[o].get(); }));
    }
  }
  w.family("switchyard_request_duration_seconds", "histogram",
           "From the first byte of a request to its end (logged), per listener.");
  for (size_t l = 0; l < nl; ++l) {
    HistSum h;
    for (const auto& wk : workers) {
      h.add(wk->metrics()->listener(l).latency);
    }
    h.write(w, "switchyard_request_duration_seconds", {{"listener", config.listeners[l].name}});
  }
  HistSum hold;
  for (const auto& wk : workers) {
    hold.add(wk->metrics()->hold_time());
  }
  w.family("switchyard_hold_duration_seconds", "histogram",
           "How long held requests stayed parked (released, refused or gone).");
  hold.write(w, "switchyard_hold_duration_seconds", {});

  // Per pool and member.
  std::vector<admin::PoolView> pools = pool_views(s.registry, s.workers);
  struct MemberSums {
    uint64_t requests = 0, errors = 0;
    std::array<uint64_t, kStatusClasses> responses{};
  };
  std::vector<std::vector<MemberSums>> sums(pools.size());
  for (size_t p = 0; p < pools.size(); ++p) {
    sums[p].resize(pools[p].members.size());
    for (const auto& wk : workers) {
      const proxy::PoolMetrics& pm = wk->metrics()->pool(pools[p].slot);
      for (size_t m = 0; m < pools[p].members.size() && m < pm.member_count; ++m) {
        const proxy::MemberMetrics& mm = pm.members[m];
        sums[p][m].requests += mm.requests.get();
        sums[p][m].errors += mm.errors.get();
        for (size_t c = 0; c < kStatusClasses; ++c) {
          sums[p][m].responses[c] += mm.responses[c].get();
        }
      }
    }
  }
  w.family("switchyard_pool_requests_total", "counter", "Requests started on each pool.");
  for (const auto& pv : pools) {
    w.sample("switchyard_pool_requests_total", {{"pool", pv.name}}, pv.requests);
  }
  std::vector<MemberSums> pool_totals(pools.size());
  for (size_t p = 0; p < pools.size(); ++p) {
    for (const auto& m : sums[p]) {
      pool_totals[p].errors += m.errors;
      for (size_t c = 0; c < kStatusClasses; ++c) {
        pool_totals[p].responses[c] += m.responses[c];
      }
    }
  }
  // Each family's samples must follow its TYPE line: one loop per family.
  w.family("switchyard_pool_responses_total", "counter",
           "Responses from each pool's members by status class.");
  for (size_t p = 0; p < pools.size(); ++p) {
    for (size_t c = 0; c < kStatusClasses; ++c) {
      w.sample("switchyard_pool_responses_total",
               {{"pool", pools[p].name}, {"class", kClassNames[c]}}, pool_totals[p].responses[c]);
    }
  }
  w.family("switchyard_pool_upstream_errors_total", "counter",
           "Failed connects (each attempt), timeouts, resets and bad responses of each pool's "
           "members.");
  for (size_t p = 0; p < pools.size(); ++p) {
    w.sample("switchyard_pool_upstream_errors_total", {{"pool", pools[p].name}},
             pool_totals[p].errors);
  }
  w.family("switchyard_pool_active_requests", "gauge",
           "Requests holding an upstream connection of each pool now.");
  for (const auto& pv : pools) {
    w.sample("switchyard_pool_active_requests", {{"pool", pv.name}}, pv.active);
  }
  w.family("switchyard_upstream_duration_seconds", "histogram",
           "From the request sent to a member to its response head, per pool.");
  for (size_t p = 0; p < pools.size(); ++p) {
    HistSum h;
    for (const auto& wk : workers) {
      h.add(wk->metrics()->pool(pools[p].slot).upstream_latency);
    }
    h.write(w, "switchyard_upstream_duration_seconds", {{"pool", pools[p].name}});
  }
  // Calls |fn|(pool name, member view, its sums) for every member.
  auto each_member = [&](auto fn) {
    for (size_t p = 0; p < pools.size(); ++p) {
      for (size_t m = 0; m < pools[p].members.size(); ++m) {
        fn(pools[p].name, pools[p].members[m], sums[p][m]);
      }
    }
  };
  using MV = admin::MemberView;
  w.family("switchyard_member_requests_total", "counter", "Exchanges that ended on each member.");
  each_member([&](const std::string& pool, const MV& mv, const MemberSums& ms) {
    w.sample("switchyard_member_requests_total", {{"pool", pool}, {"member", mv.address}},
             ms.requests);
  });
  w.family("switchyard_member_responses_total", "counter",
           "Responses from each member by status class.");
  each_member([&](const std::string& pool, const MV& mv, const MemberSums& ms) {
    for (size_t c = 0; c < kStatusClasses; ++c) {
      w.sample("switchyard_member_responses_total",
               {{"pool", pool}, {"member", mv.address}, {"class", kClassNames[c]}},
               ms.responses[c]);
    }
  });
  w.family("switchyard_member_upstream_errors_total", "counter",
           "Failed connects (each attempt), timeouts, resets and bad responses per member.");
  each_member([&](const std::string& pool, const MV& mv, const MemberSums& ms) {
    w.sample("switchyard_member_upstream_errors_total", {{"pool", pool}, {"member", mv.address}},
             ms.errors);
  });
  w.family("switchyard_member_active_requests", "gauge",
           "Requests holding a connection to each member now.");
  each_member([&](const std::string& pool, const MV& mv, const MemberSums&) {
    w.sample("switchyard_member_active_requests", {{"pool", pool}, {"member", mv.address}},
             mv.inflight);
  });
  w.family("switchyard_member_healthy", "gauge", "1 when the health check passes.");
  each_member([&](const std::string& pool, const MV& mv, const MemberSums&) {
    w.sample("switchyard_member_healthy", {{"pool", pool}, {"member", mv.address}},
             uint64_t{mv.healthy ? 1u : 0u});
  });
  w.family("switchyard_member_state", "gauge",
           "The member's admin state (ready, drain, maintenance): 1 for the current one.");
  static constexpr admin::MemberAdmin kStates[] = {
      admin::MemberAdmin::Ready, admin::MemberAdmin::Drain, admin::MemberAdmin::Maintenance};
  each_member([&](const std::string& pool, const MV& mv, const MemberSums&) {
    for (admin::MemberAdmin st : kStates) {
      w.sample("switchyard_member_state",
               {{"pool", pool}, {"member", mv.address}, {"state", store::to_string(st)}},
               uint64_t{mv.admin == st ? 1u : 0u});
    }
  });
  w.family("switchyard_member_weight", "gauge", "Effective weight (override, else configured).");
  each_member([&](const std::string& pool, const MV& mv, const MemberSums&) {
    w.sample("switchyard_member_weight", {{"pool", pool}, {"member", mv.address}},
             static_cast<uint64_t>(mv.weight));
  });
}

void render_routing(const HttpSources& s, PromWriter& w) {
  if (s.publisher == nullptr) {
    return;
  }
  w.family("switchyard_snapshot_generation", "gauge",
           "Routing snapshots published so far (0 = none yet).");
  w.sample("switchyard_snapshot_generation", {}, s.publisher->generation());
  if (const store::LoaderStatus* l = s.loader.load()) {
    uint64_t published = l->last_publish_unix_ms.load(std::memory_order_relaxed);
    uint64_t now = now_unix_ms();
    if (published != 0) {
      w.family("switchyard_snapshot_age_seconds", "gauge",
               "Seconds since the current routing snapshot was published.");
      w.sample("switchyard_snapshot_age_seconds", {},
               static_cast<double>(now > published ? now - published : 0) / 1e3);
      w.family("switchyard_snapshot_load_seconds", "gauge",
               "How long the round that built the current snapshot took (read + build).");
      w.sample("switchyard_snapshot_load_seconds", {},
               static_cast<double>(l->last_load_us.load(std::memory_order_relaxed)) / 1e6);
    }
    uint64_t ok = l->last_ok_unix_ms.load(std::memory_order_relaxed);
    if (ok != 0) {
      w.family("switchyard_directory_checked_age_seconds", "gauge",
               "Seconds since the last successful directory round (the snapshot is known to be "
               "current as of then; it is republished only when the directory changed).");
      w.sample("switchyard_directory_checked_age_seconds", {},
               static_cast<double>(now > ok ? now - ok : 0) / 1e3);
    }
    if (s.publisher->last_good_round_ms() != 0) {
      const auto steady = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now().time_since_epoch());
      w.family("switchyard_directory_stale", "gauge",
               "1 while the directory is stale: no good round for database.stale_after while "
               "the cluster was not STABLE; schemas that may have moved are held, then answered "
               "503 CTX-0023 (docs/decisions.md 67).");
      w.sample("switchyard_directory_stale", {},
               uint64_t{s.publisher->stale(static_cast<uint64_t>(steady.count())) ? 1u : 0u});
      w.family("switchyard_cluster_stable", "gauge",
               "1 when the last good directory round read sy_cluster.state STABLE.");
      w.sample("switchyard_cluster_stable", {}, uint64_t{s.publisher->cluster_stable() ? 1u : 0u});
    }
    w.family("switchyard_directory_refreshes_total", "counter",
             "Successful directory refresh rounds.");
    w.sample("switchyard_directory_refreshes_total", {},
             l->refreshes.load(std::memory_order_relaxed));
    w.family("switchyard_database_errors_total", "counter",
             "Directory rounds that failed (connect or query).");
    w.sample("switchyard_database_errors_total", {}, l->failures.load(std::memory_order_relaxed));
    w.family("switchyard_database_up", "gauge",
             "1 while the directory database answers (0 when down or slow).");
    w.sample("switchyard_database_up", {},
             uint64_t{std::string_view(l->db_state(now)) == "up" ? 1u : 0u});
  }
  if (auto snap = s.publisher->current()) {
    w.family("switchyard_schemas", "gauge", "Schemas in the routing snapshot by state.");
    for (const auto& [state, n] : schema_states(*snap)) {
      w.sample("switchyard_schemas", {{"state", state}}, n);
    }
  }
}

void render_upgrade(const HttpSources& s, PromWriter& w) {
  const admin::AdminServer* admin = s.admin.load();
  if (admin == nullptr) {
    return;
  }
  auto p = admin->upgrade_progress();
  w.family("switchyard_upgrade_running", "gauge",
           "1 while an `upgrade schemata` run is driven by this instance.");
  w.sample("switchyard_upgrade_running", {}, uint64_t{p ? 1u : 0u});
  if (!p) {
    return;
  }
  w.family("switchyard_upgrade_schemas_done", "gauge", "Schemas the running upgrade finished.");
  w.sample("switchyard_upgrade_schemas_done", {}, static_cast<uint64_t>(p->done));
  w.family("switchyard_upgrade_schemas", "gauge", "Schemas the running upgrade covers.");
  w.sample("switchyard_upgrade_schemas", {}, static_cast<uint64_t>(p->total));
  w.family("switchyard_upgrade_step", "gauge",
           "Always 1: the running upgrade's current schema, step and phase in labels.");
  w.sample("switchyard_upgrade_step",
           {{"schema", p->schema}, {"step", p->step}, {"phase", p->phase}}, uint64_t{1});
}

void render_status(const HttpSources& s, std::string* out) {
  admin::StatusView v;
  v.instance_id = make_instance_id(*s.config);
  v.version = s.config->routing.version.empty() ? sy::version() : s.config->routing.version;
  v.role = s.config->routing.enabled ? s.config->routing.role : "";
  v.ready = is_ready(s, &v.not_ready_why);
  if (workers_ready(s)) {
    v.pools = pool_views(s.registry, s.workers);
  }
  if (s.publisher != nullptr) {
    v.routing = true;
    v.snapshot_generation = s.publisher->generation();
    uint64_t now = now_unix_ms();
    if (const store::LoaderStatus* l = s.loader.load()) {
      uint64_t published = l->last_publish_unix_ms.load(std::memory_order_relaxed);
      v.snapshot_age_seconds =
          published != 0 && now > published ? static_cast<double>(now - published) / 1e3 : 0;
      v.database = l->db_state(now);
      uint64_t ok = l->last_ok_unix_ms.load(std::memory_order_relaxed);
      v.checked_age_seconds = ok != 0 && now > ok ? static_cast<double>(now - ok) / 1e3 : 0;
    }
    if (auto snap = s.publisher->current()) {
      v.schemas = schema_states(*snap);
    }
  }
  if (const admin::AdminServer* admin = s.admin.load()) {
    v.upgrade = admin->upgrade_progress();
  }
  *out = admin::render_status_page(v, kStatusRefreshSeconds);
}

}  // namespace

void render_metrics(const HttpSources& s, std::string* out) {
  out->reserve(32 * 1024);
  PromWriter w(out);
  render_process(s, w);
  if (workers_ready(s)) {
    render_proxy(s, w);
  }
  render_routing(s, w);
  render_upgrade(s, w);
}

admin::HttpHooks make_http_hooks(const HttpSources* sources) {
  admin::HttpHooks h;
  h.metrics = [sources](std::string* out) { render_metrics(*sources, out); };
  h.ready = [sources](std::string* why) { return is_ready(*sources, why); };
  h.status_page = [sources](std::string* out) { render_status(*sources, out); };
  return h;
}

}  // namespace sy::app
