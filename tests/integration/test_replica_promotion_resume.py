"""Promoting a replica that lags in the middle of a run (test_replica_promotion.py has the pair
and the set-up; there the replica lags by the whole run): the promoted node has the run, the
first schema finished and the second one moved with its update task begun, but not what the
primary wrote after that (the second schema's enable, the third one's disable). Both instances
start over from the promoted node (its newest change seq is below theirs); the second schema
is held again there (disabled on the new server) until `--continue` resumes the same run from
the promoted node's journal: the update task again (it never finished there), enable, verify,
then the rest. Held requests are answered, none fails; a moved schema never answers from the
old pool once the promoted node has it moved.
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import wait_for  # noqa: E402
from test_replica_promotion import ReplicaPromotionTest  # noqa: E402

STEPS = ("disable", "drain", "move", "update", "enable", "verify")


class ReplicaPromotionResumeTest(ReplicaPromotionTest):
    SCHEMAS = 3

    def schema_rows_on(self, port):
        rows = self.db.on(port, "SELECT name, state, server_id FROM sy_schemas ORDER BY name")
        return {r[0]: (r[1], int(r[2])) for r in rows}

    def test_promote_a_replica_that_lags_mid_run_and_continue_the_run(self):
        a, b, c = self.schemas
        self.old.role, self.new.role = "old", "new"
        self.write_list("slow", [b, c])
        self.prepare_cluster(self.old)
        load, driver = self.start_run()
        # b's update task sleeps: a is done and b disabled, drained and moved. The replica gets
        # all of that (no change is written while the task runs), then stops applying.
        wait_for(lambda: self.runs().get(b) == 1, timeout=60, what="b's update task to start")
        wait_for(lambda: self.max_seq(self.db.replica_port) == self.max_seq(self.db.primary_port),
                 timeout=30, what="the replica to apply b's move")
        self.pair("pause")
        paused_seq = self.max_seq(self.db.replica_port)
        # The primary goes on: b enabled and verified, c disabled, drained and moved.
        wait_for(lambda: self.runs().get(c) == 1, timeout=60, what="c's update task to start")
        primary_seq = self.max_seq(self.db.primary_port)
        self.assertGreater(primary_seq, paused_seq)
        for sy in (self.old, self.new):
            wait_for(lambda: self.applied(sy) >= primary_seq, timeout=30,
                     what=f"the {sy.role} instance to apply c's move")

        self.fail_over(driver, expect_seq=paused_seq)
        self.assertEqual(self.schema_rows_on(self.db.replica_port),
                         {a: ("enabled", 2), b: ("disabled", 2), c: ("enabled", 1)})
        # c: the primary had moved it (the instances applied that), the promoted node has it
        # enabled on the old server: held, never routed back (decision 66).
        # Asked of the new-role instance (no other request is held there: the old-role one
        # holds b's and c's instead of redirecting them), a tenant of c is held, not sent away
        # to the old server.
        asking, answer = self.held_on_new(2, f"the request for {c} held on the new-role instance")

        # The same run goes on from the promoted node's journal: b's task again, then c.
        self.write_list("slow", [])
        p = self.upgrade(self.old)
        self.assertIn("resum", p.stdout.lower(), p.stdout)
        self.assertEqual(set(self.schema_rows().values()), {("enabled", 2)}, p.stdout)
        asking.join(60)
        self.assertEqual(answer.get("status"), 200, answer)  # c, served by the new pool
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM sy_upgrade_runs"), [["1"]])
        self.assertEqual(self.runs(), {a: 1, b: 2, c: 2})
        for s in self.schemas:
            self.assertEqual(self.upgraded_rows(s), 1, s)
            self.assertEqual(self.journal_counts(s), {k: 1 for k in STEPS}, s)
        self.check_clients(load)


def load_tests(loader, tests, pattern):
    """Only this file's tests."""
    return unittest.TestSuite(ReplicaPromotionResumeTest(name) for name in
                              loader.getTestCaseNames(ReplicaPromotionResumeTest)
                              if name in vars(ReplicaPromotionResumeTest))


if __name__ == "__main__":
    unittest.main()
