// Seeding the own profile's tables with a synthetic directory (bench/directory_bench, tests):
// batched multi-row INSERTs with the change log switched off for the session.

#include <functional>
#include <string>

#include "store/directory_reader.h"
#include "store/query.h"

namespace sy::store {

namespace {

// Inserts |rows| rows as "|head| VALUES |tuple|,|tuple|,..." in batches of |batch| rows;
// |bind_row|(stmt, i) binds row |i|'s parameters.
Result<Unit> insert_batched(Db& db, const std::string& head, const std::string& tuple,
                            uint64_t rows, uint64_t batch,
                            const std::function<void(Stmt&, uint64_t)>& bind_row) {
  std::optional<Stmt> full;
  for (uint64_t begin = 0; begin < rows; begin += batch) {
    const uint64_t n = std::min(batch, rows - begin);
    std::optional<Stmt> once;
    Stmt* stmt = nullptr;
    if (n == batch && full) {
      stmt = &*full;
    } else {
      std::string sql = head + " VALUES ";
      sql.reserve(sql.size() + n * (tuple.size() + 1));
      for (uint64_t i = 0; i < n; ++i) {
        if (i > 0) {
          sql += ',';
        }
        sql += tuple;
      }
      auto prepared = db.prepare(sql);
      if (!prepared) {
        return prepared.error();
      }
      if (n == batch) {
        full.emplace(std::move(prepared.value()));
        stmt = &*full;
      } else {
        once.emplace(std::move(prepared.value()));
        stmt = &*once;
      }
    }
    for (uint64_t i = begin; i < begin + n; ++i) {
      bind_row(*stmt, i);
    }
    if (auto r = stmt->exec(); !r) {
      return r.error();
    }
  }
  return ok_result();
}

}  // namespace

Result<Unit> seed_own_profile(Db& db, int contexts, int schemas, int servers,
                              int logins_per_context) {
  if (contexts < 0 || schemas < 1 || servers < 1 || logins_per_context < 0) {
    return make_error(Errc::InvalidArgument,
                      "seed_own_profile: need contexts >= 0, schemas >= 1, servers >= 1");
  }
  if (auto r = db.exec("SET @sy_skip_changes = 1"); !r) {
    return r.error();
  }
  // Whatever happens below, this session logs changes again afterwards.
  struct Restore {
    Db& db;
    ~Restore() { (void)db.exec("SET @sy_skip_changes = NULL"); }
  } restore{db};

  constexpr uint64_t kBatch = 5000;
  const auto n_servers = static_cast<uint64_t>(servers);
  const auto n_schemas = static_cast<uint64_t>(schemas);
  const auto n_contexts = static_cast<uint64_t>(contexts);
  auto r =
      insert_batched(db, "INSERT INTO sy_servers (id, name, pool, version, redirect_url)",
                     "(?,?,?,'1.0','')", n_servers, kBatch, [](Stmt& s, uint64_t i) {
                       const std::string id = std::to_string(i + 1);
                       s.bind(static_cast<uint32_t>(i + 1)).bind("server-" + id).bind("pool-" + id);
                     });
  if (!r) {
    return r.error();
  }
  r = insert_batched(
      db, "INSERT INTO sy_schemas (name, state, server_id)", "(?,'enabled',?)", n_schemas, kBatch,
      [&](Stmt& s, uint64_t i) {
        s.bind("schema_" + std::to_string(i + 1)).bind(static_cast<uint32_t>(i % n_servers + 1));
      });
  if (!r) {
    return r.error();
  }
  // Contexts in contiguous blocks per schema, as tenants are usually created.
  std::vector<std::string> schema_names;
  schema_names.reserve(n_schemas);
  for (uint64_t i = 0; i < n_schemas; ++i) {
    schema_names.push_back("schema_" + std::to_string(i + 1));
  }
  r = insert_batched(
      db, "INSERT INTO sy_contexts (id, schema_name, enabled, server_id)", "(?,?,1,NULL)",
      n_contexts, kBatch, [&](Stmt& s, uint64_t i) {
        s.bind(static_cast<uint32_t>(i + 1)).bind(schema_names[i * n_schemas / n_contexts]);
      });
  if (!r) {
    return r.error();
  }
  const auto per = static_cast<uint64_t>(logins_per_context);
  r = insert_batched(db, "INSERT INTO sy_logins (login, context_id)", "(?,?)", n_contexts * per,
                     kBatch, [&](Stmt& s, uint64_t i) {
                       const uint64_t ctx = i / per + 1;
                       const uint64_t k = i % per;
                       std::string login = "ctx" + std::to_string(ctx);
                       if (k > 0) {
                         login += "-" + std::to_string(k);
                       }
                       s.bind(login).bind(static_cast<uint32_t>(ctx));
                     });
  if (!r) {
    return r.error();
  }
  return ok_result();
}

}  // namespace sy::store
