"""Tenant routing on the real private MariaDB: an old-role and a new-role Switchyard on one
database, old and new backend pools, driven with curl.

Topology (all on loopback, port 0):
    old-role switchyard (serves pool old) --\\                /-- backend old-1 ("old")
                                           +-- pools old/new +
    new-role switchyard (serves pool new) --/                \\-- backend new-1 ("new")
Servers in the directory: 1 = app-old (pool old), 2 = app-new (pool new, redirect URL = the
new-role instance). Schemas s1..s4 start on server 1; contexts 11, 12 in s1, 21 in s2,
31 in s3, 41 (disabled) in s4; login "alice@example.com" -> 12.
"""
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import unittest

from harness import (BINARY, SOURCE_DIR, Database, ProxyTestCase, TcpForwarder, access_log_lines,
                     curl, curl_status, wait_for)

SEED = """
INSERT INTO sy_servers (id, name, pool, version, redirect_url) VALUES
  (1, 'app-old', 'old', '7.10', ''), (2, 'app-new', 'new', '8.0', '{new_url}');
INSERT INTO sy_schemas (name, state, server_id) VALUES
  ('s1', 'enabled', 1), ('s2', 'enabled', 1), ('s3', 'enabled', 1), ('s4', 'enabled', 1);
INSERT INTO sy_contexts (id, schema_name, enabled, server_id) VALUES
  (11, 's1', 1, NULL), (12, 's1', 1, NULL), (21, 's2', 1, NULL), (31, 's3', 1, NULL),
  (41, 's4', 0, NULL);
INSERT INTO sy_logins (login, context_id) VALUES ('alice@example.com', 12);
"""


def routing_yaml(db_dsn, role, serve, old_addr, new_addr, extra_routing="", access_log="",
                 refresh="100ms"):
    return f"""workers: 2
listeners:
  - name: main
    port: 0
    pool: {serve}
pools:
  - name: old
    version: "7.10"
    members: [{{address: "{old_addr}"}}]
    health_check: {{enabled: false}}
  - name: new
    version: "8.0"
    members: [{{address: "{new_addr}"}}]
    health_check: {{enabled: false}}
database:
  dsns:
{db_dsn}  refresh_interval: {refresh}
  heartbeat_interval: 200ms
routing:
  role: {role}
  instance_id: it-{role}-{os.getpid()}
  version: "{'7.10' if role == 'old' else '8.0'}"
  serve_pools: [{serve}]
  keys:
    - {{type: header, name: X-Context-Id}}
    - {{type: query, name: cid}}
    - {{type: login_query, name: name}}
    - {{type: login_form, name: name}}
{extra_routing}""" + (f'access_log:\n  path: "{access_log}"\n' if access_log else "")


class RoutingTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.db = Database()
        self.addCleanup(self.db.drop)
        self.old_b = self.backend("old-1", "old")
        self.new_b = self.backend("new-1", "new")
        # The new-role instance first: its address is the migration URL of server 2.
        self.migrate()
        self.db.sql(SEED.format(new_url="http://127.0.0.1:1"))
        self.new = self.start("new", "new")
        self.db.sql(f"UPDATE sy_servers SET redirect_url='http://{self.new.listeners['main']}' "
                    "WHERE id=2")
        self.old = self.start("old", "old")

    def migrate(self):
        cfg = os.path.join(self.workdir, "migrate.yaml")
        with open(cfg, "w") as f:
            f.write(routing_yaml(self.db.dsn_yaml(), "old", "old", "127.0.0.1:1", "127.0.0.1:2"))
        p = subprocess.run([BINARY, "db", "migrate", "--config", cfg], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout)
        return p.stdout

    def start(self, role, serve, extra="", dsn=None):
        access = os.path.join(self.workdir, f"{role}-access.log")
        sy = self.switchyard(routing_yaml(dsn or self.db.dsn_yaml(), role, serve,
                                          self.old_b.address, self.new_b.address, extra, access),
                             name=f"sy-{role}")
        sy.access_log_path = access
        return sy

    def get(self, sy, path="/", ctx=None, *args):
        extra = ["-H", f"X-Context-Id: {ctx}"] if ctx is not None else []
        return curl_status(sy.url(path), *extra, *args)

    def wait_route(self, sy, ctx, expect_code, what):
        wait_for(lambda: self.get(sy, "/", ctx)[0] == expect_code, timeout=10, what=what)

    # --- proxy / redirect / reject -----------------------------------------------------------

    def test_old_instance_proxies_contexts_it_serves(self):
        self.assertEqual(self.get(self.old, "/", 11), (200, b"old-1 old\n"))
        self.assertEqual(self.get(self.old, "/?cid=21"), (200, b"old-1 old\n"))
        self.assertEqual(self.get(self.old, "/?name=alice%40example.com"), (200, b"old-1 old\n"))
        code, body = curl_status(self.old.url("/login"), "--data", "name=alice@example.com")
        self.assertEqual((code, body), (200, b"old-1 old\n"))

    def test_moved_context_is_redirected_307_and_followed_to_the_new_pool(self):
        self.db.sql("UPDATE sy_schemas SET server_id=2 WHERE name='s1'")
        self.wait_route(self.old, 11, 307, "s1 moved on the old instance")
        # The new instance refreshes on its own schedule: until it has seen the move it answers
        # CTX-0012 to the followed redirect below.
        self.wait_route(self.new, 11, 200, "s1 moved on the new instance")
        rc, out, err = curl("-sS", "-D", "-", "-o", "/dev/null", "-H", "X-Context-Id: 11",
                            self.old.url("/app/page?x=1&y=%20z"))
        self.assertIn("HTTP/1.1 307", out.decode())
        location = [l for l in out.decode().splitlines() if l.lower().startswith("location:")][0]
        self.assertEqual(location.split(":", 1)[1].strip(),
                         f"http://{self.new.listeners['main']}/app/page?x=1&y=%20z")
        # A spoofed Host never ends up in Location (no open redirect).
        rc, out, err = curl("-sS", "-D", "-", "-o", "/dev/null", "-H", "X-Context-Id: 11",
                            "-H", "Host: evil.example", self.old.url("/"))
        self.assertNotIn("evil", out.decode())
        # Followed (method and body preserved by 307): the new pool answers, once the new
        # instance has seen the move too (each instance refreshes on its own timer).
        self.wait_route(self.new, 11, 200, "s1 moved on the new instance")
        code, body = curl_status(self.old.url("/upload"), "-L", "-H", "X-Context-Id: 11",
                                 "--data-binary", "payload")
        self.assertEqual(code, 200)
        self.assertIn(b"7 ", body)
        self.assertEqual(self.get(self.new, "/", 11), (200, b"new-1 new\n"))
        routes = wait_for(lambda: [(l.get("route"), l.get("context")) for l in
                                   access_log_lines(self.old.access_log_path)
                                   if l.get("status") == 307], what="307 in the access log")
        self.assertIn(("redirect", 11), routes)

    def test_moved_action_proxy_forwards_with_the_loop_guard(self):
        self.old.stop()
        sy = self.start("old", "old", extra="  moved_action: proxy\n")
        self.db.sql("UPDATE sy_schemas SET server_id=2 WHERE name='s1'")
        wait_for(lambda: self.get(sy, "/", 11) == (200, b"new-1 new\n"), what="proxied to new")
        code, body = self.get(sy, "/headers", 11)
        self.assertEqual(code, 200)
        self.assertEqual(json.loads(body)["headers"].get("x-switchyard-redirected"), "1")
        code, body = self.get(sy, "/headers", 12)  # also moved with s1
        self.assertEqual(json.loads(body)["name"], "new-1")
        code, body = self.get(sy, "/headers", 21)  # not moved: no guard header
        self.assertNotIn("x-switchyard-redirected", json.loads(body)["headers"])

    def test_new_instance_rejects_a_context_still_on_the_old_server(self):
        code, body = self.get(self.new, "/", 21)
        self.assertEqual(code, 409)
        err = json.loads(body)
        self.assertEqual(err["error"], "CTX-0012")
        self.assertEqual(err["context"], 21)
        self.assertIn("app-old", json.dumps(err))
        rc, out, _ = curl("-sS", "-D", "-", "-o", "/dev/null", "-H", "X-Context-Id: 21",
                          self.new.url("/"))
        self.assertNotIn("location:", out.decode().lower())

    def test_loop_guard_stops_a_second_redirect(self):
        self.db.sql("UPDATE sy_schemas SET server_id=2 WHERE name='s1'")
        self.wait_route(self.old, 11, 307, "s1 moved")
        code, body = self.get(self.old, "/", 11, "-H", "X-Switchyard-Redirected: 1")
        self.assertEqual(code, 508)
        self.assertEqual(json.loads(body)["error"], "CTX-0013")

    def test_errors_for_unknown_missing_and_disabled_tenants(self):
        code, body = self.get(self.old, "/", 999)
        self.assertEqual((code, json.loads(body)["error"]), (404, "CTX-0003"))
        code, body = self.get(self.old, "/")
        self.assertEqual((code, json.loads(body)["error"]), (404, "CTX-0001"))
        code, body = self.get(self.old, "/?name=nobody%40example.com")
        self.assertEqual((code, json.loads(body)["error"]), (404, "CTX-0002"))
        code, body = self.get(self.old, "/", 41)
        self.assertEqual((code, json.loads(body)["error"]), (403, "CTX-0004"))
        # Local answers keep the connection: two requests, one connect.
        rc, out, _ = curl("-w", "%{num_connects}\n", "-H", "X-Context-Id: 999",
                          self.old.url("/"), self.old.url("/"))
        self.assertEqual([l for l in out.decode().splitlines() if l.isdigit()], ["1", "0"])

    def test_request_without_key_goes_to_its_listeners_pool_with_default_pool(self):
        self.old.stop()
        yaml_text = routing_yaml(self.db.dsn_yaml(), "old", "old", self.old_b.address,
                                 self.new_b.address, "  no_key: default_pool\n")
        yaml_text = yaml_text.replace("    pool: old\n", "    pool: old\n  - name: alt\n"
                                      "    port: 0\n    pool: new\n", 1)
        sy = self.switchyard(yaml_text, name="sy-nokey")
        self.assertEqual(curl_status(sy.url("/", "main")), (200, b"old-1 old\n"))
        self.assertEqual(curl_status(sy.url("/", "alt")), (200, b"new-1 new\n"))
        # A request with a key is still routed by its tenant, whatever the listener.
        self.assertEqual(curl_status(sy.url("/", "alt"), "-H", "X-Context-Id: 11"),
                         (200, b"old-1 old\n"))

    def test_many_pipelined_local_answers(self):
        # Every request gets a local 404: answers must come in order without deep recursion.
        n = 3000
        s = socket.create_connection(self.old.addr(), timeout=10)
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" * (n - 1) +
                  b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            b = s.recv(1 << 16)
            if not b:
                break
            data += b
        s.close()
        self.assertEqual(data.count(b"HTTP/1.1 404 Not Found"), n)
        self.assertEqual(data.count(b"CTX-0001"), n)

    # --- hold ------------------------------------------------------------------------------

    def test_request_is_held_while_schema_disabled_and_answered_by_new_pool_after(self):
        self.db.sql("UPDATE sy_schemas SET state='disabled' WHERE name='s2'")
        time.sleep(0.5)  # two refresh intervals: both instances have the disabled schema
        result = {}

        def client():
            t0 = time.monotonic()
            result["r"] = self.get(self.new, "/", 21)
            result["t"] = time.monotonic() - t0

        th = threading.Thread(target=client)
        th.start()
        time.sleep(1.0)
        self.assertTrue(th.is_alive(), f"request was not held: {result}")
        # The migration step: move the schema's contexts to the new server, enable it.
        self.db.sql("UPDATE sy_schemas SET server_id=2, state='enabled' WHERE name='s2'")
        th.join(timeout=10)
        self.assertEqual(result["r"], (200, b"new-1 new\n"))
        self.assertGreater(result["t"], 0.9)

    def test_hold_past_its_bound_is_503_with_retry_after(self):
        self.old.stop()
        self.old = self.start("old", "old", extra="  hold: {max_wait: 700ms}\n")
        self.db.sql("UPDATE sy_schemas SET state='disabled' WHERE name='s3'")
        time.sleep(0.5)
        t0 = time.monotonic()
        rc, out, err = curl("-sS", "-D", "-", "-H", "X-Context-Id: 31", self.old.url("/"))
        elapsed = time.monotonic() - t0
        text = out.decode()
        self.assertIn("HTTP/1.1 503", text)
        self.assertIn("Retry-After: 1", text)
        self.assertIn("CTX-0021", text)
        self.assertGreater(elapsed, 0.6)

    def test_hold_count_and_byte_bounds_answer_503_at_once(self):
        self.old.stop()
        self.old = self.start("old", "old",
                              extra="  hold: {max_requests: 2, max_bytes: 4k, max_wait: 60s}\n")
        self.db.sql("UPDATE sy_schemas SET state='disabled' WHERE name='s3'")
        time.sleep(0.5)
        # Eight requests on two workers with room for two each: at least four are refused at
        # once (long before max_wait), the others stay held.
        conns = []
        for _ in range(8):
            s = socket.create_connection(self.old.addr(), timeout=10)
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Context-Id: 31\r\n\r\n")
            conns.append(s)
        answered = wait_for(lambda: (lambda r: r if len(r) >= 4 else None)(
            select.select(conns, [], [], 0)[0]), what="four requests refused at once")
        for s in answered:
            reply = s.recv(4096)
            self.assertIn(b"HTTP/1.1 503", reply)
            self.assertIn(b"CTX-0021", reply)
        for s in conns:
            s.close()
        # Every one of the eight is accounted for: refused at once (H-), or held until its
        # client closed, which frees its slot (CW). None waited for max_wait.
        lines = wait_for(lambda: (lambda l: l if len(l) >= 8 else None)(
            access_log_lines(self.old.access_log_path)), what="eight access-log lines")
        terms = [l["termination"] for l in lines]
        self.assertEqual(len(terms), 8, terms)
        self.assertGreaterEqual(terms.count("H-"), 4, terms)
        self.assertGreaterEqual(terms.count("CW"), 1, "nothing was held")
        self.assertEqual(terms.count("H-") + terms.count("CW"), 8, terms)
        # One request whose body alone passes the byte bound: refused at once too, because
        # the body bytes the proxy has already read count, not only the head.
        body = b"x" * 16384
        s = socket.create_connection(self.old.addr(), timeout=10)
        s.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nX-Context-Id: 31\r\nContent-Length: " +
                  str(len(body)).encode() + b"\r\n\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertIn(b"HTTP/1.1 503", data)
        # A small request still fits and is held, then answered once the schema is enabled.
        result = {}
        th = threading.Thread(target=lambda: result.update(r=self.get(self.old, "/", 31)))
        th.start()
        time.sleep(0.5)
        self.assertTrue(th.is_alive(), f"request was not held: {result}")
        self.db.sql("UPDATE sy_schemas SET state='enabled' WHERE name='s3'")
        th.join(timeout=10)
        self.assertEqual(result["r"][0], 200)

    # --- fleet awareness ----------------------------------------------------------------------

    def test_instances_write_heartbeats_with_inflight_per_schema(self):
        rows = wait_for(lambda: [r for r in self.db.sql(
            "SELECT id, role, version FROM sy_instances ORDER BY id") if r[0].startswith("it-")]
            if len(self.db.sql("SELECT id FROM sy_instances")) >= 2 else None,
            what="two heartbeat rows")
        self.assertEqual([(r[1], r[2]) for r in rows], [("new", "8.0"), ("old", "7.10")])
        th = threading.Thread(target=lambda: self.get(self.old, "/slow?ms=2000", 11))
        th.start()

        def inflight():
            r = self.db.sql(f"SELECT inflight_json FROM sy_instances WHERE id='it-old-{os.getpid()}'")
            return r and "s1" in r[0][0] and r[0][0]

        text = wait_for(inflight, timeout=5, what="s1 in flight in the heartbeat")
        self.assertIn("s1", text)
        th.join()
        wait_for(lambda: not inflight(), timeout=5, what="s1 no longer in flight")

    # --- database outage ---------------------------------------------------------------------

    def test_serving_continues_while_the_database_is_away(self):
        fwd = TcpForwarder(self.db.port)
        self.addCleanup(fwd.stop)
        sy = self.start("old", "old", dsn=self.db.dsn_yaml(port=fwd.port))
        self.assertEqual(self.get(sy, "/", 11)[0], 200)
        fwd.cut()
        wait_for(lambda: "database unavailable" in sy.log(), what="outage logged")
        for _ in range(5):
            self.assertEqual(self.get(sy, "/", 11), (200, b"old-1 old\n"))
        # Changes made during the outage arrive once the database is back.
        self.db.sql("UPDATE sy_schemas SET server_id=2 WHERE name='s1'")
        fwd.restore()
        wait_for(lambda: "database reachable again" in sy.log(), timeout=15, what="reconnect")
        self.wait_route(sy, 11, 307, "change made during the outage")

    def test_a_pruned_change_log_leads_to_one_full_load(self):
        # One transaction: a change, then what prune_changes() leaves behind when every row
        # was old (no rows, a marker past the loader's sequence).
        self.db.sql("START TRANSACTION; UPDATE sy_schemas SET server_id=2 WHERE name='s1'; "
                    "REPLACE INTO sy_meta (k, v) SELECT 'changes_pruned_through', MAX(seq) "
                    "FROM sy_changes; DELETE FROM sy_changes; COMMIT")
        self.wait_route(self.old, 11, 307, "the move seen through a full load")
        time.sleep(1.0)  # four more refresh rounds
        log = self.old.log()
        self.assertEqual(log.count("doing a full load"), 1, log)
        self.assertNotIn("database unavailable", log)

    def test_a_wide_id_span_is_loaded_in_parallel_and_routes_like_a_narrow_one(self):
        # Ids spread over more than 200,000 make the own profile's full load read sy_contexts
        # over two MariaDB C API sessions of its own, in key-range pages (decision 71).
        self.db.sql("INSERT INTO sy_contexts (id, schema_name, enabled, server_id) VALUES"
                    " (250000, 's2', 1, NULL), (300001, 's4', 0, NULL), (3000000, 'sx', 1, 2)")
        sy = self.start("old", "old")
        self.assertEqual(self.get(sy, "/", 11), (200, b"old-1 old\n"))
        self.assertEqual(self.get(sy, "/", 250000), (200, b"old-1 old\n"))
        code, body = self.get(sy, "/", 300001)
        self.assertEqual((code, json.loads(body)["error"]), (403, "CTX-0004"))
        self.assertEqual(self.get(sy, "/", 3000000)[0], 307)  # no sy_schemas row, server 2
        code, body = self.get(sy, "/", 299999)
        self.assertEqual((code, json.loads(body)["error"]), (404, "CTX-0003"))
        # Changes after the parallel load arrive as deltas, as after any full load.
        self.db.sql("UPDATE sy_contexts SET enabled = 0 WHERE id = 250000")
        self.wait_route(sy, 250000, 403, "context 250000 disabled after the parallel load")

    def test_wait_at_start_waits_for_the_database(self):
        fwd = TcpForwarder(self.db.port)
        self.addCleanup(fwd.stop)
        fwd.cut()
        timer = threading.Timer(1.5, fwd.restore)
        timer.start()
        t0 = time.monotonic()
        sy = self.start("old", "old", dsn=self.db.dsn_yaml(port=fwd.port).replace(
            "}\n", "}\n  wait_at_start: true\n", 1))
        timer.join()
        self.assertGreater(time.monotonic() - t0, 1.4)
        self.assertIn("retrying", sy.log())
        self.assertEqual(self.get(sy, "/", 11), (200, b"old-1 old\n"))

    def test_startup_with_unreachable_database_fails_clearly(self):
        cfg = os.path.join(self.workdir, "down.yaml")
        with open(cfg, "w") as f:
            f.write(routing_yaml("    - {host: 127.0.0.1, port: 1, user: x, database: d}\n",
                                 "old", "old", self.old_b.address, self.new_b.address))
        p = subprocess.run([BINARY, "--config", cfg], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot load the tenant directory", p.stdout)
        self.assertIn("127.0.0.1:1", p.stdout)


class SqlProfileTest(ProxyTestCase):
    """The generic read-only profile: a tenant database Switchyard has no profile for, read
    through SELECTs given in the YAML (here over the tables of an OX configdb); pools and
    migration URLs come from the YAML per server name."""

    def test_routes_from_configured_selects(self):
        sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "tools"))
        import ox_configdb
        db = Database("sy_it_sql")
        self.addCleanup(db.drop)
        c = ox_configdb.OxConfigdb()
        servers = [c.register_server("oxserver-1"), c.register_server("oxserver-2")]
        pool = c.register_database("oxdatabase")
        for s in ("oxdatabase_5", "oxdatabase_6"):
            c.create_schema(pool, s)
        c.create_context(1, "a.example.com", servers[0], pool, "oxdatabase_5")
        c.create_context(2, "b.example.com", servers[1], pool, "oxdatabase_6")
        db.sql(ox_configdb.tables_sql() + c.sql())
        old_b = self.backend("old-1", "old")
        new_b = self.backend("new-1", "new")
        yaml_text = routing_yaml(db.dsn_yaml(), "old", "old", old_b.address, new_b.address)
        yaml_text = yaml_text.replace("  refresh_interval:", """  profile: sql
  servers_sql: "SELECT server_id, name FROM server"
  contexts_sql: "SELECT c.cid, c.enabled, p.server_id, p.db_schema FROM context c JOIN context_server2db_pool p ON p.cid = c.cid"
  logins_sql: "SELECT login_info, cid FROM login2context"
  servers:
    - {name: oxserver-1, pool: old}
    - {name: oxserver-2, pool: new, redirect_url: "http://127.0.0.1:9"}
  refresh_interval:""")
        sy = self.switchyard(yaml_text)
        self.assertEqual(curl_status(sy.url("/"), "-H", "X-Context-Id: 1"), (200, b"old-1 old\n"))
        self.assertEqual(curl_status(sy.url("/"), "-H", "X-Context-Id: 2")[0], 307)
        # A change in the database is seen at the next full reload.
        db.sql("UPDATE context SET enabled=0 WHERE cid=1")
        wait_for(lambda: curl_status(sy.url("/"), "-H", "X-Context-Id: 1")[0] == 403,
                 what="disabled context seen")
        # Read-only, and without a state database no heartbeat is written anywhere.
        self.assertEqual(db.sql("SHOW TABLES LIKE 'sy%'"), [])
        self.assertNotIn("heartbeat", sy.log())


if __name__ == "__main__":
    unittest.main()
