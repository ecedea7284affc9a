"""`upgrade schemata` flags on profile ox, in OX's schema order.

Schemas oxdatabase_3 < _5 < _10 < _44 < _81 < _100 (numbers as numbers: as text _100 and _44
would sort before _5). --resume-from S runs S and what follows; --continue-after S (OX's -m)
runs what follows S only. A failing update task (`runupdate -n oxdatabase_44` exits 1) stops the
run there without --force and is passed by with it; a hanging one is killed at its timeout. The
task's output is kept.
"""
import unittest

from harness import wait_for
from oxsetup import SCHEMAS, OxTestCase


class OxFlagsTest(OxTestCase):
    CONTEXTS = 30

    def on_new(self):
        """Schemas whose contexts all live on the new server now."""
        return {s for s, server in self.servers_of_schemas().items() if server == self.new_id}

    def disabled(self):
        rows = self.configdb.sql(
            "SELECT DISTINCT p.db_schema FROM context c JOIN context_server2db_pool p ON "
            "p.cid = c.cid WHERE c.enabled = 0 AND c.reason_id = 1431655765")
        return {r[0] for r in rows}

    def test_continue_after_and_resume_from_in_numeric_order(self):
        self.prepare_cluster()
        # OX's -m: continue after the named schema (it and those before it do not run).
        p = self.upgrade("-m", "oxdatabase_10", check=False)
        out = p.stdout + p.stderr
        # Schemas are left on the old server: not "done" (exit 1, the distinct status).
        self.assertEqual(p.returncode, 1, out)
        self.assertIn("ERR upgrade-done-with-skipped:", p.stderr)
        self.assertEqual(self.task_runs(), {"oxdatabase_44": 1, "oxdatabase_81": 1,
                                            "oxdatabase_100": 1}, out)
        self.assertEqual(self.on_new(), {"oxdatabase_44", "oxdatabase_81", "oxdatabase_100"})
        # --resume-from: the named schema runs, then every later one that is not done yet.
        # oxdatabase_3 stays before the resume point: done-with-skipped again.
        self.assertIn("ERR upgrade-done-with-skipped:",
                      self.upgrade("--resume-from", "oxdatabase_5", check=False).stderr)
        runs = self.task_runs()
        self.assertEqual(runs, {"oxdatabase_5": 1, "oxdatabase_10": 1, "oxdatabase_44": 1,
                                "oxdatabase_81": 1, "oxdatabase_100": 1})
        self.assertEqual(self.on_new(), set(SCHEMAS) - {"oxdatabase_3"})
        # A name that is no schema is refused, not compared as text.
        p = self.upgrade("--resume-from", "oxdatabase_7", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no schema 'oxdatabase_7'", p.stderr)
        self.upgrade()
        self.assertEqual(self.on_new(), set(SCHEMAS))
        self.assertIn("STABLE", self.ctl(self.old, "cluster", "status").stdout)

    def test_failed_update_task_on_44_without_then_with_force(self):
        self.task_file("fail", ["oxdatabase_44"])
        self.prepare_cluster()
        p = self.upgrade(check=False)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("ERR upgrade-failed:", p.stderr)
        self.assertIn("oxdatabase_44", p.stderr)
        # Stopped at _44: the ones before it are done, _44 stays disabled (held, by OX's reason)
        # on the new server, the later ones were not touched.
        self.assertEqual(self.on_new(), {"oxdatabase_3", "oxdatabase_5", "oxdatabase_10",
                                         "oxdatabase_44"})
        self.assertEqual(self.disabled(), {"oxdatabase_44"})
        self.assertEqual(set(self.task_runs()), {"oxdatabase_3", "oxdatabase_5",
                                                 "oxdatabase_10", "oxdatabase_44"})
        self.assertIn("UPGRADE_TASKS_FAILED", self.ctl(self.old, "cluster", "status").stdout)
        failed = [s for s in self.ctl_json(self.old, "schema", "list")["schemas"]
                  if s["schema"] == "oxdatabase_44"][0]
        self.assertEqual(failed["update"], "failed")
        self.assertIn("exit status 1", failed["update_error"])
        self.assertIn("UpdateTaskException: task failed on oxdatabase_44", failed["update_error"])
        # As with OX's -m: continue after the failed schema; it stays as it is.
        # It is still failed: the run says so (exit 1), whatever -m skipped.
        self.assertIn("ERR upgrade-failed:", self.upgrade("-m", "oxdatabase_44", check=False).stderr)
        self.assertEqual(self.on_new(), set(SCHEMAS))
        self.assertEqual(self.disabled(), {"oxdatabase_44"})
        # The task is fixed: the schema is run again from where it failed, and enabled.
        self.task_file("fail", [])
        self.upgrade("--resume-from", "oxdatabase_44")
        self.assertEqual(self.disabled(), set())
        self.assertEqual(self.task_runs()["oxdatabase_44"], 2)
        self.assertEqual(self.task_runs()["oxdatabase_3"], 1)

    def test_force_goes_on_past_the_failed_schema(self):
        self.task_file("fail", ["oxdatabase_44"])
        self.prepare_cluster()
        p = self.upgrade("--force", check=False)
        self.assertNotEqual(p.returncode, 0, p.stdout)  # the run as a whole did not succeed
        self.assertEqual(self.on_new(), set(SCHEMAS))
        self.assertEqual(self.disabled(), {"oxdatabase_44"})
        self.assertEqual(self.task_runs(), {s: 1 for s in SCHEMAS})


class OxTaskTimeoutTest(OxTestCase):
    CONTEXTS = 12

    def task_timeout(self):
        return "2s"

    def test_a_hanging_update_task_is_stopped_at_its_timeout_with_its_output(self):
        self.task_file("hang", ["oxdatabase_5"])
        p = self.ctl(self.old, "schema", "update", "oxdatabase_5", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("update-failed", p.stderr)
        self.assertIn("timed out after 2000 ms", p.stderr)
        self.assertIn("Running update tasks on schema oxdatabase_5", p.stderr)
        kept = self.state.sql("SELECT status, output FROM sy_update_tasks WHERE schema_name = "
                              "'oxdatabase_5'")
        self.assertEqual(kept[0][0], "failed")
        self.assertIn("Running update tasks on schema oxdatabase_5", kept[0][1])
        # A schema Switchyard does not know gets no task run and no row.
        p = self.ctl(self.old, "schema", "update", "oxdatabase_7", check=False)
        self.assertIn("not-found", p.stderr)
        self.assertEqual(self.task_runs(), {"oxdatabase_5": 1})


if __name__ == "__main__":
    unittest.main()
