// The own profile's directory edits (admin/directory_edit.h), one row at a time.

#include "admin/directory_edit.h"

#include "store/db_error.h"
#include "store/own_tables.h"

namespace sy::admin {

using store::Db;
using store::Lock;

const char* const kOxSupported =
    "on profile ox the configdb belongs to OX: add, move, disable and enable contexts, schemas "
    "and logins with OX's own tools (createcontext, movecontextdatabase, disablecontext, "
    "enablecontext, changecontext); Switchyard supports there: server register|update|"
    "unregister, schema disable|enable|move|update, upgrade schemata, cluster ..., show ...";

namespace {

Error invalid(std::string message) {
  return make_tagged_error(Errc::InvalidArgument, "invalid-argument", std::move(message),
                           ErrorSource::Downstream);
}

Error exists(std::string message) {
  return make_tagged_error(Errc::InvalidArgument, "exists", std::move(message),
                           ErrorSource::Downstream);
}

Error not_found(std::string message) {
  return make_tagged_error(Errc::NotFound, "not-found", std::move(message),
                           ErrorSource::Downstream);
}

const char* state_word(bool enabled) { return enabled ? "enabled" : "disabled"; }

// A registered server by name or id (tag "not-found" names how to register one).
Result<ServerInfo> server_named(Db& db, const std::string& name_or_id) {
  auto s = make_own_directory(db)->find_server(name_or_id);
  if (!s && s.error().code == Errc::NotFound) {
    return not_found("no server '" + name_or_id +
                     "' (by name or id); register it first (`server register NAME ...`)");
  }
  return s;
}

// The schema's row, locked; tag "not-found" naming `schema add`.
Result<routing::SchemaRow> schema_row(Db& db, const std::string& name) {
  auto row = store::own_schema_for_update(db, name);
  if (!row) {
    return store::db_error("reading sy_schemas", row.error());
  }
  if (!row->has_value()) {
    return not_found("no schema '" + name + "' (add it with `schema add " + name + " --server S`)");
  }
  return std::move(**row);
}

Result<store::OwnContextCols> context_row(Db& db, uint32_t id) {
  auto row = store::own_context_cols(db, id, Lock::ForUpdate);
  if (!row) {
    return store::db_error("reading sy_contexts", row.error());
  }
  if (!row->has_value()) {
    return not_found("no context " + std::to_string(id) + " (add it with `context add " +
                     std::to_string(id) + " --schema S`)");
  }
  return std::move(**row);
}

std::string describe(const store::OwnContextCols& c) {
  return "schema " + c.schema + ", " + state_word(c.enabled) +
         (c.server_id != 0 ? ", own server " + std::to_string(c.server_id) : "");
}

// The server id a context stores for |server| ("" = none): 0 when it is its schema's server.
Result<uint32_t> own_server_of(Db& db, const std::string& server,
                               const routing::SchemaRow& schema) {
  if (server.empty()) {
    return uint32_t{0};
  }
  auto s = server_named(db, server);
  if (!s) {
    return s.error();
  }
  return s->id == schema.server_id ? 0 : s->id;
}

}  // namespace

Result<Unit> check_schema_name(const std::string& name) {
  if (name.empty() || name.size() > 64) {
    return invalid("schema name '" + name + "' must be 1..64 characters");
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '$' || c == '-';
    if (!ok) {
      return invalid("schema name '" + name + "' may hold only letters, digits, '_', '$', '-'");
    }
  }
  return ok_result();
}

Result<Unit> check_login(const std::string& login) {
  if (login.empty() || login.size() > 255) {
    return invalid("login must be 1..255 bytes");
  }
  for (unsigned char c : login) {
    if (c <= 0x20 || c == 0x7f) {
      return invalid("login '" + login + "' holds a space or control character");
    }
  }
  return ok_result();
}

Result<EditOutcome> edit_add_schema(Db& db, const std::string& name, const std::string& server,
                                    bool enabled) {
  if (auto ok = check_schema_name(name); !ok) {
    return ok.error();
  }
  auto target = server_named(db, server);
  if (!target) {
    return target.error();
  }
  auto have = store::own_schema_for_update(db, name);
  if (!have) {
    return store::db_error("reading sy_schemas", have.error());
  }
  if (have->has_value()) {
    const routing::SchemaRow& h = **have;
    const bool h_enabled = h.state == routing::SchemaState::Enabled;
    if (h.server_id == target->id && h_enabled == enabled) {
      return EditOutcome{false, "schema " + name + " unchanged"};
    }
    return exists("schema " + name + " exists already (server " + std::to_string(h.server_id) +
                  ", " + state_word(h_enabled) +
                  "): `schema move` / `schema enable|disable` change it");
  }
  if (auto w = store::insert_own_schema(db, name, target->id, enabled); !w) {
    return store::db_error("add schema '" + name + "'", w.error());
  }
  return EditOutcome{true, "schema " + name + " added on server " + target->name + " (" +
                               state_word(enabled) + ")"};
}

Result<EditOutcome> edit_add_context(Db& db, const ContextWanted& wanted) {
  if (wanted.id == 0) {
    return invalid("context id must be a positive integer");
  }
  auto schema = schema_row(db, wanted.schema);
  if (!schema) {
    return schema.error();
  }
  auto server = own_server_of(db, wanted.server, *schema);
  if (!server) {
    return server.error();
  }
  const store::OwnContextCols want{wanted.id, wanted.schema, wanted.enabled, *server};
  auto have = store::own_context_cols(db, wanted.id, Lock::ForUpdate);
  if (!have) {
    return store::db_error("reading sy_contexts", have.error());
  }
  const std::string name = "context " + std::to_string(wanted.id);
  if (have->has_value()) {
    const store::OwnContextCols& h = **have;
    if (h.schema == want.schema && h.enabled == want.enabled && h.server_id == want.server_id) {
      return EditOutcome{false, name + " unchanged"};
    }
    return exists(name + " exists already (" + describe(h) +
                  "): `context move` / `context enable|disable` change it");
  }
  if (auto w = store::insert_own_context(db, want); !w) {
    return store::db_error("add " + name, w.error());
  }
  return EditOutcome{true, name + " added (" + describe(want) + ")"};
}

Result<EditOutcome> edit_move_context(Db& db, uint32_t id, const std::optional<std::string>& schema,
                                      const std::optional<std::string>& server) {
  auto have = context_row(db, id);
  if (!have) {
    return have.error();
  }
  store::OwnContextCols want = *have;
  if (schema) {
    want.schema = *schema;
  }
  auto old_schema = schema_row(db, have->schema);
  auto new_schema = schema_row(db, want.schema);
  if (!new_schema) {
    return new_schema.error();
  }
  if (server) {
    auto s = own_server_of(db, *server, *new_schema);
    if (!s) {
      return s.error();
    }
    want.server_id = *s;
  }
  // The one-way door, on the effective server (its own, else its schema's).
  const uint32_t from = have->server_id != 0 ? have->server_id
                        : old_schema         ? old_schema->server_id
                                             : 0;
  const uint32_t to = want.server_id != 0 ? want.server_id : new_schema->server_id;
  if (from != to && from != 0) {
    auto current = make_own_directory(db)->find_server(std::to_string(from));
    auto target = make_own_directory(db)->find_server(std::to_string(to));
    if (current && target && !current->version.empty() && !target->version.empty() &&
        version_less(target->version, current->version)) {
      return make_tagged_error(Errc::InvalidArgument, "one-way-door",
                               "context " + std::to_string(id) + " is on server '" + current->name +
                                   "' (version " + current->version + "); moving it to '" +
                                   target->name + "' (version " + target->version +
                                   ") would go back to an older version",
                               ErrorSource::Downstream);
    }
  }
  const std::string name = "context " + std::to_string(id);
  if (want.schema == have->schema && want.server_id == have->server_id) {
    return EditOutcome{false, name + " unchanged (" + describe(want) + ")"};
  }
  if (auto w = store::update_own_context(db, want); !w) {
    return store::db_error("move " + name, w.error());
  }
  return EditOutcome{true, name + " moved (" + describe(want) + ")"};
}

Result<EditOutcome> edit_set_context_enabled(Db& db, uint32_t id, bool enabled) {
  auto have = context_row(db, id);
  if (!have) {
    return have.error();
  }
  const std::string name = "context " + std::to_string(id);
  if (have->enabled == enabled) {
    return EditOutcome{false, name + " " + state_word(enabled) + " (unchanged)"};
  }
  store::OwnContextCols want = *have;
  want.enabled = enabled;
  if (auto w = store::update_own_context(db, want); !w) {
    return store::db_error(std::string(enabled ? "enable " : "disable ") + name, w.error());
  }
  return EditOutcome{true, name + " " + state_word(enabled)};
}

Result<EditOutcome> edit_add_login(Db& db, const std::string& login, uint32_t context) {
  if (auto ok = check_login(login); !ok) {
    return ok.error();
  }
  if (auto ctx = context_row(db, context); !ctx) {
    return ctx.error();
  }
  auto have = store::own_login_context(db, login, Lock::ForUpdate);
  if (!have) {
    return store::db_error("reading sy_logins", have.error());
  }
  if (have->has_value()) {
    if (**have == context) {
      return EditOutcome{false, "login " + login + " unchanged"};
    }
    return exists("login " + login + " belongs to context " + std::to_string(**have) +
                  " already (`login remove " + login + "` first)");
  }
  if (auto w = store::insert_own_login(db, login, context); !w) {
    return store::db_error("add login '" + login + "'", w.error());
  }
  return EditOutcome{true, "login " + login + " added to context " + std::to_string(context)};
}

Result<EditOutcome> edit_remove_login(Db& db, const std::string& login) {
  auto have = store::own_login_context(db, login, Lock::ForUpdate);
  if (!have) {
    return store::db_error("reading sy_logins", have.error());
  }
  if (!have->has_value()) {
    return not_found("no login '" + login + "'");
  }
  if (auto w = store::delete_own_login(db, login); !w) {
    return store::db_error("remove login '" + login + "'", w.error());
  }
  return EditOutcome{true, "login " + login + " removed from context " + std::to_string(**have)};
}

Result<WriteResult> run_own_edit(Db& db, const std::string& what,
                                 const std::function<Result<EditOutcome>(Db&)>& edit,
                                 EditOutcome* outcome) {
  return store::with_conflict_retries([&]() -> Result<WriteResult> {
    auto txn = db.begin();
    if (!txn) {
      return store::db_error(what, txn.error());
    }
    auto done = edit(db);
    if (!done) {
      return done.error();
    }
    *outcome = std::move(done.value());
    return finish_own_write(db, *txn, outcome->changed, what);
  });
}

}  // namespace sy::admin
