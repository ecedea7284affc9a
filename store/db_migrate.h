#pragma once
// `switchyard db migrate`: creates and upgrades Switchyard's own tables in the database of the
// session (the own data profile, DESIGN decision 3). The migrations are compiled into the
// binary (db_migrate.cpp), numbered from 1, and each is applied at most once: its number is
// recorded in
//
//   sy_schema_version(version INT PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP(6))
//
// Running migrate() again does nothing. Concurrent runs (several instances starting at once)
// serialise on a named lock per database (GET_LOCK), so each migration still runs once. Galera
// refuses GET_LOCK; there migrate() goes ahead unlocked (see MigrateReport::locked).
//
// Privileges: CREATE, ALTER, INDEX, TRIGGER on the database. With binary logging on (Galera,
// replicas), creating triggers also needs SUPER or log_bin_trust_function_creators = 1.
// Statements are written to be re-runnable (IF NOT EXISTS, DROP TRIGGER IF EXISTS), so a run
// interrupted inside a migration completes it next time.
//
// Tables (InnoDB, utf8mb4_bin), by scope: the directory (profile own's tenant tables) and the
// state (what Switchyard itself keeps, for every profile). One database holds both on profile
// own by default; profile ox keeps only the state, in a database of its own (never the
// configdb: OX's tables are OX's).
//   1 directory   sy_servers, sy_schemas, sy_contexts, sy_logins
//   2 directory   sy_changes (+ triggers on the four tables above), sy_meta
//   3 state       sy_instances (heartbeats, admin/instances.h)
//   4 state       sy_cluster (one row) + sy_cluster_history (admin/cluster_state.h),
//                 sy_upgrade_runs, sy_upgrade_journal, sy_upgrade_driver (admin/sequencer.h),
//                 sy_update_tasks (admin/update_tasks.h), sy_member_state
//                 (admin/member_store.h), sy_instances.applied_seq
//   5 state       sy_server_meta and sy_meta 'directory_epoch' (routing/directory_ox.h)
//  10 state       sy_events, sy_event_cursor (store/event_store.h)
//
// The change log: AFTER INSERT/UPDATE/DELETE triggers on the four directory tables append
// (kind, key_text) to sy_changes for every row that really changed (an UPDATE that rewrites
// the same values logs nothing; one that changes a primary key logs the old and the new key).
// Any writer produces change rows, including an operator's plain SQL, except:
//   - a session that set @sy_skip_changes = 1 (bulk seeding; store/directory_reader.h), and
//   - TRUNCATE, which fires no triggers: follow it with a full reload.

#include <string>
#include <vector>

#include "common/result.h"
#include "store/db.h"

namespace sy::store {

// Which migrations a run applies.
enum class MigrateScope {
  All,        // directory and state in one database (profile own, the default)
  Directory,  // profile own's tenant tables only
  State,      // Switchyard's state tables only (a separate state database)
};

struct MigrationStep {
  int version = 0;
  std::string name;
};

struct MigrateReport {
  std::vector<MigrationStep> applied;  // run by this call, in order
  std::vector<MigrationStep> skipped;  // already recorded before this call
  std::vector<int> unknown;            // recorded versions this binary does not know (a newer
                                       // binary migrated this database); not an error
  int version = 0;                     // highest version recorded after the call
  bool locked = false;                 // false = the server refused GET_LOCK (Galera) and the
                                       // run went ahead without the migration lock
};

// Applies every migration of |scope| not yet recorded, in version order, in the session's
// current database. Blocks (admin/CLI thread). Fails on the first failing statement, with the
// migration's number and name in the message; migrations before it stay applied.
Result<MigrateReport> migrate(Db& db, MigrateScope scope = MigrateScope::All);

// For a migration statement that failed with |e|: what to do about MySQL error 1419 (CREATE
// TRIGGER without SUPER while binary logging is on), else "". Pure.
std::string trigger_privilege_hint(const Error& e);

// The migrations compiled into this binary, in order.
std::vector<MigrationStep> known_migrations(MigrateScope scope = MigrateScope::All);

// The highest version known_migrations() reaches.
int latest_schema_version();

}  // namespace sy::store
