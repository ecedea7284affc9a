// The migrations, as SQL text compiled into the binary. Add a new migration at the end with the
// next number; never edit one that has shipped (databases in the field recorded it as applied).

#include "store/db_migrate.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <string_view>

#include "common/log.h"
#include "store/named_lock.h"
#include "store/query.h"

namespace sy::store {

namespace {

struct Migration {
  int version;
  const char* name;
  MigrateScope scope;                        // Directory or State: which database it belongs to
  std::vector<std::string_view> statements;  // run in order, one per round trip
};

// ---- 1: directory tables --------------------------------------------------------------------

constexpr std::string_view kServers = R"sql(
CREATE TABLE IF NOT EXISTS sy_servers (
  id            INT UNSIGNED  NOT NULL,
  name          VARCHAR(191)  NOT NULL,
  pool          VARCHAR(191)  NOT NULL DEFAULT '',
  version       VARCHAR(64)   NOT NULL DEFAULT '',
  redirect_url  VARCHAR(1024) NOT NULL DEFAULT '',
  PRIMARY KEY (id),
  UNIQUE KEY uk_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";

constexpr std::string_view kSchemas = R"sql(
CREATE TABLE IF NOT EXISTS sy_schemas (
  name       VARCHAR(64) NOT NULL,
  state      ENUM('enabled','disabled') NOT NULL DEFAULT 'enabled',
  server_id  INT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (name),
  KEY by_server (server_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";

// server_id NULL or 0 = the schema's server.
constexpr std::string_view kContexts = R"sql(
CREATE TABLE IF NOT EXISTS sy_contexts (
  id           INT UNSIGNED NOT NULL,
  schema_name  VARCHAR(64)  NOT NULL,
  enabled      BOOL         NOT NULL DEFAULT TRUE,
  server_id    INT UNSIGNED NULL DEFAULT NULL,
  PRIMARY KEY (id),
  KEY by_schema (schema_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";

constexpr std::string_view kLogins = R"sql(
CREATE TABLE IF NOT EXISTS sy_logins (
  login       VARCHAR(255) NOT NULL,
  context_id  INT UNSIGNED NOT NULL,
  PRIMARY KEY (login),
  KEY by_context (context_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";

// ---- 2: change log --------------------------------------------------------------------------

// by_kind covers the reader's scans; by_at serves the settle window and pruning.
constexpr std::string_view kChanges = R"sql(
CREATE TABLE IF NOT EXISTS sy_changes (
  seq       BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  kind      ENUM('server','schema','context','login') NOT NULL,
  key_text  VARCHAR(255) NOT NULL,
  at        TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (seq),
  KEY by_kind (kind, seq),
  KEY by_at (at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";

// Small counters; 'changes_pruned_through' = highest change seq deleted by pruning.
constexpr std::string_view kMeta = R"sql(
CREATE TABLE IF NOT EXISTS sy_meta (
  k  VARCHAR(64)     NOT NULL,
  v  BIGINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (k)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";

// The triggers: one per table and event. Each is dropped first so the migration re-runs.

constexpr std::string_view kDropServersAi = "DROP TRIGGER IF EXISTS sy_servers_ai";
constexpr std::string_view kServersAi = R"sql(
CREATE TRIGGER sy_servers_ai AFTER INSERT ON sy_servers FOR EACH ROW
IF COALESCE(@sy_skip_changes, 0) = 0 THEN
  INSERT INTO sy_changes (kind, key_text) VALUES ('server', NEW.id);
END IF
)sql";
constexpr std::string_view kDropServersAu = "DROP TRIGGER IF EXISTS sy_servers_au";
constexpr std::string_view kServersAu = R"sql(
CREATE TRIGGER sy_servers_au AFTER UPDATE ON sy_servers FOR EACH ROW
IF COALESCE(@sy_skip_changes, 0) = 0
   AND NOT (NEW.id <=> OLD.id AND NEW.name <=> OLD.name AND NEW.pool <=> OLD.pool
            AND NEW.version <=> OLD.version AND NEW.redirect_url <=> OLD.redirect_url) THEN
  INSERT INTO sy_changes (kind, key_text) VALUES ('server', OLD.id);
  IF NEW.id <> OLD.id THEN
    INSERT INTO sy_changes (kind, key_text) VALUES ('server', NEW.id);
  END IF;
END IF
)sql";
constexpr std::string_view kDropServersAd = "DROP TRIGGER IF EXISTS sy_servers_ad";
constexpr std::string_view kServersAd = R"sql(
CREATE TRIGGER sy_servers_ad AFTER DELETE ON sy_servers FOR EACH ROW
IF COALESCE(@sy_skip_changes, 0) = 0 THEN
  INSERT INTO sy_changes (kind, key_text) VALUES ('server', OLD.id);
END IF
)sql";

constexpr std::string_view kDropSchemasAi = "DROP TRIGGER IF EXISTS sy_schemas_ai";
constexpr std::string_view kSchemasAi = R"sql(
CREATE TRIGGER sy_schemas_ai AFTER INSERT ON sy_schemas FOR EACH ROW
IF COALESCE(@sy_skip_changes, 0) = 0 THEN
  INSERT INTO sy_changes (kind, key_text) VALUES ('schema', NEW.name);
END IF
)sql";
constexpr std::string_view kDropSchemasAu = "DROP TRIGGER IF EXISTS sy_schemas_au";
constexpr std::string_view kSchemasAu = R"sql(
CREATE TRIGGER sy_schemas_au AFTER UPDATE ON sy_schemas FOR EACH ROW
IF COALESCE(@sy_skip_changes, 0) = 0
   AND NOT (NEW.name <=> OLD.name AND NEW.state <=> OLD.state
            AND NEW.server_id <=> OLD.server_id) THEN
  INSERT INTO sy_changes (kind, key_text) VALUES ('schema', OLD.name);
  IF NEW.name <> OLD.name THEN
    INSERT INTO sy_changes (kind, key_text) VALUES ('schema', NEW.name);
  END IF;
END IF
)sql";
constexpr std::string_view kDropSchemasAd = "DROP TRIGGER IF EXISTS sy_schemas_ad";
constexpr std::string_view kSchemasAd = R"sql(
CREATE TRIGGER sy_schemas_ad AFTER DELETE ON sy_schemas FOR EACH ROW
IF COALESCE(@sy_skip_changes, 0) = 0 THEN
  INSERT INTO sy_changes (kind, key_text) VALUES ('schema', OLD.name);
END IF
)sql";

constexpr std::string_view kDropContextsAi = "DROP TRIGGER IF EXISTS sy_contexts_ai";
constexpr std::string_view kContextsAi = R"sql(
CREATE TRIGGER sy_contexts_ai AFTER INSERT ON sy_contexts FOR EACH ROW
IF COALESCE(@sy_skip_changes, 0) = 0 THEN
  INSERT INTO sy_changes (kind, key_text) VALUES ('context', NEW.id);
END IF
)sql";
constexpr std::string_view kDropContextsAu = "DROP TRIGGER IF EXISTS sy_contexts_au";
constexpr std::string_view kContextsAu = R"sql(
CREATE TRIGGER sy_contexts_au AFTER UPDATE ON sy_contexts FOR EACH ROW
IF COALESCE(@sy_skip_changes, 0) = 0
   AND NOT (NEW.id <=> OLD.id AND NEW.schema_name <=> OLD.schema_name
            AND NEW.enabled <=> OLD.enabled AND NEW.server_id <=> OLD.server_id) THEN
  INSERT INTO sy_changes (kind, key_text) VALUES ('context', OLD.id);
  IF NEW.id <> OLD.id THEN
    INSERT INTO sy_changes (kind, key_text) VALUES ('context', NEW.id);
  END IF;
END IF
)sql";
constexpr std::string_view kDropContextsAd = "DROP TRIGGER IF EXISTS sy_contexts_ad";
constexpr std::string_view kContextsAd = R"sql(
CREATE TRIGGER sy_contexts_ad AFTER DELETE ON sy_contexts FOR EACH ROW
IF COALESCE(@sy_skip_changes, 0) = 0 THEN
  INSERT INTO sy_changes (kind, key_text) VALUES ('context', OLD.id);
END IF
)sql";

constexpr std::string_view kDropLoginsAi = "DROP TRIGGER IF EXISTS sy_logins_ai";
constexpr std::string_view kLoginsAi = R"sql(
CREATE TRIGGER sy_logins_ai AFTER INSERT ON sy_logins FOR EACH ROW
IF COALESCE(@sy_skip_changes, 0) = 0 THEN
  INSERT INTO sy_changes (kind, key_text) VALUES ('login', NEW.login);
END IF
)sql";
constexpr std::string_view kDropLoginsAu = "DROP TRIGGER IF EXISTS sy_logins_au";
constexpr std::string_view kLoginsAu = R"sql(
CREATE TRIGGER sy_logins_au AFTER UPDATE ON sy_logins FOR EACH ROW
IF COALESCE(@sy_skip_changes, 0) = 0
   AND NOT (NEW.login <=> OLD.login AND NEW.context_id <=> OLD.context_id) THEN
  INSERT INTO sy_changes (kind, key_text) VALUES ('login', OLD.login);
  IF NEW.login <> OLD.login THEN
    INSERT INTO sy_changes (kind, key_text) VALUES ('login', NEW.login);
  END IF;
END IF
)sql";
constexpr std::string_view kDropLoginsAd = "DROP TRIGGER IF EXISTS sy_logins_ad";
constexpr std::string_view kLoginsAd = R"sql(
CREATE TRIGGER sy_logins_ad AFTER DELETE ON sy_logins FOR EACH ROW
IF COALESCE(@sy_skip_changes, 0) = 0 THEN
  INSERT INTO sy_changes (kind, key_text) VALUES ('login', OLD.login);
END IF
)sql";

// ---- 3: instances ---------------------------------------------------------------------------

// One row per running Switchyard process; admin/instances.cpp writes it.
constexpr std::string_view kInstances = R"sql(
CREATE TABLE IF NOT EXISTS sy_instances (
  id             VARCHAR(191) NOT NULL,
  role           VARCHAR(64)  NOT NULL DEFAULT '',
  version        VARCHAR(64)  NOT NULL DEFAULT '',
  pid            INT          NOT NULL DEFAULT 0,
  started_at     TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  heartbeat_at   TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  inflight_json  TEXT         NULL,
  PRIMARY KEY (id),
  KEY by_heartbeat (heartbeat_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";

// ---- 4: admin -------------------------------------------------------------------------------

// The cluster upgrade state (admin/cluster_state.h): exactly one row, id 1.
constexpr std::string_view kCluster = R"sql(
CREATE TABLE IF NOT EXISTS sy_cluster (
  id                TINYINT UNSIGNED NOT NULL,
  state             VARCHAR(32)  NOT NULL DEFAULT 'STABLE',
  target_server_id  INT UNSIGNED NOT NULL DEFAULT 0,
  since             TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  reason            TEXT         NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";
constexpr std::string_view kClusterRow =
    "INSERT IGNORE INTO sy_cluster (id, state, target_server_id) VALUES (1, 'STABLE', 0)";

constexpr std::string_view kClusterHistory = R"sql(
CREATE TABLE IF NOT EXISTS sy_cluster_history (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  at          TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  from_state  VARCHAR(32)  NOT NULL,
  to_state    VARCHAR(32)  NOT NULL,
  event       VARCHAR(16)  NOT NULL,
  actor       VARCHAR(191) NOT NULL DEFAULT '',
  reason      TEXT         NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";

// One row per `upgrade schemata` run (admin/sequencer.h).
constexpr std::string_view kUpgradeRuns = R"sql(
CREATE TABLE IF NOT EXISTS sy_upgrade_runs (
  id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  target_server_id  INT UNSIGNED NOT NULL,
  status            ENUM('running','paused','done','failed','aborted') NOT NULL DEFAULT 'running',
  control           ENUM('run','pause','abort') NOT NULL DEFAULT 'run',
  flags             TEXT         NULL,
  actor             VARCHAR(191) NOT NULL DEFAULT '',
  started_at        TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  finished_at       TIMESTAMP(6) NULL DEFAULT NULL,
  PRIMARY KEY (id),
  KEY by_status (status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";

// Every step of every schema, before (begin) and after (done|failed|skipped). change_seq: the
// sy_changes seq a disable/enable step produced, so a resumed run can wait for it.
constexpr std::string_view kUpgradeJournal = R"sql(
CREATE TABLE IF NOT EXISTS sy_upgrade_journal (
  id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  run_id       BIGINT UNSIGNED NOT NULL,
  schema_name  VARCHAR(64)  NOT NULL,
  step         VARCHAR(16)  NOT NULL,
  phase        VARCHAR(16)  NOT NULL,
  at           TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  change_seq   BIGINT UNSIGNED NOT NULL DEFAULT 0,
  detail       TEXT         NULL,
  PRIMARY KEY (id),
  KEY by_run (run_id, schema_name, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";

// Who drives the upgrade; from migration 6 on the row is the driver lease itself.
constexpr std::string_view kUpgradeDriver = R"sql(
CREATE TABLE IF NOT EXISTS sy_upgrade_driver (
  name           VARCHAR(64)     NOT NULL,
  holder         VARCHAR(191)    NOT NULL DEFAULT '',
  connection_id  BIGINT UNSIGNED NOT NULL DEFAULT 0,
  since          TIMESTAMP(6)    NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";

// One row per schema and update task (admin/update_tasks.h).
constexpr std::string_view kUpdateTasks = R"sql(
CREATE TABLE IF NOT EXISTS sy_update_tasks (
  schema_name  VARCHAR(64)  NOT NULL,
  task         VARCHAR(191) NOT NULL,
  status       ENUM('running','ok','failed') NOT NULL,
  started_at   TIMESTAMP(6) NULL DEFAULT NULL,
  finished_at  TIMESTAMP(6) NULL DEFAULT NULL,
  output       TEXT         NULL,
  error        TEXT         NULL,
  PRIMARY KEY (schema_name, task)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";

// Runtime state of pool members (admin/member_store.h).
constexpr std::string_view kMemberState = R"sql(
CREATE TABLE IF NOT EXISTS sy_member_state (
  pool         VARCHAR(191) NOT NULL,
  member       VARCHAR(191) NOT NULL,
  admin_state  ENUM('ready','drain','maintenance') NOT NULL DEFAULT 'ready',
  weight       INT          NOT NULL DEFAULT 0,
  updated_at   TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (pool, member)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";

// ---- 10: pool members added, changed or removed at runtime (store/member_store.h) ----------
// One row per (pool, member) an operator touched through the admin socket; `removed` is a
// tombstone (the member is gone even when the YAML lists it): the YAML is the bootstrap, the
// database wins afterwards (docs/decisions.md 58).
constexpr std::string_view kPoolMembers = R"sql(
CREATE TABLE IF NOT EXISTS sy_pool_members (
  pool         VARCHAR(191) NOT NULL,
  member       VARCHAR(191) NOT NULL,
  weight       INT          NOT NULL DEFAULT 1,
  tls_name     VARCHAR(255) NOT NULL DEFAULT '',
  removed      TINYINT(1)   NOT NULL DEFAULT 0,
  updated_at   TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (pool, member)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";

// ---- 12: pools added, changed or removed at runtime (store/member_store.h) ----------------
// One row per pool an operator added or removed through the admin socket: its settings as a
// YAML flow mapping (the keys of a `pools` entry, parsed by conf::parse_pool_settings), and
// `removed`, a tombstone (the pool is gone even when the YAML lists it). The YAML is the
// bootstrap, the database wins afterwards (docs/decisions.md 68).
constexpr std::string_view kPools = R"sql(
CREATE TABLE IF NOT EXISTS sy_pools (
  name         VARCHAR(191) NOT NULL,
  spec         TEXT         NOT NULL,
  removed      TINYINT(1)   NOT NULL DEFAULT 0,
  updated_at   TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";

// ---- 5: state of the ox profile ---------------------------------------------------------------

// What the configdb's server table lacks (pool, version, redirect URL), by server name; written
// by `server register` on the ox profile, read by every instance's loader.
constexpr std::string_view kServerMeta = R"sql(
CREATE TABLE IF NOT EXISTS sy_server_meta (
  name          VARCHAR(191)  NOT NULL,
  pool          VARCHAR(191)  NOT NULL DEFAULT '',
  version       VARCHAR(64)   NOT NULL DEFAULT '',
  redirect_url  VARCHAR(1024) NOT NULL DEFAULT '',
  updated_at    TIMESTAMP(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";

constexpr std::string_view kInstancesAppliedSeq =
    "ALTER TABLE sy_instances ADD COLUMN IF NOT EXISTS applied_seq BIGINT UNSIGNED NOT NULL "
    "DEFAULT 0";

// ---- 6: the upgrade driver lease
// -----------------------------------------------------------------

// sy_upgrade_driver becomes the lease itself (store/upgrade_store.h DriverLock): the holder's
// process, an epoch that every take increments and every journal write checks, the expiry,
// and a renewal count (so that a renewal always changes the row and counts as affected). The
// one row 'upgrade' exists from here on; a take is a conditional UPDATE of it.
constexpr std::string_view kDriverLease =
    "ALTER TABLE sy_upgrade_driver"
    " ADD COLUMN IF NOT EXISTS process VARCHAR(191) NOT NULL DEFAULT '',"
    " ADD COLUMN IF NOT EXISTS epoch BIGINT UNSIGNED NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS expires_at TIMESTAMP(6) NULL DEFAULT NULL,"
    " ADD COLUMN IF NOT EXISTS renewals BIGINT UNSIGNED NOT NULL DEFAULT 0";
constexpr std::string_view kDriverLeaseRow =
    "INSERT IGNORE INTO sy_upgrade_driver (name, holder) VALUES ('upgrade', '')";

// ---- 7: server ids from a sequence
// ---------------------------------------------------------------

// Server ids come from this AUTO_INCREMENT (store/own_tables.h next_own_server_id), not from
// MAX(id) + 1: two registrations through two Galera nodes read the same MAX and collide, while
// auto_increment_increment/offset give every node its own numbers. Every id in use is recorded
// here (the INSERT below for existing servers, insert_own_server() for new ones), so the counter
// stays above all of them.
constexpr std::string_view kServerIds = R"sql(
CREATE TABLE IF NOT EXISTS sy_server_ids (
  id  INT UNSIGNED NOT NULL AUTO_INCREMENT,
  PRIMARY KEY (id)
) ENGINE=InnoDB
)sql";
constexpr std::string_view kServerIdsSeed =
    "INSERT IGNORE INTO sy_server_ids (id) SELECT id FROM sy_servers";

// ---- 8: a run's final status
// ---------------------------------------------------------------

// A run's final status tells a run that left schemas elsewhere from one that finished them all
// (store/upgrade_store.h RunState).
constexpr std::string_view kUpgradeRunsStatusV8 =
    "ALTER TABLE sy_upgrade_runs MODIFY status ENUM('running','paused','done',"
    "'done-with-skipped','failed','aborted') NOT NULL DEFAULT 'running'";

// ---- 9: the failed mark of a schema
// ---------------------------------------------------------------

// A schema whose update failed carries a mark (besides state 'disabled', so that a binary from
// before still holds its requests): the loaders answer CTX-0022 at once. The update trigger
// records a change of the mark too.
constexpr std::string_view kSchemasFailedV9 =
    "ALTER TABLE sy_schemas ADD COLUMN IF NOT EXISTS failed BOOL NOT NULL DEFAULT FALSE";
constexpr std::string_view kSchemasAuV9 = R"sql(
CREATE TRIGGER sy_schemas_au AFTER UPDATE ON sy_schemas FOR EACH ROW
IF COALESCE(@sy_skip_changes, 0) = 0
   AND NOT (NEW.name <=> OLD.name AND NEW.state <=> OLD.state
            AND NEW.server_id <=> OLD.server_id AND NEW.failed <=> OLD.failed) THEN
  INSERT INTO sy_changes (kind, key_text) VALUES ('schema', OLD.name);
  IF NEW.name <> OLD.name THEN
    INSERT INTO sy_changes (kind, key_text) VALUES ('schema', NEW.name);
  END IF;
END IF
)sql";

// ---- 10: events ---------------------------------------------------------------------------------

// Upgrade events (store/event_store.h): appended where they happen, delivered to each instance's
// hook from sy_event_cursor's position. A plain AUTO_INCREMENT id: in commit order on one
// server, per node's offset on Galera.
constexpr std::string_view kEvents = R"sql(
CREATE TABLE IF NOT EXISTS sy_events (
  id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  kind         VARCHAR(64)   NOT NULL,
  schema_name  VARCHAR(191)  NOT NULL DEFAULT '',
  state        VARCHAR(64)   NOT NULL DEFAULT '',
  detail       TEXT          NOT NULL,
  instance     VARCHAR(191)  NOT NULL DEFAULT '',
  created_at   TIMESTAMP(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";
constexpr std::string_view kEventCursor = R"sql(
CREATE TABLE IF NOT EXISTS sy_event_cursor (
  instance      VARCHAR(191)    NOT NULL,
  delivered_id  BIGINT UNSIGNED NOT NULL DEFAULT 0,
  updated_at    TIMESTAMP(6)    NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (instance)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";

const std::vector<Migration>& migrations() {
  using S = MigrateScope;
  static const std::vector<Migration> all = {
      {1, "directory tables", S::Directory, {kServers, kSchemas, kContexts, kLogins}},
      {2,
       "change log and triggers",
       S::Directory,
       {kChanges,        kMeta,       kDropServersAi,  kServersAi,  kDropServersAu,  kServersAu,
        kDropServersAd,  kServersAd,  kDropSchemasAi,  kSchemasAi,  kDropSchemasAu,  kSchemasAu,
        kDropSchemasAd,  kSchemasAd,  kDropContextsAi, kContextsAi, kDropContextsAu, kContextsAu,
        kDropContextsAd, kContextsAd, kDropLoginsAi,   kLoginsAi,   kDropLoginsAu,   kLoginsAu,
        kDropLoginsAd,   kLoginsAd}},
      {3, "instances", S::State, {kInstances}},
      {4,
       "admin: cluster state, upgrade runs and journal, update tasks, member state, instance "
       "applied_seq",
       S::State,
       {kCluster, kClusterRow, kClusterHistory, kUpgradeRuns, kUpgradeJournal, kUpgradeDriver,
        kUpdateTasks, kMemberState, kInstancesAppliedSeq}},
      {5, "server metadata and directory epoch (profile ox)", S::State, {kServerMeta, kMeta}},
      {6, "upgrade driver lease", S::State, {kDriverLease, kDriverLeaseRow}},
      {7, "server id sequence", S::Directory, {kServerIds, kServerIdsSeed}},
      {8, "upgrade runs: status done-with-skipped", S::State, {kUpgradeRunsStatusV8}},
      {9,
       "schemas: the failed mark",
       S::Directory,
       {kSchemasFailedV9, kDropSchemasAu, kSchemasAuV9}},
      {10, "pool members at runtime", S::State, {kPoolMembers}},
      {11, "events and each instance's delivered position", S::State, {kEvents, kEventCursor}},
      {12, "pools at runtime", S::State, {kPools}},
  };
  return all;
}

constexpr std::string_view kVersionTable = R"sql(
CREATE TABLE IF NOT EXISTS sy_schema_version (
  version     INT          NOT NULL,
  name        VARCHAR(128) NOT NULL,
  applied_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
)sql";

// The per-database migration lock: GET_LOCK, not the driver lease, because the lease lives in a
// table that migrations create (there is no row to take before the first migration) and the
// lock must also cover that first run. GET_LOCK excludes concurrent runs through one server
// only: on Galera every node grants it on its own (MariaDB 10.11 does; some versions refuse it
// with error 1235, MDEV-30473, and the migration then runs unlocked). Both are safe because
// every statement is re-runnable (IF NOT EXISTS, DROP TRIGGER IF EXISTS before CREATE) and
// INSERT IGNORE into sy_schema_version keeps the record single: concurrent runs through two
// nodes at worst repeat a statement; a DDL that collides across nodes fails that run, and
// running `db migrate` again completes it (docs/decisions.md 50).
constexpr NamedLock::Name kMigrateLock{"sy_migrate", 50};
constexpr std::chrono::seconds kMigrateLockWait{60};

bool in_scope(const Migration& m, MigrateScope scope) {
  return scope == MigrateScope::All || m.scope == scope;
}

}  // namespace

std::vector<MigrationStep> known_migrations(MigrateScope scope) {
  std::vector<MigrationStep> out;
  for (const Migration& m : migrations()) {
    if (in_scope(m, scope)) {
      out.push_back(MigrationStep{m.version, m.name});
    }
  }
  return out;
}

int latest_schema_version() { return migrations().back().version; }

std::string trigger_privilege_hint(const Error& e) {
  if (e.message.find("MySQL error 1419 ") == std::string::npos) {
    return {};
  }
  return " (the migrations create triggers on the directory tables, and with binary logging on"
         " (log_bin) the server lets only a user with SUPER create them: run `db migrate` as"
         " such a user, or set GLOBAL log_bin_trust_function_creators = 1 on every server, replicas"
         " and Galera nodes included; docs/admin.md, \"Database privileges\")";
}

Result<MigrateReport> migrate(Db& db, MigrateScope scope) {
  auto have_database = query_value<bool>(db, "SELECT DATABASE() IS NOT NULL");
  if (!have_database) {
    return have_database.error();
  }
  if (!*have_database) {
    return make_error(Errc::Config,
                      "migrate: the session has no database selected (" + db.dsn().label() + ")");
  }
  std::optional<NamedLock> lock;
  if (auto taken = NamedLock::take(db, kMigrateLock, kMigrateLockWait); taken) {
    lock.emplace(std::move(taken.value()));
  } else if (taken.error().code == Errc::Unavailable) {
    return make_error(Errc::Timeout,
                      "migrate: another migration holds the lock on this database (waited 60 s)");
  } else {
    SY_LOG(Warn, "migrate: running without the migration lock (%s)", taken.error().message.c_str());
  }
  if (auto e = db.exec(std::string(kVersionTable)); !e) {
    return e.error();
  }
  auto versions = query_all(db, "SELECT version FROM sy_schema_version",
                            [](const Row& row) { return row.i32(1); });
  if (!versions) {
    return versions.error();
  }
  std::set<int> recorded(versions->begin(), versions->end());

  MigrateReport report;
  report.locked = lock.has_value();
  for (const Migration& m : migrations()) {
    if (!in_scope(m, scope)) {
      continue;
    }
    if (recorded.count(m.version) != 0) {
      report.skipped.push_back(MigrationStep{m.version, m.name});
      continue;
    }
    for (std::string_view sql : m.statements) {
      if (auto e = db.exec(std::string(sql)); !e) {
        return make_error(Errc::Database, "migration " + std::to_string(m.version) + " (" + m.name +
                                              "): " + e.error().message +
                                              trigger_privilege_hint(e.error()));
      }
    }
    auto inserted = exec(db, "INSERT IGNORE INTO sy_schema_version (version, name) VALUES (?, ?)",
                         m.version, m.name);
    if (!inserted) {
      return inserted.error();
    }
    recorded.insert(m.version);
    if (*inserted == 0) {
      report.skipped.push_back(MigrationStep{m.version, m.name});  // a concurrent, unlocked run
    } else {
      report.applied.push_back(MigrationStep{m.version, m.name});
    }
  }
  for (int v : recorded) {
    bool known = std::any_of(migrations().begin(), migrations().end(),
                             [&](const Migration& m) { return m.version == v; });
    if (!known) {
      report.unknown.push_back(v);
    }
  }
  report.version = recorded.empty() ? 0 : *recorded.rbegin();
  return report;
}

}  // namespace sy::store
