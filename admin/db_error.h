#pragma once
// The one shape of a database failure in the admin layer: `ERR database: <what>: <cause>`.

#include <string>

#include "common/result.h"

namespace sy::admin {

inline Error db_error(const std::string& what, const Error& e) {
  return make_tagged_error(Errc::Database, "database", what + ": " + e.message);
}

}  // namespace sy::admin
