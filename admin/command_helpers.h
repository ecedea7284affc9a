#pragma once
// Small helpers shared by the command handlers (admin/commands*.cpp and the directory commands
// in admin/directory_commands.cpp). Admin thread only.

#include <charconv>
#include <cstdint>
#include <string>

#include "admin/commands.h"
#include "admin/directory.h"
#include "store/db.h"

namespace sy::admin {

// |text| is a decimal uint32 and nothing else.
inline bool parse_u32(const std::string& text, uint32_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc{} && end == text.data() + text.size() && !text.empty();
}

// Runs |fn| with the state database; a database failure becomes `ERR database`.
template <class Fn>
Reply with_state(CommandEnv& env, Fn&& fn) {
  auto db = env.stores->state();
  if (!db.ok()) {
    return error_reply(db.error());
  }
  return fn(**db);
}

// Runs |fn| with the directory of the profile.
template <class Fn>
Reply with_directory(CommandEnv& env, Fn&& fn) {
  auto dir = env.stores->directory();
  if (!dir.ok()) {
    return error_reply(dir.error());
  }
  return fn(**dir);
}

// Runs |fn| with both.
template <class Fn>
Reply with_both(CommandEnv& env, Fn&& fn) {
  return with_directory(env, [&](Directory& dir) {
    return with_state(env, [&](store::Db& state) { return fn(dir, state); });
  });
}

}  // namespace sy::admin
