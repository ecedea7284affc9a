#pragma once
// A lock named in the database, held by one session: taken with take(), released when the
// NamedLock is destroyed (or by release()), and freed by the server when the session dies, so a
// killed holder never leaves it taken. Used for the migration lock (store/db_migrate.h).
//
// It is MariaDB's GET_LOCK, named "<prefix>.<the session's database, cut to |db_chars|>":
// GET_LOCK names are server-wide, and clusters (or tests) sharing one server must not exclude
// each other. It excludes sessions of one server only: every Galera node grants it on its own
// (MariaDB 10.11; some versions refuse it, MDEV-30473). What must be exclusive fleet-wide, the
// upgrade driver, holds a lease row instead (store/upgrade_store.h DriverLock).
//
// Blocks on the database: admin/upgrade threads and `db migrate` only. A NamedLock belongs to
// the thread of its session and must not outlive it.

#include <chrono>
#include <cstdint>
#include <string>

#include "common/result.h"
#include "store/db.h"

namespace sy::store {

class NamedLock {
 public:
  struct Name {
    const char* prefix;  // e.g. "sy_migrate"; a string literal
    int db_chars;        // how much of the database name goes into the lock name
  };

  // Tries to take |name| on |db|, waiting up to |wait| for another holder to let go:
  //   a held lock;
  //   Errc::Unavailable with tag "busy": another session still holds it after |wait|;
  //   Errc::Database: the server refused or failed (on Galera: GET_LOCK is not supported).
  static Result<NamedLock> take(Db& db, Name name, std::chrono::seconds wait);

  NamedLock(NamedLock&& other) noexcept : db_(other.db_), name_(other.name_) {
    other.db_ = nullptr;
  }
  NamedLock& operator=(NamedLock&&) = delete;
  ~NamedLock() { release(); }

  // Lets go of the lock; idempotent. A failure is ignored: the lock dies with the session.
  void release();

 private:
  NamedLock(Db* db, Name name) : db_(db), name_(name) {}
  static std::string expr(Name name);

  Db* db_;  // nullptr once released
  Name name_;
};

}  // namespace sy::store
