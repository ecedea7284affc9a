#pragma once
// Editing the tenant directory of profile own row by row: the directory commands (`context
// add|move|disable|enable`, `schema add`, `login add|remove`, admin/directory_commands.cpp) and
// the bulk import (admin/import.h) use the same edits, so a CSV line and a command check the
// same things and say the same errors.
//
// Each edit_* runs inside a transaction the caller opened (one for a command, one for a whole
// import), locks what it decides on (SELECT ... FOR UPDATE), and writes nothing when the row is
// there already exactly as asked (changed = false: an import runs again without effect). A row
// that is there but different is an error tagged "exists" naming what is there and the command
// that changes it; an unknown schema, server or context is "not-found"; a malformed name is
// "invalid-argument". The change-log triggers journal every write (sy_changes), so every
// instance's loader sees it.
//
// Profile ox has none of these (OX's own tools own its configdb): kOxSupported says what there
// is instead. Every call blocks on the database: admin thread only.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "admin/directory.h"
#include "common/result.h"
#include "store/db.h"

namespace sy::admin {

struct EditOutcome {
  bool changed = false;
  std::string message;  // "context 11 added to schema s1", "login a@b unchanged", ...
};

// A context as an edit wants it; |server| "" = its schema's server (none of its own).
struct ContextWanted {
  uint32_t id = 0;
  std::string schema;
  bool enabled = true;
  std::string server;  // name or id
};

Result<EditOutcome> edit_add_context(store::Db& db, const ContextWanted& wanted);
// Changes the schema (|schema| set: the data is there already, as after OX's
// movecontextdatabase) and/or the context's own server (|server| set: name or id; its schema's
// server clears the override). The one-way door holds (never to a lower version).
Result<EditOutcome> edit_move_context(store::Db& db, uint32_t id,
                                      const std::optional<std::string>& schema,
                                      const std::optional<std::string>& server);
Result<EditOutcome> edit_set_context_enabled(store::Db& db, uint32_t id, bool enabled);
Result<EditOutcome> edit_add_schema(store::Db& db, const std::string& name,
                                    const std::string& server, bool enabled);
Result<EditOutcome> edit_add_login(store::Db& db, const std::string& login, uint32_t context);
Result<EditOutcome> edit_remove_login(store::Db& db, const std::string& login);

// Runs |edit| in a transaction of its own, again after a deadlock or certification conflict,
// and commits; the version is the change seq the write produced (directory.h WriteResult).
Result<WriteResult> run_own_edit(store::Db& db, const std::string& what,
                                 const std::function<Result<EditOutcome>(store::Db&)>& edit,
                                 EditOutcome* outcome);

// Ends a write transaction of profile own: reads the change seq and commits (directory_own.cpp).
Result<WriteResult> finish_own_write(store::Db& db, store::Transaction& txn, bool changed,
                                     const std::string& what);

// Pure checks of the names an edit takes (tag "invalid-argument"): a schema name is 1..64 of
// [A-Za-z0-9_$-]; a login is 1..255 bytes without spaces or control characters.
Result<Unit> check_schema_name(const std::string& name);
Result<Unit> check_login(const std::string& login);

// What profile ox supports instead of the directory edits (the reply of "unsupported-profile").
extern const char* const kOxSupported;

}  // namespace sy::admin
