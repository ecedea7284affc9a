"""`upgrade schemata` end to end on the real private MariaDB, driven through switchyardctl.

Topology (loopback, port 0): an old-role and a new-role Switchyard on one directory database,
each with an admin socket; backends old-1 ("old") and new-1 ("new"). Schemas are real MariaDB
databases (named <db>_sNN so parallel tests never share one); the update task is a SQL file that
creates and fills a table in the schema, plus (where a test needs it) a command task.

The client load goes to the old-role instance, as the main balancer's traffic would, and
follows the 307 of a moved tenant to the new-role instance.
"""
import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))

from harness import BINARY, SOURCE_DIR, Database, ProxyTestCase, wait_for  # noqa: E402
from tenant_load import TenantLoad  # noqa: E402

CTL = os.environ.get("SY_CTL", os.path.join(SOURCE_DIR, "build", "admin", "switchyardctl"))

SQL_TASK = """-- update task 001: a table only the new version has
CREATE TABLE IF NOT EXISTS upgraded (v VARCHAR(16) NOT NULL, at TIMESTAMP NOT NULL
  DEFAULT CURRENT_TIMESTAMP);
INSERT INTO upgraded (v) VALUES ('8.0');
"""

# A command task: counts its runs per schema in a file, fails for schemas listed in $FAIL_FILE,
# sleeps for schemas listed in $SLOW_FILE (3 s).
COMMAND_TASK = """#!/bin/sh
schema="$1"; dir="$(dirname "$0")"
echo "$schema" >> "$dir/runs"
if grep -qx "$schema" "$dir/slow" 2>/dev/null; then sleep 3; fi
if grep -qx "$schema" "$dir/fail" 2>/dev/null; then echo "task says no for $schema" >&2; exit 3; fi
echo "updated $schema"
"""


def yaml_for(db, role, serve, old_addr, new_addr, socket_path, tasks_dir, with_command,
             database_extra=""):
    command = (f'    command: "{tasks_dir}/cmd/task.sh {{schema}}"\n'
               "    command_timeout: 20s\n") if with_command else ""
    return f"""workers: 2
listeners:
  - name: main
    port: 0
    pool: {serve}
pools:
  - name: old
    version: "7.10"
    members: [{{address: "{old_addr}"}}]
    health_check: {{enabled: false}}
  - name: new
    version: "8.0"
    members: [{{address: "{new_addr}"}}]
    health_check: {{enabled: false}}
limits:
  drain_timeout: 5s
database:
  dsns:
{db.dsn_yaml()}  refresh_interval: 100ms
  heartbeat_interval: 200ms
{database_extra}routing:
  role: {role}
  instance_id: up-{role}-{os.getpid()}
  version: "{'7.10' if role == 'old' else '8.0'}"
  serve_pools: [{serve}]
  hold: {{max_requests: 10000, max_wait: 20s}}
  keys:
    - {{type: header, name: X-Context-Id}}
admin:
  socket: {{path: "{socket_path}"}}
  live_within: 5s
  drain_timeout: 15s
  driver_lease: 2s
  update_tasks:
    sql_dir: "{tasks_dir}/sql"
{command}"""


class UpgradeTest(ProxyTestCase):
    SCHEMAS = 4
    CONTEXTS_PER_SCHEMA = 10
    DATABASE_EXTRA = ""  # more keys of the `database` section, e.g. "  change_settle: 30s\n"

    def setUp(self):
        super().setUp()
        self.db = self.make_database()
        self.addCleanup(self.drop_schemas)
        self.addCleanup(self.db.drop)
        self.schemas = [f"{self.db.name}_s{i:02d}" for i in range(1, self.SCHEMAS + 1)]
        self.tasks_dir = os.path.join(self.workdir, "tasks")
        os.makedirs(os.path.join(self.tasks_dir, "sql"))
        os.makedirs(os.path.join(self.tasks_dir, "cmd"))
        with open(os.path.join(self.tasks_dir, "sql", "001_upgraded_table.sql"), "w") as f:
            f.write(SQL_TASK)
        task = os.path.join(self.tasks_dir, "cmd", "task.sh")
        with open(task, "w") as f:
            f.write(COMMAND_TASK)
        os.chmod(task, 0o755)
        self.old_b = self.backend("old-1", "old")
        self.new_b = self.backend("new-1", "new")
        self.migrate()
        self.seed()
        self.new = self.start("new", "new")
        self.old = self.start("old", "old")

    # --- set-up helpers ------------------------------------------------------------------------

    def make_database(self):
        return Database("sy_up")

    def with_command(self):
        return False

    def drop_schemas(self):
        for s in getattr(self, "schemas", []):
            try:
                self.db.sql(f"DROP DATABASE IF EXISTS `{s}`", db="")
            except AssertionError:
                pass

    def migrate(self):
        cfg = os.path.join(self.workdir, "migrate.yaml")
        with open(cfg, "w") as f:
            f.write(yaml_for(self.db, "old", "old", "127.0.0.1:1", "127.0.0.1:2",
                             os.path.join(self.workdir, "m.sock"), self.tasks_dir, False))
        p = subprocess.run([BINARY, "db", "migrate", "--config", cfg], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout)

    def seed(self):
        sql = ["INSERT INTO sy_servers (id, name, pool, version, redirect_url) "
               "VALUES (1, 'app-old', 'old', '7.10', '')"]
        ctx = 1
        for s in self.schemas:
            self.db.sql(f"CREATE DATABASE IF NOT EXISTS `{s}`", db="")
            sql.append(f"INSERT INTO sy_schemas (name, state, server_id) VALUES ('{s}', 'enabled', 1)")
            values = []
            for _ in range(self.CONTEXTS_PER_SCHEMA):
                values.append(f"({ctx}, '{s}', 1, NULL)")
                ctx += 1
            sql.append("INSERT INTO sy_contexts (id, schema_name, enabled, server_id) VALUES " +
                       ", ".join(values))
        self.contexts = list(range(1, ctx))
        self.db.sql(";\n".join(sql))

    def start(self, role, serve, name=None):
        sock = os.path.join(self.workdir, f"{name or role}.sock")
        sy = self.switchyard(yaml_for(self.db, role, serve, self.old_b.address, self.new_b.address,
                                      sock, self.tasks_dir, self.with_command(),
                                      self.DATABASE_EXTRA),
                             name=name or f"sy-{role}")
        sy.socket = sock
        return sy

    def ctl(self, sy, *args, check=True, timeout=300):
        p = subprocess.run([CTL, "-s", sy.socket, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
        if check and p.returncode != 0:
            self.fail(f"switchyardctl {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
        return p

    def ctl_json(self, sy, *args):
        return json.loads(self.ctl(sy, "--json", *args).stdout)

    def wait_new_heartbeat(self, sy):
        """`cluster mixed` needs a live new-role instance; its first heartbeat may lag its start."""
        wait_for(lambda: any(i["role"] == "new"
                             for i in self.ctl_json(sy, "show", "instances")["instances"]),
                 timeout=30, what="the new-role instance's first heartbeat")

    def prepare_cluster(self, sy):
        """Registers the new server and walks the cluster to RUNNING_UPGRADE_TASKS."""
        new_url = f"http://{self.new.listeners['main']}"
        self.ctl(sy, "server", "register", "app-new", "--pool", "new", "--version", "8.0",
                 "--redirect-url", new_url)
        self.wait_new_heartbeat(sy)
        for step in (("prepare", "app-new"), ("mixed",), ("ready", "--keep-old-role"),
                     ("approve",)):
            self.ctl(sy, "cluster", *step)
        self.assertIn("RUNNING_UPGRADE_TASKS", self.ctl(sy, "cluster", "status").stdout)

    def upgrade(self, sy, *flags, check=True, timeout=300):
        return self.ctl(sy, "upgrade", "schemata", "--server", "app-new", "--continue", *flags,
                        check=check, timeout=timeout)

    def schema_rows(self):
        rows = self.db.sql("SELECT name, state, server_id FROM sy_schemas ORDER BY name")
        return {r[0]: (r[1], int(r[2])) for r in rows}

    def upgraded_rows(self, schema):
        return int(self.db.sql(f"SELECT COUNT(*) FROM `{schema}`.upgraded", db="")[0][0])

    def has_upgraded_table(self, schema):
        return bool(self.db.sql(
            "SELECT 1 FROM information_schema.tables WHERE table_schema='%s' "
            "AND table_name='upgraded'" % schema, db=""))

    # The command task's lists (with_command() True): schemas it fails for, sleeps for.
    def write_list(self, name, schemas):
        with open(os.path.join(self.tasks_dir, "cmd", name), "w") as f:
            f.write("".join(s + "\n" for s in schemas))

    def runs(self):
        path = os.path.join(self.tasks_dir, "cmd", "runs")
        if not os.path.exists(path):
            return {}
        out = {}
        with open(path) as f:
            for line in f.read().split():
                out[line] = out.get(line, 0) + 1
        return out

    def journal_counts(self, schema):
        rows = self.db.sql("SELECT step, COUNT(*) FROM sy_upgrade_journal WHERE schema_name="
                           f"'{schema}' AND phase='done' GROUP BY step")
        return {r[0]: int(r[1]) for r in rows}


class UpgradeUnderLoadTest(UpgradeTest):
    SCHEMAS = 20
    CONTEXTS_PER_SCHEMA = 100  # 2,000 contexts

    def test_upgrade_schemata_over_20_schemas_loses_no_request(self):
        self.prepare_cluster(self.old)
        load = TenantLoad(self.old.url("/"), self.contexts, threads=6).start()
        time.sleep(1.0)  # the load is flowing before the first schema is disabled
        started = time.monotonic()
        out = self.upgrade(self.old).stdout
        elapsed = time.monotonic() - started
        time.sleep(1.0)  # and keeps flowing after the last enable
        summary = load.stop()
        sys.stderr.write(f"\nupgrade of {self.SCHEMAS} schemas / {len(self.contexts)} contexts: "
                         f"{elapsed:.1f} s ({elapsed / self.SCHEMAS * 1000:.0f} ms per schema); "
                         f"client: {json.dumps(summary)}\n")
        self.assertEqual(summary["failed"], 0, summary)
        self.assertGreater(summary["ok"], 500, summary)
        self.assertGreater(summary["redirects_followed"], 0, summary)
        self.assertEqual(set(self.schema_rows().values()), {("enabled", 2)})
        for s in self.schemas:
            self.assertEqual(self.upgraded_rows(s), 1, s)
        self.assertIn("STABLE", self.ctl(self.old, "cluster", "status").stdout)
        # Every schema went through every step once.
        for s in self.schemas:
            counts = self.journal_counts(s)
            for step in ("disable", "drain", "move", "update", "enable", "verify"):
                self.assertEqual(counts.get(step), 1, (s, counts))
        self.assertIn(self.schemas[-1], out)
        # After the run every tenant is served by the new pool, through either instance.
        after = TenantLoad(self.old.url("/"), self.contexts[::97], threads=2).start()
        time.sleep(0.5)
        s2 = after.stop()
        self.assertEqual(s2["failed"], 0, s2)
        self.assertEqual(set(s2["answered_by"]), {"new"}, s2)


class UpgradeFlagsTest(UpgradeTest):
    SCHEMAS = 4

    def with_command(self):
        return True

    def test_failed_task_stops_the_run_and_leaves_the_schema_disabled_and_marked(self):
        a, b, c, d = self.schemas
        self.write_list("fail", [b])
        self.prepare_cluster(self.old)
        p = self.upgrade(self.old, check=False)
        self.assertEqual(p.returncode, 1, p.stdout)  # the server answered ERR
        self.assertIn("ERR upgrade-failed:", p.stderr)
        self.assertIn(b, p.stderr)
        rows = self.schema_rows()
        self.assertEqual(rows[a], ("enabled", 2))
        self.assertEqual(rows[b][0], "disabled")
        self.assertEqual(rows[c], ("enabled", 1))
        self.assertEqual(rows[d], ("enabled", 1))
        listing = self.ctl(self.old, "schema", "list").stdout
        line = [l for l in listing.splitlines() if b in l][0]
        self.assertIn("failed", line)
        self.assertIn("UPGRADE_TASKS_FAILED", self.ctl(self.old, "cluster", "status").stdout)
        # The task is fixed: the next run retries b and finishes; a is not touched again.
        self.write_list("fail", [])
        self.upgrade(self.old)
        self.assertEqual(set(self.schema_rows().values()), {("enabled", 2)})
        self.assertEqual(self.runs(), {a: 1, b: 2, c: 1, d: 1})
        self.assertEqual(self.journal_counts(a).get("update"), 1)
        self.assertIn("STABLE", self.ctl(self.old, "cluster", "status").stdout)

    def test_force_continues_past_a_failed_schema(self):
        a, b, c, d = self.schemas
        self.write_list("fail", [b])
        self.prepare_cluster(self.old)
        p = self.upgrade(self.old, "--force", check=False)
        self.assertNotEqual(p.returncode, 0, p.stdout)  # the run as a whole did not succeed
        rows = self.schema_rows()
        self.assertEqual(rows[b][0], "disabled")
        for s in (a, c, d):
            self.assertEqual(rows[s], ("enabled", 2), s)

    def test_skip_and_resume_from_combine(self):
        a, b, c, d = self.schemas
        self.prepare_cluster(self.old)
        p = self.upgrade(self.old, "--resume-from", b, "--skip", c, check=False)
        # Not every schema is on the target: a distinct status, exit 1, the two named.
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("ERR upgrade-done-with-skipped:", p.stderr)
        self.assertIn(f"{a} (skipped: enabled on server app-old)", p.stderr)
        self.assertIn(f"{c} (skipped: enabled on server app-old)", p.stderr)
        rows = self.schema_rows()
        self.assertEqual(rows[a], ("enabled", 1))  # before the resume point
        self.assertEqual(rows[b], ("enabled", 2))
        self.assertEqual(rows[c], ("enabled", 1))  # skipped
        self.assertEqual(rows[d], ("enabled", 2))
        self.assertEqual(self.runs(), {b: 1, d: 1})
        self.assertFalse(self.has_upgraded_table(a))
        self.assertFalse(self.has_upgraded_table(c))

    def test_kill_9_of_the_driver_mid_schema_and_a_rerun_resumes(self):
        a, b, c, d = self.schemas
        self.write_list("slow", [c])
        self.prepare_cluster(self.old)
        driver = subprocess.Popen([CTL, "-s", self.old.socket, "upgrade", "schemata", "--server",
                                   "app-new", "--continue"], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        # Wait until c's update task is running, then kill the driving switchyard outright.
        wait_for(lambda: self.runs().get(c) == 1, timeout=60, what="c's update task to start")
        self.old.proc.kill()
        self.old.proc.wait()
        driver.communicate(timeout=30)
        self.assertEqual(self.schema_rows()[c][0], "disabled")
        # The dead driver's lease (admin.driver_lease 2 s) runs out; until then it is refused.
        wait_for(lambda: self.db.sql("SELECT COUNT(*) FROM sy_upgrade_driver WHERE holder <> ''"
                                     " AND expires_at > NOW(6)") == [["0"]],
                 timeout=30, what="the killed driver's lease to expire")
        # A run counts the instances live at its start and fails closed when one goes missing:
        # rerun once the killed instance has dropped out of the live set (live_within 5 s).
        wait_for(lambda: all(i["role"] != "old"
                             for i in self.ctl_json(self.new, "show", "instances")["instances"]),
                 timeout=30, what="the killed instance to leave the live set")
        # A rerun from the other instance resumes the same run where the journal says.
        self.write_list("slow", [])
        p = self.upgrade(self.new)
        self.assertEqual(set(self.schema_rows().values()), {("enabled", 2)}, p.stdout)
        self.assertEqual(self.runs(), {a: 1, b: 1, c: 2, d: 1})
        for s in (a, b):
            self.assertEqual(self.journal_counts(s),
                             {k: 1 for k in ("disable", "drain", "move", "update", "enable",
                                             "verify")}, s)
        for s in self.schemas:
            self.assertEqual(self.upgraded_rows(s), 1, s)
        runs = self.db.sql("SELECT COUNT(*) FROM sy_upgrade_runs")
        self.assertEqual(runs, [["1"]])

    def test_a_second_concurrent_driver_is_refused_with_the_holder(self):
        a, b, c, d = self.schemas
        self.write_list("slow", [a, b])
        self.prepare_cluster(self.old)
        first = subprocess.Popen([CTL, "-s", self.old.socket, "upgrade", "schemata", "--server",
                                  "app-new", "--continue"], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        wait_for(lambda: self.runs().get(a) == 1, timeout=60, what="the first driver to run")
        p = self.upgrade(self.new, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("driver-busy", p.stdout + p.stderr)
        self.assertIn(f"up-old-{os.getpid()}", p.stdout + p.stderr)
        out, _ = first.communicate(timeout=120)
        self.assertEqual(first.returncode, 0, out)


class ClusterStateTest(UpgradeTest):
    SCHEMAS = 2

    def test_illegal_transitions_are_refused_with_the_reason(self):
        for args in (("approve",), ("mixed",), ("ready",)):
            p = self.ctl(self.old, "cluster", *args, check=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("illegal-transition", p.stdout + p.stderr)
            self.assertIn("STABLE", p.stdout + p.stderr)
        # Each refusal is counted, and `show stats` shows the count.
        self.assertEqual(self.ctl_json(self.old, "show", "stats")["illegal_transitions"], 3)
        p = self.upgrade(self.old, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("STABLE", p.stdout + p.stderr)
        # Cancel is allowed before any schema moved ...
        self.ctl(self.old, "server", "register", "app-new", "--pool", "new", "--version", "8.0",
                 "--redirect-url", f"http://{self.new.listeners['main']}")
        self.ctl(self.old, "cluster", "prepare", "app-new")
        self.ctl(self.old, "cluster", "cancel")
        self.assertIn("STABLE", self.ctl(self.old, "cluster", "status").stdout)
        # ... and refused after one has: the one-way door.
        self.wait_new_heartbeat(self.old)
        for step in (("prepare", "app-new"), ("mixed",)):
            self.ctl(self.old, "cluster", *step)
        self.ctl(self.old, "schema", "move", self.schemas[0], "--server", "2")
        p = self.ctl(self.old, "cluster", "cancel", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("illegal-transition", p.stdout + p.stderr)
        p = self.ctl(self.old, "schema", "move", self.schemas[0], "--server", "1", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("one-way-door", p.stdout + p.stderr)
        history = self.ctl(self.old, "cluster", "history").stdout
        self.assertIn("READY_TO_UPGRADE", history)
        self.assertIn("MIXED", history)


if __name__ == "__main__":
    unittest.main()
