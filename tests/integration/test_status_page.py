"""The HTTP admin listener's status page (docs/metrics.md) in a real browser: headless
Chromium loads http://<admin.http>/status from a running Switchyard with tenant routing and
the DOM it built is checked for the pools, the member addresses and states, and the schema
counts; a screenshot is taken too."""
import os
import re
import subprocess
import unittest

from harness import BINARY, Database, ProxyTestCase, chromium_page
from metricsrun import get, http_address, migrate, pool, routed_yaml

SEED = """
INSERT INTO sy_servers (id, name, pool, version, redirect_url) VALUES (1, 'app-old', 'old', '7.10', '');
INSERT INTO sy_schemas (name, state, server_id) VALUES
  ('s1', 'enabled', 1), ('s2', 'enabled', 1), ('s3', 'enabled', 1), ('s4', 'disabled', 1);
INSERT INTO sy_contexts (id, schema_name, enabled, server_id) VALUES (11, 's1', 1, NULL);
"""


class StatusPageTest(ProxyTestCase):
    def test_the_status_page_shows_pools_members_and_schemas_in_chromium(self):
        db = Database()
        self.addCleanup(db.drop)
        b1, b2 = self.backend("b1"), self.backend("b2")
        cfg = routed_yaml(self.workdir, db.dsn_yaml(),
                          [pool("old", "7.10", [b1.address, b2.address]),
                           pool("spare", "8.0", ["127.0.0.1:1"])])
        migrate(self.workdir, cfg)
        db.sql(SEED)
        sy = self.switchyard(cfg)
        # An operator takes one member out: the page shows it.
        subprocess.run([os.environ.get("SY_CTL", os.path.join(os.path.dirname(BINARY), "..",
                                                              "admin", "switchyardctl")),
                        "--socket", os.path.join(self.workdir, "admin.sock"),
                        "pool", "member", "drain", "old", b2.address],
                       check=True, stdout=subprocess.DEVNULL, timeout=30)
        http = http_address(sy)
        status, html, headers = get(http, "/status")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        self.assertIn('http-equiv="refresh"', html)  # it refreshes itself

        shot = os.path.join(self.workdir, "status.png")
        dom = chromium_page(f"http://{http}/status", shot)
        self.assertGreater(os.path.getsize(shot), 5000)  # a real rendered page, not an error
        pools = re.findall(r'<td class="pool"[^>]*>([^<]*)</td>', dom)
        self.assertEqual(pools, ["old", "spare"])
        members = re.findall(r'<td class="address">([^<]*)</td><td class="([a-z]+)">([a-z]+)</td>',
                             dom)
        self.assertEqual(members, [(b1.address, "up", "ready"), (b2.address, "warn", "drain"),
                                   ("127.0.0.1:1", "up", "ready")])
        schemas = dict(re.findall(
            r'<td class="state">([a-z]+)</td><td class="count">(\d+)</td>', dom))
        self.assertEqual(schemas, {"enabled": "3", "disabled": "1"})
        self.assertRegex(dom, r'<span id="ready" class="up">ready</span>')
        self.assertIn("no upgrade run is driven by this instance", dom)
        self.assertIn(f"it-metrics-{os.getpid()}", dom)


if __name__ == "__main__":
    unittest.main()
