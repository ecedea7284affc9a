#pragma once
// Environment substitution in configuration values (docs/configuration.md, "Environment"):
//
//   ${NAME}            the value of NAME; an unset NAME is an error
//   ${NAME:-default}   the value of NAME, or |default| when NAME is unset or empty
//   $${                a literal "${" (the escape); any other '$' is itself
//
// NAME is [A-Za-z_][A-Za-z0-9_]*; |default| is literal text up to the first '}' (no nesting).
// A substituted value is never expanded again, so a variable's value may contain "${".
// Pure: no I/O, no global state (the caller passes the lookup). Any thread.

#include <functional>
#include <string>
#include <string_view>

namespace sy::conf {

// Returns the value of environment variable |name|, or nullptr when it is unset.
using EnvLookup = std::function<const char*(const std::string& name)>;

// The process environment (getenv). Reads only; safe while no thread calls setenv.
EnvLookup process_environment();

// Expands |text| into |out|. On a malformed reference or an unset variable without a default,
// returns false and sets |error| to a message that names the variable but never its value;
// |out| is then unspecified. |used| (may be null) is set to true when |text| held at least
// one ${...} reference.
bool substitute(std::string_view text, const EnvLookup& lookup, std::string* out,
                std::string* error, bool* used = nullptr);

}  // namespace sy::conf
