#pragma once
// The admin token (admin.tcp.token_file, admin.http.token_file): read from its file once at
// start, compared in constant time.

#include <string>

#include "common/result.h"

namespace sy::admin {

// The token: the file's first line without trailing blanks; at least 8 characters. |key| names
// the configuration key in the error ("admin.tcp.token_file"). Main thread (file I/O).
Result<std::string> read_token_file(const std::string& path, const std::string& key);

// Constant-time check: both sides are hashed first, so neither the content nor the length of
// the right token leaks through timing. Any thread.
bool token_matches(const std::string& given, const std::string& expected);

}  // namespace sy::admin
