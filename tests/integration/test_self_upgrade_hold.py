"""A held request survives a hitless self-upgrade (proxy/handover.h): it is parked in the old
process (its schema disabled), the binary is swapped, and when the schema is enabled again the
old process — draining, its loader still reading the database — releases and answers it. New
requests meanwhile go to the successor. Real MariaDB (the project's script)."""

import json
import os
import subprocess
import threading
import unittest

from harness import BINARY, Database, ProxyTestCase, curl_status, wait_for
from selfupgrade import Generations, ctl, pid_gone

SEED = """
INSERT INTO sy_servers (id, name, pool, version, redirect_url) VALUES
  (1, 'app-old', 'old', '7.10', '');
INSERT INTO sy_schemas (name, state, server_id) VALUES ('s1', 'enabled', 1), ('s2', 'enabled', 1);
INSERT INTO sy_contexts (id, schema_name, enabled, server_id) VALUES
  (11, 's1', 1, NULL), (21, 's2', 1, NULL);
"""


def hold_yaml(dsn, backend, sock):
    return f"""workers: 2
listeners:
  - {{name: main, port: 0, pool: old}}
pools:
  - name: old
    version: "7.10"
    members: [{{address: "{backend}"}}]
    health_check: {{enabled: false}}
database:
  dsns:
{dsn}  refresh_interval: 100ms
  heartbeat_interval: 200ms
routing:
  role: old
  instance_id: it-swap-hold-{os.getpid()}
  version: "7.10"
  serve_pools: [old]
  hold: {{max_wait: 30s}}
  keys:
    - {{type: header, name: X-Context-Id}}
limits:
  drain_timeout: 40s
admin:
  socket: {{path: "{sock}"}}
"""


class SelfUpgradeHoldTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.db = Database("sy_swap")
        self.addCleanup(self.db.drop)
        self.b1 = self.backend("old-1", "old")

    def held_now(self, sock):
        r = ctl(sock, "--json", "show", "stats")
        return json.loads(r.stdout).get("held_now", 0) if r.returncode == 0 else 0

    def test_held_request_is_answered_across_a_swap(self):
        sock = os.path.join(self.workdir, "admin.sock")
        cfg = os.path.join(self.workdir, "migrate.yaml")
        with open(cfg, "w") as f:
            f.write(hold_yaml(self.db.dsn_yaml(), self.b1.address, sock))
        p = subprocess.run([BINARY, "db", "migrate", "--config", cfg], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.db.sql(SEED)
        sy = self.switchyard(hold_yaml(self.db.dsn_yaml(), self.b1.address, sock))
        gens = Generations(self, sy)
        url = sy.url("/")
        self.assertEqual(curl_status(url, "-H", "X-Context-Id: 11"), (200, b"old-1 old\n"))

        self.db.sql("UPDATE sy_schemas SET state='disabled' WHERE name='s1'")
        wait_for(lambda: curl_status(url, "-H", "X-Context-Id: 11", "-m", "0.5")[0] != 200,
                 what="s1 disabled in the snapshot")
        wait_for(lambda: self.held_now(sock) == 0, what="the probe's hold to end")
        result = {}
        held = threading.Thread(target=lambda: result.update(
            r=curl_status(url, "-H", "X-Context-Id: 11", timeout=60)))
        held.start()
        wait_for(lambda: self.held_now(sock) >= 1, what="the request to be held")
        old = gens.pid

        new = gens.swap("signal", wait_old=False)
        self.assertTrue(held.is_alive(), "the held request ended at the swap")
        self.assertFalse(pid_gone(old), "the old process left with a request held")
        # The successor serves new requests (another schema) while the old one holds.
        self.assertEqual(curl_status(url, "-H", "X-Context-Id: 21"), (200, b"old-1 old\n"))
        # The admin socket is the successor's too (the old process stops serving it as it
        # starts its drain, a moment after the swap).
        wait_for(lambda: json.loads(ctl(sock, "--json", "show", "info").stdout or "{}")
                 .get("pid") == new, what="the successor on the admin socket")

        self.db.sql("UPDATE sy_schemas SET state='enabled' WHERE name='s1'")
        held.join(timeout=30)
        self.assertEqual(result.get("r"), (200, b"old-1 old\n"))
        gens.wait_gone(old)
        self.assertEqual(curl_status(url, "-H", "X-Context-Id: 11"), (200, b"old-1 old\n"))


if __name__ == "__main__":
    unittest.main()
