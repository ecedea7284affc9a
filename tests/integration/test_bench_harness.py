"""The bench harness end to end: bench/run on the smoke scenario (a 4-schema upgrade under an
open-loop load, and the same migration done with plain SQL behind HAProxy), then the report
opened in headless Chromium: a screenshot, and the DOM checked for the drawn charts.

Needs the private MariaDB (make test exports SY_TEST_MYSQL_*), HAProxy and Chromium
(scripts/install-deps.sh installs both).
"""
import os
import re
import struct
import sys
import unittest

from benchrun import BenchRunCase
from harness import SOURCE_DIR, chromium_page

sys.path.insert(0, os.path.join(SOURCE_DIR, "bench"))
import report  # noqa: E402


class BenchHarnessTest(BenchRunCase):
    SCENARIO = "smoke.yaml"

    def test_the_smoke_run_succeeds(self):
        self.assertEqual(self.run_proc.returncode, 0, self.run_proc.stdout[-3000:])
        self.assertIsNotNone(self.results)

    def test_switchyard_fails_no_request_while_the_plain_sql_peer_does(self):
        sy = self.results["runs"]["switchyard"]
        hp = self.results["runs"]["haproxy"]
        self.assertEqual(sy["action_errors"], [])
        self.assertEqual(sy["total"]["failed"], 0, sy["total"])
        self.assertGreater(sy["total"]["ok"], 500, sy["total"])
        # Moved tenants were redirected by the old instance and followed to the new one.
        self.assertGreater(sy["total"]["redirects_followed"], 0, sy["total"])
        # Every schema was held for a while, then released.
        self.assertEqual(len(sy["schemas"]), 4, sy["schemas"])
        self.assertTrue(all(h["hold_ms"] > 0 for h in sy["schemas"]), sy["schemas"])
        self.assertIn("during_migration", sy["phases"])
        # Without Switchyard the users of a disabled schema get the application's error.
        self.assertGreater(hp["total"]["failed"], 0, hp["total"])
        self.assertIn("APP-0001", hp["total"]["codes"])
        self.assertEqual(len(hp["schemas"]), 4, hp["schemas"])
        metrics = {r["metric"]: r for r in self.results["peer_comparison"]}
        self.assertEqual(metrics["failed requests"]["switchyard"], 0)
        self.assertEqual(metrics["failed requests"]["haproxy"], hp["total"]["failed"])

    def test_per_second_histograms_merge_to_the_generators_totals(self):
        # results.json keeps each second's histogram; merged over the measured seconds they give
        # the percentiles switchyard-bench computed itself (bench/report.py and
        # bench/histogram.cpp must read the buckets alike).
        sy = self.results["runs"]["switchyard"]
        warm = int(self.results["scenario"]["load"]["warmup"] / 1000)
        merged = report.merge(s["hist"] for s in sy["seconds"][warm:])
        self.assertEqual(report.count(merged), sy["total"]["ok"] + sy["total"]["failed"])
        total = sy["total"]["latency_ms"]
        for key, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9)):
            self.assertAlmostEqual(report.percentile(merged, p) / 1e6, total[key], delta=0.0015)
        self.assertAlmostEqual(merged["max"] / 1e6, total["max"], delta=0.0015)
        self.assertEqual(merged, report.merge([sy["hist_total"]]))

    def test_the_report_opens_in_chromium_with_its_charts_drawn(self):
        page = "file://" + os.path.join(self.out, "report.html")
        shot = os.path.join(self.out, "report.png")
        dom = chromium_page(page, shot, window_size="1000,2600")
        for chart in ("throughput", "latency", "errors", "holds"):
            self.assertIn(f'data-chart="{chart}"', dom, chart)
        # Every run has its lines, each with one point per second of the run.
        lines = re.findall(r'<polyline class="series" data-series="([^"]+)" data-points="(\d+)"',
                           dom)
        names = {n for n, _ in lines}
        for name in ("switchyard answered/s", "haproxy answered/s", "switchyard p99",
                     "haproxy failed/s"):
            self.assertIn(name, names, names)
        self.assertTrue(all(int(k) >= 5 for _, k in lines), lines)
        # The admin actions are marked; one hold bar per schema and run.
        self.assertGreaterEqual(dom.count('class="marker" data-action="switchyard: upgrade"'), 3)
        self.assertEqual(len(re.findall(r'<rect class="bar"', dom)), 8)
        self.assertIn("With and without Switchyard", dom)
        # The screenshot is a real, non-trivial PNG of the requested size.
        with open(shot, "rb") as f:
            png = f.read()
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        width, height = struct.unpack(">II", png[16:24])
        self.assertEqual((width, height), (1000, 2600))
        self.assertGreater(len(png), 30000)


if __name__ == "__main__":
    unittest.main()
