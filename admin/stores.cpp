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

std::vector<store::Dsn> Stores::dsns() const {
  return opt_.dsn_source ? opt_.dsn_source->lists().writers : opt_.dsns;
}

void Stores::follow_reload() {
  if (opt_.dsn_source && opt_.dsn_source->generation() != dsn_generation_) {
    reset();
    dsn_generation_ = opt_.dsn_source->generation();
  }
}

Result<store::Db*> Stores::connect(std::unique_ptr<store::Db>* slot,
                                   const std::vector<store::Dsn>& dsns, const char* what) {
  if (*slot) {
    if (std::string why = (*slot)->health_problem(); !why.empty()) {
      if (opt_.dsn_source) {
        opt_.dsn_source->left(opt_.who + (slot == &db_ ? " directory" : " state"), **slot, why);
      }
      directory_.reset();  // it refers to this session
      slot->reset();
    }
  }
  if (!*slot) {
    auto c = store::Db::connect(dsns, opt_.connect_timeout, opt_.io_timeout);
    if (opt_.dsn_source) {
      const std::string who = opt_.who + (slot == &db_ ? " directory" : " state");
      if (c.ok()) {
        opt_.dsn_source->connected(who, **c);
      } else {
        opt_.dsn_source->failed(who, c.error());
      }
    }
    if (!c.ok()) {
      return make_tagged_error(Errc::Database, "database",
                               std::string(what) + ": " + c.error().message, ErrorSource::Upstream);
    }
    *slot = std::move(c.value());
  }
  return slot->get();
}

Result<store::Db*> Stores::directory_db() {
  if (opt_.dsns.empty()) {
    return make_tagged_error(Errc::Database, "database",
                             "no database configured (the config has no database section)",
                             ErrorSource::Upstream);
  }
  follow_reload();
  return connect(&db_, dsns(), "directory database");
}

Result<store::Db*> Stores::state() {
  if (!directory_) {
    // Not while a Directory is out: it refers to the sessions (directory() then state() in one
    // command); the next directory() call follows the reload.
    follow_reload();
  }
  const std::vector<store::Dsn> state_dsns =
      opt_.dsn_source ? opt_.dsn_source->lists().state : opt_.state_dsns;
  if (state_dsns.empty()) {
    if (opt_.profile != conf::Profile::Own) {
      return make_tagged_error(Errc::Database, "database",
                               "no state database configured (database.state_database or "
                               "database.state_dsns)",
                               ErrorSource::Upstream);
    }
    return directory_db();
  }
  return connect(&state_db_, state_dsns, "state database");
}

Result<Directory*> Stores::directory() {
  if (opt_.profile == conf::Profile::Sql) {
    return make_tagged_error(Errc::InvalidArgument, "read-only",
                             "profile sql reads the directory through the configured SELECTs "
                             "and never writes it; directory commands need profile own or ox",
                             ErrorSource::Downstream);
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

void Stores::reset(const std::string& why) {
  if (opt_.dsn_source && !why.empty()) {
    if (db_) {
      opt_.dsn_source->left(opt_.who + " directory", *db_, why);
    }
    if (state_db_) {
      opt_.dsn_source->left(opt_.who + " state", *state_db_, why);
    }
  }
  directory_.reset();
  db_.reset();
  state_db_.reset();
}

}  // namespace sy::admin
