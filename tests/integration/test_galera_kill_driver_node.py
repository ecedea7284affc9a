"""kill -9 of the Galera node the upgrade driver writes to, mid-run (issue 12; galera_faults.py
has the three instances and the load).

`upgrade schemata` runs through the instance `old`, whose writers list node 1 first; the second
schema's update task is running when node 1 is killed. Nodes 2 and 3 go on as a primary
component of two. The run's session is gone with node 1: the driver goes on by itself through
the next DSN that fits (node 2), from its journal, as `--continue` would, and says so in its
progress ("failover"). Every journal step of every schema is recorded once, no client request
fails (held ones are answered), and no tenant is answered by the old pool after the new one
answered it.
"""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from galera import CTL  # noqa: E402
from galera_faults import GaleraFaultTest  # noqa: E402
from harness import wait_for  # noqa: E402


class GaleraKillDriverNodeTest(GaleraFaultTest):
    PREFIX = "sy_kdrv"

    def test_kill_9_of_the_drivers_node_mid_run(self):
        started = time.monotonic()
        a, b, c = self.schemas
        self.write_list("slow", [b])
        self.prepare_cluster(self.old)
        self.start_load(self.old, self.old2)
        driver = subprocess.Popen([CTL, "-s", self.old.socket, "upgrade", "schemata", "--server",
                                   "app-new", "--continue"], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        self.addCleanup(lambda: driver.poll() is None and driver.kill())
        wait_for(lambda: self.runs().get(b) == 1, timeout=60, what=f"{b}'s update task to start")
        self.assertEqual(self.node_of(self.sessions(self.old)["admin directory"]), 1)

        self.kill_node(1)
        self.use_node(2)
        out, _ = driver.communicate(timeout=120)
        sys.stderr.write(f"\nthe run across the kill exited {driver.returncode}:\n{out}\n")
        # The run lost its session with node 1 and went on through the next DSN by itself,
        # saying so in its progress; it ends done, resumed from its journal.
        self.assertEqual(driver.returncode, 0, out)
        self.assertIn(f"{b} failover begin", out)
        self.assertIn("database session lost, continuing through the next DSN", out)
        self.assertIn("resumed: yes", out)
        # Every session of the driving instance left node 1.
        s = wait_for(lambda: self.off_node(self.old, 1), timeout=30,
                     what="the old instance's sessions off the killed node 1")
        # `show database` says where each session is now and that it left node 1, and why.
        node1 = f":{self.db.ports[0]})"
        sys.stderr.write(f"\nold after the kill: {s['loader']}\n{s['admin directory']}\n")
        for who in ("loader", "admin directory", "upgrade directory"):
            self.assertNotEqual(s[who]["left"], "-", s[who])  # node 1, or 2 while it stalled
            self.assertIn(node1, s[who]["passed_over"], s[who])

        self.check_run_done()
        self.assertEqual(self.runs().get(a), 1)
        self.assertEqual(self.runs().get(c), 1)
        self.check_loads("kill -9 of the driver's node")
        self.check_every_tenant_on_new(self.old, self.old2)
        sys.stderr.write(f"\ntest body {time.monotonic() - started:.1f} s\n")


def load_tests(loader, tests, pattern):
    """Only this file's tests (test_upgrade.py runs UpgradeTest's)."""
    return unittest.TestSuite(GaleraKillDriverNodeTest(name) for name in loader.getTestCaseNames(
        GaleraKillDriverNodeTest) if name in vars(GaleraKillDriverNodeTest))


if __name__ == "__main__":
    unittest.main()
