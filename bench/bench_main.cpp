// switchyard-bench: the load generator and scenario checker of the bench harness.
//
//   switchyard-bench load URL [options]     run a load, write results JSON (--out)
//   switchyard-bench scenario FILE          check a scenario; print it as normalised JSON
//   switchyard-bench actions                the timeline action type table
//
// bench/run drives all three; bench/README.md documents them.

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "bench/load_generator.h"
#include "bench/scenario.h"

using namespace sy::bench;

namespace {

const char* kUsage =
    "usage: switchyard-bench load URL [options]\n"
    "         --mode open|closed   open: --rate requests/s, latency from the intended send time\n"
    "                              closed: each connection keeps --streams requests in flight\n"
    "         --rate R --connections N --threads T --duration S --warmup S --timeout S\n"
    "         --max-connections N  open loop: more connections while requests queue (1024)\n"
    "         --h2 [--streams N]   HTTP/2 (h2c prior knowledge, or ALPN h2 on https://)\n"
    "         --tenants FIRST-LAST [--zipf S]   tenant ids, uniform or Zipf(S)\n"
    "         --tenant-in header|cookie|host|login  [--tenant-header X-Context-Id]\n"
    "           [--cookie-name sy_ctx] [--host-suffix .tenants.example.com]\n"
    "           [--login-path /ajax/login?action=login] [--login-every N]\n"
    "         --follow-redirects   follow 301/302/303/307/308 like a browser\n"
    "         --header 'NAME: VALUE'  one more field in every request (repeatable)\n"
    "         --out FILE           results JSON (default: stdout)\n"
    "         --progress           one JSON progress line per second on stderr\n"
    "         --stop-file F        stop sending early once F exists\n"
    "         --seed N\n"
    "       switchyard-bench scenario FILE\n"
    "       switchyard-bench actions\n";

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "switchyard-bench: %s\n%s", msg.c_str(), kUsage);
  std::exit(2);
}

double number(const char* flag, const char* text) {
  char* end = nullptr;
  double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || v < 0) {
    usage_error(std::string(flag) + ": expected a number >= 0, got \"" + text + "\"");
  }
  return v;
}

int cmd_load(int argc, char** argv) {
  LoadOptions o;
  std::string out;
  bool progress = false;
  bool have_mode = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc)
        usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--mode") {
      std::string m = next();
      if (m != "open" && m != "closed")
        usage_error("--mode: open or closed, got " + m);
      o.open_loop = m == "open";
      have_mode = true;
    } else if (a == "--rate") {
      o.rate = number("--rate", next());
    } else if (a == "--connections") {
      o.connections = static_cast<int>(number("--connections", next()));
    } else if (a == "--max-connections") {
      o.max_connections = static_cast<int>(number("--max-connections", next()));
    } else if (a == "--threads") {
      o.threads = static_cast<int>(number("--threads", next()));
    } else if (a == "--duration") {
      o.duration_s = number("--duration", next());
    } else if (a == "--warmup") {
      o.warmup_s = number("--warmup", next());
    } else if (a == "--timeout") {
      o.timeout_s = number("--timeout", next());
    } else if (a == "--h2") {
      o.h2 = true;
    } else if (a == "--streams") {
      o.streams = static_cast<int>(number("--streams", next()));
    } else if (a == "--tenants") {
      std::string r = next();
      size_t dash = r.find('-');
      if (dash == std::string::npos)
        usage_error("--tenants: expected FIRST-LAST, got " + r);
      uint64_t first = std::strtoull(r.substr(0, dash).c_str(), nullptr, 10);
      uint64_t last = std::strtoull(r.substr(dash + 1).c_str(), nullptr, 10);
      if (first == 0 || last < first)
        usage_error("--tenants: expected 1 <= FIRST <= LAST, got " + r);
      o.tenant_first = first;
      o.tenant_count = last - first + 1;
    } else if (a == "--zipf") {
      o.zipf_s = number("--zipf", next());
    } else if (a == "--tenant-in") {
      std::string t = next();
      if (t == "header")
        o.tenant_in = TenantIn::Header;
      else if (t == "cookie")
        o.tenant_in = TenantIn::Cookie;
      else if (t == "host")
        o.tenant_in = TenantIn::Host;
      else if (t == "login")
        o.tenant_in = TenantIn::Login;
      else
        usage_error("--tenant-in: header, cookie, host or login, got " + t);
    } else if (a == "--tenant-header") {
      o.tenant_header = next();
    } else if (a == "--cookie-name") {
      o.cookie_name = next();
    } else if (a == "--host-suffix") {
      o.host_suffix = next();
    } else if (a == "--login-path") {
      o.login_path = next();
    } else if (a == "--login-every") {
      o.login_every = static_cast<int>(number("--login-every", next()));
    } else if (a == "--header") {
      std::string h = next();
      size_t colon = h.find(':');
      if (colon == std::string::npos || colon == 0)
        usage_error("--header: expected NAME: VALUE, got " + h);
      size_t v = h.find_first_not_of(' ', colon + 1);
      o.headers.emplace_back(h.substr(0, colon), v == std::string::npos ? "" : h.substr(v));
    } else if (a == "--follow-redirects") {
      o.follow_redirects = true;
    } else if (a == "--out") {
      out = next();
    } else if (a == "--progress") {
      progress = true;
    } else if (a == "--stop-file") {
      o.stop_file = next();
    } else if (a == "--seed") {
      o.seed = static_cast<uint64_t>(number("--seed", next()));
    } else if (a.rfind("--", 0) == 0) {
      usage_error("unknown option " + a);
    } else if (o.url.empty()) {
      o.url = a;
    } else {
      usage_error("a second URL: " + a);
    }
  }
  if (o.url.empty())
    usage_error("load needs a URL");
  if (!have_mode)
    usage_error("load needs --mode open|closed");
  if (o.threads < 1 || o.connections < 1)
    usage_error("--threads and --connections must be >= 1");
  if (progress) {
    o.on_progress = [](double t, uint64_t ok, uint64_t failed, uint64_t inflight) {
      std::fprintf(stderr,
                   "{\"progress\":{\"t\":%.1f,\"ok\":%llu,\"failed\":%llu,\"inflight\":%llu}}\n", t,
                   static_cast<unsigned long long>(ok), static_cast<unsigned long long>(failed),
                   static_cast<unsigned long long>(inflight));
      std::fflush(stderr);
    };
  }
  std::string error;
  LoadReport r = run_load(o, &error);
  if (!error.empty()) {
    std::fprintf(stderr, "switchyard-bench: %s\n", error.c_str());
    return 2;
  }
  std::string json = report_json(r, o);
  if (out.empty()) {
    std::fputs(json.c_str(), stdout);
  } else {
    std::ofstream f(out);
    f << json;
    if (!f) {
      std::fprintf(stderr, "switchyard-bench: cannot write %s\n", out.c_str());
      return 1;
    }
  }
  const SecondStats& t = r.total;
  std::fprintf(stderr,
               "switchyard-bench: %llu ok, %llu failed in %.1f s: %.0f req/s, p50 %.3f ms, p99 "
               "%.3f ms, max %.3f ms; cpu %.2f s (%.0f req/s per core)\n",
               static_cast<unsigned long long>(t.ok), static_cast<unsigned long long>(t.failed),
               r.measured_s, static_cast<double>(t.ok + t.failed) / r.measured_s,
               static_cast<double>(t.latency.percentile(50)) / 1e6,
               static_cast<double>(t.latency.percentile(99)) / 1e6,
               static_cast<double>(t.latency.max()) / 1e6, r.cpu_s,
               r.cpu_s > 0 ? static_cast<double>(r.total.sent) / r.cpu_s : 0.0);
  return 0;
}

int cmd_scenario(int argc, char** argv) {
  if (argc != 3)
    usage_error("scenario needs exactly one FILE");
  ScenarioResult r = parse_scenario_file(argv[2]);
  if (!r.ok()) {
    for (const auto& e : r.errors) {
      std::fprintf(stderr, "%s\n", sy::conf::format(e).c_str());
    }
    return 2;
  }
  std::printf("%s\n", r.json.c_str());
  return 0;
}

int cmd_actions() {
  for (const auto& a : action_types()) {
    std::printf("%-10s %s\n", std::string(a.name).c_str(), std::string(a.help).c_str());
    for (const auto& p : a.params) {
      std::printf("           %-10s %-8s %s%s\n", std::string(p.key).c_str(),
                  std::string(p.kind).c_str(), p.required ? "(required) " : "",
                  std::string(p.help).c_str());
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  if (argc < 2)
    usage_error("no command");
  std::string cmd = argv[1];
  if (cmd == "load")
    return cmd_load(argc, argv);
  if (cmd == "scenario")
    return cmd_scenario(argc, argv);
  if (cmd == "actions")
    return cmd_actions();
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  usage_error("unknown command " + cmd);
}
