#include "admin/stores.h"

namespace sy::admin {

const char* profile_name(conf::Profile p) {
  switch (p) {
  case conf::Profile::Own: return "own";
  case conf::Profile::Sql: return "sql";
  case conf::Profile::Ox: return "ox";
  }
  return "?";
}

Result<routing::Db*> Stores::connect(std::unique_ptr<routing::Db>* slot,
                                     const std::vector<routing::Dsn>& dsns, const char* what) {
  if (*slot && !(*slot)->alive()) {
    directory_.reset();  // it refers to this session
    slot->reset();
  }
  if (!*slot) {
    auto c = routing::Db::connect(dsns, opt_.connect_timeout, opt_.io_timeout);
    if (!c.ok()) {
      return make_tagged_error(Errc::Database, "database",
                               std::string(what) + ": " + c.error().message);
    }
    *slot = std::move(c.value());
  }
  return slot->get();
}

Result<routing::Db*> Stores::directory_db() {
  if (opt_.dsns.empty()) {
    return make_tagged_error(Errc::Database, "database",
                             "no database configured (the config has no database section)");
  }
  return connect(&db_, opt_.dsns, "directory database");
}

Result<routing::Db*> Stores::state() {
  if (opt_.state_dsns.empty()) {
    if (opt_.profile != conf::Profile::Own) {
      return make_tagged_error(Errc::Database, "database",
                               "no state database configured (database.state_database or "
                               "database.state_dsns)");
    }
    return directory_db();
  }
  return connect(&state_db_, opt_.state_dsns, "state database");
}

Result<Directory*> Stores::directory() {
  if (opt_.profile == conf::Profile::Sql) {
    return make_tagged_error(Errc::InvalidArgument, "read-only",
                             "profile sql reads the directory through the configured SELECTs "
                             "and never writes it; directory commands need profile own or ox");
  }
  auto db = directory_db();
  if (!db) {
    return db.error();
  }
  if (!directory_) {
    if (opt_.profile == conf::Profile::Ox) {
      auto st = state();
      if (!st) {
        return st.error();
      }
      directory_ = make_ox_directory(**db, **st, opt_.ox);
    } else {
      directory_ = make_own_directory(**db);
    }
  }
  return directory_.get();
}

void Stores::reset() {
  directory_.reset();
  db_.reset();
  state_db_.reset();
}

}  // namespace sy::admin
