"""SIGTERM of the switchyard that drives `upgrade schemata` (issue 17 item 9): the run stops at
the next step boundary, journals it, and the process exits; nothing of the run happens after
"switchyard stopped", and the next driver resumes the run. Same topology as test_upgrade.py."""
import os
import subprocess
import unittest

from harness import wait_for
import test_upgrade


class UpgradeStopTest(test_upgrade.UpgradeFlagsTest):
    def test_sigterm_stops_the_run_at_a_step_boundary_journals_it_and_a_rerun_resumes(self):
        a, b, c, d = self.schemas
        self.write_list("slow", [b])  # b's command task takes 3 s: SIGTERM arrives during it
        self.prepare_cluster(self.old)
        driver = subprocess.Popen([test_upgrade.CTL, "-s", self.old.socket, "upgrade",
                                   "schemata", "--server", "app-new", "--continue"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(lambda: driver.poll() is None and driver.kill())
        wait_for(lambda: self.runs().get(b) == 1, timeout=60, what="b's update task to start")
        self.old.proc.terminate()  # SIGTERM
        self.assertEqual(self.old.proc.wait(timeout=60), 0)
        out = driver.communicate(timeout=30)[0]
        self.assertNotEqual(driver.returncode, 0, out)  # ERR stopped, or the socket closed

        # b's update finished (a task is not cut) and b, moved and updated, was enabled so that
        # its tenants are served; the run stopped before verify and journaled it.
        rows = self.db.sql("SELECT step, phase FROM sy_upgrade_journal WHERE schema_name = "
                           f"'{b}' ORDER BY id")
        self.assertEqual(rows[-1], ["verify", "stopped"], rows)
        self.assertIn(["enable", "done"], rows)
        self.assertEqual(self.schema_rows()[b], ("enabled", 2))
        # Nothing after b: c and d were never touched, and the run is unfinished.
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM sy_upgrade_journal WHERE schema_name"
                                     f" IN ('{c}', '{d}')"), [["0"]])
        self.assertEqual(self.db.sql("SELECT status FROM sy_upgrade_runs"), [["running"]])
        self.assertEqual(self.runs(), {a: 1, b: 1})
        log = self.old.log()
        stopped_at = log.index("switchyard stopped")
        tail = log[stopped_at:]
        for late in ("update task", "upgrade run", "enable", "schema"):
            self.assertNotIn(late, tail, tail)

        # The next driver resumes the same run and finishes it; b's update task is not repeated.
        # (A run fails closed when an instance live at its start goes missing: start it once
        # the stopped instance has left the live set.)
        wait_for(lambda: all(i["role"] != "old"
                             for i in self.ctl_json(self.new, "show", "instances")["instances"]),
                 timeout=30, what="the stopped instance to leave the live set")
        self.write_list("slow", [])
        p = self.upgrade(self.new)
        self.assertEqual(set(self.schema_rows().values()), {("enabled", 2)}, p.stdout)
        self.assertEqual(self.runs(), {a: 1, b: 1, c: 1, d: 1})
        self.assertEqual(self.journal_counts(b),
                         {k: 1 for k in ("disable", "drain", "move", "update", "enable",
                                         "verify")})  # b resumed at verify, nothing redone
        self.assertEqual(self.db.sql("SELECT COUNT(*), MIN(status) FROM sy_upgrade_runs"),
                         [["1", "done"]])


def load_tests(loader, tests, pattern):
    """Only this file's test (the imported classes' tests run in test_upgrade.py)."""
    return unittest.TestSuite(UpgradeStopTest(name) for name in loader.getTestCaseNames(
        UpgradeStopTest) if name in vars(UpgradeStopTest))


if __name__ == "__main__":
    unittest.main()
