// The own profile's directory (admin/directory.h) on Switchyard's tables. Each write runs in one
// transaction that locks the rows it decides on (SELECT ... FOR UPDATE) and, after the write,
// reads MAX(sy_changes.seq): the triggers have appended this write's change rows by then, and
// the transaction sees its own rows plus committed ones, so the value is >= the highest seq
// this write produced.

#include "admin/directory.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>

#include "admin/db_error.h"

namespace sy::admin {

using routing::Db;
using routing::Row;

namespace {

Result<uint64_t> max_change_seq(Db& db) {
  uint64_t seq = 0;
  auto r = db.query("SELECT COALESCE(MAX(seq), 0) FROM sy_changes",
                    [&](const Row& row) { seq = row.u64(1); });
  if (!r) {
    return db_error("reading the change seq", r.error());
  }
  return seq;
}

// Ends a write transaction: reads the change seq the write produced (or, when nothing
// |changed|, the seq of now) and commits.
Result<WriteResult> finish_write(Db& db, routing::Transaction& txn, bool changed,
                                 const std::string& what) {
  auto seq = max_change_seq(db);
  if (!seq) {
    return seq.error();
  }
  if (auto c = txn.commit(); !c) {
    return db_error(what, c.error());
  }
  return WriteResult{changed, *seq};
}

constexpr const char* kServerColumns =
    "SELECT id, name, pool, version, redirect_url FROM sy_servers";

ServerInfo server_from(const Row& row) {
  return ServerInfo{row.u32(1), row.str(2), row.str(3), row.str(4), row.str(5)};
}

Result<std::optional<ServerInfo>> server_where(Db& db, const std::string& where,
                                               const std::string& value, bool numeric) {
  auto stmt = db.prepare(std::string(kServerColumns) + " WHERE " + where);
  if (!stmt) {
    return db_error("reading sy_servers", stmt.error());
  }
  std::optional<ServerInfo> found;
  if (numeric) {
    uint64_t id = 0;
    std::from_chars(value.data(), value.data() + value.size(), id);
    stmt->bind(id);
  } else {
    stmt->bind(value);
  }
  auto r = stmt->query([&](const Row& row) { found = server_from(row); });
  if (!r) {
    return db_error("reading sy_servers", r.error());
  }
  return found;
}

Result<std::vector<SchemaInfo>> read_schemas(Db& db, const std::string* only) {
  std::string sql =
      "SELECT s.name, s.state = 'enabled', s.server_id, COALESCE(v.name, ''), COALESCE(c.n, 0)"
      " FROM sy_schemas s LEFT JOIN sy_servers v ON v.id = s.server_id"
      " LEFT JOIN (SELECT schema_name, COUNT(*) AS n FROM sy_contexts GROUP BY schema_name) c"
      " ON c.schema_name = s.name";
  if (only != nullptr) {
    sql += " WHERE s.name = ?";
  }

  auto stmt = db.prepare(sql);
  if (!stmt) {
    return db_error("reading sy_schemas", stmt.error());
  }
  if (only != nullptr) {
    stmt->bind(*only);
  }
  std::vector<SchemaInfo> out;
  auto r = stmt->query([&](const Row& row) {
    SchemaInfo s;
    s.name = row.str(1);
    s.enabled = row.boolean(2);
    s.server_id = row.u32(3);
    s.server_name = row.str(4);
    s.contexts = row.u64(5);
    out.push_back(std::move(s));
  });
  if (!r) {
    return db_error("reading sy_schemas", r.error());
  }
  std::sort(out.begin(), out.end(),
            [](const SchemaInfo& a, const SchemaInfo& b) { return schema_less(a.name, b.name); });
  return out;
}

Result<RegisterResult> register_server(Db& db, const ServerInfo& wanted, IfExists if_exists) {
  if (auto ok = check_server_name(wanted.name); !ok) {
    return ok.error();
  }
  auto txn = db.begin();
  if (!txn) {
    return db_error("register server '" + wanted.name + "'", txn.error());
  }
  auto existing = server_where(db, "name = ? FOR UPDATE", wanted.name, false);
  if (!existing) {
    return existing.error();
  }
  if (existing->has_value()) {
    (void)txn->commit();  // nothing written
    return existing_server(**existing, wanted, if_exists);
  }
  RegisterResult result;
  ServerInfo row = wanted;
  if (row.id == 0) {
    auto r = db.query("SELECT COALESCE(MAX(id), 0) + 1 FROM sy_servers FOR UPDATE",
                      [&](const Row& x) { row.id = x.u32(1); });
    if (!r) {
      return db_error("register server '" + wanted.name + "'", r.error());
    }
  } else {
    auto taken = server_where(db, "id = ? FOR UPDATE", std::to_string(row.id), true);
    if (!taken) {
      return taken.error();
    }
    if (taken->has_value()) {
      return make_tagged_error(Errc::InvalidArgument, "exists",
                               "server id " + std::to_string(row.id) + " is taken by '" +
                                   (*taken)->name + "'");
    }
  }
  auto ins = db.prepare(
      "INSERT INTO sy_servers (id, name, pool, version, redirect_url) VALUES (?, ?, ?, ?, ?)");
  if (!ins) {
    return db_error("register server '" + wanted.name + "'", ins.error());
  }
  auto r = ins->bind(row.id)
               .bind(row.name)
               .bind(row.pool)
               .bind(row.version)
               .bind(row.redirect_url)
               .exec();
  if (!r) {
    return db_error("register server '" + wanted.name + "'", r.error());
  }
  auto seq = max_change_seq(db);
  if (!seq) {
    return seq.error();
  }
  if (auto c = txn->commit(); !c) {
    return db_error("register server '" + wanted.name + "'", c.error());
  }
  result.server = row;
  result.version = *seq;
  return result;
}

Result<std::vector<ServerInfo>> list_servers(Db& db) {
  std::vector<ServerInfo> out;
  auto r = db.query(std::string(kServerColumns) + " ORDER BY id",
                    [&](const Row& row) { out.push_back(server_from(row)); });
  if (!r) {
    return db_error("reading sy_servers", r.error());
  }
  return out;
}

Result<ServerInfo> find_server(Db& db, const std::string& name_or_id) {
  if (all_digits(name_or_id) && name_or_id.size() <= 10) {
    auto by_id = server_where(db, "id = ?", name_or_id, true);
    if (!by_id) {
      return by_id.error();
    }
    if (by_id->has_value()) {
      return **by_id;
    }
  }
  auto by_name = server_where(db, "name = ?", name_or_id, false);
  if (!by_name) {
    return by_name.error();
  }
  if (!by_name->has_value()) {
    return make_tagged_error(Errc::NotFound, "not-found",
                             "no server '" + name_or_id + "' (by name or id)");
  }
  return **by_name;
}

Result<SchemaInfo> find_schema(Db& db, const std::string& name) {
  auto rows = read_schemas(db, &name);
  if (!rows) {
    return rows.error();
  }
  if (rows->empty()) {
    return make_tagged_error(Errc::NotFound, "not-found", "no schema '" + name + "'");
  }
  return rows->front();
}

Result<ContextInfo> find_context(Db& db, uint32_t id) {
  auto stmt =
      db.prepare("SELECT c.id, c.schema_name, c.enabled, COALESCE(s.state = 'enabled', 0),"
                 " COALESCE(NULLIF(c.server_id, 0), s.server_id, 0), COALESCE(v.name, '')"
                 " FROM sy_contexts c LEFT JOIN sy_schemas s ON s.name = c.schema_name"
                 " LEFT JOIN sy_servers v ON v.id = COALESCE(NULLIF(c.server_id, 0), s.server_id)"
                 " WHERE c.id = ?");
  if (!stmt) {
    return db_error("reading sy_contexts", stmt.error());
  }
  std::optional<ContextInfo> found;
  auto r = stmt->bind(id).query([&](const Row& row) {
    ContextInfo c;
    c.id = row.u32(1);
    c.schema = row.str(2);
    c.enabled = row.boolean(3);
    c.schema_enabled = row.boolean(4);
    c.server_id = row.u32(5);
    c.server_name = row.str(6);
    found = std::move(c);
  });
  if (!r) {
    return db_error("reading sy_contexts", r.error());
  }
  if (!found) {
    return make_tagged_error(Errc::NotFound, "not-found", "no context " + std::to_string(id));
  }
  auto logins = db.prepare("SELECT login FROM sy_logins WHERE context_id = ? ORDER BY login");
  if (!logins) {
    return db_error("reading sy_logins", logins.error());
  }
  r = logins->bind(id).query([&](const Row& row) { found->logins.push_back(row.str(1)); });
  if (!r) {
    return db_error("reading sy_logins", r.error());
  }
  return std::move(*found);
}

Result<WriteResult> set_schema_enabled(Db& db, const std::string& schema, bool enabled) {
  const std::string what = std::string(enabled ? "enable" : "disable") + " schema '" + schema + "'";
  auto txn = db.begin();
  if (!txn) {
    return db_error(what, txn.error());
  }
  auto sel = db.prepare("SELECT state = 'enabled' FROM sy_schemas WHERE name = ? FOR UPDATE");
  if (!sel) {
    return db_error(what, sel.error());
  }
  std::optional<bool> is_enabled;
  auto r = sel->bind(schema).query([&](const Row& row) { is_enabled = row.boolean(1); });
  if (!r) {
    return db_error(what, r.error());
  }
  if (!is_enabled) {
    return make_tagged_error(Errc::NotFound, "not-found", what + ": no such schema");
  }
  if (*is_enabled == enabled) {
    return finish_write(db, *txn, false, what);
  }
  auto upd = db.prepare("UPDATE sy_schemas SET state = ? WHERE name = ?");
  if (!upd) {
    return db_error(what, upd.error());
  }
  if (auto u = upd->bind(enabled ? "enabled" : "disabled").bind(schema).exec(); !u) {
    return db_error(what, u.error());
  }
  return finish_write(db, *txn, true, what);
}

Result<WriteResult> move_schema(Db& db, const std::string& schema, uint32_t to_server) {
  const std::string what = "move schema '" + schema + "' to server " + std::to_string(to_server);
  auto txn = db.begin();
  if (!txn) {
    return db_error(what, txn.error());
  }
  auto sel = db.prepare("SELECT server_id FROM sy_schemas WHERE name = ? FOR UPDATE");
  if (!sel) {
    return db_error(what, sel.error());
  }
  std::optional<uint32_t> from;
  auto r = sel->bind(schema).query([&](const Row& row) { from = row.u32(1); });
  if (!r) {
    return db_error(what, r.error());
  }
  if (!from) {
    return make_tagged_error(Errc::NotFound, "not-found", what + ": no such schema");
  }
  auto target = server_where(db, "id = ?", std::to_string(to_server), true);
  if (!target) {
    return target.error();
  }
  if (!target->has_value()) {
    return make_tagged_error(Errc::NotFound, "not-found", what + ": no such server");
  }
  if (*from == to_server) {
    return finish_write(db, *txn, false, what);
  }
  auto current = server_where(db, "id = ?", std::to_string(*from), true);
  if (!current) {
    return current.error();
  }
  // A schema on a server that is not registered has no door to close.
  if (current->has_value()) {
    if (auto door = check_one_way_door(schema, **current, **target); !door) {
      return door.error();
    }
  }
  auto upd = db.prepare("UPDATE sy_schemas SET server_id = ? WHERE name = ?");
  if (!upd) {
    return db_error(what, upd.error());
  }
  if (auto u = upd->bind(to_server).bind(schema).exec(); !u) {
    return db_error(what, u.error());
  }
  auto clear = db.prepare(
      "UPDATE sy_contexts SET server_id = NULL WHERE schema_name = ? AND server_id IS NOT NULL");
  if (!clear) {
    return db_error(what, clear.error());
  }
  if (auto u = clear->bind(schema).exec(); !u) {
    return db_error(what, u.error());
  }
  return finish_write(db, *txn, true, what);
}

class OwnDirectory final : public Directory {
 public:
  explicit OwnDirectory(Db& db) : db_(db) {}
  const char* profile() const override { return "own"; }
  Result<RegisterResult> register_server(const ServerInfo& wanted, IfExists if_exists) override {
    return admin::register_server(db_, wanted, if_exists);
  }
  Result<std::vector<ServerInfo>> list_servers() override { return admin::list_servers(db_); }
  Result<ServerInfo> find_server(const std::string& name_or_id) override {
    return admin::find_server(db_, name_or_id);
  }
  Result<std::vector<SchemaInfo>> list_schemas() override { return read_schemas(db_, nullptr); }
  Result<SchemaInfo> find_schema(const std::string& name) override {
    return admin::find_schema(db_, name);
  }
  Result<ContextInfo> find_context(uint32_t id) override { return admin::find_context(db_, id); }
  Result<WriteResult> set_schema_enabled(const std::string& schema, bool enabled) override {
    return admin::set_schema_enabled(db_, schema, enabled);
  }
  Result<WriteResult> move_schema(const std::string& schema, uint32_t to_server) override {
    return admin::move_schema(db_, schema, to_server);
  }
  Result<uint64_t> current_version() override { return max_change_seq(db_); }

 private:
  Db& db_;
};

}  // namespace

std::unique_ptr<Directory> make_own_directory(Db& db) { return std::make_unique<OwnDirectory>(db); }

}  // namespace sy::admin
