// The own profile's directory (admin/directory.h) on Switchyard's tables (store/own_tables.h).
// Each write runs in one transaction that locks the rows it decides on (SELECT ... FOR UPDATE)
// and, after the write, reads MAX(sy_changes.seq): the triggers have appended this write's
// change rows by then, and the transaction sees its own rows plus committed ones, so the value
// is >= the highest seq this write produced.

#include "admin/directory.h"
#include "admin/directory_edit.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include "store/db_error.h"
#include "store/own_tables.h"

namespace sy::admin {

using store::Db;
using store::Lock;

Result<WriteResult> finish_own_write(Db& db, store::Transaction& txn, bool changed,
                                     const std::string& what) {
  auto seq = store::in_context("reading the change seq", store::max_change_seq(db));
  if (!seq) {
    return seq.error();
  }
  if (auto c = txn.commit(); !c) {
    return store::db_error(what, c.error());
  }
  return WriteResult{changed, *seq};
}

namespace {

ServerInfo info(const routing::ServerRow& r) {
  return ServerInfo{r.id, r.name, r.pool, r.version, r.redirect_url};
}

std::optional<ServerInfo> info(const std::optional<routing::ServerRow>& r) {
  return r ? std::optional<ServerInfo>(info(*r)) : std::nullopt;
}

Result<uint64_t> change_seq(Db& db) {
  return store::in_context("reading the change seq", store::max_change_seq(db));
}

Result<std::optional<ServerInfo>> server_by_id(Db& db, uint32_t id, Lock lock = Lock::None) {
  auto r = store::own_server_by_id(db, id, lock);
  if (!r) {
    return store::db_error("reading sy_servers", r.error());
  }
  return info(*r);
}

Result<std::optional<ServerInfo>> server_by_name(Db& db, const std::string& name,
                                                 Lock lock = Lock::None) {
  auto r = store::own_server_by_name(db, name, lock);
  if (!r) {
    return store::db_error("reading sy_servers", r.error());
  }
  return info(*r);
}

Result<std::vector<SchemaInfo>> read_schemas(Db& db, const std::string* only) {
  auto rows = store::own_schemas(db, only);
  if (!rows) {
    return store::db_error("reading sy_schemas", rows.error());
  }
  std::vector<SchemaInfo> out;
  for (store::OwnSchemaRow& r : *rows) {
    SchemaInfo s;
    s.name = std::move(r.name);
    s.enabled = r.enabled;
    s.server_id = r.server_id;
    s.server_name = std::move(r.server_name);
    s.contexts = r.contexts;
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(),
            [](const SchemaInfo& a, const SchemaInfo& b) { return schema_less(a.name, b.name); });
  return out;
}

Result<RegisterResult> register_server(Db& db, const ServerInfo& wanted, IfExists if_exists) {
  if (auto ok = check_server_name(wanted.name); !ok) {
    return ok.error();
  }
  const std::string what = "register server '" + wanted.name + "'";
  auto txn = db.begin();
  if (!txn) {
    return store::db_error(what, txn.error());
  }
  auto existing = server_by_name(db, wanted.name, Lock::ForUpdate);
  if (!existing) {
    return existing.error();
  }
  if (existing->has_value()) {
    (void)txn->commit();  // nothing written
    return existing_server(**existing, wanted, if_exists);
  }
  ServerInfo row = wanted;
  if (row.id == 0) {
    auto next = store::next_own_server_id(db);
    if (!next) {
      return store::db_error(what, next.error());
    }
    row.id = *next;
  } else {
    auto taken = server_by_id(db, row.id, Lock::ForUpdate);
    if (!taken) {
      return taken.error();
    }
    if (taken->has_value()) {
      return make_tagged_error(Errc::InvalidArgument, "exists",
                               "server id " + std::to_string(row.id) + " is taken by '" +
                                   (*taken)->name + "'",
                               ErrorSource::Downstream);
    }
  }
  if (auto r = store::insert_own_server(
          db, routing::ServerRow{row.id, row.name, row.pool, row.version, row.redirect_url});
      !r) {
    return store::db_error(what, r.error());
  }
  auto written = finish_own_write(db, *txn, true, what);
  if (!written) {
    return written.error();
  }
  RegisterResult result;
  result.server = row;
  result.version = written->version;
  return result;
}

Result<std::vector<ServerInfo>> list_servers(Db& db) {
  auto rows = store::own_servers(db);
  if (!rows) {
    return store::db_error("reading sy_servers", rows.error());
  }
  std::vector<ServerInfo> out;
  for (const routing::ServerRow& r : *rows) {
    out.push_back(info(r));
  }
  return out;
}

Result<ServerInfo> find_server(Db& db, const std::string& name_or_id) {
  if (all_digits(name_or_id) && name_or_id.size() <= 10) {
    uint64_t id = 0;
    std::from_chars(name_or_id.data(), name_or_id.data() + name_or_id.size(), id);
    if (id <= UINT32_MAX) {
      auto by_id = server_by_id(db, static_cast<uint32_t>(id));
      if (!by_id) {
        return by_id.error();
      }
      if (by_id->has_value()) {
        return **by_id;
      }
    }
  }
  auto by_name = server_by_name(db, name_or_id);
  if (!by_name) {
    return by_name.error();
  }
  if (!by_name->has_value()) {
    return make_tagged_error(Errc::NotFound, "not-found",
                             "no server '" + name_or_id + "' (by name or id)",
                             ErrorSource::Downstream);
  }
  return **by_name;
}

Result<SchemaInfo> find_schema(Db& db, const std::string& name) {
  auto rows = read_schemas(db, &name);
  if (!rows) {
    return rows.error();
  }
  if (rows->empty()) {
    return make_tagged_error(Errc::NotFound, "not-found", "no schema '" + name + "'",
                             ErrorSource::Downstream);
  }
  return rows->front();
}

Result<ContextInfo> find_context(Db& db, uint32_t id) {
  auto row = store::own_context(db, id);
  if (!row) {
    return store::db_error("reading sy_contexts", row.error());
  }
  if (!row->has_value()) {
    return make_tagged_error(Errc::NotFound, "not-found", "no context " + std::to_string(id),
                             ErrorSource::Downstream);
  }
  const store::OwnContextRow& r = **row;
  ContextInfo c;
  c.id = r.id;
  c.schema = r.schema;
  c.enabled = r.enabled;
  c.schema_enabled = r.schema_enabled;
  c.server_id = r.server_id;
  c.server_name = r.server_name;
  auto logins = store::own_logins_of(db, id);
  if (!logins) {
    return store::db_error("reading sy_logins", logins.error());
  }
  c.logins = std::move(logins.value());
  return c;
}

// |schema|'s row, locked until the transaction ends; tag "not-found" when there is none.
Result<routing::SchemaRow> locked_schema(Db& db, const std::string& schema,
                                         const std::string& what) {
  auto row = store::own_schema_for_update(db, schema);
  if (!row) {
    return store::db_error(what, row.error());
  }
  if (!row->has_value()) {
    return make_tagged_error(Errc::NotFound, "not-found", what + ": no such schema",
                             ErrorSource::Downstream);
  }
  return std::move(**row);
}

// Enable, disable (which also clears a failed mark) or mark failed (disabled with the mark).
Result<WriteResult> set_schema_state(Db& db, const std::string& schema, routing::SchemaState want) {
  const char* verb = want == routing::SchemaState::Enabled    ? "enable"
                     : want == routing::SchemaState::Disabled ? "disable"
                                                              : "mark failed";
  const std::string what = std::string(verb) + " schema '" + schema + "'";
  auto txn = db.begin();
  if (!txn) {
    return store::db_error(what, txn.error());
  }
  auto row = locked_schema(db, schema, what);
  if (!row) {
    return row.error();
  }
  if (row->state == want) {
    return finish_own_write(db, *txn, false, what);
  }
  if (auto u = store::set_own_schema_state(db, schema, want); !u) {
    return store::db_error(what, u.error());
  }
  return finish_own_write(db, *txn, true, what);
}

Result<WriteResult> update_server(Db& db, const ServerInfo& changes, ServerInfo* after) {
  const std::string what = "update server '" + changes.name + "'";
  auto txn = db.begin();
  if (!txn) {
    return store::db_error(what, txn.error());
  }
  auto existing = server_by_name(db, changes.name, Lock::ForUpdate);
  if (!existing) {
    return existing.error();
  }
  if (!existing->has_value()) {
    return make_tagged_error(Errc::NotFound, "not-found", what + ": no such server",
                             ErrorSource::Downstream);
  }
  const ServerInfo& have = **existing;
  *after = merge_server(have, changes);
  if (after->pool == have.pool && after->version == have.version &&
      after->redirect_url == have.redirect_url) {
    return finish_own_write(db, *txn, false, what);
  }
  if (auto r =
          store::update_own_server(db, routing::ServerRow{have.id, have.name, after->pool,
                                                          after->version, after->redirect_url});
      !r) {
    return store::db_error(what, r.error());
  }
  return finish_own_write(db, *txn, true, what);
}

Result<WriteResult> move_schema(Db& db, const std::string& schema, uint32_t to_server) {
  const std::string what = "move schema '" + schema + "' to server " + std::to_string(to_server);
  auto txn = db.begin();
  if (!txn) {
    return store::db_error(what, txn.error());
  }
  auto row = locked_schema(db, schema, what);
  if (!row) {
    return row.error();
  }
  const uint32_t from = row->server_id;
  auto target = server_by_id(db, to_server);
  if (!target) {
    return target.error();
  }
  if (!target->has_value()) {
    return make_tagged_error(Errc::NotFound, "not-found", what + ": no such server",
                             ErrorSource::Downstream);
  }
  if (from == to_server) {
    return finish_own_write(db, *txn, false, what);
  }
  auto current = server_by_id(db, from);
  if (!current) {
    return current.error();
  }
  // A schema on a server that is not registered has no door to close.
  if (current->has_value()) {
    if (auto door = check_one_way_door(schema, **current, **target); !door) {
      return door.error();
    }
  }
  if (auto u = store::set_own_schema_server(db, schema, to_server); !u) {
    return store::db_error(what, u.error());
  }
  return finish_own_write(db, *txn, true, what);
}

Result<WriteResult> unregister_server(Db& db, const std::string& name_or_id, ServerInfo* removed) {
  const std::string what = "unregister server '" + name_or_id + "'";
  auto txn = db.begin();
  if (!txn) {
    return store::db_error(what, txn.error());
  }
  auto found = find_server(db, name_or_id);
  if (!found) {
    return found.error();
  }
  // Locked: a concurrent update of the same server waits for this transaction.
  auto locked = server_by_id(db, found->id, Lock::ForUpdate);
  if (!locked) {
    return locked.error();
  }
  if (!locked->has_value()) {
    return make_tagged_error(Errc::NotFound, "not-found", what + ": no such server",
                             ErrorSource::Downstream);
  }
  *removed = **locked;
  auto users = store::own_server_users(db, removed->id);
  if (!users) {
    return store::db_error(what, users.error());
  }
  if (auto unused = check_server_unused(*removed, users->schemas, users->contexts); !unused) {
    return unused.error();
  }
  if (auto d = store::delete_own_server(db, removed->id); !d) {
    return store::db_error(what, d.error());
  }
  return finish_own_write(db, *txn, true, what);
}

class OwnDirectory final : public Directory {
 public:
  explicit OwnDirectory(Db& db) : db_(db) {}
  const char* profile() const override { return "own"; }
  // Every write is one transaction that reads what it changes first, so running it again after
  // a deadlock or certification conflict (store::is_conflict) does what one run would have.
  Result<RegisterResult> register_server(const ServerInfo& wanted, IfExists if_exists) override {
    return store::with_conflict_retries(
        [&] { return admin::register_server(db_, wanted, if_exists); });
  }
  Result<WriteResult> update_server(const ServerInfo& changes, ServerInfo* after) override {
    return store::with_conflict_retries([&] { return admin::update_server(db_, changes, after); });
  }
  Result<WriteResult> unregister_server(const std::string& name_or_id,
                                        ServerInfo* removed) override {
    return store::with_conflict_retries(
        [&] { return admin::unregister_server(db_, name_or_id, removed); });
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
    return store::with_conflict_retries([&] {
      return set_schema_state(
          db_, schema, enabled ? routing::SchemaState::Enabled : routing::SchemaState::Disabled);
    });
  }
  Result<WriteResult> mark_schema_failed(const std::string& schema) override {
    return store::with_conflict_retries(
        [&] { return set_schema_state(db_, schema, routing::SchemaState::Failed); });
  }
  Result<WriteResult> move_schema(const std::string& schema, uint32_t to_server) override {
    return store::with_conflict_retries([&] { return admin::move_schema(db_, schema, to_server); });
  }
  Result<uint64_t> current_version() override { return change_seq(db_); }

 private:
  Db& db_;
};

}  // namespace

std::unique_ptr<Directory> make_own_directory(Db& db) { return std::make_unique<OwnDirectory>(db); }

}  // namespace sy::admin
