"""The upgrade driver on a real 3-node MariaDB Galera cluster (galera.py has the set-up).

GET_LOCK is granted by every Galera node on its own; the driver's lease row is not.
"""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from galera import CTL, GaleraUpgradeTest  # noqa: E402


class GaleraDriverTest(GaleraUpgradeTest):
    def test_the_cluster_is_galera_and_get_lock_excludes_nothing(self):
        # The premises: a change sequence with a stride, and GET_LOCK granted by each node on
        # its own while the other node's session holds it.
        self.assertEqual(self.db.sql("SELECT @@wsrep_on, @@auto_increment_increment"),
                         [["1", "3"]])
        holder = subprocess.Popen(self.db.client("") + ["--unbuffered"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: holder.poll() is None and holder.kill())
        holder.stdin.write("SELECT GET_LOCK('sy_galera_probe', 0);\n")
        holder.stdin.flush()
        self.assertEqual(holder.stdout.readline().strip(), "1")
        self.db.port = self.db.ports[1]
        try:
            self.assertEqual(self.db.sql("SELECT GET_LOCK('sy_galera_probe', 0)", db=""), [["1"]])
        finally:
            self.db.port = self.db.ports[0]
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()

    def test_two_drivers_through_two_nodes_exactly_one_runs(self):
        self.write_list("slow", [self.schemas[0]])
        self.prepare_cluster(self.old)
        args = ["upgrade", "schemata", "--server", "app-new", "--continue"]
        first = subprocess.Popen([CTL, "-s", self.old.socket, *args], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        second = subprocess.Popen([CTL, "-s", self.new.socket, *args], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        out1, _ = first.communicate(timeout=120)
        out2, _ = second.communicate(timeout=120)
        results = sorted([(first.returncode, out1, "old"), (second.returncode, out2, "new")])
        (ok_rc, ok_out, winner), (busy_rc, busy_out, loser) = results
        self.assertEqual(ok_rc, 0, ok_out)
        self.assertNotEqual(busy_rc, 0, busy_out)
        self.assertIn("driver-busy", busy_out)
        self.assertIn(f"up-{winner}-{os.getpid()}/admin", busy_out)
        # One run did everything once: each schema moved, each update task ran once.
        self.assertEqual(set(self.schema_rows().values()), {("enabled", self.new_server_id())})
        self.assertEqual(self.runs(), {s: 1 for s in self.schemas})
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM sy_upgrade_runs"), [["1"]])
        for s in self.schemas:
            self.assertEqual(self.upgraded_rows(s), 1, s)
        # Released at the end: `upgrade status` (through either node) shows no driver.
        self.assertEqual(self.ctl_json(self.new, "upgrade", "status")["driver"], "")

    def test_upgrade_status_names_the_driver_while_it_runs(self):
        driver = self.start_slow_run(self.old)
        # Read through the other node: the lease row is replicated, unlike a GET_LOCK.
        status = self.ctl_json(self.new, "upgrade", "status")
        self.assertEqual(status["driver"], f"up-old-{os.getpid()}/admin", status)
        out, _ = driver.communicate(timeout=120)
        self.assertEqual(driver.returncode, 0, out)


if __name__ == "__main__":
    unittest.main()
