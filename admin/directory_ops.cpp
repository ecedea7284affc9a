// Operator commands on the directory tables. Each write runs in one transaction that locks the
// rows it decides on (SELECT ... FOR UPDATE) and, after the write, reads MAX(sy_changes.seq):
// the triggers have appended this write's change rows by then, and the transaction sees its own
// rows plus committed ones, so the value is >= the highest seq this write produced.

#include "admin/directory_ops.h"

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

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

constexpr const char* kServerColumns = "SELECT id, name, pool, version, redirect_url FROM sy_servers";

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

std::string describe(const ServerInfo& s) {
  return "id " + std::to_string(s.id) + ", pool '" + s.pool + "', version '" + s.version +
         "', redirect_url '" + s.redirect_url + "'";
}

// What |wanted| asks for that |stored| does not have (fields left empty are not compared).
std::string differences(const ServerInfo& stored, const ServerInfo& wanted) {
  std::string out;
  auto cmp = [&](const char* field, const std::string& have, const std::string& want) {
    if (!want.empty() && want != have) {
      out += std::string(out.empty() ? "" : "; ") + field + " is '" + have + "', not '" + want +
             "'";
    }
  };
  if (wanted.id != 0 && wanted.id != stored.id) {
    out += "id is " + std::to_string(stored.id) + ", not " + std::to_string(wanted.id);
  }
  cmp("pool", stored.pool, wanted.pool);
  cmp("version", stored.version, wanted.version);
  cmp("redirect_url", stored.redirect_url, wanted.redirect_url);
  return out;
}

// Update task state of schemas: "failed" wins over "running" over "ok".
struct UpdateState {
  std::string status;
  std::string error;
};

Result<std::map<std::string, UpdateState>> update_states(Db& db, const std::string* only) {
  std::string sql =
      "SELECT schema_name, status, COALESCE(error, '') FROM sy_update_tasks";
  if (only != nullptr) {
    sql += " WHERE schema_name = ?";
  }
  sql += " ORDER BY schema_name, started_at, task";
  auto stmt = db.prepare(sql);
  if (!stmt) {
    return db_error("reading sy_update_tasks", stmt.error());
  }
  if (only != nullptr) {
    stmt->bind(*only);
  }
  std::map<std::string, UpdateState> out;
  auto rank = [](const std::string& s) { return s == "failed" ? 3 : s == "running" ? 2 : 1; };
  auto r = stmt->query([&](const Row& row) {
    UpdateState& u = out[row.str(1)];
    std::string status = row.str(2);
    if (status == "failed") {
      u.error = row.str(3);  // the last failed task's reason
    }
    if (u.status.empty() || rank(status) > rank(u.status)) {
      u.status = status;
    }
  });
  if (!r) {
    return db_error("reading sy_update_tasks", r.error());
  }
  return out;
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
  sql += " ORDER BY s.name";
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
  auto updates = update_states(db, only);
  if (!updates) {
    return updates.error();
  }
  for (SchemaInfo& s : out) {
    auto it = updates->find(s.name);
    if (it != updates->end()) {
      s.update_status = it->second.status;
      s.update_error = it->second.error;
    }
  }
  return out;
}

}  // namespace

Result<RegisterResult> register_server(Db& db, const ServerInfo& wanted, IfExists if_exists) {
  if (wanted.name.empty()) {
    return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                             "register server: a name is required");
  }
  if (all_digits(wanted.name)) {
    return make_tagged_error(Errc::InvalidArgument, "invalid-argument",
                             "register server: the name '" + wanted.name +
                                 "' is all digits and would read as an id");
  }
  auto txn = db.begin();
  if (!txn) {
    return db_error("register server '" + wanted.name + "'", txn.error());
  }
  auto existing = server_where(db, "name = ? FOR UPDATE", wanted.name, false);
  if (!existing) {
    return existing.error();
  }
  RegisterResult result;
  if (existing->has_value()) {
    const ServerInfo& have = **existing;
    std::string diff = differences(have, wanted);
    switch (if_exists) {
      case IfExists::Refuse:
        return make_tagged_error(Errc::InvalidArgument, "exists",
                                 "server '" + wanted.name + "' exists already (" + describe(have) +
                                     "); use it with --continue or pick another name");
      case IfExists::Abort:
        return make_tagged_error(Errc::InvalidArgument, "aborted",
                                 "server '" + wanted.name + "' exists already (" + describe(have) +
                                     "); nothing changed");
      case IfExists::Continue:
        result.server = have;
        result.existed = true;
        result.warning = "server '" + wanted.name + "' exists already (" + describe(have) +
                         "); using it as it is" + (diff.empty() ? "" : ": " + diff);
        if (auto c = txn->commit(); !c) {
          return db_error("register server '" + wanted.name + "'", c.error());
        }
        return result;
    }
  }
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
  auto r = ins->bind(row.id).bind(row.name).bind(row.pool).bind(row.version).bind(row.redirect_url)
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
  result.change_seq = *seq;
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

Result<std::vector<SchemaInfo>> list_schemas(Db& db) { return read_schemas(db, nullptr); }

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
  auto stmt = db.prepare(
      "SELECT c.id, c.schema_name, c.enabled, COALESCE(s.state = 'enabled', 0),"
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

Result<uint64_t> set_schema_enabled(Db& db, const std::string& schema, bool enabled) {
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
    (void)txn->commit();
    return uint64_t{0};
  }
  auto upd = db.prepare("UPDATE sy_schemas SET state = ? WHERE name = ?");
  if (!upd) {
    return db_error(what, upd.error());
  }
  if (auto u = upd->bind(enabled ? "enabled" : "disabled").bind(schema).exec(); !u) {
    return db_error(what, u.error());
  }
  auto seq = max_change_seq(db);
  if (!seq) {
    return seq.error();
  }
  if (auto c = txn->commit(); !c) {
    return db_error(what, c.error());
  }
  return *seq;
}

Result<uint64_t> move_schema(Db& db, const std::string& schema, uint32_t to_server) {
  const std::string what =
      "move schema '" + schema + "' to server " + std::to_string(to_server);
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
    (void)txn->commit();
    return uint64_t{0};
  }
  auto current = server_where(db, "id = ?", std::to_string(*from), true);
  if (!current) {
    return current.error();
  }
  // A schema on a server that is not registered (or without versions) has no door to close.
  if (current->has_value() && !(*current)->version.empty() && !(*target)->version.empty() &&
      version_less((*target)->version, (*current)->version)) {
    return make_tagged_error(
        Errc::InvalidArgument, "one-way-door",
        "schema '" + schema + "' is on server '" + (*current)->name + "' (version " +
            (*current)->version + "); moving it to '" + (*target)->name + "' (version " +
            (*target)->version + ") would go back to an older version");
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
  auto seq = max_change_seq(db);
  if (!seq) {
    return seq.error();
  }
  if (auto c = txn->commit(); !c) {
    return db_error(what, c.error());
  }
  return *seq;
}

bool version_less(const std::string& a, const std::string& b) {
  auto parts = [](const std::string& v) {
    std::vector<std::string> out;
    if (v.empty()) {
      return out;
    }
    size_t start = 0;
    for (;;) {
      size_t dot = v.find('.', start);
      out.push_back(v.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
      if (dot == std::string::npos) {
        return out;
      }
      start = dot + 1;
    }
  };
  const auto pa = parts(a);
  const auto pb = parts(b);
  for (size_t i = 0; i < std::max(pa.size(), pb.size()); ++i) {
    const std::string x = i < pa.size() ? pa[i] : "0";
    const std::string y = i < pb.size() ? pb[i] : "0";
    if (all_digits(x) && all_digits(y)) {
      // Compare as numbers of any length: strip leading zeros, then length, then text.
      auto strip = [](const std::string& s) {
        size_t nz = s.find_first_not_of('0');
        return nz == std::string::npos ? std::string("0") : s.substr(nz);
      };
      const std::string nx = strip(x);
      const std::string ny = strip(y);
      if (nx.size() != ny.size()) {
        return nx.size() < ny.size();
      }
      if (nx != ny) {
        return nx < ny;
      }
    } else if (x != y) {
      return x < y;
    }
  }
  return false;
}

Result<uint64_t> current_change_seq(Db& db) { return max_change_seq(db); }

}  // namespace sy::admin
