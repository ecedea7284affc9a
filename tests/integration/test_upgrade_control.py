"""`upgrade pause|resume|abort` through the socket, as docs/admin.md promises them (issue 11):
pause waits after the schema in progress, resume goes on, abort ends the run with
`ERR upgrade-aborted` naming the way forward; after it `cluster cancel` is refused once a
schema has moved (the refusal says to run `upgrade schemata` again), and that rerun finishes.
Also `schema update S` alone on profile own (OX's is in test_ox_profile.py).

The topology and helpers are test_upgrade.py's; the command update task sleeps 3 s for the
schemas listed in its "slow" file.
"""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import test_upgrade as up  # noqa: E402  (its test classes are not bound here: they do not run twice)


class UpgradeControlTest(up.UpgradeTest):
    SCHEMAS = 3

    def with_command(self):
        return True

    def runs(self):
        path = os.path.join(self.tasks_dir, "cmd", "runs")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return f.read().split()

    def test_pause_resume_abort_then_cancel_refused_and_the_rerun_finishes(self):
        a, b, c = self.schemas
        with open(os.path.join(self.tasks_dir, "cmd", "slow"), "w") as f:
            f.write(f"{a}\n{b}\n")
        self.prepare_cluster(self.old)
        driver = subprocess.Popen([up.CTL, "-s", self.old.socket, "upgrade", "schemata",
                                   "--server", "app-new", "--continue"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: driver.poll() is None and driver.kill())
        up.wait_for(lambda: a in self.runs(), timeout=60, what="a's update task to start")
        self.assertIn("upgrade pause requested", self.ctl(self.new, "upgrade", "pause").stdout)
        # a finishes its steps, then the run waits.
        up.wait_for(lambda: self.ctl_json(self.old, "upgrade", "status")["status"] == "paused",
                    timeout=60, what="the run to pause after a")
        self.assertEqual(self.runs(), [a])
        self.ctl(self.new, "upgrade", "resume")
        up.wait_for(lambda: b in self.runs(), timeout=60, what="b's update task to start")
        self.ctl(self.new, "upgrade", "abort")
        out, err = driver.communicate(timeout=120)
        self.assertEqual(driver.returncode, 1, out + err)
        self.assertIn("ERR upgrade-aborted:", err)
        self.assertIn(f"{c} (skipped: enabled on server app-old)", err)
        self.assertIn("`upgrade schemata` again resumes", err)
        self.assertNotIn(c, self.runs())  # b finished its steps; c never started
        self.assertEqual(self.ctl_json(self.old, "upgrade", "status")["status"], "aborted")
        # a and b moved: no way back, and the refusal says the way forward.
        p = self.ctl(self.old, "cluster", "cancel", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("ERR illegal-transition:", p.stderr)
        self.assertIn("`upgrade schemata` again resumes", p.stderr)
        # No run is unfinished now: pause has nothing to act on.
        p = self.ctl(self.old, "upgrade", "pause", check=False)
        self.assertIn("ERR not-found:", p.stderr)
        self.upgrade(self.old)
        self.assertEqual(self.runs(), [a, b, c])
        self.assertIn("STABLE", self.ctl(self.old, "cluster", "status").stdout)

    def test_schema_update_runs_the_tasks_once_on_profile_own(self):
        # `schema update S` alone (docs/admin.md "Commands"): the SQL task and the command task
        # run for S and are recorded ok; run again, both are skipped (each runs once per schema).
        a = self.schemas[0]
        out = self.ctl_json(self.old, "schema", "update", a)
        self.assertEqual(out["schema"], a)
        self.assertEqual({t["task"].split("/")[-1]: t["status"] for t in out["tasks"]},
                         {"001_upgraded_table.sql": "ok", "task.sh": "ok"}, out)
        self.assertEqual(self.upgraded_rows(a), 1)
        again = self.ctl_json(self.old, "schema", "update", a)
        self.assertEqual({t["task"].split("/")[-1]: t["status"] for t in again["tasks"]},
                         {"001_upgraded_table.sql": "skipped", "task.sh": "skipped"}, again)
        self.assertEqual(self.upgraded_rows(a), 1)
        self.assertEqual(self.runs(), [a])
        p = self.ctl(self.old, "schema", "update", "no_such_schema", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("ERR not-found:", p.stderr)


if __name__ == "__main__":
    unittest.main()
