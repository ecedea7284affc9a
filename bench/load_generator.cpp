// switchyard-bench's load generator (see load_generator.h for the contract): one Worker thread
// per --threads (bench/load_worker.h), their per-second counters merged, and the JSON report.

#include "bench/load_generator.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "admin/protocol.h"
#include "bench/load_worker.h"

namespace sy::bench {

namespace {

double process_cpu_s() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void merge_into(SecondStats* into, const SecondStats& s) {
  into->sent += s.sent;
  into->ok += s.ok;
  into->failed += s.failed;
  into->redirects += s.redirects;
  into->conn_errors += s.conn_errors;
  into->timeouts += s.timeouts;
  into->retried += s.retried;
  into->max_send_lag_ns = std::max(into->max_send_lag_ns, s.max_send_lag_ns);
  for (size_t k = 0; k < s.status.size(); ++k)
    into->status[k] += s.status[k];
  for (const auto& [k, v] : s.codes)
    into->codes[k] += v;
  into->latency.merge(s.latency);
}

}  // namespace

LoadReport run_load(const LoadOptions& o, std::string* error) {
  LoadReport report;
  Url u;
  if (!parse_url(o.url, &u)) {
    *error = "bad URL \"" + o.url + "\" (expected http://IP:PORT/path or https://...)";
    return report;
  }
  if (o.open_loop && o.rate <= 0) {
    *error = "open loop needs --rate > 0";
    return report;
  }
  int threads = std::max(1, o.threads);
  if (o.connections < threads) {
    *error = "fewer connections than threads";
    return report;
  }
  SSL_CTX* ctx = nullptr;
  if (u.tls) {
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    static const unsigned char kH2[] = "\x02h2";
    static const unsigned char kH1[] = "\x08http/1.1";
    if (o.h2) {
      SSL_CTX_set_alpn_protos(ctx, kH2, 3);
    } else {
      SSL_CTX_set_alpn_protos(ctx, kH1, 9);
    }
  }
  TenantSampler sampler(o.tenant_first, o.tenant_count, o.zipf_s);
  std::vector<std::unique_ptr<ThreadSeconds>> stats;
  for (int i = 0; i < threads; ++i) {
    stats.push_back(std::make_unique<ThreadSeconds>());
    stats.back()->seconds.reserve(static_cast<size_t>(o.duration_s + o.timeout_s) + 2);
  }
  double cpu0 = process_cpu_s();
  uint64_t start = now_ns() + 20000000;  // 20 ms for the threads to connect
  report.start_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count() +
                         20;
  std::vector<std::thread> workers;
  std::atomic<int> running{threads};
  for (int i = 0; i < threads; ++i) {
    int conns = o.connections / threads + (i < o.connections % threads ? 1 : 0);
    workers.emplace_back([&, i, conns] {
      Worker w(o, sampler, ctx, i, conns, start, stats[i].get());
      w.run();
      running--;
    });
  }
  uint64_t next_progress = start + 1000000000ull;
  while (running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    uint64_t now = now_ns();
    if (now >= next_progress && o.on_progress) {
      uint64_t ok = 0, failed = 0, inflight = 0;
      for (auto& s : stats) {
        ok += s->ok.load(std::memory_order_relaxed);
        failed += s->failed.load(std::memory_order_relaxed);
        inflight += s->inflight.load(std::memory_order_relaxed);
      }
      o.on_progress(static_cast<double>(now - start) / 1e9, ok, failed, inflight);
      next_progress += 1000000000ull;
    }
  }
  for (auto& t : workers) {
    t.join();
  }
  report.elapsed_s = static_cast<double>(now_ns() - start) / 1e9;
  report.cpu_s = process_cpu_s() - cpu0;
  if (ctx != nullptr) {
    SSL_CTX_free(ctx);
  }
  size_t n = 0;
  for (auto& s : stats)
    n = std::max(n, s->seconds.size());
  report.seconds.resize(n);
  for (auto& s : stats) {
    for (size_t i = 0; i < s->seconds.size(); ++i) {
      merge_into(&report.seconds[i], s->seconds[i]);
    }
  }
  for (auto& s : stats) {
    for (auto& e : s->error_samples) {
      report.conn_error_samples.push_back(std::move(e));
    }
  }
  auto first = static_cast<size_t>(std::ceil(o.warmup_s));
  for (size_t i = first; i < report.seconds.size(); ++i) {
    merge_into(&report.total, report.seconds[i]);
  }
  report.measured_s =
      std::max(0.001, std::min(report.elapsed_s, o.duration_s) - static_cast<double>(first));
  return report;
}

namespace {

std::string stats_json(const SecondStats& s) {
  std::string out =
      "{\"sent\":" + std::to_string(s.sent) + ",\"ok\":" + std::to_string(s.ok) +
      ",\"failed\":" + std::to_string(s.failed) + ",\"redirects\":" + std::to_string(s.redirects) +
      ",\"conn_errors\":" + std::to_string(s.conn_errors) +
      ",\"timeouts\":" + std::to_string(s.timeouts) + ",\"retried\":" + std::to_string(s.retried) +
      ",\"send_lag_ms\":" + std::to_string(static_cast<double>(s.max_send_lag_ns) / 1e6) +
      ",\"status\":{";
  bool first = true;
  for (size_t k = 0; k < s.status.size(); ++k) {
    if (s.status[k] != 0) {
      out += (first ? "\"" : ",\"") + std::to_string(k) + "\":" + std::to_string(s.status[k]);
      first = false;
    }
  }
  out += "},\"codes\":{";
  first = true;
  for (const auto& [k, v] : s.codes) {
    out += (first ? "\"" : ",\"") + k + "\":" + std::to_string(v);
    first = false;
  }
  char pct[256];
  const LatencyHistogram& h = s.latency;
  std::snprintf(
      pct, sizeof pct,
      "},\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,"
      "\"max\":%.3f,\"mean\":%.3f},\"hist\":",
      static_cast<double>(h.percentile(50)) / 1e6, static_cast<double>(h.percentile(90)) / 1e6,
      static_cast<double>(h.percentile(99)) / 1e6, static_cast<double>(h.percentile(99.9)) / 1e6,
      static_cast<double>(h.max()) / 1e6, h.mean() / 1e6);
  return out + pct + h.to_json() + "}";
}

}  // namespace

std::string report_json(const LoadReport& r, const LoadOptions& o) {
  char head[512];
  std::snprintf(head, sizeof head,
                "{\"start_unix_ms\":%lld,\"elapsed_s\":%.3f,\"measured_s\":%.3f,\"cpu_s\":%.3f,"
                "\"rps\":%.1f,\"threads\":%d,\"connections\":%d,\"mode\":\"%s\",\"rate\":%.1f,"
                "\"protocol\":\"%s\",\"warmup_s\":%.1f,",
                static_cast<long long>(r.start_unix_ms), r.elapsed_s, r.measured_s, r.cpu_s,
                static_cast<double>(r.total.ok + r.total.failed) / r.measured_s, o.threads,
                o.connections, o.open_loop ? "open" : "closed", o.rate, o.h2 ? "h2" : "h1",
                o.warmup_s);
  std::string out = head;
  out += "\"conn_error_samples\":[";
  for (size_t i = 0; i < r.conn_error_samples.size(); ++i) {
    out += (i ? ",\"" : "\"") + admin::json_escape(r.conn_error_samples[i]) + "\"";
  }
  out += "],\"total\":" + stats_json(r.total) + ",\"seconds\":[";
  for (size_t i = 0; i < r.seconds.size(); ++i) {
    out += (i ? "," : "") + stats_json(r.seconds[i]);
  }
  return out + "]}\n";
}

}  // namespace sy::bench
