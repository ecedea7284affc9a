"""An instance cut off from the database mid-upgrade stops routing from its stale snapshot
(issue 12 item 5; docs/decisions.md 67).

Once the last good directory round is older than database.stale_after while the cluster was not
STABLE, a schema that may have moved (one this old-role instance serves, or a disabled one) is
held and, when the hold ends without fresh data, answered 503 CTX-0023 instead of 200 from the
old pool; a schema already moved keeps its redirect (the one-way door). When the database
answers again, everything routes normally at once. With the cluster STABLE an outage changes
nothing.

Real binary and the private MariaDB; the outage is a TcpForwarder cut for this one instance
(the server the other tests share keeps running). Topology and seed: test_admin.AdminTest
(servers 1 = app-old, pool old; 2 = app-new, pool new, redirect http://127.0.0.1:1; schemas s1
with contexts 11, 12 and s2 with 21 on server 1), plus s3 with context 31 already on server 2.
"""
import os
import re
import unittest

from harness import (Database, TcpForwarder, access_log_lines, curl, wait_for)
import test_admin  # its config, seed and switchyardctl (its tests are not loaded here)


class StaleDirectoryTest(test_admin.AdminTest):
    max_wait = "1s"  # routing.hold.max_wait: how long a stale hold lasts before CTX-0023

    def make_database(self):
        db = Database("sy_stale")
        # Every session of this instance (loader, admin) goes through the forwarder; the test's
        # own SQL goes to the server directly, so it can change the directory during the cut.
        self.fwd = TcpForwarder(db.port)
        self.addCleanup(self.fwd.stop)
        return db

    def yaml(self, dsn=None, sock=None, **kw):
        self.access_log = os.path.join(self.workdir, "access.log")
        text = super().yaml(dsn or self.db.dsn_yaml(port=self.fwd.port), sock, **kw)
        text = text.replace("  refresh_interval: 100ms\n",
                            "  refresh_interval: 100ms\n  stale_after: 1s\n")
        text = text.replace("hold: {max_wait: 20s}", f"hold: {{max_wait: {self.max_wait}}}")
        return text + f'access_log:\n  path: "{self.access_log}"\n'

    def setUp(self):
        super().setUp()
        self.db.sql("INSERT INTO sy_schemas (name, state, server_id) VALUES ('s3', 'enabled', 2);"
                    " INSERT INTO sy_contexts (id, schema_name, enabled, server_id)"
                    " VALUES (31, 's3', 1, NULL)")
        self.applied()

    # --- helpers -------------------------------------------------------------------------------

    def answer(self, ctx):
        """(status, headers text, body) of one request for |ctx|."""
        rc, out, err = curl("-i", "-H", f"X-Context-Id: {ctx}", self.sy.url("/"), timeout=60)
        self.assertEqual(rc, 0, err)
        head, _, body = out.decode(errors="replace").partition("\r\n\r\n")
        return int(head.split(" ", 2)[1]), head, body

    def loader(self):
        return self.js("show", "stats")["loader"]

    def old_pool_requests(self):
        pools = {p["pool"]: p for p in self.js("show", "stats")["pools"]}
        return pools["old"]["requests"]

    def applied(self):
        """Waits until this instance has applied every change written so far."""
        seq = int(self.db.sql("SELECT COALESCE(MAX(seq), 0) FROM sy_changes")[0][0])
        wait_for(lambda: int(self.db.sql(
            "SELECT COALESCE(MAX(applied_seq), 0) FROM sy_instances")[0][0]) >= seq,
                 timeout=30, what=f"the instance to apply change {seq}")

    def cluster(self, state):
        self.db.sql(f"UPDATE sy_cluster SET state = '{state}' WHERE id = 1")
        stable = state == "STABLE"
        wait_for(lambda: self.loader().get("cluster_stable") == stable, timeout=30,
                 what=f"the loader to read cluster state {state}")

    def cut_until_stale(self):
        self.fwd.cut()
        return wait_for(lambda: (lambda l: l if l.get("stale") else None)(self.loader()),
                        timeout=30, what="the directory to turn stale")

    def restore_until_fresh(self):
        self.fwd.restore()
        wait_for(lambda: self.loader()["db_state"] == "up" and not self.loader()["stale"],
                 timeout=30, what="the database back and the directory fresh")

    # --- tests ---------------------------------------------------------------------------------

    def test_cut_off_mid_upgrade_moved_and_held_schemas_get_ctx_0023_not_a_stale_200(self):
        self.cluster("MIXED")
        self.db.sql("UPDATE sy_schemas SET state = 'disabled' WHERE name = 's2'")
        self.applied()
        self.assertEqual(self.answer(11)[0], 200)
        self.assertEqual(self.answer(31)[0], 307)

        # Cut off; meanwhile the upgrade moves s1 and finishes s2 on the new server.
        self.fwd.cut()
        self.db.sql("UPDATE sy_schemas SET server_id = 2 WHERE name = 's1';"
                    " UPDATE sy_schemas SET state = 'enabled', server_id = 2 WHERE name = 's2'")
        loader = self.cut_until_stale()
        self.assertFalse(loader["cluster_stable"], loader)
        self.assertGreaterEqual(loader["checked_age_ms"], loader["stale_after_ms"], loader)
        self.assertEqual(loader["stale_after_ms"], 1000)

        # s1 (served here from the old pool, moved meanwhile) and s2 (disabled in the snapshot,
        # moved meanwhile): held, then 503 CTX-0023 with Retry-After, never the old pool.
        old_pool_before = self.old_pool_requests()
        for ctx in (11, 21):
            status, head, body = self.answer(ctx)
            self.assertEqual(status, 503, body)
            self.assertIn('"error":"CTX-0023"', body)
            self.assertIn(f'"context":{ctx}', body)
            self.assertRegex(head, re.compile(r"^Retry-After: 5\r?$", re.M | re.I))
        self.assertEqual(self.old_pool_requests(), old_pool_before)
        # Already moved before the cut: the redirect stands (a move is never undone).
        status, head, _ = self.answer(31)
        self.assertEqual(status, 307)
        self.assertIn("Location: http://127.0.0.1:1/", head)
        self.assertEqual(self.answer(99)[0], 404)  # unknown context: as ever

        stats = self.js("show", "stats")
        self.assertGreaterEqual(stats["errors"]["CTX-0023"], 2)
        self.assertEqual(stats["errors"]["CTX-0021"], 0)
        lines = wait_for(lambda: [l for l in access_log_lines(self.access_log)
                                  if l.get("route") == "stale-refused"] or None,
                         timeout=10, what="the stale answers in the access log")
        self.assertEqual({(l["context"], l["status"], l["termination"]) for l in lines},
                         {(11, 503, "DW"), (21, 503, "DW")})

        # The database answers again: the fresh snapshot routes at once (both moved: 307).
        self.restore_until_fresh()
        for ctx in (11, 21, 31):
            status, head, body = self.answer(ctx)
            self.assertEqual(status, 307, f"context {ctx}: {head}{body}")

    def test_cut_off_while_stable_keeps_serving_from_the_snapshot(self):
        self.fwd.cut()
        loader = wait_for(lambda: (lambda l: l if l["db_state"] == "down"
                                   and l["checked_age_ms"] > 2 * l["stale_after_ms"] else None)(
            self.loader()), timeout=30, what="the outage to outlast stale_after")
        self.assertTrue(loader["cluster_stable"], loader)
        self.assertFalse(loader["stale"], loader)
        # STABLE: nothing is moving; the snapshot is good and nothing is held.
        for ctx in (11, 21):
            self.assertEqual(self.answer(ctx)[0], 200)
        self.assertEqual(self.js("show", "stats")["errors"]["CTX-0023"], 0)
        self.restore_until_fresh()


def load_tests(loader, tests, pattern):
    """Only this file's tests (test_admin.py runs AdminTest's)."""
    return unittest.TestSuite(StaleDirectoryTest(name) for name in loader.getTestCaseNames(
        StaleDirectoryTest) if name in vars(StaleDirectoryTest))


if __name__ == "__main__":
    unittest.main()
