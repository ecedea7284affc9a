"""The bench harness on an Open-Xchange configdb, end to end: bench/run on smoke_ox.yaml (the
short version of migration_ox.yaml: 4 schemas, 400 contexts, OX-style logins user@<context>),
once with Switchyard on `database.profile: ox` running `upgrade schemata` through its admin
socket, once as OX operators do it today: HAProxy in front of the same pools while the same
schemas are disabled (context.enabled = 0, reason_id 1431655765), moved (changeserver) and
enabled with plain SQL on the configdb.

Checked: both runs in results.json and the peer table; Switchyard failed no request; the peer
did, with the application's error, and only while its schemas were disabled; the configdb the
peer left (kept with --keep-db) is what OX's enableschema + changeserver leave, with no table
of Switchyard's; Switchyard ran on the configdb with a state database of its own and logins
went through its OX login resolution. No timing assertions.
"""
import os
import re
import sys
import unittest

from benchrun import BenchRunCase
from harness import SOURCE_DIR

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "tools"))
import ox_configdb  # noqa: E402

SCHEMAS = 4


class BenchHarnessOxTest(BenchRunCase):
    SCENARIO = "smoke_ox.yaml"
    KEEP_DB = True

    def read(self, *path):
        with open(os.path.join(self.out, *path)) as f:
            return f.read()

    def test_the_run_succeeds_with_both_sides_in_the_report(self):
        self.assertEqual(self.run_proc.returncode, 0, self.run_proc.stdout[-3000:])
        self.assertIsNotNone(self.results)
        self.assertEqual(self.results["scenario"]["topology"]["profile"], "ox")
        self.assertEqual(set(self.results["runs"]), {"switchyard", "haproxy"})
        metrics = {r["metric"]: r for r in self.results["peer_comparison"]}
        for m in ("failed requests", "schema held / disabled, max ms",
                  "p99 during the migration, ms"):
            self.assertIsNotNone(metrics[m]["switchyard"], m)
            self.assertIsNotNone(metrics[m]["haproxy"], m)
        sy = self.results["runs"]["switchyard"]["total"]
        hp = self.results["runs"]["haproxy"]["total"]
        self.assertEqual(metrics["failed requests"]["switchyard"], sy["failed"])
        self.assertEqual(metrics["failed requests"]["haproxy"], hp["failed"])
        html = self.read("report.html")
        self.assertIn("an Open-Xchange configdb (profile ox", html)
        self.assertIn("reason_id 1431655765", html)

    def test_switchyard_fails_no_request_on_the_ox_profile(self):
        sy = self.results["runs"]["switchyard"]
        self.assertEqual(sy["action_errors"], [])
        self.assertEqual(sy["total"]["failed"], 0, sy["total"])
        self.assertEqual(sy["total"]["codes"], {}, sy["total"])
        self.assertGreater(sy["total"]["ok"], 500, sy["total"])
        self.assertGreater(sy["total"]["redirects_followed"], 0, sy["total"])
        self.assertEqual(len(sy["schemas"]), SCHEMAS, sy["schemas"])
        self.assertTrue(all(h["hold_ms"] > 0 for h in sy["schemas"]), sy["schemas"])
        # It ran on the configdb with a state database of its own, and the upgrade went through
        # the admin socket schema by schema.
        cfg = self.read("switchyard", "sy-old.yaml")
        self.assertIn("profile: ox", cfg)
        self.assertRegex(cfg, r"state_database: sy_bench_smoke_ox_\d+_state")
        log = self.read("switchyard", "upgrade.log")
        enabled = re.findall(r'^\{"progress":\{[^}]*"schema":"([^"]+)","step":"enable","phase":"done"',
                             log, re.M)
        self.assertEqual(len(enabled), SCHEMAS, log)
        # OX-style logins reached Switchyard and were resolved (answered, not refused).
        access = self.read("switchyard", "sy-old-access.log")
        self.assertGreater(access.count("/ajax/login?action=login"), 20)

    def test_the_plain_sql_peer_fails_requests_only_while_schemas_are_disabled(self):
        hp = self.results["runs"]["haproxy"]
        self.assertEqual(hp["action_errors"], [])
        self.assertGreater(hp["total"]["failed"], 0, hp["total"])
        self.assertEqual(set(hp["total"]["codes"]), {"APP-0001"}, hp["total"])
        self.assertEqual(len(hp["schemas"]), SCHEMAS, hp["schemas"])
        windows = [(h["start_s"], h["end_s"]) for h in hp["schemas"]]
        # A second with failures overlaps a disabled window (one second of slack either side:
        # the series is bucketed by whole seconds).
        for s in hp["seconds"]:
            if s["failed"]:
                self.assertTrue(any(a - 1 <= s["t"] <= b + 1 for a, b in windows),
                                (s["t"], s["failed"], windows))
        before = [s["failed"] for s in hp["seconds"] if s["t"] + 1 < min(a for a, _ in windows)]
        self.assertEqual(sum(before), 0)

    def test_the_peer_left_the_configdb_as_oxs_own_commands_would(self):
        # The last pass was the peer's; its databases were kept (--keep-db).
        db, sql = self.db_name, self.mysql.sql
        new_id = int(sql("SELECT server_id FROM server WHERE name = 'app-new'", db=db)[0][0])
        self.assertEqual(sql("SELECT DISTINCT server_id FROM context_server2db_pool", db=db),
                         [[str(new_id)]])
        self.assertEqual(sql("SELECT COUNT(*) FROM context WHERE enabled = 1 AND reason_id IS "
                             "NULL", db=db), [["400"]])
        self.assertEqual(sql("SELECT COUNT(DISTINCT db_schema) FROM context_server2db_pool",
                             db=db), [[str(SCHEMAS)]])
        tables = {r[0] for r in sql("SHOW TABLES", db=db)}
        self.assertEqual(tables, set(ox_configdb_tables()))
        self.assertEqual(sql(f"SELECT DISTINCT state FROM `{db}_app`.app_schemas", db=db),
                         [["enabled"]])


def ox_configdb_tables():
    return re.findall(r"^CREATE TABLE (\w+)", ox_configdb.tables_sql(), re.M)


if __name__ == "__main__":
    unittest.main()
