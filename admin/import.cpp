// Bulk import (admin/import.h): CSV parsing (pure), reading a configdb, applying in one
// transaction through the directory edits.

#include "admin/import.h"

#include <algorithm>
#include <charconv>

#include "store/db_error.h"
#include "store/query.h"

namespace sy::admin {

using store::Db;
using store::Row;

namespace {

constexpr size_t kMaxErrors = 20;

Error invalid(std::string message) {
  return make_tagged_error(Errc::InvalidArgument, "invalid-argument", std::move(message),
                           ErrorSource::Downstream);
}

bool parse_id(std::string_view text, uint32_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc{} && end == text.data() + text.size() && !text.empty() && *out != 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// "enabled" / "disabled" / "" (= enabled).
bool parse_state(const std::string& word, bool* enabled) {
  if (word.empty() || word == "enabled") {
    *enabled = true;
    return true;
  }
  if (word == "disabled") {
    *enabled = false;
    return true;
  }
  return false;
}

// One CSV line's record; an error message (without the place) when it is malformed.
Result<ImportRecord> record_of(const std::vector<std::string>& f) {
  const std::string& kind = f[0];
  ImportRecord r;
  auto arity = [&](size_t min, size_t max, const char* form) -> Result<Unit> {
    if (f.size() < min || f.size() > max) {
      return invalid(kind + " needs " + form + " (" + std::to_string(f.size()) + " field(s) here)");
    }
    return ok_result();
  };
  if (kind == "schema") {
    if (auto a = arity(3, 4, "schema,NAME,SERVER[,enabled|disabled]"); !a) {
      return a.error();
    }
    r.kind = ImportRecord::Kind::Schema;
    r.name = f[1];
    r.server = f[2];
    if (auto ok = check_schema_name(r.name); !ok) {
      return ok.error();
    }
    if (r.server.empty()) {
      return invalid("schema " + r.name + ": SERVER is empty");
    }
    if (!parse_state(f.size() > 3 ? f[3] : "", &r.enabled)) {
      return invalid("state '" + f[3] + "' is not enabled or disabled");
    }
    return r;
  }
  if (kind == "context") {
    if (auto a = arity(3, 5, "context,ID,SCHEMA[,enabled|disabled[,SERVER]]"); !a) {
      return a.error();
    }
    r.kind = ImportRecord::Kind::Context;
    if (!parse_id(f[1], &r.id)) {
      return invalid("context id '" + f[1] + "' is not a positive integer");
    }
    r.schema = f[2];
    if (auto ok = check_schema_name(r.schema); !ok) {
      return ok.error();
    }
    if (!parse_state(f.size() > 3 ? f[3] : "", &r.enabled)) {
      return invalid("state '" + f[3] + "' is not enabled or disabled");
    }
    r.server = f.size() > 4 ? f[4] : "";
    return r;
  }
  if (kind == "login") {
    if (auto a = arity(3, 3, "login,LOGIN,CONTEXT_ID"); !a) {
      return a.error();
    }
    r.kind = ImportRecord::Kind::Login;
    r.name = f[1];
    if (auto ok = check_login(r.name); !ok) {
      return ok.error();
    }
    if (!parse_id(f[2], &r.id)) {
      return invalid("context id '" + f[2] + "' is not a positive integer");
    }
    return r;
  }
  return invalid("unknown record type '" + kind + "' (expected schema, context or login)");
}

// Collects located errors; the whole list as one error.
struct Errors {
  std::vector<std::string> lines;
  size_t total = 0;
  void add(const std::string& where, const std::string& message) {
    if (++total <= kMaxErrors) {
      lines.push_back(where + ": " + message);
    }
  }
  Error as_error(const char* tag, const std::string& head) const {
    std::string msg = head + " (" + std::to_string(total) + " error(s)" +
                      (total > lines.size() ? ", the first " + std::to_string(lines.size()) : "") +
                      "): ";
    for (size_t i = 0; i < lines.size(); ++i) {
      msg += (i ? "; " : "") + lines[i];
    }
    return make_tagged_error(Errc::InvalidArgument, tag, msg, ErrorSource::Downstream);
  }
};

}  // namespace

Result<std::vector<std::string>> split_csv_line(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (true) {
    std::string field;
    // Leading blanks before a quote are allowed ("a, \"b\"").
    size_t j = i;
    while (j < line.size() && (line[j] == ' ' || line[j] == '\t')) {
      ++j;
    }
    if (j < line.size() && line[j] == '"') {
      i = j + 1;
      while (true) {
        if (i >= line.size()) {
          return invalid("unterminated quoted field");
        }
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field += line[i++];
      }
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) {
        ++i;
      }
      if (i < line.size() && line[i] != ',') {
        return invalid("a quoted field must be followed by ',' or the end of the line");
      }
    } else {
      size_t comma = line.find(',', i);
      std::string_view raw =
          line.substr(i, comma == std::string_view::npos ? std::string_view::npos : comma - i);
      if (raw.find('"') != std::string_view::npos) {
        return invalid("a '\"' inside an unquoted field (quote the whole field)");
      }
      field = std::string(trim(raw));
      i = comma == std::string_view::npos ? line.size() : comma;
    }
    out.push_back(std::move(field));
    if (i >= line.size()) {
      return out;
    }
    ++i;  // the comma
  }
}

Result<std::vector<ImportRecord>> parse_import_csv(std::string_view text,
                                                   const std::string& source) {
  std::vector<ImportRecord> records;
  Errors errors;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    ++line_no;
    const std::string where = source + ":" + std::to_string(line_no);
    std::string_view t = trim(line);
    if (t.empty() || t.front() == '#') {
      continue;
    }
    auto fields = split_csv_line(line);
    if (!fields) {
      errors.add(where, fields.error().message);
      continue;
    }
    auto r = record_of(*fields);
    if (!r) {
      errors.add(where, r.error().message);
      continue;
    }
    r->where = where;
    records.push_back(std::move(r.value()));
  }
  if (errors.total > 0) {
    return errors.as_error("invalid-argument", source + " is not a valid import file");
  }
  if (records.empty()) {
    return invalid(source + " holds no record (expected lines like `schema,NAME,SERVER`)");
  }
  return records;
}

Result<std::vector<ImportRecord>> read_configdb(Db& db, const std::string& database) {
  if (database.empty() || database.size() > 64 ||
      !std::all_of(database.begin(), database.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '$';
      })) {
    return invalid("configdb database name '" + database +
                   "' must be 1..64 of letters, digits, '_', '$'");
  }
  const std::string q = "`" + database + "`.";
  const std::string what = "reading the configdb " + database;
  // OX disables a schema's contexts with the maintenance reason (disableschema): such a context
  // is an enabled context of a disabled schema here.
  const uint32_t maintenance = OxDirectoryOptions{}.maintenance_reason;
  std::vector<ImportRecord> out;
  auto schemas = store::query_all(
      db,
      "SELECT p.db_schema, MIN(s.name), COUNT(DISTINCT p.server_id),"
      " CAST(SUM(c.enabled = 0 AND c.reason_id <=> ?) AS UNSIGNED) FROM " +
          q +
          "context_server2db_pool p"
          " JOIN " +
          q +
          "server s ON s.server_id = p.server_id"
          " JOIN " +
          q + "context c ON c.cid = p.cid GROUP BY p.db_schema ORDER BY p.db_schema",
      [&](const Row& row) {
        ImportRecord r;
        r.kind = ImportRecord::Kind::Schema;
        r.name = row.str(1);
        r.server = row.str(2);
        r.enabled = row.u64(4) == 0;
        r.where = "configdb context_server2db_pool db_schema " + r.name;
        if (row.u64(3) > 1) {
          r.server.clear();  // reported below
        }
        return r;
      },
      maintenance);
  if (!schemas) {
    return store::db_error(what, schemas.error());
  }
  Errors errors;
  for (ImportRecord& r : *schemas) {
    if (r.server.empty()) {
      errors.add(r.where, "its contexts are on several servers (OX's changeserver was "
                          "interrupted?); fix the configdb first");
    }
    out.push_back(std::move(r));
  }
  auto contexts = store::query_all(
      db,
      "SELECT c.cid, p.db_schema, COALESCE(c.enabled, 1) OR c.reason_id <=> ? FROM " + q +
          "context c JOIN " + q + "context_server2db_pool p ON p.cid = c.cid ORDER BY c.cid",
      [](const Row& row) {
        ImportRecord r;
        r.kind = ImportRecord::Kind::Context;
        r.id = row.u32(1);
        r.schema = row.str(2);
        r.enabled = row.boolean(3);
        r.where = "configdb context cid " + std::to_string(r.id);
        return r;
      },
      maintenance);
  if (!contexts) {
    return store::db_error(what, contexts.error());
  }
  auto logins =
      store::query_all(db, "SELECT login_info, cid FROM " + q + "login2context ORDER BY login_info",
                       [](const Row& row) {
                         ImportRecord r;
                         r.kind = ImportRecord::Kind::Login;
                         r.name = row.str(1);
                         r.id = row.u32(2);
                         r.where = "configdb login2context " + r.name;
                         return r;
                       });
  if (!logins) {
    return store::db_error(what, logins.error());
  }
  if (errors.total > 0) {
    return errors.as_error("import-failed", "the configdb " + database + " cannot be imported");
  }
  for (auto* part : {&*contexts, &*logins}) {
    for (ImportRecord& r : *part) {
      out.push_back(std::move(r));
    }
  }
  return out;
}

Result<ImportReport> apply_import(Db& db, std::vector<ImportRecord> records, bool dry_run) {
  std::stable_sort(records.begin(), records.end(),
                   [](const ImportRecord& a, const ImportRecord& b) { return a.kind < b.kind; });
  return store::with_conflict_retries([&]() -> Result<ImportReport> {
    ImportReport report;
    report.dry_run = dry_run;
    auto txn = db.begin();
    if (!txn) {
      return store::db_error("import", txn.error());
    }
    Errors errors;
    for (const ImportRecord& r : records) {
      Result<EditOutcome> done = EditOutcome{};
      int* added = nullptr;
      switch (r.kind) {
      case ImportRecord::Kind::Schema:
        done = edit_add_schema(db, r.name, r.server, r.enabled);
        added = &report.added_schemas;
        break;
      case ImportRecord::Kind::Context:
        done = edit_add_context(db, ContextWanted{r.id, r.schema, r.enabled, r.server});
        added = &report.added_contexts;
        break;
      case ImportRecord::Kind::Login:
        done = edit_add_login(db, r.name, r.id);
        added = &report.added_logins;
        break;
      }
      if (!done) {
        if (done.error().code == Errc::Database) {
          return done.error();  // the transaction is gone (a deadlock is retried whole)
        }
        errors.add(r.where, done.error().message);
        continue;
      }
      if (done->changed) {
        ++*added;
        report.changes.push_back(r.where + ": " + done->message);
      } else {
        ++report.unchanged;
      }
    }
    if (errors.total > 0) {
      return errors.as_error("import-failed", "nothing imported");
    }
    if (dry_run) {
      if (auto rb = txn->rollback(); !rb) {
        return store::db_error("import (dry run)", rb.error());
      }
      return report;
    }
    auto written = finish_own_write(db, *txn, !report.changes.empty(), "import");
    if (!written) {
      return written.error();
    }
    report.version = written->version;
    return report;
  });
}

}  // namespace sy::admin
