#pragma once
// sy_update_tasks in the state database (store/db_migrate.h, migration 4): one row per schema
// and update task with its status, times, output and error (admin/update_tasks.h runs them).
// Statuses are TaskStatus here; a word this binary does not know is an error tagged "database".
// Every call blocks on the database: admin/upgrade threads only. Errors are tagged "database".

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/db.h"

namespace sy::store {

// Skipped is never stored: it is what a run reports for a task recorded Ok before.
enum class TaskStatus { Running, Ok, Failed, Skipped };
const char* to_string(TaskStatus s);  // "running", "ok", "failed", "skipped"
std::optional<TaskStatus> parse_task_status(std::string_view word);

// Records |task| as running on |schema| (started now; output and error cleared).
Result<Unit> mark_task_running(Db& db, const std::string& schema, const std::string& task);
// Records how it ended: Ok (error NULL) or Failed with |error|; |output| is kept either way.
Result<Unit> mark_task_finished(Db& db, const std::string& schema, const std::string& task, bool ok,
                                const std::string& output, const std::string& error);
// Task -> status, for one schema.
Result<std::map<std::string, TaskStatus>> task_statuses(Db& db, const std::string& schema);
// Schema -> the tasks recorded Ok.
Result<std::map<std::string, std::set<std::string>>> tasks_ok(Db& db);

struct TaskRow {
  std::string schema;
  TaskStatus status = TaskStatus::Running;
  std::string error;  // "" unless failed
};
// Every row (|only| set: of that schema only), by schema, start time and task.
Result<std::vector<TaskRow>> task_rows(Db& db, const std::string* only = nullptr);

}  // namespace sy::store
