"""kill -9 of the Galera node an instance reads from (issue 12; galera_faults.py has the three
instances and the load).

The instance `old2` lists node 3 first: its loader reads the directory there and its heartbeats
go there. Node 3 is killed under client load; the loader and the heartbeat move to another
node (`show database` names it and the dead node it passed over), the instance keeps serving
and stays live for the sequencer, and it keeps up with the directory: an `upgrade schemata`
run after the kill (through `new`, on node 2) moves every schema and `old2` redirects their
tenants to the new pool. No client request fails. Node 3 is started again at the end and
rejoins: three nodes.
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from galera_faults import GaleraFaultTest  # noqa: E402
from harness import wait_for  # noqa: E402


class GaleraKillReaderNodeTest(GaleraFaultTest):
    PREFIX = "sy_krd"

    def beats_now(self):
        """old2 wrote its heartbeat within the last second (read through node 1)."""
        return self.db.sql("SELECT COUNT(*) FROM sy_instances WHERE id = 'up-old2-%d' AND "
                           "heartbeat_at >= NOW(6) - INTERVAL 1 SECOND" % os.getpid()) == [["1"]]

    def test_kill_9_of_the_node_an_instance_reads_from(self):
        started = time.monotonic()
        before = self.sessions(self.old2)
        for who in ("loader", "admin directory"):
            self.assertEqual(self.node_of(before[who]), 3, before[who])
        self.prepare_cluster(self.new)
        self.start_load(self.old2, self.old)

        self.kill_node(3)
        self.use_node(1)
        s = wait_for(lambda: self.off_node(self.old2, 3), timeout=30,
                     what="old2's loader and admin sessions off the killed node 3")
        node3 = f":{self.db.ports[2]})"
        for who in ("loader", "admin directory"):
            self.assertIn(node3, s[who]["left"], s[who])
            self.assertIn(node3, s[who]["passed_over"], s[who])
        sys.stderr.write(f"\nold2 after the kill: {s['loader']}\n{s['admin directory']}\n")
        # Its heartbeat goes on through the new node: the sequencer sees it live.
        wait_for(self.beats_now, timeout=30,
                 what="old2's heartbeat through another node")

        # Changes after the kill reach it: the whole run, driven through `new` (node 2).
        self.upgrade_through_new_and_check("kill -9 of old2's node")
        body = time.monotonic() - started
        self.restart_node(3)
        sys.stderr.write(f"\ntest body {body:.1f} s, node 3 back in "
                         f"{time.monotonic() - started - body:.1f} s\n")


def load_tests(loader, tests, pattern):
    """Only this file's tests (test_upgrade.py runs UpgradeTest's)."""
    return unittest.TestSuite(GaleraKillReaderNodeTest(name) for name in loader.getTestCaseNames(
        GaleraKillReaderNodeTest) if name in vars(GaleraKillReaderNodeTest))


if __name__ == "__main__":
    unittest.main()
