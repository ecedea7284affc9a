#pragma once
// `show events`: the events of every instance from the state database (admin/events.h), kept
// apart from commands.cpp. Admin thread only.

#include "admin/commands.h"

namespace sy::admin {

// show events [--since ID] [--limit N]: events with id > ID (default 0), oldest first, at most
// N (default 100, 1..1000). Text: one line per event (event_line), then "last_id: <id>" (the
// last event's id, or ID when none is newer) to pass as the next --since; JSON: {"events":
// [event_doc...], "last_id": N}.
Reply cmd_show_events(CommandEnv& env, const Args& args);

}  // namespace sy::admin
