"""/ready, /live and access to the HTTP admin listener (docs/metrics.md): 503 before the first
routing snapshot and from the moment a drain starts, the bearer token, and a non-loopback
listener without a token refused when the configuration is checked."""
import os
import re
import signal
import subprocess
import threading
import unittest

from harness import (BINARY, Database, ProxyTestCase, TcpForwarder, config_yaml, curl_status,
                     pool_yaml, read_ready_file, wait_for)
from metricsrun import get, http_address, migrate, pool, routed_yaml, scrape, value

TOKEN = "s3cret-metrics-token"


class ReadyTest(ProxyTestCase):
    def proxy_with_http(self, backend, http_extra="", limits=""):
        text = config_yaml([pool_yaml("main", [backend.address], "v1")], workers=2, limits=limits)
        text += ("admin:\n"
                 f'  socket: {{path: "{os.path.join(self.workdir, "admin.sock")}"}}\n'
                 f"  http: {{port: 0{http_extra}}}\n")
        return self.switchyard(text)

    def test_ready_turns_503_when_a_drain_starts_and_live_stays_200(self):
        b = self.backend("b1")
        sy = self.proxy_with_http(b, limits="drain_timeout: 20s")
        http = http_address(sy)
        self.assertEqual(get(http, "/ready")[:2], (200, "ready\n"))
        # A slow request keeps the worker draining after SIGTERM.
        result = {}
        t = threading.Thread(target=lambda: result.update(
            r=curl_status(sy.url("/slow?ms=4000"))))
        t.start()
        member = dict(pool="main", member=b.address)
        wait_for(lambda: value(scrape(http), "switchyard_member_active_requests", **member) == 1,
                 what="the slow request in flight")
        sy.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: get(http, "/ready")[0] == 503, what="/ready to turn 503")
        status, body, _ = get(http, "/ready")
        self.assertEqual((status, body), (503, "not ready: draining\n"))
        self.assertEqual(get(http, "/live")[0], 200)
        m = scrape(http)
        self.assertEqual(value(m, "switchyard_draining"), 1)
        self.assertEqual(value(m, "switchyard_ready"), 0)
        t.join(30)
        self.assertEqual(result["r"][0], 200)  # the request in flight finished
        self.assertEqual(sy.proc.wait(30), 0)

    def test_ready_is_503_until_the_first_routing_snapshot(self):
        db = Database()
        self.addCleanup(db.drop)
        fwd = TcpForwarder(db.port)
        self.addCleanup(fwd.stop)
        b = self.backend("b1")
        path = migrate(self.workdir, routed_yaml(
            self.workdir, db.dsn_yaml(port=fwd.port), [pool("old", "7.10", [b.address])],
            "  wait_at_start: true\n  connect_timeout: 1s\n"))
        fwd.cut()  # the directory is out of reach: the first load waits
        log_path = os.path.join(self.workdir, "ready.log")
        ready_path = os.path.join(self.workdir, "ready.ready")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([BINARY, "--config", path, "--ready-file", ready_path],
                                    stdout=log, stderr=subprocess.STDOUT)
        try:
            def log():
                with open(log_path) as f:
                    return f.read()

            def address():
                m = re.search(r"admin http on (\S+)", log())
                return m and m.group(1)
            http = wait_for(address, what="the admin http listener")
            wait_for(lambda: "wait_at_start" in log(), what="a failed load")
            status, body, _ = get(http, "/ready")
            self.assertEqual((status, body), (503, "not ready: no routing snapshot yet\n"))
            self.assertEqual(get(http, "/live")[0], 200)
            m = scrape(http)
            self.assertEqual(value(m, "switchyard_ready"), 0)
            self.assertEqual(value(m, "switchyard_snapshot_generation"), 0)
            fwd.restore()
            wait_for(lambda: get(http, "/ready")[0] == 200, timeout=30,
                     what="/ready once the directory loaded")
            wait_for(lambda: read_ready_file(ready_path), what="the ready file")
            self.assertGreaterEqual(value(scrape(http), "switchyard_snapshot_generation"), 1)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def test_a_token_guards_everything_but_live(self):
        token_file = os.path.join(self.workdir, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        sy = self.proxy_with_http(self.backend("b1"), f', token_file: "{token_file}"')
        http = http_address(sy)
        for path in ("/metrics", "/ready", "/status"):
            status, body, headers = get(http, path)
            self.assertEqual(status, 401, path)
            self.assertIn("Bearer", headers["WWW-Authenticate"])
            self.assertEqual(get(http, path, token="wrong-token-123")[0], 401, path)
            self.assertEqual(get(http, path, token=TOKEN)[0], 200, path)
        self.assertEqual(get(http, "/live")[0], 200)
        self.assertEqual(value(scrape(http, token=TOKEN), "switchyard_ready"), 1)


class ConfigCheckTest(ProxyTestCase):
    def check(self, http_yaml):
        path = os.path.join(self.workdir, "check.yaml")
        with open(path, "w") as f:
            f.write(config_yaml([pool_yaml("main", ["127.0.0.1:9"], "v1")]) +
                    f'admin:\n  socket: {{path: "/tmp/x.sock"}}\n  http: {http_yaml}\n')
        p = subprocess.run([BINARY, "--check-config", path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        return p.returncode, p.stdout

    def test_a_non_loopback_listener_without_a_token_is_refused(self):
        rc, out = self.check("{address: 0.0.0.0, port: 9100}")
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"check\.yaml:\d+:\d+: admin\.http: address \"0\.0\.0\.0\" is not a "
                              r"loopback address: admin\.http\.token_file is required")
        rc, out = self.check("{address: 0.0.0.0, port: 9100, token_file: /etc/sy/token}")
        self.assertEqual(rc, 0, out)
        rc, out = self.check("{address: 127.0.0.1, port: 9100}")
        self.assertEqual(rc, 0, out)
        rc, out = self.check("{address: not-an-ip, port: 9100}")
        self.assertEqual(rc, 1, out)
        self.assertIn("admin.http.address", out)


if __name__ == "__main__":
    unittest.main()
