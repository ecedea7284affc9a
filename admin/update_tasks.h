#pragma once
// Update tasks run on one database schema during its migration (the runupdate equivalent).
// Two kinds, both real, configured per deployment (YAML `admin.update_tasks`):
//
//   sql_dir: every *.sql file in the directory, in byte order of the file name, is one task.
//            Its statements (split at ';' outside quotes and comments) run in the schema
//            (`USE <schema>` on a dedicated session). A task that succeeded for a schema is
//            recorded in sy_update_tasks and never applied to that schema again.
//   command: an external command; "{schema}" in any argument is replaced by the schema name.
//            Run without a shell (argv split on spaces), with a timeout (SIGTERM, then SIGKILL
//            after 2 s), stdout+stderr captured (last 4 KiB kept), exit status recorded.
//            Recorded as task "command:<first word>"; also never re-run after success.
//
// sy_update_tasks(schema_name, task, status running|ok|failed, started_at, finished_at,
// output, error). Blocks: admin thread only.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "admin/directory.h"
#include "common/result.h"
#include "routing/db.h"

namespace sy::admin {

struct UpdateTaskConfig {
  std::string sql_dir;  // "" = no SQL tasks
  std::string command;  // "" = no command task
  std::chrono::milliseconds command_timeout{std::chrono::minutes(10)};
};

struct TaskResult {
  std::string task;    // file name, or "command:<argv0>"
  std::string status;  // "ok", "failed", "skipped" (already ok for this schema)
  int64_t duration_ms = 0;
  std::string error;  // why it failed (SQL error, exit status, timeout) with output tail
};

// The tasks the configuration defines, in run order (file names / "command:<argv0>").
Result<std::vector<std::string>> list_tasks(const UpdateTaskConfig& config);

// Runs every task not yet recorded as ok for |schema|, in order, stopping at the first failure
// (whose Error names the task and reason, tag "update-failed"). |dsns_template| connects the
// SQL tasks' own session; |on_task| (may be empty) is called after each task.
Result<std::vector<TaskResult>>
run_update_tasks(routing::Db& db, const std::vector<routing::Dsn>& dsns_template,
                 const std::string& schema, const UpdateTaskConfig& config,
                 const std::function<void(const TaskResult&)>& on_task);

// Fills update_status/update_error of |schemas| from sy_update_tasks in the state database
// |state| ("failed" wins over "running" over "ok"; the error is the last failed task's). With
// one schema in |schemas| only its rows are read.
Result<Unit> merge_update_states(routing::Db& state, std::vector<SchemaInfo>* schemas);

// Splits SQL text into statements at ';' outside '...', "...", `...`, -- and /* */ comments.
// Empty statements are dropped. Pure.
std::vector<std::string> split_sql_statements(const std::string& text);

// Substitutes {schema} and splits on runs of spaces (no shell, no quoting). Pure.
std::vector<std::string> command_argv(const std::string& command, const std::string& schema);

}  // namespace sy::admin
