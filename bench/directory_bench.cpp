// bench/directory_bench: the tenant directory at scale (issue #3 and issue #12 targets), on the
// private MariaDB. Seeds N contexts over M schemas in a scratch database with Switchyard's own
// tables (once; --keep keeps it for the next run), then measures
//   - full load: OwnProfileReader::full_load (the database read) + RoutingSnapshot::build,
//     median of --runs                                                        target < 5 s at 10M
//   - resident bytes per context: what the process's RSS drops by when the snapshot is freed
//     (malloc_trim'd), not RoutingSnapshot::memory_bytes() (printed next to it)  target <= 40 B
//   - find_context(): random existing ids, random missing ids, and one dependent chain of hits
//     (each id taken from the previous answer: the latency one request sees); thread CPU time,
//     best of 5 passes of 2^20 lookups                                       target < 100 ns
//   - apply(): a one-row delta (median and worst of --applies, each on the previous result), and
//     publishing it (SnapshotPublisher::publish, which frees the snapshot it replaces on the
//     loader thread)                                                          target < 1 ms
//   - apply() of one whole schema (~N/M contexts): as the ox profile re-reads a changed schema,
//     with every context changed (changeserver), with none changed (disableschema: only the
//     schema row changes), and the same number of contexts at random ids
//   - the own profile's round trip for one UPDATE: changes_since() + apply()
// With --logins K (K logins per context) the logins are built into a snapshot of their own, so
// their resident bytes and find_login() cost are reported apart from the contexts'.
//
// Usage: directory_bench [--contexts 1000000] [--schemas 1000] [--logins 0] [--runs 3]
//                        [--applies 21] [--buffer-pool 4G] [--keep] [--sessions 2] [--socket]
// --sessions is OwnProfileOptions::load_sessions (0 = the serial read through Connector/C++);
// --socket connects through SY_TEST_MYSQL_SOCKET (the server's unix socket) instead of TCP.
// The read's server CPU is the local server's (/proc/<pid of @@pid_file>/stat).
// --buffer-pool raises innodb_buffer_pool_size for the run (SET GLOBAL, online) and restores it
// at exit; the private server's default (tests/scripts/mariadb.sh) is 512 MiB, too small to keep
// 10M rows cached. Reads SY_TEST_MYSQL_HOST/PORT/USER/PASSWORD
// (eval "$(tests/scripts/mariadb.sh env)").

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "routing/publisher.h"
#include "routing/snapshot.h"
#include "store/db.h"
#include "store/db_migrate.h"
#include "store/directory_reader.h"

using namespace sy;
using Clock = std::chrono::steady_clock;
using routing::ContextId;
using routing::RoutingSnapshot;
using Snap = std::shared_ptr<const RoutingSnapshot>;

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

const char* env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "directory_bench: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T check(Result<T> r) {
  if (!r.ok()) {
    die(r.error().message);
  }
  return std::move(r.value());
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double worst(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

// Resident bytes of this process (what the kernel has really mapped), after giving freed heap
// memory back so that earlier frees do not hide or inflate what a build adds.
size_t resident_bytes() {
  malloc_trim(0);
  std::ifstream statm("/proc/self/statm");
  size_t total = 0, resident = 0;
  statm >> total >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// CPU time (user + system) of process |pid| so far, ms, from /proc; 0 when unreadable (a
// server on another machine).
double proc_cpu_ms(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (pid <= 0 || !std::getline(stat, line)) {
    return 0;
  }
  // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i >= 14) {
      ticks += std::strtod(field.c_str(), nullptr);
    }
  }
  return ticks * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double loadavg1() {
  std::ifstream f("/proc/loadavg");
  double l = 0;
  f >> l;
  return l;
}

// CPU time of this process (user + system), ms.
double cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto ms = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e3 + t.tv_usec / 1e3; };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

// "4G", "512M", "1073741824" -> bytes; 0 = not a size.
uint64_t parse_size(const std::string& s) {
  char* end = nullptr;
  uint64_t v = std::strtoull(s.c_str(), &end, 10);
  switch (*end) {
  case 'G':
  case 'g': return v << 30;
  case 'M':
  case 'm': return v << 20;
  case '\0': return v;
  default: return 0;
  }
}

uint64_t query_u64(store::Db& db, const std::string& sql) {
  uint64_t n = 0;
  check(db.query(sql, [&](const store::Row& row) { n = row.u64(1); }));
  return n;
}

void exec(store::Db& db, const std::string& sql) {
  if (auto r = db.exec(sql); !r.ok()) {
    die(r.error().message);
  }
}

// The layout store::seed_own_profile() writes (servers, schemas, contexts in contiguous blocks
// per schema, logins "ctx<id>" and "ctx<id>-<k>"), but the contexts and logins are generated by
// the server from MariaDB's sequence engine (seq_1_to_N) in one INSERT ... SELECT each: nothing
// crosses the network, and an INSERT into an empty InnoDB table with unique_checks off is a bulk
// load. 10M contexts: ~1 min instead of ~10 with 5,000-row INSERTs from the client.
void seed(store::Db& db, uint64_t contexts, uint64_t schemas, uint64_t logins_per_context) {
  check(store::seed_own_profile(db, 0, static_cast<int>(schemas), 2));
  exec(db, "SET @sy_skip_changes = 1, unique_checks = 0, foreign_key_checks = 0");
  const std::string n = std::to_string(contexts);
  exec(db, "INSERT INTO sy_contexts (id, schema_name, enabled, server_id) SELECT seq,"
           " CONCAT('schema_', (seq - 1) * " +
               std::to_string(schemas) + " DIV " + n +
               " + 1),"
               " 1, NULL FROM seq_1_to_" +
               n);
  for (uint64_t k = 0; k < logins_per_context; ++k) {
    std::string suffix = k == 0 ? "" : ", '-" + std::to_string(k) + "'";
    exec(db, "INSERT INTO sy_logins (login, context_id) SELECT CONCAT('ctx', seq" + suffix +
                 "), seq FROM seq_1_to_" + n);
  }
  exec(db, "SET @sy_skip_changes = NULL, unique_checks = 1, foreign_key_checks = 1");
}

// The directory's logins, moved out of |data| into a directory of their own (with the schemas,
// which a snapshot needs to be valid): built apart, their bytes are measured apart.
routing::DirectoryData take_logins(routing::DirectoryData& data) {
  routing::DirectoryData logins;
  logins.schemas = data.schemas;
  logins.logins = std::move(data.logins);
  data.logins.clear();
  return logins;
}

struct Lookup {
  double hit_ns, miss_ns, chain_ns;
};

// CPU time of the calling thread, ms: unlike the wall clock it stops while the thread waits
// for a core (the development VM's 2 cores are shared by several builds at once).
double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

// ns per lookup of |pass| (which makes |lookups| lookups): the best of 5 passes, thread CPU
// time. The best pass is the one least disturbed by other processes on the same core.
template <class Pass>
double best_ns(size_t lookups, Pass&& pass) {
  double best = 1e300;
  for (int r = 0; r < 5; ++r) {
    const double t0 = thread_cpu_ms();
    pass();
    best = std::min(best, (thread_cpu_ms() - t0) * 1e6 / static_cast<double>(lookups));
  }
  return best;
}

Lookup time_lookups(const RoutingSnapshot& snap, uint32_t contexts) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<uint32_t> hits(1, contexts);
  std::uniform_int_distribution<uint32_t> misses(contexts + 1, 2 * contexts);
  std::vector<uint32_t> hit_ids(1 << 20), miss_ids(1 << 20);
  for (auto& id : hit_ids)
    id = hits(rng);
  for (auto& id : miss_ids)
    id = misses(rng);
  // Independent lookups (a worker serving many requests): a sum the compiler must keep.
  uint64_t sum = 0;
  auto pipelined = [&](const std::vector<uint32_t>& ids) {
    return best_ns(ids.size(), [&] {
      for (uint32_t id : ids) {
        const routing::ContextInfo* c = snap.find_context(id);
        sum += c != nullptr ? c->schema : 1;
      }
    });
  };
  Lookup out{};
  out.hit_ns = pipelined(hit_ids);
  out.miss_ns = pipelined(miss_ids);
  // Dependent: the next id depends on the previous answer (schema >> 31 is always 0, which
  // the compiler cannot know), so no two lookups overlap.
  uint32_t id = hit_ids[0];
  out.chain_ns = best_ns(hit_ids.size() - 1, [&] {
    for (size_t i = 1; i < hit_ids.size(); ++i) {
      const routing::ContextInfo* c = snap.find_context(id);
      id = hit_ids[i] + (c->schema >> 31);
    }
  });
  if (id == 0 || sum == 42)
    std::printf(" ");  // keeps |id| and |sum| alive
  return out;
}

double time_login_lookups(const RoutingSnapshot& snap, uint32_t contexts) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> dist(1, contexts);
  std::vector<std::string> logins(1 << 18);
  for (auto& l : logins)
    l = "ctx" + std::to_string(dist(rng));
  uint64_t sum = 0;
  auto t0 = Clock::now();
  for (int r = 0; r < 4; ++r) {
    for (const std::string& l : logins) {
      sum += snap.find_login(l).value_or(0);
    }
  }
  double ns = ms_since(t0) * 1e6 / (static_cast<double>(logins.size()) * 4);
  if (sum == 42)
    std::printf(" ");
  return ns;
}

// apply() of |d| to |snap| |n| times, each on a fresh copy of the same base, and the time to
// free each result (what the publisher does on the loader thread once nobody pins it).
struct ApplyTimes {
  std::vector<double> apply_ms, free_ms;
};

ApplyTimes time_apply(const Snap& base, const routing::DirectoryDelta& d, int n) {
  ApplyTimes t;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    Snap next = base->apply(d, 100 + i);
    t.apply_ms.push_back(ms_since(t0));
    t0 = Clock::now();
    next.reset();
    t.free_ms.push_back(ms_since(t0));
  }
  return t;
}

// One-row deltas chained: each applies to the previous result and is published through a real
// SnapshotPublisher, as the loader does; publish() frees the replaced snapshot (nobody pins it
// here), so free_ms is the whole publish.
ApplyTimes time_chained_one_row(Snap snap, uint32_t contexts, int n) {
  std::mt19937 rng(99);
  std::uniform_int_distribution<uint32_t> dist(1, contexts);
  routing::SnapshotPublisher pub;
  pub.publish(snap);
  ApplyTimes t;
  for (int i = 0; i < n; ++i) {
    routing::DirectoryDelta d;
    d.from_seq = snap->change_seq();
    d.to_seq = d.from_seq + 1;
    const routing::ContextInfo* c = snap->find_context(dist(rng));
    d.schema_names = {snap->schema(c->schema).name};
    d.contexts.push_back(routing::ContextRow{c->id, 0, c->server, !c->enabled});
    auto t0 = Clock::now();
    Snap next = snap->apply(d, 200 + i);
    t.apply_ms.push_back(ms_since(t0));
    snap = next;  // the publisher now holds the previous one alone
    t0 = Clock::now();
    pub.publish(std::move(next));  // retires and frees the previous one
    t.free_ms.push_back(ms_since(t0));
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t contexts = 1000000, schemas = 1000, logins_per_context = 0;
  int runs = 3, applies = 21;
  uint64_t buffer_pool = 0;
  bool keep = false;
  int sessions = store::OwnProfileOptions{}.load_sessions;
  bool via_socket = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc)
        die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--contexts")
      contexts = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--schemas")
      schemas = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--logins")
      logins_per_context = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--runs")
      runs = std::atoi(next().c_str());
    else if (a == "--applies")
      applies = std::atoi(next().c_str());
    else if (a == "--buffer-pool") {
      std::string v = next();
      buffer_pool = parse_size(v);
      if (buffer_pool == 0)
        die("--buffer-pool: not a size: " + v + " (e.g. 4G, 512M)");
    } else if (a == "--keep")
      keep = true;
    else if (a == "--socket")
      via_socket = true;
    else if (a == "--sessions")
      sessions = std::atoi(next().c_str());
    else
      die("unknown argument " + a);
  }
  if (contexts < 2 || contexts > 2000000000 || schemas < 1 || schemas > contexts || runs < 1 ||
      applies < 1) {
    die("need 2 <= --contexts <= 2e9, 1 <= --schemas <= contexts, --runs >= 1, --applies >= 1");
  }
  const auto n_ctx = static_cast<uint32_t>(contexts);
  store::Dsn dsn;
  dsn.host = env_or("SY_TEST_MYSQL_HOST", "127.0.0.1");
  dsn.port = std::atoi(env_or("SY_TEST_MYSQL_PORT", "3306"));
  dsn.user = env_or("SY_TEST_MYSQL_USER", "switchyard");
  dsn.password = env_or("SY_TEST_MYSQL_PASSWORD", "switchyard");
  if (via_socket) {
    dsn.socket = env_or("SY_TEST_MYSQL_SOCKET", "");
    if (dsn.socket.empty())
      die("--socket needs SY_TEST_MYSQL_SOCKET");
  }
  // The 1M/1000 name without logins is the one bench/compare --routing uses.
  std::string dbname = "sy_bench_" + std::to_string(contexts) + "_" + std::to_string(schemas);
  if (logins_per_context > 0) {
    dbname += "_l" + std::to_string(logins_per_context);
  }

  // No read timeout: seeding 10M rows is one statement that may run for minutes.
  auto admin_db =
      check(store::Db::connect({dsn}, std::chrono::seconds(5), std::chrono::seconds(0)));
  // The server's pid, for its CPU time during the read (the private server is local).
  long server_pid = 0;
  {
    std::string pid_file;
    check(admin_db->query("SELECT @@pid_file",
                          [&](const store::Row& row) { pid_file = row.str(1); }));
    std::ifstream(pid_file) >> server_pid;
  }
  const uint64_t old_pool = query_u64(*admin_db, "SELECT @@innodb_buffer_pool_size");
  if (buffer_pool > old_pool) {
    exec(*admin_db, "SET GLOBAL innodb_buffer_pool_size = " + std::to_string(buffer_pool));
    std::printf("innodb_buffer_pool_size %llu MiB for this run (restored at exit)\n",
                static_cast<unsigned long long>(buffer_pool >> 20));
  }
  exec(*admin_db, "CREATE DATABASE IF NOT EXISTS " + dbname);
  dsn.database = dbname;
  auto db = check(store::Db::connect({dsn}, std::chrono::seconds(5), std::chrono::seconds(0)));
  check(store::migrate(*db));
  {
    uint64_t n = query_u64(*db, "SELECT COUNT(*) FROM sy_contexts");
    uint64_t l = query_u64(*db, "SELECT COUNT(*) FROM sy_logins");
    bool exists = n == contexts && l == contexts * logins_per_context;
    if (!exists && n + l != 0)
      die(dbname + " holds another data set; drop it first");
    if (!exists) {
      auto t0 = Clock::now();
      seed(*db, contexts, schemas, logins_per_context);
      std::printf("seeded %llu contexts over %llu schemas (%llu logins) in %.1f s (kept in "
                  "database %s)\n",
                  static_cast<unsigned long long>(contexts),
                  static_cast<unsigned long long>(schemas),
                  static_cast<unsigned long long>(contexts * logins_per_context),
                  ms_since(t0) / 1000, dbname.c_str());
    }
  }

  // ---- full load ----
  store::OwnProfileOptions reader_opt;
  reader_opt.load_sessions = sessions;
  store::OwnProfileReader reader(reader_opt);
  routing::SnapshotInput input;
  input.pool_names = {"pool-1", "pool-2"};
  std::vector<double> read_ms, read_cpu_ms, read_server_ms, scan_ms, scan_server_ms, build_ms,
      build_cpu_ms, login_build_ms, total_ms, load1;
  size_t rows_resident = 0, total_resident = 0;
  Snap snap, login_snap;
  for (int r = 0; r < runs; ++r) {
    snap.reset();
    login_snap.reset();
    // What the server alone needs to go through every row (nothing crosses the wire).
    load1.push_back(loadavg1());
    auto ts = Clock::now();
    const double scan_srv0 = proc_cpu_ms(server_pid);
    query_u64(*db, "SELECT SUM(enabled) + SUM(LENGTH(schema_name)) + COUNT(server_id)"
                   " FROM sy_contexts");
    scan_ms.push_back(ms_since(ts));
    scan_server_ms.push_back(proc_cpu_ms(server_pid) - scan_srv0);
    const size_t rss0 = resident_bytes();
    const double cpu0 = cpu_ms();
    const double srv0 = proc_cpu_ms(server_pid);
    auto t0 = Clock::now();
    routing::DirectoryData data = check(reader.full_load(*db));
    read_ms.push_back(ms_since(t0));
    read_cpu_ms.push_back(cpu_ms() - cpu0);
    read_server_ms.push_back(proc_cpu_ms(server_pid) - srv0);
    routing::DirectoryData logins = take_logins(data);
    const size_t rss1 = resident_bytes();
    auto t1 = Clock::now();
    const double bcpu0 = cpu_ms();
    snap = RoutingSnapshot::build(std::move(data), input, r + 1);  // frees the context rows
    build_ms.push_back(ms_since(t1));
    build_cpu_ms.push_back(cpu_ms() - bcpu0);
    auto t2 = Clock::now();
    login_snap = RoutingSnapshot::build(std::move(logins), input, r + 1);  // and the logins
    login_build_ms.push_back(ms_since(t2));
    total_ms.push_back(ms_since(t0));
    const size_t rss2 = resident_bytes();
    rows_resident = rss1 > rss0 ? rss1 - rss0 : 0;
    total_resident = rss2 > rss0 ? rss2 - rss0 : 0;
  }
  if (snap->context_count() != contexts)
    die("snapshot holds a different number of contexts");

  Lookup lk = time_lookups(*snap, n_ctx);
  double login_ns = logins_per_context > 0 ? time_login_lookups(*login_snap, n_ctx) : 0;

  // ---- apply ----
  ApplyTimes one_row = time_chained_one_row(snap, n_ctx, applies);
  // One schema as the ox profile re-reads it: schema_names + the schema's row + all its
  // contexts (ids (k*N/M, (k+1)*N/M] hold schema_{k+1}). Schema k = M/2.
  const uint64_t k = schemas / 2;
  const uint64_t first = k * contexts / schemas + 1, last = (k + 1) * contexts / schemas;
  const std::string schema_name = "schema_" + std::to_string(k + 1);
  const uint32_t schema_index = *snap->schema_index(schema_name);
  routing::DirectoryDelta changed, unchanged, scattered;
  for (auto* d : {&changed, &unchanged, &scattered}) {
    d->from_seq = snap->change_seq();
    d->to_seq = d->from_seq + 1;
    d->schema_names = {schema_name};
  }
  routing::SchemaRow row = snap->schema(schema_index);
  unchanged.schemas = {row};
  unchanged.schemas[0].state = routing::SchemaState::Disabled;
  changed.schemas = {row};
  std::mt19937 rng(5);
  std::uniform_int_distribution<uint32_t> dist(1, n_ctx);
  for (uint64_t id = first; id <= last; ++id) {
    const routing::ContextInfo* c = snap->find_context(static_cast<ContextId>(id));
    unchanged.contexts.push_back({c->id, 0, c->server, c->enabled});
    changed.contexts.push_back({c->id, 0, 2, c->enabled});  // changeserver to server 2
    scattered.contexts.push_back({dist(rng), 0, 2, true});
  }
  const int schema_applies = std::max(3, applies / 4);
  ApplyTimes t_changed = time_apply(snap, changed, schema_applies);
  ApplyTimes t_unchanged = time_apply(snap, unchanged, schema_applies);
  ApplyTimes t_scattered = time_apply(snap, scattered, schema_applies);
  ApplyTimes t_login;
  if (logins_per_context > 0) {
    routing::DirectoryDelta d;
    d.to_seq = login_snap->change_seq() + 1;
    d.from_seq = login_snap->change_seq();
    d.logins = {{"ctx7", 8}};
    t_login = time_apply(login_snap, d, applies);
  }

  // ---- own profile round trip: one UPDATE, changes_since(), apply() ----
  // The reader continues from the last full load (the contexts snapshot's change_seq).
  exec(*db, "UPDATE sy_contexts SET enabled = 1 - enabled WHERE id = 3");
  auto t_rt = Clock::now();
  routing::DirectoryDelta rt = check(reader.changes_since(*db, snap->change_seq()));
  double rt_read_ms = ms_since(t_rt);
  auto t_rt2 = Clock::now();
  Snap after_rt = snap->apply(rt, 999);
  double rt_apply_ms = ms_since(t_rt2);
  exec(*db, "UPDATE sy_contexts SET enabled = 1 WHERE id = 3");
  if (rt.contexts.size() != 1 ||
      after_rt->find_context(3)->enabled == snap->find_context(3)->enabled) {
    die("the round trip did not deliver the one changed context");
  }
  after_rt.reset();

  // ---- resident bytes: what freeing each snapshot gives back (nothing else holds them now) ----
  const size_t rss_both = resident_bytes();
  const double snap_bytes = static_cast<double>(snap->memory_bytes());
  const double login_snap_bytes = static_cast<double>(login_snap->memory_bytes());
  login_snap.reset();
  const size_t rss_ctx = resident_bytes();
  snap.reset();
  const size_t rss_none = resident_bytes();
  const size_t login_resident = rss_both > rss_ctx ? rss_both - rss_ctx : 0;
  const size_t ctx_resident = rss_ctx > rss_none ? rss_ctx - rss_none : 0;

  const double per_ctx = static_cast<double>(ctx_resident) / static_cast<double>(contexts);
  const double per_ctx_built = static_cast<double>(total_resident) / static_cast<double>(contexts);
  std::printf("contexts %llu, schemas %llu, logins %llu; %d run(s), median:\n",
              static_cast<unsigned long long>(contexts), static_cast<unsigned long long>(schemas),
              static_cast<unsigned long long>(contexts * logins_per_context), runs);
  std::printf("  full load (read + build)     %9.0f ms   (target < 5000 ms at 10M)\n",
              median(total_ms));
  std::string loads;
  for (double l : load1) {
    loads += (loads.empty() ? "" : ", ") + std::to_string(l).substr(0, 5);
  }
  std::printf("  load average (1 min) at the start of each run: %s\n", loads.c_str());
  std::printf("    database read              %9.0f ms   (client CPU %.0f ms, server CPU %.0f "
              "ms, %d helper session(s); rows read: RSS +%zu MiB)\n",
              median(read_ms), median(read_cpu_ms), median(read_server_ms), sessions,
              rows_resident >> 20);
  std::printf("      server scan alone        %9.0f ms   (server CPU %.0f ms; SUM over every row, "
              "nothing sent)\n",
              median(scan_ms), median(scan_server_ms));
  std::printf("    snapshot build (contexts)  %9.0f ms   (CPU %.0f ms)\n", median(build_ms),
              median(build_cpu_ms));
  if (logins_per_context > 0) {
    std::printf("    snapshot build (logins)    %9.0f ms\n", median(login_build_ms));
  }
  std::printf("  resident per context         %9.1f B    (target <= 40 B; RSS -%zu MiB when freed; "
              "memory_bytes() %.1f B; RSS +%.1f B after the build, logins included)\n",
              per_ctx, ctx_resident >> 20, snap_bytes / static_cast<double>(contexts),
              per_ctx_built);
  if (logins_per_context > 0) {
    const double logins = static_cast<double>(contexts * logins_per_context);
    std::printf(
        "  resident per login           %9.1f B    (RSS -%zu MiB when freed; memory_bytes() "
        "%.1f B)\n",
        static_cast<double>(login_resident) / logins, login_resident >> 20,
        login_snap_bytes / logins);
  }
  std::printf(
      "  find_context, random hits    %9.1f ns   (target < 100 ns; thread CPU, best of 5)\n",
      lk.hit_ns);
  std::printf("  find_context, random misses  %9.1f ns\n", lk.miss_ns);
  std::printf("  find_context, dependent hits %9.1f ns   (one lookup at a time: its latency)\n",
              lk.chain_ns);
  if (logins_per_context > 0) {
    std::printf("  find_login, random hits      %9.1f ns\n", login_ns);
  }
  std::printf("  apply one-row delta          %9.3f ms   (target < 1 ms; worst of %d: %.3f ms; "
              "publish, freeing the replaced snapshot, %.3f ms, worst %.3f)\n",
              median(one_row.apply_ms), applies, worst(one_row.apply_ms), median(one_row.free_ms),
              worst(one_row.free_ms));
  std::printf("  apply one schema, %llu ctx changed     %9.3f ms   (changeserver; worst %.3f, "
              "free %.3f)\n",
              static_cast<unsigned long long>(last - first + 1), median(t_changed.apply_ms),
              worst(t_changed.apply_ms), median(t_changed.free_ms));
  std::printf("  apply one schema, 0 ctx changed        %9.3f ms   (disableschema re-read; "
              "worst %.3f, free %.3f)\n",
              median(t_unchanged.apply_ms), worst(t_unchanged.apply_ms),
              median(t_unchanged.free_ms));
  std::printf("  apply %llu ctx at random ids           %9.3f ms   (worst %.3f, free %.3f)\n",
              static_cast<unsigned long long>(last - first + 1), median(t_scattered.apply_ms),
              worst(t_scattered.apply_ms), median(t_scattered.free_ms));
  if (logins_per_context > 0) {
    std::printf("  apply one login              %9.3f ms   (worst %.3f, free %.3f)\n",
                median(t_login.apply_ms), worst(t_login.apply_ms), median(t_login.free_ms));
  }
  std::printf("  own profile, one UPDATE: changes_since %.1f ms + apply %.3f ms\n", rt_read_ms,
              rt_apply_ms);

  if (!keep) {
    (void)admin_db->exec("DROP DATABASE " + dbname);
  }
  if (buffer_pool > old_pool) {
    (void)admin_db->exec("SET GLOBAL innodb_buffer_pool_size = " + std::to_string(old_pool));
  }
  return 0;
}
