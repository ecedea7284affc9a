// bench/directory_bench: the tenant directory at scale (issue #3 targets), on the private
// MariaDB: seeds N contexts over M schemas in a scratch database with Switchyard's own tables,
// then measures
//   - full load from MariaDB (OwnProfileReader::full_load), median of --runs   target < 2 s
//   - snapshot build time and resident bytes per context (memory_bytes)        target <= 64 B
//   - find_context() cost, random ids, all hits                                target < 100 ns
//   - apply() of a one-row delta (what a 250 ms incremental refresh costs the loader)
// Usage: directory_bench [--contexts 1000000] [--schemas 1000] [--runs 3] [--keep]
// Reads SY_TEST_MYSQL_HOST/PORT/USER/PASSWORD (eval "$(tests/scripts/mariadb.sh env)").

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "admin/db_migrate.h"
#include "routing/db.h"
#include "routing/directory_reader.h"
#include "routing/snapshot.h"

using namespace sy;
using Clock = std::chrono::steady_clock;

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

}  // namespace

int main(int argc, char** argv) {
  int contexts = 1000000, schemas = 1000, runs = 3;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (a == "--contexts")
      contexts = next();
    else if (a == "--schemas")
      schemas = next();
    else if (a == "--runs")
      runs = next();
    else if (a == "--keep")
      keep = true;
    else
      die("unknown argument " + a);
  }
  routing::Dsn dsn;
  dsn.host = env_or("SY_TEST_MYSQL_HOST", "127.0.0.1");
  dsn.port = std::atoi(env_or("SY_TEST_MYSQL_PORT", "3306"));
  dsn.user = env_or("SY_TEST_MYSQL_USER", "switchyard");
  dsn.password = env_or("SY_TEST_MYSQL_PASSWORD", "switchyard");
  std::string dbname = "sy_bench_" + std::to_string(contexts) + "_" + std::to_string(schemas);

  auto admin_db = routing::Db::connect({dsn}, std::chrono::seconds(5));
  if (!admin_db.ok())
    die(admin_db.error().message);
  bool exists = false;
  {
    auto r = (*admin_db)->exec("CREATE DATABASE IF NOT EXISTS " + dbname);
    if (!r.ok())
      die(r.error().message);
  }
  dsn.database = dbname;
  auto db = routing::Db::connect({dsn}, std::chrono::seconds(5));
  if (!db.ok())
    die(db.error().message);
  auto mig = admin::migrate(**db);
  if (!mig.ok())
    die(mig.error().message);
  {
    uint64_t n = 0;
    auto st = (*db)->prepare("SELECT COUNT(*) FROM sy_contexts");
    if (!st.ok())
      die(st.error().message);
    auto q = st->query([&](const routing::Row& row) { n = row.u64(1); });
    if (!q.ok())
      die(q.error().message);
    exists = n == static_cast<uint64_t>(contexts);
    if (!exists && n != 0)
      die(dbname + " holds another data set; drop it first");
  }
  if (!exists) {
    auto t0 = Clock::now();
    auto s = routing::seed_own_profile(**db, contexts, schemas, 2);
    if (!s.ok())
      die(s.error().message);
    std::printf("seeded %d contexts over %d schemas in %.0f ms (kept in database %s)\n", contexts,
                schemas, ms_since(t0), dbname.c_str());
  }

  routing::OwnProfileReader reader;
  std::vector<double> load_ms, build_ms;
  std::shared_ptr<const routing::RoutingSnapshot> snap;
  routing::SnapshotInput input;
  input.pool_names = {"pool-1", "pool-2"};
  for (int r = 0; r < runs; ++r) {
    auto t0 = Clock::now();
    auto data = reader.full_load(**db);
    if (!data.ok())
      die(data.error().message);
    load_ms.push_back(ms_since(t0));
    auto t1 = Clock::now();
    snap = routing::RoutingSnapshot::build(std::move(data.value()), input, r + 1);
    build_ms.push_back(ms_since(t1));
  }
  std::sort(load_ms.begin(), load_ms.end());
  std::sort(build_ms.begin(), build_ms.end());
  double bytes_per_ctx = static_cast<double>(snap->memory_bytes()) / contexts;

  // Lookups: random existing ids, a dependent sum so the loop cannot be optimised away.
  std::mt19937 rng(42);
  std::uniform_int_distribution<uint32_t> dist(1, static_cast<uint32_t>(contexts));
  std::vector<uint32_t> ids(1 << 20);
  for (auto& id : ids)
    id = dist(rng);
  uint64_t sum = 0;
  auto t0 = Clock::now();
  const int rounds = 8;
  for (int r = 0; r < rounds; ++r) {
    for (uint32_t id : ids) {
      const routing::ContextInfo* c = snap->find_context(id);
      sum += c != nullptr ? c->schema : 1000000;
    }
  }
  double ns = ms_since(t0) * 1e6 / (static_cast<double>(ids.size()) * rounds);

  routing::DirectoryDelta delta;
  delta.from_seq = snap->change_seq();
  delta.to_seq = snap->change_seq() + 1;
  delta.schema_names = {snap->schema(0).name};
  delta.contexts.push_back(routing::ContextRow{1, 0, 0, false});
  auto ta = Clock::now();
  auto applied = snap->apply(delta, 99);
  double apply_ms = ms_since(ta);

  std::printf("contexts %d, schemas %d, %d run(s), median:\n", contexts, schemas, runs);
  std::printf("  full load from MariaDB   %8.0f ms   (target < 2000 ms)\n",
              load_ms[load_ms.size() / 2]);
  std::printf("  snapshot build           %8.0f ms\n", build_ms[build_ms.size() / 2]);
  std::printf("  memory per context       %8.1f B    (target <= 64 B; %zu MiB total)\n",
              bytes_per_ctx, snap->memory_bytes() >> 20);
  std::printf("  find_context             %8.1f ns   (target < 100 ns; random hits; check %llu)\n",
              ns, static_cast<unsigned long long>(sum % 10));
  std::printf("  apply one-row delta      %8.1f ms   (copy-on-write of the whole table)\n",
              apply_ms);
  if (!keep) {
    (void)(*admin_db)->exec("DROP DATABASE " + dbname);
  }
  return applied ? 0 : 1;
}
