// Update tasks: SQL files run on their own session in the schema's database, and one external
// command; each recorded per schema in sy_update_tasks so a success is never repeated.

#include "admin/update_tasks.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "admin/child_process.h"
#include "common/log.h"
#include "store/db_error.h"
#include "store/update_task_store.h"

namespace sy::admin {

using store::Db;

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kCommandPrefix = "command:";
constexpr size_t kKeepOutput = 4096;

std::string first_word(const std::string& command) {
  auto words = command_argv(command, "");
  return words.empty() ? std::string() : words.front();
}

struct Outcome {
  bool ok = false;
  std::string output;
  std::string error;
};

Outcome run_sql_file(std::unique_ptr<Db>& session, const std::vector<store::Dsn>& dsns,
                     const std::string& schema, const std::string& path) {
  Outcome out;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.error = "cannot read '" + path + "'";
    return out;
  }
  std::stringstream text;
  text << in.rdbuf();
  const auto statements = split_sql_statements(text.str());
  if (!session) {
    std::vector<store::Dsn> in_schema = dsns;
    for (store::Dsn& d : in_schema) {
      d.database = schema;
    }
    // SQL tasks may run long (ALTER TABLE on a big schema): an hour per statement.
    auto db = Db::connect(in_schema, std::chrono::seconds(5), std::chrono::hours(1));
    if (!db) {
      out.error = "cannot connect to schema '" + schema + "': " + db.error().message;
      return out;
    }
    session = std::move(db.value());
  }
  for (size_t i = 0; i < statements.size(); ++i) {
    if (auto r = session->exec(statements[i]); !r) {
      out.error = "statement " + std::to_string(i + 1) + " of " +
                  std::to_string(statements.size()) + ": " + r.error().message;
      return out;
    }
  }
  out.ok = true;
  out.output = std::to_string(statements.size()) + " statements";
  return out;
}

Outcome run_command(const UpdateTaskConfig& config, const std::string& schema) {
  Outcome out;
  ChildOptions opts;
  opts.timeout = config.command_timeout;
  opts.keep_output = kKeepOutput;
  opts.env = {{"SY_SCHEMA", schema}};
  ChildResult r = run_child(command_argv(config.command, schema), opts);
  out.output = r.output;
  out.ok = r.ok();
  if (!out.ok) {
    out.error = r.describe(config.command_timeout);
    const size_t end = r.output.find_last_not_of(" \t\r\n");
    if (end != std::string::npos) {
      out.error += "; output: " + r.output.substr(0, end + 1);
    }
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> list_tasks(const UpdateTaskConfig& config) {
  std::vector<std::string> tasks;
  if (!config.sql_dir.empty()) {
    std::error_code ec;
    std::filesystem::directory_iterator it(config.sql_dir, ec);
    if (ec) {
      return make_tagged_error(Errc::Config, "invalid-argument",
                               "update tasks: cannot read sql_dir '" + config.sql_dir +
                                   "': " + ec.message(),
                               ErrorSource::Downstream);
    }
    for (const auto& entry : it) {
      const std::string name = entry.path().filename().string();
      std::error_code type_ec;
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".sql") == 0 &&
          entry.is_regular_file(type_ec)) {
        tasks.push_back(name);
      }
    }
    std::sort(tasks.begin(), tasks.end());
  }
  if (!config.command.empty()) {
    const std::string argv0 = first_word(config.command);
    if (argv0.empty()) {
      return make_tagged_error(Errc::Config, "invalid-argument",
                               "update tasks: the command is only spaces", ErrorSource::Downstream);
    }
    tasks.push_back(kCommandPrefix + argv0);
  }
  return tasks;
}

Result<std::vector<TaskResult>>
run_update_tasks(Db& db, const std::vector<store::Dsn>& dsns_template, const std::string& schema,
                 const UpdateTaskConfig& config,
                 const std::function<void(const TaskResult&)>& on_task) {
  auto tasks = list_tasks(config);
  if (!tasks) {
    return tasks.error();
  }
  auto recorded = store::task_statuses(db, schema);
  if (!recorded) {
    return recorded.error();
  }
  const std::vector<store::Dsn> dsns =
      dsns_template.empty() ? std::vector<store::Dsn>{db.dsn()} : dsns_template;
  std::unique_ptr<Db> session;  // the SQL tasks' own session, in the schema's database
  std::vector<TaskResult> results;
  for (const std::string& task : *tasks) {
    TaskResult result;
    result.task = task;
    auto it = recorded->find(task);
    if (it != recorded->end() && it->second == TaskStatus::Ok) {
      result.status = TaskStatus::Skipped;
      if (on_task) {
        on_task(result);
      }
      results.push_back(std::move(result));
      continue;
    }
    if (auto r = store::with_conflict_retries(
            [&] { return store::mark_task_running(db, schema, task); });
        !r) {
      return r.error();
    }
    const auto start = Clock::now();
    Outcome outcome = task.rfind(kCommandPrefix, 0) == 0
                          ? run_command(config, schema)
                          : run_sql_file(session, dsns, schema,
                                         (std::filesystem::path(config.sql_dir) / task).string());
    result.duration_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    result.status = outcome.ok ? TaskStatus::Ok : TaskStatus::Failed;
    result.error = outcome.error;
    if (auto r = store::with_conflict_retries([&] {
          return store::mark_task_finished(db, schema, task, outcome.ok, outcome.output,
                                           outcome.error);
        });
        !r) {
      return r.error();
    }
    if (outcome.ok) {
      SY_LOG(Info, "update task %s on schema %s: ok", task.c_str(), schema.c_str());
    } else {
      SY_LOG(Warn, "update task %s on schema %s: failed: %s", task.c_str(), schema.c_str(),
             outcome.error.c_str());
    }
    if (on_task) {
      on_task(result);
    }
    results.push_back(result);
    if (!outcome.ok) {
      return make_tagged_error(Errc::Unavailable, "update-failed",
                               "update task '" + task + "' failed for schema '" + schema +
                                   "': " + outcome.error,
                               ErrorSource::Upstream);
    }
  }
  return results;
}

Result<Unit> merge_update_states(Db& state, std::vector<SchemaInfo>* schemas) {
  auto rows = store::task_rows(state, schemas->size() == 1 ? &schemas->front().name : nullptr);
  if (!rows) {
    return rows.error();
  }
  struct UpdateState {
    std::optional<TaskStatus> status;
    std::string error;
  };
  std::map<std::string, UpdateState> states;
  auto rank = [](TaskStatus s) {
    return s == TaskStatus::Failed ? 3 : s == TaskStatus::Running ? 2 : 1;
  };
  for (const store::TaskRow& row : *rows) {
    UpdateState& u = states[row.schema];
    if (row.status == TaskStatus::Failed) {
      u.error = row.error;  // the last failed task's reason
    }
    if (!u.status || rank(row.status) > rank(*u.status)) {
      u.status = row.status;
    }
  }
  for (SchemaInfo& s : *schemas) {
    auto it = states.find(s.name);
    if (it != states.end()) {
      s.update_status = to_string(*it->second.status);
      s.update_error = it->second.error;
    }
  }
  return ok_result();
}

std::vector<std::string> split_sql_statements(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  bool has_code = false;  // the statement has something besides whitespace and comments
  auto finish = [&]() {
    if (has_code) {
      size_t b = current.find_first_not_of(" \t\r\n");
      size_t e = current.find_last_not_of(" \t\r\n");
      out.push_back(current.substr(b, e - b + 1));
    }
    current.clear();
    has_code = false;
  };
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const char c = text[i];
    if (c == '\'' || c == '"' || c == '`') {
      // A quoted run; backslash escapes in '...' and "..." (MySQL's default), a doubled quote
      // is two runs back to back.
      size_t j = i + 1;
      while (j < n && text[j] != c) {
        j += (text[j] == '\\' && c != '`' && j + 1 < n) ? 2 : 1;
      }
      j = std::min(j + 1, n);
      current.append(text, i, j - i);
      has_code = true;
      i = j;
    } else if ((c == '-' && i + 1 < n && text[i + 1] == '-' &&
                (i + 2 >= n || std::isspace(static_cast<unsigned char>(text[i + 2])))) ||
               c == '#') {
      size_t j = text.find('\n', i);
      j = j == std::string::npos ? n : j;
      current.append(text, i, j - i);
      i = j;
    } else if (c == '/' && i + 1 < n && text[i + 1] == '*') {
      size_t j = text.find("*/", i + 2);
      j = j == std::string::npos ? n : j + 2;
      // /*! ... */ is MySQL's executable comment: code, not a comment.
      has_code = has_code || (i + 2 < n && text[i + 2] == '!');
      current.append(text, i, j - i);
      i = j;
    } else if (c == ';') {
      finish();
      ++i;
    } else {
      if (!std::isspace(static_cast<unsigned char>(c))) {
        has_code = true;
      }
      current += c;
      ++i;
    }
  }
  finish();
  return out;
}

std::vector<std::string> command_argv(const std::string& command, const std::string& schema) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < command.size()) {
    while (i < command.size() && command[i] == ' ') {
      ++i;
    }
    size_t start = i;
    while (i < command.size() && command[i] != ' ') {
      ++i;
    }
    if (i == start) {
      break;
    }
    std::string word = command.substr(start, i - start);
    for (size_t at = word.find("{schema}"); at != std::string::npos;
         at = word.find("{schema}", at + schema.size())) {
      word.replace(at, 8, schema);
    }
    out.push_back(std::move(word));
  }
  return out;
}

}  // namespace sy::admin
