"""A full `upgrade schemata` under client load on a real 3-node MariaDB Galera cluster (issue 12;
galera.py has the set-up): three Switchyard instances, one through each node (the old role
through nodes 1 and 3, the new role through node 2), the client load on both old-role ones.

Correct only: 0 failed requests (a held request that is answered is fine; a 503 or any other
failure is not), every schema moved and enabled on the new server, each journal step once per
schema, the update task once per schema. How long each schema took against a single server is
bench/galera_upgrade's question (it runs this same run on both, see bench/RESULTS.md); no
timing is asserted here.
"""
import json
import os
import statistics
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))

import test_upgrade  # noqa: E402  (a module import: its test classes are not collected here)
from galera import GaleraUpgradeTest  # noqa: E402
from harness import wait_for  # noqa: E402
from tenant_load import TenantLoad  # noqa: E402

STEPS = ("disable", "drain", "move", "update", "enable", "verify")


class UpgradeLoadRun:
    """The run, for any database (mixed into an UpgradeTest subclass): a third instance (old
    role, id up-old3-<pid>) besides test_upgrade's two, client load on both old-role ones, one
    `upgrade schemata`, the correctness checks. run_upgrade_under_load() returns the timing
    (bench/galera_upgrade reads it)."""
    SCHEMAS = 6
    CONTEXTS_PER_SCHEMA = 20
    THIRD_NODE = None  # GaleraUpgradeTest: the node the third instance's DSN names

    def setUp(self):
        super().setUp()
        self.old3 = self.start_third()

    def start_third(self):
        if self.THIRD_NODE:
            self.db.node = self.THIRD_NODE
        try:
            sock = os.path.join(self.workdir, "old3.sock")
            text = test_upgrade.yaml_for(self.db, "old", "old", self.old_b.address,
                                         self.new_b.address, sock, self.tasks_dir,
                                         self.with_command(), self.DATABASE_EXTRA)
            text = text.replace(f"instance_id: up-old-{os.getpid()}",
                                f"instance_id: up-old3-{os.getpid()}")
            sy = self.switchyard(text, name="sy-old3")
            sy.socket = sock
            return sy
        finally:
            self.db.node = 1

    def with_command(self):
        return True  # the command task: its run counts

    def new_server_id(self):
        return int(self.db.sql("SELECT id FROM sy_servers WHERE name = 'app-new'")[0][0])

    def flowing(self, loads, more):
        """Waits until |loads| answered |more| more requests (in total) than now."""
        base = sum(x.summary()["ok"] for x in loads)
        wait_for(lambda: sum(x.summary()["ok"] for x in loads) >= base + more, timeout=60,
                 what=f"{more} more answered requests")

    def per_schema_ms(self):
        """Each schema's time in the journal: its first step's start to its last step's end."""
        rows = self.db.sql("SELECT schema_name, TIMESTAMPDIFF(MICROSECOND, MIN(at), MAX(at)) "
                           "FROM sy_upgrade_journal GROUP BY schema_name")
        return {r[0]: int(r[1]) / 1000.0 for r in rows}

    def per_step_ms(self):
        """The median over schemas of each step's time (its begin row to its done row), and the
        slowest step of any schema as "schema step ms"."""
        rows = self.db.sql("SELECT b.step, TIMESTAMPDIFF(MICROSECOND, b.at, d.at), "
                           "b.schema_name FROM "
                           "sy_upgrade_journal b JOIN sy_upgrade_journal d ON d.run_id = b.run_id"
                           " AND d.schema_name = b.schema_name AND d.step = b.step AND "
                           "b.phase = 'begin' AND d.phase = 'done'")
        steps = {}
        for step, us, _ in rows:
            steps.setdefault(step, []).append(int(us) / 1000.0)
        step, us, schema = max(rows, key=lambda r: int(r[1]))
        return ({k: round(statistics.median(steps[k]), 1) for k in STEPS if k in steps},
                f"{schema} {step} {int(us) / 1000.0:.1f} ms")

    def run_upgrade_under_load(self):
        self.prepare_cluster(self.old)
        wait_for(lambda: len(self.ctl_json(self.old, "show", "instances")["instances"]) == 3,
                 timeout=30, what="three live instances")
        loads = [TenantLoad(sy.url("/"), self.contexts, threads=2).start()
                 for sy in (self.old, self.old3)]
        self.flowing(loads, 100)  # the load is flowing before the first schema is disabled
        started = time.monotonic()
        out = self.upgrade(self.old, timeout=240).stdout
        elapsed = time.monotonic() - started
        self.flowing(loads, 100)  # and keeps flowing after the last enable
        summaries = [x.stop() for x in loads]
        per_schema = self.per_schema_ms()
        medians, slowest = self.per_step_ms()
        timing = {"schemas": self.SCHEMAS, "contexts": len(self.contexts),
                  "elapsed_s": round(elapsed, 2),
                  "per_schema_ms": round(elapsed / self.SCHEMAS * 1000, 1),
                  "journal_median_ms": round(statistics.median(per_schema.values()), 1),
                  "journal_max_ms": round(max(per_schema.values()), 1),
                  "step_median_ms": medians, "slowest_step": slowest,
                  "client": summaries}
        sys.stderr.write(f"\nupgrade under load: {json.dumps(timing)}\n")

        for s in summaries:
            self.assertEqual(s["failed"], 0, s)
            self.assertGreater(s["ok"], 100, s)
        self.assertGreater(sum(s["redirects_followed"] for s in summaries), 0, summaries)
        new_id = self.new_server_id()
        self.assertEqual(set(self.schema_rows().values()), {("enabled", new_id)}, out)
        for s in self.schemas:
            self.assertEqual(self.journal_counts(s), {k: 1 for k in STEPS}, s)
            self.assertEqual(self.upgraded_rows(s), 1, s)
        self.assertEqual(self.runs(), {s: 1 for s in self.schemas})
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM sy_upgrade_runs"), [["1"]])
        self.assertIn("STABLE", self.ctl(self.old, "cluster", "status").stdout)
        # Afterwards every tenant is served by the new pool, through each old-role instance.
        for sy in (self.old, self.old3):
            after = TenantLoad(sy.url("/"), self.contexts, threads=2).start()
            wait_for(lambda: after.summary()["ok"] >= len(self.contexts), timeout=30,
                     what="every tenant asked once after the run")
            s2 = after.stop()
            self.assertEqual(s2["failed"], 0, s2)
            self.assertEqual(set(s2["answered_by"]), {"new"}, s2)
        return timing


class GaleraUpgradeLoadTest(UpgradeLoadRun, GaleraUpgradeTest):
    THIRD_NODE = 3

    def test_upgrade_schemata_under_load_through_three_nodes_fails_no_request(self):
        self.run_upgrade_under_load()


if __name__ == "__main__":
    unittest.main()
