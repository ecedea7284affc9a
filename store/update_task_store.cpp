// sy_update_tasks: one upsert when a task starts, one update when it ends, and the reads the
// sequencer and `schema list` need.

#include "store/update_task_store.h"

#include "store/db_error.h"
#include "store/query.h"

namespace sy::store {

namespace {

constexpr TaskStatus kStored[] = {TaskStatus::Running, TaskStatus::Ok, TaskStatus::Failed};

// The status in column |col|; records the first unknown word in |bad|.
TaskStatus status_at(const Row& row, unsigned col, std::optional<Error>* bad) {
  const std::string word = row.str(col);
  auto s = parse_task_status(word);
  if (!s && !*bad) {
    *bad = make_tagged_error(Errc::Database, "database",
                             "sy_update_tasks.status holds an unknown value '" + word + "'",
                             ErrorSource::Upstream);
  }
  return s.value_or(TaskStatus::Failed);
}

}  // namespace

const char* to_string(TaskStatus s) {
  switch (s) {
  case TaskStatus::Running: return "running";
  case TaskStatus::Ok: return "ok";
  case TaskStatus::Failed: return "failed";
  case TaskStatus::Skipped: return "skipped";
  }
  return "?";
}

std::optional<TaskStatus> parse_task_status(std::string_view word) {
  for (TaskStatus s : kStored) {
    if (word == to_string(s)) {
      return s;
    }
  }
  return std::nullopt;
}

Result<Unit> mark_task_running(Db& db, const std::string& schema, const std::string& task) {
  return in_context(
      "recording update task '" + task + "' of schema '" + schema + "'",
      done(exec(db,
                "INSERT INTO sy_update_tasks (schema_name, task, status, started_at, finished_at,"
                " output, error) VALUES (?, ?, 'running', NOW(6), NULL, NULL, NULL)"
                " ON DUPLICATE KEY UPDATE status = 'running', started_at = NOW(6),"
                " finished_at = NULL, output = NULL, error = NULL",
                schema, task)));
}

Result<Unit> mark_task_finished(Db& db, const std::string& schema, const std::string& task, bool ok,
                                const std::string& output, const std::string& error) {
  return in_context(
      "recording update task '" + task + "' of schema '" + schema + "'",
      done(exec(db,
                "UPDATE sy_update_tasks SET status = ?, finished_at = NOW(6), output = ?,"
                " error = ? WHERE schema_name = ? AND task = ?",
                to_string(ok ? TaskStatus::Ok : TaskStatus::Failed), output,
                ok ? std::optional<std::string>() : std::optional<std::string>(error), schema,
                task)));
}

Result<std::map<std::string, TaskStatus>> task_statuses(Db& db, const std::string& schema) {
  std::map<std::string, TaskStatus> out;
  std::optional<Error> bad;
  auto r = query_each(
      db, "SELECT task, status FROM sy_update_tasks WHERE schema_name = ?",
      [&](const Row& row) { out[row.str(1)] = status_at(row, 2, &bad); }, schema);
  if (!r) {
    return db_error("reading sy_update_tasks", r.error());
  }
  if (bad) {
    return *bad;
  }
  return out;
}

Result<std::map<std::string, std::set<std::string>>> tasks_ok(Db& db) {
  std::map<std::string, std::set<std::string>> out;
  auto r = query_each(db, "SELECT schema_name, task FROM sy_update_tasks WHERE status = 'ok'",
                      [&](const Row& row) { out[row.str(1)].insert(row.str(2)); });
  if (!r) {
    return db_error("reading sy_update_tasks", r.error());
  }
  return out;
}

Result<std::vector<TaskRow>> task_rows(Db& db, const std::string* only) {
  std::optional<Error> bad;
  auto read = [&](const Row& row) {
    return TaskRow{row.str(1), status_at(row, 2, &bad), row.str(3)};
  };
  constexpr const char* kAll =
      "SELECT schema_name, status, COALESCE(error, '') FROM sy_update_tasks"
      " ORDER BY schema_name, started_at, task";
  constexpr const char* kOne =
      "SELECT schema_name, status, COALESCE(error, '') FROM sy_update_tasks"
      " WHERE schema_name = ? ORDER BY schema_name, started_at, task";
  auto rows = only != nullptr ? query_all(db, kOne, read, *only) : query_all(db, kAll, read);
  if (!rows) {
    return db_error("reading sy_update_tasks", rows.error());
  }
  if (bad) {
    return *bad;
  }
  return rows;
}

}  // namespace sy::store
