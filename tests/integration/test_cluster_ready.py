"""`cluster ready` checks the live instances' versions, and MIXED goes back to READY_TO_UPGRADE
when the new node runs the old version again (as in Jira's ZDU), on the real binaries and the
real private MariaDB.

Topology: an old-role switchyard (version label 7.10, admin socket) and a new-role one (8.0,
its own socket) on one database; the target server app-new has version 8.0 (test_admin.SEED).
"""
import json
import os
import re
import subprocess
import unittest

from harness import Database, ProxyTestCase, wait_for
from test_admin import CTL, SEED, admin_yaml


class ClusterReadyTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.db = Database("sy_ready")
        self.addCleanup(self.db.drop)
        self.old_b = self.backend("old-1", "old")
        self.new_b = self.backend("new-1", "new")
        self.token_file = os.path.join(self.workdir, "token")
        with open(self.token_file, "w") as f:
            f.write("s3cret-token-for-tests\n")
        self.db_migrate(self.yaml("old", "migrate.sock"))
        self.db.sql(SEED)
        self.old = self.start("old")
        self.new = self.start("new")
        self.via = self.old  # the instance whose admin socket the commands use

    def yaml(self, role, sock_name, version=None):
        text = admin_yaml(self.db.dsn_yaml(), [self.old_b.address], self.new_b.address,
                          os.path.join(self.workdir, sock_name), self.token_file, role=role)
        if version is not None:  # the routing section's label (the pools' are indented deeper)
            text = re.sub(r'\n  version: "[^"]*"\n', f'\n  version: "{version}"\n', text)
        return text

    def start(self, role, version=None):
        sy = self.switchyard(self.yaml(role, f"admin-{role}.sock", version), name=f"sy-{role}")
        sy.socket = os.path.join(self.workdir, f"admin-{role}.sock")
        return sy

    def ctl(self, *args):
        p = subprocess.run([CTL, "-s", self.via.socket, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def ok(self, *args):
        rc, out, err = self.ctl(*args)
        self.assertEqual(rc, 0, f"{args}: {out}{err}")
        return out

    def js(self, *args):
        return json.loads(self.ok("--json", *args))

    def versions_live(self):
        return {i["role"]: i["version"] for i in self.js("show", "instances")["instances"]}

    def to_mixed(self):
        wait_for(lambda: self.versions_live() == {"old": "7.10", "new": "8.0"}, timeout=30,
                 what="both instances' heartbeats")
        self.ok("cluster", "prepare", "app-new")
        self.ok("cluster", "mixed")

    def test_ready_is_refused_while_an_old_version_instance_is_live(self):
        self.to_mixed()
        rc, out, err = self.ctl("cluster", "ready")
        self.assertEqual(rc, 1, out + err)
        # Named: its id, version, role and last heartbeat (ISO 8601, UTC).
        self.assertRegex(
            err, r"ERR illegal-transition: cluster ready in state MIXED: 1 live instance\(s\) still "
                 r"run a version older than the target's 8\.0: it-admin-old-\d+ \(version '7\.10', "
                 r"role old, last heartbeat \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z, [\d.]+m?s ago\)")
        self.assertEqual(self.js("cluster", "status")["state"], "MIXED")
        # The old-role balancer may stay when the operator says so (it redirects moved tenants).
        self.assertEqual(self.js("cluster", "ready", "--keep-old-role")["state"],
                         "READY_TO_RUN_UPGRADE_TASKS")

    def test_ready_passes_once_every_live_instance_runs_the_new_version(self):
        self.to_mixed()
        # The old balancer is replaced by one on the new version (role old: it still serves the
        # old pool and redirects moved tenants). Its clean stop removes its heartbeat row.
        self.via = self.new
        self.assertEqual(self.old.terminate(), 0)
        self.old = self.start("old", version="8.0")
        wait_for(lambda: self.versions_live() == {"old": "8.0", "new": "8.0"}, timeout=30,
                 what="the replaced balancer's heartbeat")
        self.assertEqual(self.js("cluster", "ready")["state"], "READY_TO_RUN_UPGRADE_TASKS")

    def test_mixed_goes_back_when_the_new_node_returns_to_the_old_version(self):
        self.to_mixed()
        self.assertEqual(self.new.terminate(), 0)
        self.new = self.start("new", version="7.10")  # the same node, back on the old version
        wait_for(lambda: self.versions_live() == {"old": "7.10", "new": "7.10"}, timeout=30,
                 what="the downgraded node's heartbeat")
        st = self.js("cluster", "status")
        self.assertEqual(st["state"], "READY_TO_UPGRADE")
        self.assertEqual(st["target_server"], "app-new")
        self.assertIn("no live instance runs the target version '8.0' any more", st["reason"])
        last = self.js("cluster", "history", "--limit", "1")["history"][0]
        self.assertEqual((last["from"], last["to"], last["event"]),
                         ("MIXED", "READY_TO_UPGRADE", "revert"))
        # ready now is not a transition of READY_TO_UPGRADE; mixed again needs the new node.
        rc, _, err = self.ctl("cluster", "ready")
        self.assertEqual(rc, 1)
        self.assertIn("cluster ready in state READY_TO_UPGRADE", err)


if __name__ == "__main__":
    unittest.main()
