"""`upgrade schemata` progress as an operator piping it to a log file sees it (issue 11): each
line arrives when its step happens (not all at the end of the run), with an ISO 8601 UTC time,
durations like 1.3s, and an ETA measured from the schemas already finished.

The topology and helpers are test_upgrade.py's; the command update task sleeps 3 s for the
schemas listed in its "slow" file.
"""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import test_upgrade as up  # noqa: E402  (its test classes are not bound here: they do not run twice)

LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) \[(\d+)/(\d+)\] (\S+) (\w+) (\w+)"
                  r"  (\d+\.\ds|\d+m\d\ds) elapsed, ETA (\?|\d+\.\ds|\d+m\d\ds)")


class ProgressStreamTest(up.UpgradeTest):
    SCHEMAS = 3

    def with_command(self):
        return True

    def runs(self):
        path = os.path.join(self.tasks_dir, "cmd", "runs")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return f.read().split()

    def test_progress_lines_stream_through_a_pipe_with_times_and_eta(self):
        a, b, c = self.schemas
        with open(os.path.join(self.tasks_dir, "cmd", "slow"), "w") as f:
            f.write(b + "\n")
        self.prepare_cluster(self.old)
        driver = subprocess.Popen([up.CTL, "-s", self.old.socket, "upgrade", "schemata",
                                   "--server", "app-new", "--continue"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: driver.poll() is None and driver.kill())
        seen = []
        # Read line by line from the pipe: b's update begins while b's task sleeps 3 s, so
        # that line must arrive before c has run at all (a buffered client delivers it only at
        # the end, after c).
        for line in driver.stdout:
            seen.append(line.rstrip("\n"))
            m = LINE.match(seen[-1])
            self.assertIsNotNone(m, seen[-1])
            if m.group(4) == b and m.group(5) == "update" and m.group(6) == "begin":
                self.assertNotIn(c, self.runs(), "\n".join(seen))
                self.assertIsNone(driver.poll())
                # a is finished: the ETA is measured (a duration), not "?".
                self.assertNotEqual(m.group(8), "?", seen[-1])
                break
        else:
            self.fail("no 'update begin' line for " + b + ":\n" + "\n".join(seen))
        out, err = driver.communicate(timeout=120)
        self.assertEqual(driver.returncode, 0, out + err)
        self.assertEqual(LINE.match(seen[0]).group(8), "?")  # nothing measured yet
        status = self.ctl_json(self.old, "upgrade", "status")
        self.assertRegex(status["schemas"][1]["duration"], r"^\d+\.\ds$")  # b: about 3.5s
        self.assertRegex(status["started_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertRegex(self.ctl_json(self.old, "cluster", "status")["since"], r"Z$")


if __name__ == "__main__":
    unittest.main()
