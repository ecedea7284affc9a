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
#include "store/db.h"
#include "store/dsn_source.h"

namespace sy::admin {

struct StoreOptions {
  conf::Profile profile = conf::Profile::Own;
  std::vector<store::Dsn> dsns;        // the directory; empty = no database configured
  std::vector<store::Dsn> state_dsns;  // empty = the directory database holds the state
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::seconds io_timeout{5};  // per network read/write; 0 = none (long runs)
  OxDirectoryOptions ox;               // profile ox
  // When set, the DSNs come from here (writers for the directory, state for the state
  // database) and a change of its generation (`reload`) drops the sessions before the next
  // use; the sessions are reported to it as "<who> directory" / "<who> state".
  std::shared_ptr<store::DsnSource> dsn_source;
  std::string who = "admin";
};

// "own", "sql", "ox".
const char* profile_name(conf::Profile p);

class Stores {
 public:
  explicit Stores(StoreOptions options) : opt_(std::move(options)) {}
  Stores(const Stores&) = delete;
  Stores& operator=(const Stores&) = delete;

  const StoreOptions& options() const { return opt_; }
  // The directory's DSNs now (after reloads); SQL update tasks connect next to them.
  std::vector<store::Dsn> dsns() const;
  bool configured() const { return !opt_.dsns.empty(); }
  // There is a state database to use (always on profile own with a database).
  bool has_state() const {
    return configured() && (opt_.profile == conf::Profile::Own || !opt_.state_dsns.empty());
  }

  // The directory of the profile, connected; tag "database" when there is no database or it
  // is unreachable, tag "read-only" on profile sql.
  Result<Directory*> directory();
  // The state database, connected; tag "database" when there is none or it is unreachable.
  Result<store::Db*> state();
  // The directory's own session (SQL update tasks connect next to it); same errors as
  // directory().
  Result<store::Db*> directory_db();
  // Drops both sessions (after a database error); the next call connects again. A non-empty
  // |why| (the error) is reported to the DSN source as why each session left its server
  // (`show database`).
  void reset(const std::string& why = {});

 private:
  Result<store::Db*> connect(std::unique_ptr<store::Db>* slot, const std::vector<store::Dsn>& dsns,
                             const char* what);
  void follow_reload();  // drops the sessions when the DSN source changed since they connected

  StoreOptions opt_;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<store::Db> state_db_;   // only with state_dsns
  std::unique_ptr<Directory> directory_;  // made over db_ (and the state session)
  uint64_t dsn_generation_ = 0;           // of opt_.dsn_source when the sessions connected
};

}  // namespace sy::admin
