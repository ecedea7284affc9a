"""The upgrade run in /metrics and on the status page (docs/metrics.md): while `upgrade
schemata` driven by the old-role instance runs (a command task made slow for the first schema),
its scrape shows the run, the schema and step; afterwards the run is gone from both. The set-up
is test_upgrade.py's (two instances, real schemas, SQL and command update tasks)."""
import os
import subprocess
import unittest

from harness import wait_for
from metricsrun import get, http_address, scrape, value
from test_upgrade import CTL, UpgradeTest, yaml_for


class UpgradeMetricsTest(UpgradeTest):
    SCHEMAS = 3
    CONTEXTS_PER_SCHEMA = 2

    def with_command(self):
        return True

    def start(self, role, serve, name=None):
        sock = os.path.join(self.workdir, f"{name or role}.sock")
        # test_upgrade's config, with the HTTP admin listener added to its admin section.
        sy = self.switchyard(yaml_for(self.db, role, serve, self.old_b.address, self.new_b.address,
                                      sock, self.tasks_dir, True) + "  http: {port: 0}\n",
                             name=name or f"sy-{role}")
        sy.socket = sock
        return sy

    def step_samples(self, http):
        return {dict(labels)["schema"]: dict(labels) for name, labels in scrape(http)
                if name == "switchyard_upgrade_step"}

    def test_the_running_step_is_scraped_and_shown(self):
        first = self.schemas[0]
        with open(os.path.join(self.tasks_dir, "cmd", "slow"), "w") as f:
            f.write(first + "\n")  # its command task sleeps 3 s
        self.prepare_cluster(self.old)
        http = http_address(self.old)
        self.assertEqual(value(scrape(http), "switchyard_upgrade_running"), 0)
        run = subprocess.Popen([CTL, "-s", self.old.socket, "upgrade", "schemata", "--server",
                                "app-new", "--continue"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        try:
            wait_for(lambda: first in self.step_samples(http), timeout=60,
                     what=f"the run at {first} in /metrics")
            m = scrape(http)
            self.assertEqual(value(m, "switchyard_upgrade_running"), 1)
            self.assertEqual(value(m, "switchyard_upgrade_schemas"), 3)
            self.assertEqual(value(m, "switchyard_upgrade_schemas_done"), 0)
            step = self.step_samples(http)[first]
            self.assertIn(step["step"], ("disable", "drain", "move", "update", "enable"))
            page = get(http, "/status")[1]
            self.assertIn(f"schema <b>{first}</b>, step ", page)
            self.assertIn('<progress max="3" value="0"></progress>', page)
            out, _ = run.communicate(timeout=120)
            self.assertEqual(run.returncode, 0, out)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
        m = scrape(http)
        self.assertEqual(value(m, "switchyard_upgrade_running"), 0)
        self.assertEqual(self.step_samples(http), {})
        self.assertIn("no upgrade run is driven by this instance", get(http, "/status")[1])


if __name__ == "__main__":
    unittest.main()
