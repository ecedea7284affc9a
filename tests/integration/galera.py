"""The Galera cluster for the test_galera*.py files: its ports, a database on it, and
test_upgrade.py's set-up with the old-role instance on node 1 and the new-role one on node 2.

The cluster (tests/scripts/galera.sh: three mariadbd on loopback, wsrep, rsync state transfer)
is started by the ctest fixture integration/galera_start before these files run and stopped by
integration/galera_stop after them (tests/integration/CMakeLists.txt). Without the packages
(mariadb-server, galera-4, rsync) every test is skipped with the reason; with them, a cluster
that is not running is a failure.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import test_upgrade  # noqa: E402  (a module import: its test classes are not collected here)
from harness import SOURCE_DIR, Database, wait_for  # noqa: E402

GALERA = os.path.join(SOURCE_DIR, "tests", "scripts", "galera.sh")
CTL = test_upgrade.CTL


def galera_env():
    """The cluster's client ports, or a reason why there is no cluster to test on."""
    check = subprocess.run(["bash", GALERA, "check"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    if check.returncode != 0:
        return None, "skipped: " + check.stdout.strip()
    status = subprocess.run(["bash", GALERA, "status"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if status.returncode != 0:
        raise AssertionError("the Galera cluster is not running (the ctest fixture galera/start "
                             "starts it; by hand: bash tests/scripts/galera.sh start): " +
                             status.stdout)
    env = subprocess.run(["bash", GALERA, "env"], stdout=subprocess.PIPE, text=True, check=True)
    values = dict(line.split("=", 1) for line in env.stdout.split())
    return values, ""


def require_galera(test):
    """The cluster's env for |test|, or skips it with the reason (no packages)."""
    env, why = galera_env()
    if env is None:
        sys.stderr.write(f"\n{why}\n")
        test.skipTest(why)
    return env


class GaleraDatabase(Database):
    """A fresh database on the cluster; |node| (1-3) picks the node dsn_yaml() names."""

    def __init__(self, env, prefix="sy_gal"):
        self.ports = [int(p) for p in env["SY_TEST_GALERA_PORTS"].split(",")]
        self.host = "127.0.0.1"
        self.port = self.ports[0]
        self.user = env["SY_TEST_GALERA_USER"]
        self.password = env["SY_TEST_GALERA_PASSWORD"]
        self.node = 1
        Database._counter += 1
        self.name = f"{prefix}_{os.getpid()}_{Database._counter}"
        self.sql(f"DROP DATABASE IF EXISTS {self.name}; CREATE DATABASE {self.name}", db="")

    def dsn_yaml(self, port=None):
        return super().dsn_yaml(port or self.ports[self.node - 1])

    def dsns_from(self, first):
        """The `dsns:` entries of all three nodes, node |first| (1-3) first, then the others in
        order: an instance that fails over moves on to the next node."""
        order = [(first - 1 + i) % len(self.ports) for i in range(len(self.ports))]
        return "".join(Database.dsn_yaml(self, self.ports[i]) for i in order)


class NodeDsns:
    """What the YAML builders that call db.dsn_yaml() need, for an instance whose DSN list starts
    at node |first| of |db| (a GaleraDatabase)."""

    def __init__(self, db, first):
        self.db, self.first = db, first

    def dsn_yaml(self, port=None):
        return self.db.dsn_yaml(port) if port else self.db.dsns_from(self.first)


class GaleraUpgradeTest(test_upgrade.UpgradeTest):
    """Base class (no tests of its own): old role through node 1, new role through node 2."""
    SCHEMAS = 3
    CONTEXTS_PER_SCHEMA = 5

    def setUp(self):
        self.env = require_galera(self)
        super().setUp()

    def make_database(self):
        return GaleraDatabase(self.env)

    def start(self, role, serve, name=None):
        # old through node 1, new through node 2: two drivers on two nodes.
        self.db.node = 1 if role == "old" else 2
        try:
            return super().start(role, serve, name)
        finally:
            self.db.node = 1

    def with_command(self):
        return True  # the command task: its slow list and run counts

    def start_slow_run(self, sy):
        """Prepares the cluster through |sy|, starts `upgrade schemata` there with the first
        schema's command task slow (3 s) and returns the driver process once that task runs."""
        self.write_list("slow", [self.schemas[0]])
        self.prepare_cluster(sy)
        driver = subprocess.Popen([CTL, "-s", sy.socket, "upgrade", "schemata", "--server",
                                   "app-new", "--continue"], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        self.addCleanup(lambda: driver.poll() is None and driver.kill())
        wait_for(lambda: self.runs().get(self.schemas[0]) == 1, timeout=60,
                 what="the driver to run the first update task")
        return driver

    def new_server_id(self):
        # From the sy_server_ids sequence: on Galera not 2 (auto_increment_increment is 3).
        return int(self.db.sql("SELECT id FROM sy_servers WHERE name = 'app-new'")[0][0])
