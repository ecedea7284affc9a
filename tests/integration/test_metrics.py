"""/metrics of the HTTP admin listener (docs/metrics.md) after a known sequence of requests,
read with the real Prometheus text parser: one old-role Switchyard with two workers on the
private MariaDB, tenant routing on, one backend.

Directory: server 1 (pool old), server 2 (pool new, migration URL http://127.0.0.1:1);
schemas s1 (server 1), s2 (server 2: its tenants are redirected), s3 (disabled); contexts 11 in
s1, 21 in s2. The sequence: 7 requests for context 11 (proxied), 2 for context 21 (307), 1 for
context 999 (unknown: CTX-0003 404).
"""
import threading
import unittest

from harness import Database, ProxyTestCase, curl_status, wait_for
from metricsrun import get, http_address, migrate, pool, routed_yaml, scrape, value

SEED = """
INSERT INTO sy_servers (id, name, pool, version, redirect_url) VALUES
  (1, 'app-old', 'old', '7.10', ''), (2, 'app-new', 'new', '8.0', 'http://127.0.0.1:1');
INSERT INTO sy_schemas (name, state, server_id) VALUES
  ('s1', 'enabled', 1), ('s2', 'enabled', 2), ('s3', 'disabled', 1);
INSERT INTO sy_contexts (id, schema_name, enabled, server_id) VALUES
  (11, 's1', 1, NULL), (21, 's2', 1, NULL);
"""


class MetricsTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.db = Database()
        self.addCleanup(self.db.drop)
        self.backend_old = self.backend("old-1", "old")
        cfg = routed_yaml(self.workdir, self.db.dsn_yaml(),
                          [pool("old", "7.10", [self.backend_old.address]),
                           pool("new", "8.0", ["127.0.0.1:1"])],
                          "  refresh_interval: 200ms\n  heartbeat_interval: 200ms\n", workers=2)
        migrate(self.workdir, cfg)
        self.db.sql(SEED)
        self.sy = self.switchyard(cfg)
        self.http = http_address(self.sy)

    def request(self, ctx, path="/"):
        return curl_status(self.sy.url(path), "-H", f"X-Context-Id: {ctx}")[0]

    def test_counters_after_a_known_sequence_of_requests(self):
        codes = [self.request(11, f"/page{i}") for i in range(7)]
        codes += [self.request(21) for _ in range(2)]
        codes.append(self.request(999))
        self.assertEqual(codes, [200] * 7 + [307] * 2 + [404])
        # Each exchange is counted when it is logged, just after its last byte went out.
        wait_for(lambda: value(scrape(self.http), "switchyard_listener_requests_total",
                               listener="main") == 10, what="10 exchanges counted")
        m = scrape(self.http)
        decisions = {d: value(m, "switchyard_routing_decisions_total", decision=d)
                     for d in ("proxy", "redirect", "reject", "hold", "hold_refused")}
        self.assertEqual(decisions, {"proxy": 7, "redirect": 2, "reject": 1, "hold": 0,
                                     "hold_refused": 0})
        self.assertEqual(value(m, "switchyard_ctx_answers_total", code="CTX-0003"), 1)
        self.assertEqual(value(m, "switchyard_ctx_answers_total", code="CTX-0012"), 0)
        self.assertEqual(value(m, "switchyard_requests_total"), 10)
        by_class = {c: value(m, "switchyard_listener_responses_total", listener="main", **{"class": c})
                    for c in ("1xx", "2xx", "3xx", "4xx", "5xx")}
        self.assertEqual(by_class, {"1xx": 0, "2xx": 7, "3xx": 2, "4xx": 1, "5xx": 0})
        self.assertEqual(value(m, "switchyard_responses_total", **{"class": "3xx"}), 2)
        # Pools and members: only the proxied requests reached one.
        self.assertEqual(value(m, "switchyard_pool_requests_total", pool="old"), 7)
        self.assertEqual(value(m, "switchyard_pool_requests_total", pool="new"), 0)
        member = dict(pool="old", member=self.backend_old.address)
        self.assertEqual(value(m, "switchyard_member_requests_total", **member), 7)
        self.assertEqual(value(m, "switchyard_member_responses_total", **member,
                               **{"class": "2xx"}), 7)
        self.assertEqual(value(m, "switchyard_member_upstream_errors_total", **member), 0)
        self.assertEqual(value(m, "switchyard_member_active_requests", **member), 0)
        self.assertEqual(value(m, "switchyard_member_healthy", **member), 1)
        self.assertEqual(value(m, "switchyard_member_state", **member, state="ready"), 1)
        self.assertEqual(value(m, "switchyard_member_state", **member, state="drain"), 0)
        self.assertEqual(value(m, "switchyard_pool_responses_total", pool="old",
                               **{"class": "2xx"}), 7)
        # Histograms: one observation per exchange (all ten) and per upstream response (seven).
        self.assertEqual(value(m, "switchyard_request_duration_seconds_count", listener="main"), 10)
        self.assertEqual(value(m, "switchyard_request_duration_seconds_bucket", listener="main",
                               le="+Inf"), 10)
        self.assertGreater(value(m, "switchyard_request_duration_seconds_sum", listener="main"), 0)
        self.assertEqual(value(m, "switchyard_upstream_duration_seconds_count", pool="old"), 7)
        self.assertEqual(value(m, "switchyard_upstream_duration_seconds_count", pool="new"), 0)
        self.assertEqual(value(m, "switchyard_hold_duration_seconds_count"), 0)
        self.assertEqual(value(m, "switchyard_held_requests"), 0)
        # Bytes: at least each response's body went out; something came in for each request.
        self.assertGreater(value(m, "switchyard_listener_received_bytes_total", listener="main"),
                           10 * len("GET / HTTP/1.1\r\n"))
        self.assertGreater(value(m, "switchyard_listener_sent_bytes_total", listener="main"),
                           7 * len("old-1 old\n"))
        # Routing state: the snapshot, the database, schemas by state.
        self.assertGreaterEqual(value(m, "switchyard_snapshot_generation"), 1)
        self.assertGreaterEqual(value(m, "switchyard_snapshot_age_seconds"), 0)
        self.assertGreater(value(m, "switchyard_snapshot_load_seconds"), 0)
        # Refreshed every 200 ms: checked recently, whatever the snapshot's own age.
        self.assertLess(value(m, "switchyard_directory_checked_age_seconds"), 10)
        self.assertEqual(value(m, "switchyard_database_errors_total"), 0)
        self.assertEqual(value(m, "switchyard_database_up"), 1)
        self.assertEqual(value(m, "switchyard_schemas", state="enabled"), 2)
        self.assertEqual(value(m, "switchyard_schemas", state="disabled"), 1)
        self.assertEqual(value(m, "switchyard_upgrade_running"), 0)
        self.assertEqual(value(m, "switchyard_ready"), 1)
        self.assertEqual(value(m, "switchyard_workers"), 2)
        # /ready and /live on the same listener; anything else is 404.
        self.assertEqual(get(self.http, "/ready")[:2], (200, "ready\n"))
        self.assertEqual(get(self.http, "/live")[:2], (200, "live\n"))
        self.assertEqual(get(self.http, "/nope")[0], 404)

    def test_a_refusing_member_counts_upstream_errors_and_5xx(self):
        self.backend_old.stop()  # its port now refuses connections
        self.assertEqual([self.request(11) for _ in range(3)], [502] * 3)
        wait_for(lambda: value(scrape(self.http), "switchyard_listener_requests_total",
                               listener="main") == 3, what="3 exchanges counted")
        m = scrape(self.http)
        member = dict(pool="old", member=self.backend_old.address)
        self.assertEqual(value(m, "switchyard_member_upstream_errors_total", **member), 3)
        self.assertEqual(value(m, "switchyard_pool_upstream_errors_total", pool="old"), 3)
        self.assertEqual(value(m, "switchyard_upstream_connect_failures_total"), 3)
        self.assertEqual(value(m, "switchyard_listener_responses_total", listener="main",
                               **{"class": "5xx"}), 3)
        self.assertEqual(value(m, "switchyard_upstream_duration_seconds_count", pool="old"), 0)


    def test_a_held_request_counts_hold_time(self):
        self.db.sql("UPDATE sy_schemas SET state='disabled' WHERE name='s1'")
        wait_for(lambda: value(scrape(self.http), "switchyard_schemas", state="disabled") == 2,
                 what="s1 disabled in the snapshot")
        result = {}
        t = threading.Thread(target=lambda: result.update(code=self.request(11)))
        t.start()
        wait_for(lambda: value(scrape(self.http), "switchyard_held_requests") == 1,
                 what="the request parked")
        self.db.sql("UPDATE sy_schemas SET state='enabled' WHERE name='s1'")
        t.join(30)
        self.assertEqual(result.get("code"), 200)
        wait_for(lambda: value(scrape(self.http), "switchyard_hold_duration_seconds_count") == 1,
                 what="the hold counted")
        m = scrape(self.http)
        self.assertEqual(value(m, "switchyard_routing_decisions_total", decision="hold"), 1)
        self.assertEqual(value(m, "switchyard_routing_decisions_total", decision="proxy"), 1)
        self.assertGreater(value(m, "switchyard_hold_duration_seconds_sum"), 0)
        self.assertEqual(value(m, "switchyard_hold_duration_seconds_bucket", le="+Inf"), 1)


if __name__ == "__main__":
    unittest.main()
