"""A Galera node isolated from the primary component (issue 12; galera_faults.py has the three
instances and the load).

`SET GLOBAL wsrep_provider_options = 'gmcast.isolate=1'` on node 3 cuts its group
communication: the node keeps running and accepting connections but is non-primary
(`wsrep_ready` OFF, `wsrep_cluster_status` non-Primary, error 1047 on any table), while nodes 1
and 2 go on as a primary component of two. The instance `old2`, which reads from and writes to
node 3 first, must leave it for a synced node (`show database`: where it is now and why it left
node 3), keep serving with no failed client request, and follow changes made after the
isolation (a whole `upgrade schemata` through `new`). Then `gmcast.isolate=0`: node 3 rejoins
and the cluster has three nodes again.
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from galera_faults import GaleraFaultTest  # noqa: E402
from harness import wait_for  # noqa: E402


class GaleraIsolatedNodeTest(GaleraFaultTest):
    PREFIX = "sy_iso"

    def isolate(self, n, on):
        self.node_sql(n, f"SET GLOBAL wsrep_provider_options = 'gmcast.isolate={1 if on else 0}'")

    def test_a_node_isolated_from_the_primary_component_is_left(self):
        started = time.monotonic()
        before = self.sessions(self.old2)
        for who in ("loader", "admin directory"):
            self.assertEqual(self.node_of(before[who]), 3, before[who])
        self.prepare_cluster(self.new)
        self.start_load(self.old2, self.old)

        self.addCleanup(self.restart_node, 3)  # whatever happens, three nodes at the end
        self.addCleanup(self.isolate, 3, False)
        self.isolate(3, True)
        wait_for(lambda: self.wsrep(3, "wsrep_ready") == "OFF", timeout=30,
                 what="node 3 to turn non-primary")
        self.assertNotEqual(self.wsrep(3, "wsrep_cluster_status"), "Primary")
        wait_for(lambda: self.wsrep(1, "wsrep_cluster_size") == "2", timeout=30,
                 what="nodes 1 and 2 to go on as a primary component of two")

        s = wait_for(lambda: self.off_node(self.old2, 3), timeout=30,
                     what="old2's loader and admin sessions off the isolated node 3")
        sys.stderr.write(f"\nold2 after the isolation: loader {s['loader']}\n")
        node3 = f":{self.db.ports[2]})"
        for who in ("loader", "admin directory"):
            why = s[who]["left"] + " " + s[who]["passed_over"]
            self.assertIn(node3, why, s[who])
            self.assertTrue("wsrep_ready is OFF" in why or "1047" in why, s[who])

        # Changes after the isolation reach old2: the whole run, driven through `new`.
        self.upgrade_through_new_and_check("node 3 isolated")
        body = time.monotonic() - started

        # Back: node 3 rejoins (IST) and the cluster has three synced nodes again.
        self.isolate(3, False)
        wait_for(lambda: all(self.wsrep(n, "wsrep_cluster_size") == "3" for n in (1, 2, 3))
                 and self.wsrep(3, "wsrep_local_state_comment") == "Synced", timeout=60,
                 what="node 3 to rejoin: three synced nodes")
        sys.stderr.write(f"\ntest body {body:.1f} s, node 3 back in "
                         f"{time.monotonic() - started - body:.1f} s\n")


def load_tests(loader, tests, pattern):
    """Only this file's tests (test_upgrade.py runs UpgradeTest's)."""
    return unittest.TestSuite(GaleraIsolatedNodeTest(name) for name in loader.getTestCaseNames(
        GaleraIsolatedNodeTest) if name in vars(GaleraIsolatedNodeTest))


if __name__ == "__main__":
    unittest.main()
