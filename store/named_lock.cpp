// NamedLock on MariaDB's GET_LOCK / RELEASE_LOCK / IS_USED_LOCK.

#include "store/named_lock.h"

#include "store/query.h"

namespace sy::store {

std::string NamedLock::expr(Name name) {
  return std::string("CONCAT('") + name.prefix + ".', LEFT(DATABASE(), " +
         std::to_string(name.db_chars) + "))";
}

Result<NamedLock> NamedLock::take(Db& db, Name name, std::chrono::seconds wait) {
  // GET_LOCK answers 1 (taken), 0 (timed out) or NULL (an error, e.g. killed).
  auto got = query_one(
      db, "SELECT GET_LOCK(" + expr(name) + ", ?)",
      [](const Row& row) { return row.is_null(1) ? -1 : row.i32(1); },
      static_cast<int64_t>(wait.count()));
  if (!got) {
    return got.error();
  }
  if (got->value_or(-1) != 1) {
    return make_tagged_error(Errc::Unavailable, "busy",
                             std::string("another session holds the lock ") + name.prefix +
                                 " (waited " + std::to_string(wait.count()) + " s)",
                             ErrorSource::Downstream);
  }
  return NamedLock(&db, name);
}

void NamedLock::release() {
  if (db_ == nullptr) {
    return;
  }
  Db* db = db_;
  db_ = nullptr;
  (void)query_each(*db, "SELECT RELEASE_LOCK(" + expr(name_) + ")", [](const Row&) {});
}

}  // namespace sy::store
