"""`upgrade pause|resume` through three instances at once while a run goes on, on a real 3-node
MariaDB Galera cluster (issue 12 item 3; galera.py has the cluster, test_galera_upgrade_load.py
the three instances): the operators' writes of the run's control and the driver's writes of its
state are the same sy_upgrade_runs row, written through three nodes. Every command answers OK
(or `not-found` once the run has ended), never `ERR database ... 1213`; after the last resume
the run finishes with each step once per schema and no client request failed.
"""
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))

from galera import GaleraUpgradeTest  # noqa: E402
from tenant_load import TenantLoad  # noqa: E402
from test_galera_admin_writes import AdminSocket  # noqa: E402
from test_galera_upgrade_load import STEPS, UpgradeLoadRun  # noqa: E402

ROUNDS = 15  # pause + resume per instance


class GaleraUpgradeControlTest(UpgradeLoadRun, GaleraUpgradeTest):
    THIRD_NODE = 3
    SCHEMAS = 4
    CONTEXTS_PER_SCHEMA = 5

    def toggler(self, sy, results):
        conn = AdminSocket(sy.socket)
        try:
            for r in range(ROUNDS):
                for word in ("pause", "resume"):
                    ok, code, doc = conn.command(f"upgrade {word}")
                    results.append((sy.socket, word, ok, code, doc.get("message", "")))
        finally:
            conn.close()

    def test_pause_and_resume_through_three_nodes_while_the_run_goes_on(self):
        load = TenantLoad(self.old.url("/"), self.contexts, threads=2).start()
        driver = self.start_slow_run(self.old)  # the run is on while the togglers start
        results = []
        threads = [threading.Thread(target=self.toggler, args=(sy, results))
                   for sy in (self.old, self.new, self.old3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertFalse(any(t.is_alive() for t in threads))
        # The last word may have been a pause of another instance: resume once more.
        final = AdminSocket(self.new.socket)
        self.addCleanup(final.close)
        ok, code, doc = final.command("upgrade resume")
        self.assertTrue(ok or code == "not-found", doc)
        out, _ = driver.communicate(timeout=120)
        self.assertEqual(driver.returncode, 0, out)

        self.assertEqual(len(results), 3 * ROUNDS * 2)
        unexpected = [r for r in results if not r[2] and r[3] != "not-found"]
        self.assertEqual(unexpected, [], f"{len(unexpected)} of {len(results)} failed")
        self.assertGreater(sum(1 for r in results if r[2]), 0)
        summary = load.stop()
        self.assertEqual(summary["failed"], 0, summary)
        self.assertEqual(set(self.schema_rows().values()), {("enabled", self.new_server_id())})
        for s in self.schemas:
            self.assertEqual(self.journal_counts(s), {k: 1 for k in STEPS}, s)
        self.assertEqual(self.runs(), {s: 1 for s in self.schemas})
        sys.stderr.write(f"\n{len(results)} pause/resume commands through three nodes: "
                         f"{sum(1 for r in results if r[2])} OK\n")


if __name__ == "__main__":
    unittest.main()
