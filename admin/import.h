#pragma once
// Bulk import into the directory of profile own (`import csv`, `import configdb`): schemas,
// contexts and logins, from a CSV file or from an Open-Xchange configdb on the same database
// server. Every record goes through the same edit as its command (admin/directory_edit.h), all in
// ONE transaction: any error and nothing is written. A record that is there already as it says
// changes nothing, so running an import again is harmless; one that is there but different is
// an error (the command that changes it is named). --dry-run does everything, then rolls back,
// and reports what would change.
//
// The CSV (one record per line; '#' starts a comment line; blank lines are skipped; a field may
// be double-quoted, "" inside quotes is one quote):
//
//   schema,NAME,SERVER[,enabled|disabled]        SERVER: a registered server's name or id
//   context,ID,SCHEMA[,enabled|disabled[,SERVER]]   SERVER: its own, if not its schema's
//   login,LOGIN,CONTEXT_ID
//
// Records apply schemas first, then contexts, then logins (each in file order), so a file
// may list them in any order. Errors carry their place: "FILE:LINE: ..." for a CSV, "configdb
// TABLE KEY: ..." for a configdb.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "admin/directory_edit.h"
#include "common/result.h"
#include "store/db.h"

namespace sy::admin {

struct ImportRecord {
  enum class Kind { Schema, Context, Login };  // the order they apply in
  Kind kind = Kind::Schema;
  std::string where;   // "users.csv:12" / "configdb context cid 5"
  std::string name;    // schema name, or login
  uint32_t id = 0;     // context id (Context, Login)
  std::string schema;  // Context
  std::string server;  // Schema: its server; Context: its own ("" = its schema's)
  bool enabled = true;
};

// Pure: the records of CSV |text|; |source| names it in errors. All malformed lines are reported
// (one per line of the message, at most 20), tag "invalid-argument".
Result<std::vector<ImportRecord>> parse_import_csv(std::string_view text,
                                                   const std::string& source);

// Pure: one CSV line split into fields (quotes as above); an error message when a quote is
// unterminated or followed by something other than a comma.
Result<std::vector<std::string>> split_csv_line(std::string_view line);

// The records of the configdb in database |database| (same server and user as |db|): its
// schemas with their server's name (by name here: the server must be registered with
// `server register` first), its contexts (cid, schema, enabled) and logins (login2context).
// Tag "invalid-argument" for a bad database name; a schema on several servers is an error.
Result<std::vector<ImportRecord>> read_configdb(store::Db& db, const std::string& database);

struct ImportReport {
  bool dry_run = false;
  int added_schemas = 0, added_contexts = 0, added_logins = 0;
  int unchanged = 0;
  std::vector<std::string> changes;  // "users.csv:3: context 11 added (schema s1, enabled)"
  uint64_t version = 0;              // the change seq after the commit (0 on a dry run)
};

// Applies |records| to the own directory |db| in one transaction (retried after a deadlock).
// Every failing record is reported (at most 20, each with its place), tag "import-failed", and
// nothing is written.
Result<ImportReport> apply_import(store::Db& db, std::vector<ImportRecord> records, bool dry_run);

}  // namespace sy::admin
