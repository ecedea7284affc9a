#pragma once
// The handlers of the directory commands (rows in admin/command_text.cpp, dispatched by
// admin/commands.cpp): `server unregister`, `context add|move|disable|enable`, `schema add`,
// `login add|remove`, `import csv|configdb`. The edits are admin/directory_edit.h and
// admin/import.h; these parse the arguments, pick the database and shape the reply.
// Admin thread only (each blocks on the database for one transaction).

#include "admin/commands.h"

namespace sy::admin {

Reply cmd_server_unregister(CommandEnv& env, const Args& args);
Reply cmd_context_add(CommandEnv& env, const Args& args);
Reply cmd_context_move(CommandEnv& env, const Args& args);
Reply cmd_context_disable(CommandEnv& env, const Args& args);
Reply cmd_context_enable(CommandEnv& env, const Args& args);
Reply cmd_schema_add(CommandEnv& env, const Args& args);
Reply cmd_login_add(CommandEnv& env, const Args& args);
Reply cmd_login_remove(CommandEnv& env, const Args& args);
Reply cmd_import_csv(CommandEnv& env, const Args& args);
Reply cmd_import_configdb(CommandEnv& env, const Args& args);

}  // namespace sy::admin
