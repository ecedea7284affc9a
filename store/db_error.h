#pragma once
// The one shape of a database failure for the admin commands: `ERR database: <what>: <cause>`.

#include <string>

#include "common/result.h"

namespace sy::store {

inline Error db_error(const std::string& what, const Error& e) {
  return make_tagged_error(Errc::Database, "database", what + ": " + e.message);
}

}  // namespace sy::store
