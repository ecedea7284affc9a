// `switchyard`: the proxy process. Parses arguments, loads and validates the configuration,
// binds listeners (or takes them over from a running instance: proxy/handover.h), starts the
// health checker and one worker per core, reports readiness, and drains gracefully on
// SIGTERM/SIGINT or once a successor took over (SIGUSR2 starts one).

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <event2/thread.h>

#include "admin/server.h"
#include "app/admin_setup.h"
#include "app/resolver.h"
#include "app/http_setup.h"
#include "app/pool_sync.h"
#include "app/tenant_setup.h"
#include "common/log.h"
#include "common/version.h"
#include "conf/load.h"
#include "proxy/access_log.h"
#include "proxy/connection_limits.h"
#include "proxy/event_memory.h"
#include "proxy/handover.h"
#include "proxy/health_check.h"
#include "proxy/listener.h"
#include "proxy/sd_notify.h"
#include "proxy/successor.h"
#include "proxy/tls.h"
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"
#include "routing/publisher.h"
#include "store/directory_loader.h"

namespace {

constexpr char kUsage[] =
    "usage: switchyard --config FILE [--ready-file PATH] [--log-level LEVEL]\n"
    "                  [--takeover [IP:PORT]]\n"
    "       switchyard --check-config FILE\n"
    "       switchyard db migrate --config FILE\n"
    "       switchyard --version\n"
    "\n"
    "  --config FILE        run with this YAML configuration (and the overlays its\n"
    "                       include_dir names, merged in name order)\n"
    "  --check-config FILE  validate FILE with its overlays, print every error as\n"
    "                       file:line:col: path: message, exit 0 when valid and 1 otherwise\n"
    "  --ready-file PATH    once listening, write pid=N and listener.<name>=ip:port lines to\n"
    "                       PATH (atomically); used by tests and scripts with port 0\n"
    "  --log-level LEVEL    debug|info|warn|error (overrides log_level in the file)\n"
    "  --takeover [IP:PORT] take the listening sockets (and the admin socket) over from the\n"
    "                       Switchyard serving IP:PORT (default: the first listener with a\n"
    "                       fixed port), then let it drain and exit (a hitless upgrade;\n"
    "                       SIGUSR2 or `switchyardctl upgrade binary` start one for you)\n"
    "  --version            print the version and exit\n"
    "  db migrate           create or upgrade Switchyard's own tables in the database named\n"
    "                       by the file's database section, then exit\n";

struct Args {
  bool db_migrate = false;
  std::string config;
  std::string check;
  std::string ready_file;
  std::string log_level;
  bool takeover = false;
  std::string takeover_address;   // "" = find it from the configuration
  std::vector<std::string> argv;  // argv[1..], for a successor's command line
};

bool parse_args(int argc, char** argv, Args* a) {
  int first = 1;
  if (argc >= 3 && std::string(argv[1]) == "db" && std::string(argv[2]) == "migrate") {
    a->db_migrate = true;
    first = 3;
  } else if (argc >= 2 && std::string(argv[1]) == "db") {
    std::fprintf(stderr, "switchyard: unknown db command (expected: db migrate)\n%s", kUsage);
    return false;
  }
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "switchyard: %s needs a value\n%s", arg.c_str(), kUsage);
        return false;
      }
      *out = argv[++i];
      return true;
    };
    if (arg == "--config" || arg == "-c") {
      if (!value(&a->config))
        return false;
    } else if (arg == "--check-config") {
      if (!value(&a->check))
        return false;
    } else if (arg == "--ready-file") {
      if (!value(&a->ready_file))
        return false;
    } else if (arg == "--log-level") {
      if (!value(&a->log_level))
        return false;
    } else if (arg == "--takeover") {
      a->takeover = true;
      if (i + 1 < argc && argv[i + 1][0] != '-') {
        a->takeover_address = argv[++i];
      }
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--version") {
      std::printf("switchyard %s\n", sy::version_line());
      std::exit(0);
    } else {
      std::fprintf(stderr, "switchyard: unknown argument '%s'\n%s", arg.c_str(), kUsage);
      return false;
    }
  }
  a->argv.assign(argv + 1, argv + argc);
  if (a->config.empty() && a->check.empty()) {
    std::fputs(kUsage, stderr);
    return false;
  }
  return true;
}

// " (overlays: a.yaml, b.yaml)" when |config| merged overlays, else "".
std::string overlays(const sy::conf::Config& config) {
  std::string out;
  for (size_t i = 1; i < config.files.size(); ++i) {
    out += (i == 1 ? " (overlays: " : ", ") + config.files[i];
  }
  return out.empty() ? out : out + ")";
}

// Prints every configuration error; returns true when there were none.
bool report(const sy::conf::LoadResult& r) {
  for (const auto& e : r.errors) {
    std::fprintf(stderr, "%s\n", sy::conf::format(e).c_str());
  }
  return r.ok();
}

bool write_ready_file(const std::string& path,
                      const std::vector<sy::proxy::BoundListener>& listeners,
                      const std::vector<std::string>& extra) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) {
      return false;
    }
    f << "pid=" << getpid() << "\n";
    for (const auto& l : listeners) {
      f << "listener." << l.conf->name << "=" << l.bound_address << "\n";
    }
    for (const auto& line : extra) {
      f << line << "\n";
    }
    if (!f.flush()) {
      return false;
    }
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

// Connects to the running Switchyard to take its sockets over: at |address|, else at the first
// listener of |config| with a fixed port.
sy::Result<sy::proxy::TakeoverClient> connect_predecessor(const sy::conf::Config& config,
                                                          const std::string& address) {
  using namespace std::chrono_literals;
  std::vector<std::string> candidates;
  if (!address.empty()) {
    candidates.push_back(address);
  }
  for (const auto& l : config.listeners) {
    std::string a = address.empty() ? sy::proxy::configured_address(l) : "";
    if (!a.empty()) {
      candidates.push_back(a);
    }
  }
  if (candidates.empty()) {
    return sy::make_error(sy::Errc::Config,
                          "--takeover: every listener has port 0; name the running instance's "
                          "listener address: --takeover IP:PORT");
  }
  sy::Error last;
  for (const auto& c : candidates) {
    auto r = sy::proxy::TakeoverClient::connect(c, 30s);
    if (r.ok()) {
      return r;
    }
    last = r.error();
  }
  return last;
}

// The sockets a successor gets: every listener's fds and lock, and the admin listeners.
std::vector<sy::proxy::HandoverSocket>
handover_offer(const std::vector<sy::proxy::BoundListener>& bound, const sy::conf::Config& config,
               const sy::admin::AdminServer* admin, const sy::admin::HttpServer* http) {
  using sy::proxy::HandoverKind;
  std::vector<sy::proxy::HandoverSocket> out;
  for (const auto& b : bound) {
    std::string key = sy::proxy::listener_key(b.conf->name, b.conf->address, b.conf->port);
    for (int fd : b.fds) {
      out.push_back({HandoverKind::Listen, key, fd});
    }
    out.push_back({HandoverKind::Lock, key, b.lock_fd});
  }
  if (admin != nullptr && admin->unix_fd() >= 0) {
    out.push_back({HandoverKind::AdminUnix, config.admin.socket.path, admin->unix_fd()});
  }
  if (admin != nullptr && admin->tcp_fd() >= 0) {
    out.push_back({HandoverKind::AdminTcp,
                   config.admin.tcp.address + ":" + std::to_string(config.admin.tcp.port),
                   admin->tcp_fd()});
  }
  if (http != nullptr && http->fd() >= 0) {
    out.push_back({HandoverKind::AdminHttp,
                   config.admin.http.address + ":" + std::to_string(config.admin.http.port),
                   http->fd()});
  }
  return out;
}

// Moves the predecessor's admin sockets that match |config| into |opts|.
void adopt_admin_sockets(std::vector<sy::proxy::HandoverSocket>* sockets,
                         const sy::conf::Config& config, sy::admin::ServerOptions* opts) {
  using sy::proxy::HandoverKind;
  for (auto& s : *sockets) {
    if (s.fd < 0) {
      continue;
    }
    if (s.kind == HandoverKind::AdminUnix && config.admin.socket.enabled &&
        s.key == config.admin.socket.path && opts->inherited_unix_fd < 0) {
      opts->inherited_unix_fd = std::exchange(s.fd, -1);
    } else if (s.kind == HandoverKind::AdminTcp && config.admin.tcp.enabled &&
               s.key == config.admin.tcp.address + ":" + std::to_string(config.admin.tcp.port) &&
               opts->inherited_tcp_fd < 0) {
      opts->inherited_tcp_fd = std::exchange(s.fd, -1);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sy;
  Args args;
  if (!parse_args(argc, argv, &args)) {
    return 2;
  }
  if (!args.check.empty()) {
    auto r = conf::load_config_file(args.check);
    if (!report(r)) {
      std::fprintf(stderr, "%s: %zu error(s)\n", args.check.c_str(), r.errors.size());
      return 1;
    }
    std::printf("%s: configuration ok%s\n", args.check.c_str(), overlays(r.config).c_str());
    return 0;
  }

  auto loaded = conf::load_config_file(args.config);
  if (!report(loaded)) {
    std::fprintf(stderr, "switchyard: %s has %zu error(s); not starting\n", args.config.c_str(),
                 loaded.errors.size());
    return 1;
  }
  const conf::Config& config = loaded.config;
  if (args.db_migrate) {
    return app::run_db_migrate(config);
  }
  log::Level level = log::Level::Info;
  const std::string& level_text = args.log_level.empty() ? config.log_level : args.log_level;
  if (!log::parse_level(level_text.c_str(), &level)) {
    std::fprintf(stderr, "switchyard: unknown log level '%s'\n", level_text.c_str());
    return 2;
  }
  log::set_level(level);
  // Before any thread exists: from_environment() unsets NOTIFY_SOCKET.
  const proxy::ServiceNotifier notifier = proxy::ServiceNotifier::from_environment();
  // A successor is not the service's main pid until its predecessor says so (MAINPID=):
  // systemd would ignore (and log) what it sends before; the predecessor reports for it.
  const proxy::ServiceNotifier quiet_until_main =
      args.takeover ? proxy::ServiceNotifier() : notifier;
  const std::string executable = proxy::executable_path();
  if (config.files.size() > 1) {
    SY_LOG(Info, "configuration %s%s", config.file.c_str(), overlays(config).c_str());
  }

  proxy::install_event_memory_cache();  // before any other libevent call
  evthread_use_pthreads();
  signal(SIGPIPE, SIG_IGN);
  // A log file past RLIMIT_FSIZE gets EFBIG from write(2) (handled: lines are dropped and
  // counted) instead of a signal that would kill the process.
  signal(SIGXFSZ, SIG_IGN);
  // Every thread inherits this mask; only the main thread receives these signals (sigwait).
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  sigaddset(&sigs, SIGUSR1);
  sigaddset(&sigs, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  int workers =
      config.workers > 0 ? config.workers : static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  if (workers < 1) {
    workers = 1;
  }
  auto registry = proxy::PoolRegistry::build(config, workers);
  if (!registry) {
    std::fprintf(stderr, "switchyard: %s\n", registry.error().message.c_str());
    return 1;
  }
  std::optional<proxy::TakeoverClient> takeover;
  if (args.takeover) {
    auto t = connect_predecessor(config, args.takeover_address);
    if (!t) {
      std::fprintf(stderr, "switchyard: %s\n", t.error().message.c_str());
      return 1;
    }
    takeover.emplace(std::move(*t));
    SY_LOG(Info, "takeover: received %zu socket(s) from pid %d", takeover->sockets().size(),
           static_cast<int>(takeover->holder()));
  }
  auto bound = proxy::bind_listeners(config, workers, takeover ? &takeover->sockets() : nullptr);
  if (!bound) {
    std::fprintf(stderr, "switchyard: %s\n", bound.error().message.c_str());
    return 1;
  }
  std::unique_ptr<proxy::AccessLogWriter> access_log;
  if (!config.access_log.path.empty()) {
    auto w =
        proxy::AccessLogWriter::open(config.access_log.path, config.access_log.max_queue_bytes);
    if (!w) {
      std::fprintf(stderr, "switchyard: %s\n", w.error().message.c_str());
      return 1;
    }
    access_log = std::move(*w);
  }

  // Descriptors: the soft limit goes up to the hard one, and client connections get half of
  // what is left after the reserve (the other half is for their upstream connections).
  proxy::DescriptorBudget fds = proxy::raise_descriptor_limit(config, workers);
  if (fds.limit != fds.soft_before) {
    SY_LOG(Info, "open-file limit raised from %" PRIu64 " to %" PRIu64 " (the hard limit)",
           fds.soft_before, fds.limit);
  }
  int max_connections = fds.automatic;
  if (config.limits.max_connections > fds.automatic) {
    SY_LOG(Warn,
           "limits.max_connections %d is more than the open-file limit %" PRIu64
           " allows; using %d (raise the hard limit, e.g. LimitNOFILE=, to allow more)",
           config.limits.max_connections, fds.limit, fds.automatic);
  } else if (config.limits.max_connections > 0) {
    max_connections = config.limits.max_connections;
  }
  std::vector<int> listener_caps;
  for (const auto& l : config.listeners) {
    listener_caps.push_back(l.max_connections);
  }
  proxy::ConnectionLimits connection_limits(max_connections, listener_caps);
  SY_LOG(Info,
         "open-file limit %" PRIu64 ", %" PRIu64 " reserved: at most %d client "
         "connection(s) at once (limits.max_connections)",
         fds.limit, fds.reserved, max_connections);

  // Tenant routing: the first directory load happens before any worker serves.
  std::vector<std::unique_ptr<proxy::Worker>> pool;
  std::atomic<bool> workers_started{false};
  routing::SnapshotPublisher publisher;
  std::unique_ptr<proxy::RoutingSetup> routing_setup;
  std::unique_ptr<store::DirectoryLoader> loader;
  // The database servers, shared by the loader and the admin sessions; `reload` changes them.
  auto dsn_source = config.database.enabled ? std::make_shared<store::DsnSource>(
                                                  app::make_dsn_lists(config.database))
                                            : nullptr;
  // The HTTP admin listener (/metrics, /ready, ...) answers from here on: /ready says 503
  // until the first snapshot is published and again once a drain starts.
  app::HttpSources http_sources;
  std::unique_ptr<admin::HttpServer> http_server;
  if (config.admin.http.enabled) {
    http_sources.config = &config;
    http_sources.registry = registry->get();
    http_sources.workers = &pool;
    http_sources.workers_started = &workers_started;
    http_sources.publisher = config.routing.enabled ? &publisher : nullptr;
    http_server =
        std::make_unique<admin::HttpServer>(config.admin.http, app::make_http_hooks(&http_sources));
    int inherited_http = -1;
    if (takeover) {
      const std::string key =
          config.admin.http.address + ":" + std::to_string(config.admin.http.port);
      for (auto& s : takeover->sockets()) {
        if (s.fd >= 0 && s.kind == proxy::HandoverKind::AdminHttp && s.key == key) {
          inherited_http = std::exchange(s.fd, -1);
          break;
        }
      }
    }
    auto started = http_server->start(inherited_http);
    if (!started.ok()) {
      std::fprintf(stderr, "switchyard: %s\n", started.error().message.c_str());
      return 1;
    }
  }
  if (config.routing.enabled) {
    quiet_until_main.status("Loading the tenant directory");
    auto setup = app::make_routing_setup(config, &publisher);
    if (!setup.ok()) {
      std::fprintf(stderr, "switchyard: %s\n", setup.error().message.c_str());
      return 1;
    }
    routing_setup = std::move(setup.value());
    loader = std::make_unique<store::DirectoryLoader>(
        app::make_loader_options(config, &pool, &workers_started, dsn_source), &publisher);
    http_sources.loader = &loader->status();
    auto started = loader->start();
    if (!started.ok()) {
      std::fprintf(stderr, "switchyard: %s\n", started.error().message.c_str());
      return 1;
    }
  }

  // TLS listeners: every certificate and key is loaded (and checked) before anything serves.
  auto tls = proxy::TlsStore::create(config);
  if (!tls) {
    std::fprintf(stderr, "switchyard: %s\n", tls.error().message.c_str());
    return 1;
  }

  proxy::HealthChecker health(registry->get());
  health.start();
  // Members: YAML, then the database's rows (admin poller), then host names resolved here
  // before any worker serves, and every resolver.resolve_interval on the resolver's thread.
  app::MemberSync member_sync(config, registry->get(), &pool, &health);
  // Pools: the YAML's at start; sy_pools rows (admin poller) and reloads add and remove them.
  app::PoolSync pool_sync(config, registry->get(), &pool, &member_sync, &health,
                          config.routing.enabled ? &publisher : nullptr);
  if (loader) {
    store::DirectoryLoader* l = loader.get();
    pool_sync.set_pool_names_sink(
        [l](std::vector<std::string> names) { l->set_pool_names(std::move(names)); });
  }
  app::Resolver resolver(config.resolver, &member_sync);
  resolver.resolve_now();
  resolver.start();

  for (int i = 0; i < workers; ++i) {
    std::vector<std::pair<const conf::Listener*, int>> listener_fds;
    for (const auto& b : *bound) {
      for (size_t j = static_cast<size_t>(i); j < b.fds.size(); j += static_cast<size_t>(workers)) {
        listener_fds.emplace_back(b.conf, b.fds[j]);
      }
    }
    pool.push_back(std::make_unique<proxy::Worker>(i, config, **registry, access_log.get(),
                                                   listener_fds, routing_setup.get(), tls->get(),
                                                   &connection_limits));
  }
  for (auto& w : pool) {
    w->start();
  }
  workers_started.store(true, std::memory_order_release);
  proxy::SuccessorLauncher launcher(executable, args.argv,
                                    bound->empty() ? "" : bound->front().bound_address,
                                    notifier.socket_path());
  auto start_successor = [&launcher, &executable]() -> Result<std::string> {
    auto pid = launcher.launch();
    if (!pid) {
      return pid.error();
    }
    return "started " + executable + " as pid " + std::to_string(*pid) +
           "; it takes the sockets over, then this process drains and exits";
  };
  // The admin server: after the workers (its hooks read them), stopped before them.
  app::Reloader reloader(config, &member_sync, &pool_sync, args.config, !args.log_level.empty());
  reloader.set_tls(tls->get());      // SIGHUP and the admin `reload` re-read certificates too
  reloader.set_notifier(&notifier);  // RELOADING=1 ... READY=1 around each reload
  reloader.set_dsn_source(dsn_source);  // database DSN lists apply live
  std::unique_ptr<admin::AdminServer> admin_server;
  std::vector<std::string> ready_extra;
  if (config.admin.enabled) {
    admin::ServerOptions opts;
    opts.admin = config.admin;
    opts.stores = app::make_store_options(config, dsn_source);
    if (takeover) {
      adopt_admin_sockets(&takeover->sockets(), config, &opts);
    }
    admin::AdminContext ctx = app::make_admin_context(
        config, args.config, registry->get(), &pool, loader ? &loader->status() : nullptr,
        config.routing.enabled ? &publisher : nullptr, &reloader, &member_sync, &pool_sync,
        access_log.get());
    ctx.upgrade_binary = start_successor;
    admin_server = std::make_unique<admin::AdminServer>(std::move(opts), std::move(ctx));
    auto started = admin_server->start();
    if (!started.ok()) {
      SY_LOG(Error, "admin: %s", started.error().message.c_str());
      for (auto& w : pool) {
        w->begin_drain();
      }
      for (auto& w : pool) {
        w->join();
      }
      if (loader) {
        loader->stop();
      }
      health.stop();
      std::fprintf(stderr, "switchyard: admin: %s\n", started.error().message.c_str());
      return 1;
    }
    if (config.admin.socket.enabled) {
      ready_extra.push_back("admin.socket=" + config.admin.socket.path);
    }
    if (config.admin.tcp.enabled) {
      ready_extra.push_back("admin.tcp=" + admin_server->tcp_address());
    }
    http_sources.admin = admin_server.get();
  }
  if (http_server) {
    ready_extra.push_back("admin.http=" + http_server->address());
  }
  for (const auto& b : *bound) {
    SY_LOG(Info, "listener %s on %s -> pool %s%s", b.conf->name.c_str(), b.bound_address.c_str(),
           b.conf->pool.c_str(),
           b.inherited > 0 ? (" (" + std::to_string(b.inherited) + " socket(s) taken over)").c_str()
                           : "");
  }
  if (takeover) {
    for (auto& s : takeover->sockets()) {
      if (s.fd >= 0) {  // not in this configuration any more: the predecessor drains it
        SY_LOG(Info, "takeover: %s %s is not in this configuration; closed",
               proxy::to_string(s.kind), s.key.c_str());
        ::close(std::exchange(s.fd, -1));
      }
    }
  }
  SY_LOG(Info, "switchyard ready: %d worker(s), pid %d", workers, static_cast<int>(getpid()));
  if (!args.ready_file.empty() && !write_ready_file(args.ready_file, *bound, ready_extra)) {
    SY_LOG(Error, "cannot write ready file %s: %s", args.ready_file.c_str(), std::strerror(errno));
  }
  // Listeners are bound, workers run, and with routing the first snapshot is published
  // (loader->start() returned only after it).
  quiet_until_main.ready("Serving: " + std::to_string(bound->size()) + " listener(s), " +
                         std::to_string(workers) + " worker(s)");
  if (takeover) {
    // The predecessor stops accepting and drains only now, when these workers accept too: the
    // listening sockets stay open in one process or the other throughout.
    auto confirmed = takeover->confirm_serving(std::chrono::seconds(10));
    if (confirmed.ok()) {
      SY_LOG(Info, "takeover: pid %d drains and exits; this process serves",
             static_cast<int>(takeover->holder()));
    } else {
      SY_LOG(Warn, "takeover: pid %d did not confirm (%s); serving anyway",
             static_cast<int>(takeover->holder()), confirmed.error().message.c_str());
    }
    takeover.reset();
  }

  // Takeovers by a successor: on the listener locks, from now on.
  std::atomic<pid_t> successor{0};
  const pthread_t main_thread = pthread_self();
  std::vector<int> lock_fds;
  for (const auto& b : *bound) {
    lock_fds.push_back(b.lock_fd);
  }
  proxy::HandoverServer handover(
      lock_fds,
      [&] { return handover_offer(*bound, config, admin_server.get(), http_server.get()); },
      [&](pid_t pid) {
        successor.store(pid);
        if (admin_server) {
          admin_server->keep_socket_file();
        }
        // Still the main pid: hand systemd the successor before draining.
        notifier.notify("MAINPID=" + std::to_string(pid) + "\nREADY=1\n" +
                        proxy::status_line("Handed over to pid " + std::to_string(pid)));
        pthread_kill(main_thread, SIGTERM);
      });
  if (auto started = handover.start(); !started.ok()) {
    SY_LOG(Warn, "handover: %s; this process cannot be taken over",
           started.error().message.c_str());
  }

  for (;;) {
    int sig = 0;
    if (sigwait(&sigs, &sig) != 0) {
      continue;
    }
    if (sig == SIGUSR1) {  // logrotate (packaging/switchyard.logrotate)
      if (!access_log) {
        SY_LOG(Info, "SIGUSR1: no access log configured; nothing to reopen");
        continue;
      }
      auto r = app::reopen_access_log(access_log.get());
      if (r.ok()) {
        SY_LOG(Info, "SIGUSR1: %s", r->c_str());
      } else {
        SY_LOG(Error, "SIGUSR1: %s; still writing to the old file", r.error().message.c_str());
      }
      continue;
    }
    if (sig == SIGUSR2) {
      auto r = start_successor();
      if (r.ok()) {
        SY_LOG(Info, "SIGUSR2: %s", r->c_str());
      } else {
        SY_LOG(Error, "SIGUSR2: no binary upgrade: %s", r.error().message.c_str());
      }
      continue;
    }
    if (sig == SIGHUP) {
      auto r = reloader.reload();
      if (!r.ok()) {
        SY_LOG(Error, "SIGHUP: reload refused: %s", r.error().message.c_str());
        continue;
      }
      SY_LOG(Info, "SIGHUP: configuration reloaded: %zu change(s) applied, %zu need a restart",
             r->applied.size(), r->needs_restart.size());
      for (const auto& a : r->applied) {
        SY_LOG(Info, "reload applied: %s", a.c_str());
      }
      for (const auto& n : r->needs_restart) {
        SY_LOG(Warn, "reload: %s changed; needs a restart", n.c_str());
      }
      continue;
    }
    if (pid_t next = successor.load(); next != 0) {
      SY_LOG(Info, "handed over to pid %d: not accepting any more; draining (up to %lld ms)",
             static_cast<int>(next), static_cast<long long>(config.limits.drain_timeout.count()));
      if (http_server) {
        http_server->stop();  // the successor answers /metrics and /ready on the same socket
      }
      break;  // no STOPPING=1: the service goes on in the successor
    }
    SY_LOG(Info, "%s: draining (up to %lld ms)", sig == SIGTERM ? "SIGTERM" : "SIGINT",
           static_cast<long long>(config.limits.drain_timeout.count()));
    notifier.stopping("Draining connections (up to " +
                      std::to_string(config.limits.drain_timeout.count() / 1000) + " s)");
    break;
  }
  handover.stop();               // no takeover of a draining process
  http_sources.draining = true;  // /ready: 503 from now on
  for (auto& w : pool) {
    w->begin_drain();
  }
  if (admin_server) {
    // Before the workers are joined (its hooks read them). Waits for an upgrade run to stop
    // at its next step boundary (journaled) while the workers drain: nothing of the run
    // happens after "switchyard stopped".
    admin_server->stop();
  }
  for (auto& w : pool) {
    w->join();
  }
  if (loader) {
    loader->stop();  // before the workers it posts to are destroyed
  }
  health.stop();
  if (http_server) {
    http_server->stop();  // it reads the workers and the admin server
    http_sources.admin = nullptr;
  }
  pool.clear();
  access_log.reset();  // flushes
  SY_LOG(Info, "switchyard stopped");
  return 0;
}
