#pragma once
// The one shape of a database failure for the admin commands: `ERR database: <what>: <cause>`.
// The typed row functions of store/ return their errors in this shape.

#include <string>

#include "common/result.h"

namespace sy::store {

// |e| under |what|, tagged "database"; the source stays |e|'s (Upstream for the server's).
inline Error db_error(const std::string& what, const Error& e) {
  Error out = make_tagged_error(Errc::Database, "database", what + ": " + e.message);
  out.source = e.source;
  return out;
}

// |r| as it is, or its error under |what| (db_error).
template <class T>
Result<T> in_context(const std::string& what, Result<T> r) {
  if (!r) {
    return db_error(what, r.error());
  }
  return r;
}

}  // namespace sy::store
