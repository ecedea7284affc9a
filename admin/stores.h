#pragma once
// The two databases the admin commands and the sequencer work on, kept apart (DESIGN decision 3,
// docs/decisions.md):
//
//   directory  the tenant directory, behind the Directory interface of its profile
//              (admin/directory.h): Switchyard's own tables, or an unchanged OX configdb
//   state      Switchyard's own state: heartbeats, cluster state, upgrade runs, journal and
//              driver lock, update-task results, member state (and on profile ox the server
//              metadata and the directory epoch). Never a table in an OX configdb.
//
// Profile own keeps both in one database unless state_dsns are given; profile ox always has a
// state database of its own; profile sql is read-only (directory() says so) and has a state
// database only when one is configured.
//
// Sessions connect lazily on first use and are dropped by reset() (after a database error) to
// be connected again next time. A Stores belongs to one thread (admin or upgrade thread).

#include <chrono>
#include <memory>
#include <vector>

#include "admin/directory.h"
#include "common/result.h"
#include "conf/config.h"
#include "routing/db.h"

namespace sy::admin {

struct StoreOptions {
  conf::Profile profile = conf::Profile::Own;
  std::vector<routing::Dsn> dsns;        // the directory; empty = no database configured
  std::vector<routing::Dsn> state_dsns;  // empty = the directory database holds the state
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::seconds io_timeout{30};  // per network read/write; 0 = none (long runs)
  OxDirectoryOptions ox;                // profile ox
};

// "own", "sql", "ox".
const char* profile_name(conf::Profile p);

class Stores {
 public:
  explicit Stores(StoreOptions options) : opt_(std::move(options)) {}
  Stores(const Stores&) = delete;
  Stores& operator=(const Stores&) = delete;

  const StoreOptions& options() const { return opt_; }
  bool configured() const { return !opt_.dsns.empty(); }
  // There is a state database to use (always on profile own with a database).
  bool has_state() const {
    return configured() && (opt_.profile == conf::Profile::Own || !opt_.state_dsns.empty());
  }

  // The directory of the profile, connected; tag "database" when there is no database or it
  // is unreachable, tag "read-only" on profile sql.
  Result<Directory*> directory();
  // The state database, connected; tag "database" when there is none or it is unreachable.
  Result<routing::Db*> state();
  // The directory's own session (SQL update tasks connect next to it); same errors as
  // directory().
  Result<routing::Db*> directory_db();
  // Drops both sessions (after a database error); the next call connects again.
  void reset();

 private:
  Result<routing::Db*> connect(std::unique_ptr<routing::Db>* slot,
                               const std::vector<routing::Dsn>& dsns, const char* what);

  StoreOptions opt_;
  std::unique_ptr<routing::Db> db_;
  std::unique_ptr<routing::Db> state_db_;  // only with state_dsns
  std::unique_ptr<Directory> directory_;   // made over db_ (and the state session)
};

}  // namespace sy::admin
