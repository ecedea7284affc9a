"""Node failures on the 3-node Galera cluster (issue 12): the set-up the test_galera_kill_*.py and
test_galera_isolated_node.py files share (galera.py has the cluster, test_upgrade.py the
upgrade topology).

Three Switchyard instances, each with all three nodes in `database.dsns`, in its own order:
`old` (role old, serves the old pool) on node 1 first, `new` (role new) on node 2 first and
`old2` (a second old-role balancer) on node 3 first. Client load goes to the two old-role
instances and follows the 307 of a moved tenant to the new-role one.

A test kills (galera.sh kill-node) or isolates (gmcast.isolate=1) one node and puts it back
before it ends (restart-node / gmcast.isolate=0, then all three Synced in one primary component
of 3): the next Galera file finds the cluster whole. The test's own SQL goes to a node that
stays up (`self.db.port`).
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))

import test_upgrade  # noqa: E402
from galera import GALERA, GaleraDatabase, GaleraUpgradeTest  # noqa: E402
from harness import wait_for  # noqa: E402
from tenant_load import TenantLoad  # noqa: E402

STEPS = ("disable", "drain", "move", "update", "enable", "verify")


class OrderedGaleraDatabase(GaleraDatabase):
    """dsn_yaml() names all three nodes, |order| first (1-based node numbers)."""

    def __init__(self, env, prefix):
        super().__init__(env, prefix=prefix)
        self.order = (1, 2, 3)

    def dsn_yaml(self, port=None):
        if port:
            return super().dsn_yaml(port)
        return "".join(GaleraDatabase.dsn_yaml(self, self.ports[n - 1]) for n in self.order)


def galera(*args, timeout=180):
    """tests/scripts/galera.sh |args|; its stdout (fails with its output otherwise)."""
    p = subprocess.run(["bash", GALERA, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"galera.sh {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n"
                             f"{p.stderr}")
    return p.stdout


class GaleraFaultTest(GaleraUpgradeTest):
    SCHEMAS = 3
    CONTEXTS_PER_SCHEMA = 5
    # instance name -> its DSN order
    ORDERS = {"old": (1, 2, 3), "new": (2, 3, 1), "old2": (3, 1, 2)}
    PREFIX = "sy_fault"

    def setUp(self):
        super().setUp()
        self.old2 = self.start("old", "old", name="old2")
        self.loads = []

    def make_database(self):
        return OrderedGaleraDatabase(self.env, prefix=self.PREFIX)

    def start(self, role, serve, name=None):
        name = name or role
        sock = os.path.join(self.workdir, f"{name}.sock")
        self.db.order = self.ORDERS[name]
        try:
            text = test_upgrade.yaml_for(self.db, role, serve, self.old_b.address,
                                         self.new_b.address, sock, self.tasks_dir,
                                         self.with_command(), self.DATABASE_EXTRA)
        finally:
            self.db.order = (1, 2, 3)
        text = text.replace(f"instance_id: up-{role}-{os.getpid()}",
                            f"instance_id: up-{name}-{os.getpid()}")
        sy = self.switchyard(text, name=f"sy-{name}")
        sy.socket = sock
        sy.role = role
        return sy

    # --- the nodes -----------------------------------------------------------------------------

    def node_sql(self, n, statement, check=True):
        """|statement| on node |n| alone (SET GLOBAL and status are per node)."""
        p = subprocess.run(["mariadb", "--protocol=TCP", "-h", "127.0.0.1", "-P",
                            str(self.db.ports[n - 1]), "-u", self.db.user,
                            f"-p{self.db.password}", "--batch", "--skip-column-names",
                            "--connect-timeout=5", "-e", statement],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        if check:
            self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.strip() if p.returncode == 0 else None

    def wsrep(self, n, name):
        """wsrep status variable |name| of node |n| (None when it does not answer)."""
        return self.node_sql(n, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                                f"WHERE VARIABLE_NAME = '{name}'", check=False)

    def use_node(self, n):
        """The test's own SQL goes to node |n| from now on."""
        self.db.port = self.db.ports[n - 1]

    def kill_node(self, n):
        """kill -9 of node |n|; it is started again (and the cluster whole) at cleanup."""
        self.addCleanup(self.restart_node, n)
        galera("kill-node", str(n))

    def restart_node(self, n):
        galera("restart-node", str(n), timeout=300)
        galera("status")  # fails unless all three are Synced in a primary component of 3
        for m in (1, 2, 3):
            self.assertEqual(self.wsrep(m, "wsrep_cluster_size"), "3", m)

    # --- the instances -------------------------------------------------------------------------

    def sessions(self, sy):
        """`show database` of |sy|: session name -> session; None while the admin's own session
        has no writer."""
        p = self.ctl(sy, "--json", "show", "database", check=False, timeout=60)
        if p.returncode != 0:
            return None
        return {s["session"]: s for s in json.loads(p.stdout)["sessions"]}

    def node_of(self, session):
        """The node (1-3) |session| uses, 0 for none."""
        if not session or session.get("dsn", "-") == "-":
            return 0
        port = int(session["dsn"].split(":")[-1].split(")")[0])
        return self.db.ports.index(port) + 1 if port in self.db.ports else 0

    def off_node(self, sy, n, who=("loader", "admin directory")):
        """|sy|'s sessions |who| all use a node other than |n| (the sessions, else None)."""
        s = self.sessions(sy)
        if not s or any(w not in s or self.node_of(s[w]) in (0, n) for w in who):
            return None
        return s

    # --- clients -------------------------------------------------------------------------------

    def start_load(self, *instances, threads=2):
        for sy in instances:
            self.loads.append(TenantLoad(sy.url("/"), self.contexts, threads=threads).start())
        self.addCleanup(lambda: [load.stop() for load in self.loads])

    def check_loads(self, what):
        """Stops the load: no request failed, the one-way door held for every tenant; prints the
        numbers."""
        total = {"ok": 0, "failed": 0, "redirects_followed": 0, "max_request_ms": 0.0}
        for load in self.loads:
            s = load.stop()
            self.assertEqual(s["failed"], 0, s)
            self.assertGreater(s["ok"], 0, s)
            for k in ("ok", "failed", "redirects_followed"):
                total[k] += s[k]
            total["max_request_ms"] = max(total["max_request_ms"], s["max_request_ms"])
            # A tenant answered by the new pool was never answered by the old one again.
            self.assertEqual({c: v for c, v in load.versions_by_context.items()
                              if v not in (["old"], ["new"], ["old", "new"])}, {})
        sys.stderr.write(f"\n{what}: clients {json.dumps(total)}\n")
        self.loads = []
        return total

    def check_every_tenant_on_new(self, *instances):
        for sy in instances:
            after = TenantLoad(sy.url("/"), self.contexts, threads=2).start()
            wait_for(lambda: after.summary()["ok"] >= len(self.contexts), timeout=30,
                     what="every tenant asked once after the run")
            s = after.stop()
            self.assertEqual(s["failed"], 0, s)
            self.assertEqual(set(s["answered_by"]), {"new"}, s)

    def upgrade_through_new_and_check(self, what):
        """The whole run driven through `new` after a failure: done, no client failed, and old2
        (the instance that lost its node) sends every tenant to the new pool."""
        self.upgrade(self.new, timeout=120)
        self.check_run_done()
        self.check_loads(what)
        self.check_every_tenant_on_new(self.old2)

    def check_run_done(self):
        """Every schema on the new server, its update task's table once, each journal step
        once."""
        self.assertEqual(set(self.schema_rows().values()), {("enabled", self.new_server_id())})
        for s in self.schemas:
            self.assertEqual(self.upgraded_rows(s), 1, s)
            self.assertEqual(self.journal_counts(s), {k: 1 for k in STEPS}, s)
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM sy_upgrade_runs"), [["1"]])
