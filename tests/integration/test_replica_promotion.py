"""Promoting a lagging replica mid-run (issue 12 item 6; docs/decisions.md 50 and 62), with a real
MariaDB primary/replica pair (tests/scripts/replica.sh: binary-log replication with GTID, both
on loopback, the replica read_only) and test_upgrade.py's topology: an old-role and a new-role
Switchyard whose `database.dsns` name the primary, then the replica, under a continuous load.

The replica's SQL thread is stopped before `upgrade schemata` starts, so it lags by the whole
run so far. Mid-run (the second schema's update task is running) the primary is killed (-9) and
the replica promoted without applying its relay log (STOP SLAVE; RESET SLAVE ALL; read_only
OFF): what the primary had written since the pause is gone, the change log's newest seq on the
promoted node is below the position every instance applied, and the server identity changed.
Switchyard must not write to the replica while it is read-only (the test user has ALL
PRIVILEGES, so only Switchyard's own read_only check stops it), must move its sessions to the
promoted node once it is writable, start over with a full load there, apply the changes that
reuse sequence numbers it had applied from the primary (a schema disabled after the promotion
is held), and a `--continue` run on the promoted node must finish. Requests held while the
database was gone are answered; none fails.

Each test starts a pair of its own (a promotion ends it) and stops it at the end.
"""
import json
import os
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))

import test_upgrade  # noqa: E402  (a module import: its test classes are not collected here)
from harness import SOURCE_DIR, Database, curl_status, wait_for  # noqa: E402
from tenant_load import TenantLoad  # noqa: E402

REPLICA = os.path.join(SOURCE_DIR, "tests", "scripts", "replica.sh")
CTL = test_upgrade.CTL


def pair(*args, name="pair"):
    """tests/scripts/replica.sh |args| on the pair |name| (a directory of its own under var/,
    per build tree: test files and the ASan tree's run side by side); its stdout."""
    build = os.path.basename(os.environ.get("SY_BUILD_DIR", "build"))
    env = dict(os.environ, SY_REPLICA_DIR=os.path.join(SOURCE_DIR, "var", "replica",
                                                       f"{build}-{name}"))
    p = subprocess.run(["bash", REPLICA, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=180, env=env)
    if p.returncode != 0:
        raise AssertionError(f"replica.sh {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n"
                             f"{p.stderr}")
    return p.stdout


class ReplicatedDatabase(Database):
    """A fresh database on the pair's primary; dsn_yaml() names the primary, then the replica.
    After promote(), sql() runs on the promoted replica."""

    def __init__(self, env, prefix="sy_promo"):
        self.host = "127.0.0.1"
        self.primary_port = int(env["SY_TEST_REPLICA_PRIMARY_PORT"])
        self.replica_port = int(env["SY_TEST_REPLICA_REPLICA_PORT"])
        self.port = self.primary_port
        self.user = env["SY_TEST_REPLICA_USER"]
        self.password = env["SY_TEST_REPLICA_PASSWORD"]
        Database._counter += 1
        self.name = f"{prefix}_{os.getpid()}_{Database._counter}"
        self.sql(f"DROP DATABASE IF EXISTS {self.name}; CREATE DATABASE {self.name}", db="")

    def dsn_yaml(self, port=None):
        if port:
            return super().dsn_yaml(port)
        return super().dsn_yaml(self.primary_port) + super().dsn_yaml(self.replica_port)

    def on(self, port, statements, db=None):
        """|statements| on the server at |port| (the primary or the replica)."""
        saved, self.port = self.port, port
        try:
            return self.sql(statements, db)
        finally:
            self.port = saved


class ReplicaPromotionTest(test_upgrade.UpgradeTest):
    SCHEMAS = 4
    CONTEXTS_PER_SCHEMA = 5

    def setUp(self):
        self.pair("start")
        self.addCleanup(self.pair, "stop")
        self.env = dict(line.split("=", 1) for line in self.pair("env").split())
        super().setUp()

    def pair(self, *args):
        return pair(*args, name=type(self).__name__)

    def make_database(self):
        return ReplicatedDatabase(self.env)

    def with_command(self):
        return True  # the command task: its slow list and run counts

    # --- helpers -------------------------------------------------------------------------------

    def max_seq(self, port):
        return int(self.db.on(port, "SELECT COALESCE(MAX(seq), 0) FROM sy_changes")[0][0])

    def replica_caught_up(self):
        want = self.db.on(self.db.primary_port, "SELECT @@gtid_binlog_pos", db="")
        return self.db.on(self.db.replica_port, "SELECT @@gtid_slave_pos", db="") == want

    def sessions(self, sy):
        """`show database` of |sy|: session name -> session (None while the admin's own session
        cannot reach a writer)."""
        p = self.ctl(sy, "--json", "show", "database", check=False, timeout=60)
        if p.returncode != 0:
            return None
        return {s["session"]: s for s in json.loads(p.stdout)["sessions"]}

    def port_of(self, session):
        return int(session["dsn"].split(":")[-1].split(")")[0]) if session["dsn"] != "-" else 0

    def passed_over_the_read_only_replica(self, sy):
        # No DSN fits: the session's error lists each one and why (the primary refuses).
        loader = (self.sessions(sy) or {}).get("loader", {})
        self.last_seen = loader
        why = loader.get("error", "")
        return (f":{self.db.replica_port})/{self.db.name}: read_only is ON" in why
                and loader.get("dsn") == "-")

    def all_on_the_promoted_node(self, sy):
        s = self.sessions(sy)
        if not s:
            return False
        # The sessions every instance uses all the time; others (the event hook's) move when
        # they are next used.
        used = {who: self.port_of(x) for who, x in s.items()
                if who in ("loader", "loader state", "admin directory")}
        return "loader" in used and set(used.values()) == {self.db.replica_port}

    def applied(self, sy):
        """The applied change seq |sy| reports in `show instances` for itself."""
        p = self.ctl(sy, "--json", "show", "instances", check=False, timeout=60)
        if p.returncode != 0:
            return -1  # the admin's session has no writer yet
        doc = json.loads(p.stdout)
        mine = [i for i in doc["instances"] if i["id"] == f"up-{sy.role}-{os.getpid()}"]
        return int(mine[0]["applied_seq"]) if mine else -1

    def held_now(self, sy):
        return self.ctl_json(sy, "show", "stats")["held_now"]

    def start_run(self):
        """The client load on the old-role instance and `upgrade schemata` through it."""
        load = TenantLoad(self.old.url("/"), self.contexts, threads=3).start()
        driver = subprocess.Popen([CTL, "-s", self.old.socket, "upgrade", "schemata", "--server",
                                   "app-new", "--continue"], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        self.addCleanup(driver.kill)
        return load, driver

    def held_on_new(self, schema_index, what):
        """Asks the new-role instance (no other request is held there) for a tenant of schema
        |schema_index| (0-based) in a thread and waits until it is held; returns the thread and
        the dict its answer's status lands in."""
        self.assertEqual(self.held_now(self.new), 0)
        ctx = self.contexts[schema_index * self.CONTEXTS_PER_SCHEMA]
        answer = {}
        asking = threading.Thread(target=lambda: answer.update(status=curl_status(
            self.new.url("/"), "-H", f"X-Context-Id: {ctx}")[0]))
        asking.start()
        wait_for(lambda: self.held_now(self.new) >= 1, timeout=30, what=what)
        self.assertNotIn("status", answer)
        return asking, answer

    def fail_over(self, driver, expect_seq):
        """Kills the primary mid-run and promotes the replica, whose newest change is
        |expect_seq| (below what the instances applied); checks that nothing was written to the
        replica while it was read-only and that both instances move there and start over."""
        self.pair("kill-primary")
        out, _ = driver.communicate(timeout=120)
        self.assertNotEqual(driver.returncode, 0, out)  # the run's session died with the primary
        # With the primary gone the replica is the only DSN left and it is read-only: the
        # writers pass it over (the grant would let them write) and say why.
        for sy in (self.old, self.new):
            try:
                wait_for(lambda: self.passed_over_the_read_only_replica(sy), timeout=60,
                         what=f"the {sy.role} instance to pass over the read-only replica")
            except AssertionError as e:
                raise AssertionError(f"{e}; its loader session: {self.last_seen}") from None
        promoted = self.pair("promote")
        # Nothing of Switchyard's reached the replica while it was read-only: its binary log
        # has no transaction of its own server id (2), only the primary's (1).
        self.assertIn("own-writes-before: \n", promoted)
        self.db.port = self.db.replica_port
        self.assertEqual(self.max_seq(self.db.replica_port), expect_seq)
        # Both move every session to the promoted node and start over there: the position they
        # report is the promoted node's, not the lost primary's.
        for sy in (self.old, self.new):
            wait_for(lambda: self.all_on_the_promoted_node(sy), timeout=60,
                     what=f"the {sy.role} instance's sessions on the promoted node")
            wait_for(lambda: self.applied(sy) == expect_seq, timeout=30,
                     what=f"the {sy.role} instance to report the promoted node's position")

    def check_clients(self, load):
        """After the run: |load| (across the promotion) had no failure and the one-way door held
        as the clients saw it; every tenant is now served by the new pool."""
        summary = load.stop()
        sys.stderr.write(f"\nclient across the promotion: {json.dumps(summary)}\n")
        self.assertEqual(summary["failed"], 0, summary)
        self.assertGreater(summary["ok"], 0, summary)
        # No tenant answered by the new pool was ever answered by the old one again.
        self.assertEqual({c: v for c, v in load.versions_by_context.items()
                          if v not in (["old"], ["new"], ["old", "new"])}, {})
        after = TenantLoad(self.old.url("/"), self.contexts, threads=2).start()
        wait_for(lambda: after.summary()["ok"] >= 2 * len(self.contexts), timeout=30,
                 what="every tenant asked twice after the run")
        s2 = after.stop()
        self.assertEqual(s2["failed"], 0, s2)
        self.assertEqual(set(s2["answered_by"]), {"new"}, s2)

    # --- the test ------------------------------------------------------------------------------

    def test_promote_a_lagging_replica_mid_run(self):
        a, b, c, d = self.schemas
        self.old.role, self.new.role = "old", "new"
        self.write_list("slow", [b])
        self.prepare_cluster(self.old)
        # The replica has the cluster state and the new server, then stops applying: it lags by
        # everything the run writes from here on.
        wait_for(self.replica_caught_up, timeout=30, what="the replica to catch up")
        self.pair("pause")
        paused_seq = self.max_seq(self.db.replica_port)

        load, driver = self.start_run()
        # a is done (moved to the new pool) and b disabled, drained and moved, on the primary
        # only; every instance applied those changes (the drain waited for it).
        wait_for(lambda: self.runs().get(b) == 1, timeout=60, what="b's update task to start")
        primary_seq = self.max_seq(self.db.primary_port)
        self.assertGreater(primary_seq, paused_seq)
        self.assertEqual(self.max_seq(self.db.replica_port), paused_seq)  # it lags
        for sy in (self.old, self.new):
            self.assertGreater(self.applied(sy), paused_seq, sy.role)

        self.fail_over(driver, expect_seq=paused_seq)

        # What the primary wrote after the pause is gone: a (moved and enabled) and b (moved)
        # read as on the old server again. Both instances had applied the moves: they hold
        # the two schemas instead of routing them back to the old pool (decision 66).
        self.assertEqual(self.schema_rows()[a], ("enabled", 1))
        self.assertEqual(self.schema_rows()[b], ("enabled", 1))
        wait_for(lambda: self.held_now(self.old) >= 1, timeout=30,
                 what=f"requests for {a} and {b} held, not sent to the old pool")

        # A change after the promotion reuses a sequence number the instances had applied from
        # the primary; it must still be applied: a request for d is held while d is disabled.
        # Asked of the new-role instance, which has no other request held (the load goes to
        # the old-role one, which holds a's and b's instead of redirecting them).
        self.ctl(self.new, "schema", "disable", d)
        reused = self.max_seq(self.db.replica_port)
        self.assertLessEqual(reused, primary_seq)
        wait_for(lambda: self.applied(self.new) >= reused, timeout=30,
                 what="the new-role instance to apply d's disable")
        asking, answer = self.held_on_new(3, f"the request for {d} held after its disable")
        self.ctl(self.new, "schema", "enable", d)
        asking.join(60)
        # Answered once enabled (the new-role instance sends an old-pool tenant away: 409).
        self.assertIn(answer.get("status"), (200, 307, 409), answer)

        # The run goes on from the promoted node's journal (which never saw this run) and ends.
        self.write_list("slow", [])
        p = self.upgrade(self.old)
        self.assertEqual(set(self.schema_rows().values()), {("enabled", 2)}, p.stdout)
        for s in self.schemas:
            self.assertEqual(self.upgraded_rows(s), 1, s)
        self.check_clients(load)
        # The journal on the promoted node: every schema went through every step once.
        for s in self.schemas:
            self.assertEqual(self.journal_counts(s),
                             {k: 1 for k in ("disable", "drain", "move", "update", "enable",
                                             "verify")}, s)


def load_tests(loader, tests, pattern):
    """Only this file's tests (test_upgrade.py runs UpgradeTest's)."""
    return unittest.TestSuite(ReplicaPromotionTest(name) for name in loader.getTestCaseNames(
        ReplicaPromotionTest) if name in vars(ReplicaPromotionTest))


if __name__ == "__main__":
    unittest.main()
