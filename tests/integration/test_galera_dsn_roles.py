"""DSN roles and health on a real 3-node MariaDB Galera cluster (galera.py has the cluster;
docs/decisions.md 62): after connecting, Switchyard reads read_only, wsrep_ready and
wsrep_local_state and passes over a server that does not fit the session's role; while
connected it re-reads them and leaves a node that turned read-only or desynced; `show database`
names the server of each session and why it left the others; a DSN change applies on `reload`.

Node 3 is the one made read-only or desynced here (the other Galera files use nodes 1 and 2;
ctest runs the files one at a time: RESOURCE_LOCK galera_nodes). The test user has ALL
PRIVILEGES (SUPER included), so read_only does not stop its writes: the check must.
"""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from galera import GaleraDatabase, require_galera  # noqa: E402
from harness import curl_status, wait_for  # noqa: E402
import test_admin  # noqa: E402  (its config and seed; its tests are not loaded here)


class GaleraDsnRolesTest(test_admin.AdminTest):
    """test_admin's set-up (backends, seed, an instance through node 1) on a database of the
    Galera cluster; each test starts the instance it needs."""

    def setUp(self):
        self.env = require_galera(self)
        super().setUp()
        self.sy.terminate()

    def make_database(self):
        return GaleraDatabase(self.env, prefix="sy_roles")

    # --- helpers -------------------------------------------------------------------------------

    def node_dsn(self, n):
        return self.db.dsn_yaml(self.db.ports[n - 1])

    def roles_yaml(self, writers=(1,), readers=()):
        dsn = "".join(self.node_dsn(n) for n in writers)
        if readers:
            dsn += "  reader_dsns:\n" + "".join(self.node_dsn(n) for n in readers)
        return self.yaml(dsn=dsn)

    def node_sql(self, n, statement):
        """|statement| on node |n| alone (SET GLOBAL is not replicated)."""
        p = subprocess.run(["mariadb", "--protocol=TCP", "-h", "127.0.0.1", "-P",
                            str(self.db.ports[n - 1]), "-u", self.db.user,
                            f"-p{self.db.password}", "--batch", "--skip-column-names", "-e",
                            statement], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.strip()

    def set_node3(self, setting, value, back):
        self.addCleanup(self.node_sql, 3, f"SET GLOBAL {setting} = {back}")
        self.node_sql(3, f"SET GLOBAL {setting} = {value}")

    def sessions(self):
        doc = self.js("show", "database")
        return doc, {s["session"]: s for s in doc["sessions"]}

    def port_of(self, session):
        return int(session["dsn"].split(":")[-1].split(")")[0]) if session["dsn"] != "-" else 0

    def on_node(self, who, n):
        """The session |who| is on node |n| (or None)."""
        _, s = self.sessions()
        return s.get(who) if who in s and self.port_of(s[who]) == self.db.ports[n - 1] else None

    def get(self, ctx=None, path="/"):
        return curl_status(self.sy.url(path), "-H", f"X-Context-Id: {ctx}")[0]

    # --- tests ---------------------------------------------------------------------------------

    def test_read_only_node_is_passed_over_by_writers_and_used_by_the_reader(self):
        self.set_node3("read_only", "ON", "OFF")
        # Writers: node 3 (read-only) first, node 1; readers: node 3 only.
        self.sy = self.switchyard(self.roles_yaml(writers=(3, 1), readers=(3,)), name="sy-ro")
        self.assertEqual(self.get(11), 200)
        doc, s = self.sessions()
        node3 = f":{self.db.ports[2]})"
        self.assertEqual(len(doc["readers"]), 1, doc)
        self.assertIn(node3, doc["readers"][0], doc)
        # The loader reads the directory from the replica-like node 3 ...
        self.assertEqual(self.port_of(s["loader"]), self.db.ports[2], s)
        self.assertEqual(s["loader"]["role"], "reader", s)
        # ... and writes its heartbeats through node 1, saying why not node 3.
        for who in ("loader state", "admin directory"):
            self.assertEqual(self.port_of(s[who]), self.db.ports[0], (who, s))
            self.assertEqual(s[who]["role"], "writer", s)
            self.assertIn("read_only is ON", s[who]["passed_over"], s)
            self.assertIn(node3, s[who]["passed_over"], s)
        # Admin writes land: a schema disabled through the admin socket holds its context.
        self.ok("schema", "disable", "s2")
        wait_for(lambda: self.db.sql("SELECT state FROM sy_schemas WHERE name = 's2'")[0][0]
                 == "disabled", timeout=10, what="s2 disabled")
        beat = self.db.sql("SELECT COUNT(*) FROM sy_instances")[0][0]
        self.assertEqual(beat, "1")

    def test_a_node_that_desyncs_or_turns_read_only_is_left_and_reload_moves_sessions(self):
        self.sy = self.switchyard(self.roles_yaml(writers=(3, 1)), name="sy-desync")
        wait_for(lambda: self.on_node("loader", 3), timeout=20, what="the loader on node 3")
        self.assertIsNotNone(self.on_node("admin directory", 3))
        # Desynced (wsrep_local_state 2, Donor/Desynced): no longer a node to read or write.
        self.set_node3("wsrep_desync", "ON", "OFF")
        self.assertEqual(self.node_sql(3, "SELECT VARIABLE_VALUE FROM information_schema."
                                          "GLOBAL_STATUS WHERE VARIABLE_NAME = "
                                          "'wsrep_local_state'"), "2")
        loader = wait_for(lambda: self.on_node("loader", 1), timeout=20,
                          what="the loader to leave the desynced node 3 for node 1")
        self.assertIn("wsrep_local_state is 2", loader["left"], loader)
        self.assertIn("wsrep_local_state is 2", loader["passed_over"], loader)
        admin = self.on_node("admin directory", 1)  # `show database` used it: checked, moved
        self.assertIsNotNone(admin)
        self.assertIn("wsrep_local_state is 2", admin["left"], admin)
        self.assertEqual(self.get(11), 200)
        # Synced again but read-only: the writers still pass it over.
        self.node_sql(3, "SET GLOBAL wsrep_desync = OFF")
        self.set_node3("read_only", "ON", "OFF")
        self.sy.terminate()
        self.sy = self.switchyard(self.roles_yaml(writers=(3, 1)), name="sy-ro-start")
        wait_for(lambda: self.on_node("loader", 1), timeout=20, what="loader on node 1")
        # A DSN change applies on reload, without a restart: node 2 only.
        with open(self.sy.config_path, "w") as f:
            f.write(self.roles_yaml(writers=(2,)))
        self.assertIn("reconnect", self.ok("reload"))
        loader = wait_for(lambda: self.on_node("loader", 2), timeout=20,
                          what="the loader on node 2 after reload")
        self.assertIn("reload", loader["left"], loader)
        self.assertIsNotNone(self.on_node("admin directory", 2))
        doc, _ = self.sessions()
        self.assertEqual(len(doc["writers"]), 1, doc)
        self.assertIn(f":{self.db.ports[1]})", doc["writers"][0], doc)
        self.assertEqual(self.get(21), 200)


def load_tests(loader, tests, pattern):
    """Only this file's tests (test_admin.py runs AdminTest's)."""
    return unittest.TestSuite(GaleraDsnRolesTest(name) for name in loader.getTestCaseNames(
        GaleraDsnRolesTest) if name in vars(GaleraDsnRolesTest))


if __name__ == "__main__":
    unittest.main()
