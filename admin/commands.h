#pragma once
// The admin command table (STYLE rule 10): ONE table of rows (words, usage, help, privilege,
// handler) that is the single source for dispatch, `help`, and switchyardctl's usage. The text
// of the rows is in command_text.h (switchyardctl links only that and the protocol); each row
// gets its handler here, by CommandId.
//
// Dispatch: the longest row whose words prefix the request wins. Errors, each its own line:
//   ERR unknown-command: ...   no row matches the words
//   ERR usage: <usage>         a required argument is missing, or an unknown flag / extra word
//   ERR invalid-argument: ...  an argument is there but malformed (not a number, bad duration)
//   ERR permission: ...        an admin command on a read-only listener
//   ERR database: ...          the database is unreachable or refused (the connection stays)
//   ERR <tag>: ...             an operation's own stable tag (exists, one-way-door, ...)
//
// Handlers run on the admin thread. A long command returns a Reply with |long_job| set (run on
// the upgrade thread with a progress callback); a waiting command returns |poll| (the admin
// thread calls it every ~50 ms until it gives a reply), so neither blocks other clients.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin/command_text.h"
#include "admin/events.h"
#include "admin/protocol.h"
#include "admin/server.h"
#include "admin/stores.h"
#include "common/result.h"
#include "store/db.h"

namespace sy::admin {

struct Reply;
using ProgressFn = std::function<void(const ProgressLine&)>;

struct Reply {
  bool ok = true;
  std::string code;     // error code when !ok
  std::string message;  // error message when !ok
  Json doc;             // the reply document when ok
  std::string text;     // when non-empty: the text form instead of render_text(doc)
  // Deferred forms (at most one set):
  std::function<Reply(const ProgressFn&)> long_job;  // runs on the upgrade thread
  std::function<std::optional<Reply>()> poll;        // admin thread, until it returns a reply
};

Reply ok_reply(Json doc);
Reply message_reply(std::string message);
Reply error_reply(std::string code, std::string message);
Reply error_reply(const Error& e);

// What a handler may use. Admin thread only.
struct CommandEnv {
  AdminContext* ctx = nullptr;
  const ServerOptions* options = nullptr;
  EventSink* events = nullptr;
  // Owner of |events|: a long job keeps a copy, so a run still going at shutdown (its thread
  // is detached then) never emits into a destroyed sink.
  std::shared_ptr<EventSink> events_owner;
  // The admin thread's directory and state databases (connected lazily; errors tagged
  // "database", or "read-only" for the directory of profile sql).
  Stores* stores = nullptr;
  std::atomic<bool>* upgrade_running = nullptr;  // an upgrade job is running on this instance
  // Set by AdminServer::stop(): long jobs stop at their next step boundary. Shared, since a
  // job that does not stop in time is detached and may outlive the server.
  std::shared_ptr<const std::atomic<bool>> stop_jobs;
  std::string actor;  // "<instance id>/admin"
};

// Parsed arguments after the command words: positionals in order, flags by name ("--pool").
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;  // boolean flags map to ""
  bool has(const std::string& flag) const { return flags.count(flag) != 0; }
  std::string get(const std::string& flag, const std::string& fallback = "") const {
    auto it = flags.find(flag);
    return it == flags.end() ? fallback : it->second;
  }
};

// A row of the table: its text (command_text.h) and its handler.
struct Command : CommandSpec {
  Reply (*handler)(CommandEnv& env, const Args& args);
};

// The table, in help order.
const std::vector<Command>& command_table();

// The row a request's words select (the longest prefix), or nullptr.
const Command* find_command(const std::vector<std::string>& words);

// Runs one request: finds the row, checks |level|, parses the arguments, calls the handler.
// Admin thread only.
Reply dispatch(CommandEnv& env, const Request& request, Privilege level);

// The text/JSON wire form of a final reply (without the terminating empty line).
std::string render_reply(const Reply& reply, bool json);

}  // namespace sy::admin
