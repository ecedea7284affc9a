"""What of a request the proxy routes on and forwards, at the socket level (issue 17 items 1
and 11): absolute-form targets over HTTP/1.1 (plain and TLS) and the HTTP/2 equivalents
(:authority against host, :scheme, :path), fragments, header names with '_', fields no
trailer may carry, HTTP/1.2, CONNECT over HTTP/2.

TenantIsolationTest routes tenants by host (host_regex) on the private MariaDB: tenant 11
lives on pool "a" (origin a-1), tenant 21 on pool "b" (origin b-1). The origins echo the
target and Host they received (/headers), so a request that Switchyard attributed to one
tenant and that reached another shows up as the wrong origin or the wrong Host.
"""
import json
import os
import socket
import ssl
import subprocess
import unittest

import h2raw
from h2raw import END_HEADERS, END_STREAM, HEADERS, DATA, RawH2
from harness import (BINARY, Database, ProxyTestCase, access_log_lines, config_yaml, curl_status,
                     pool_yaml, read_until_close, status_lines, wait_for)
from test_admin import CTL
from test_tls_h2 import make_cert

SEED = """
INSERT INTO sy_servers (id, name, pool, version, redirect_url) VALUES
  (1, 'app-a', 'a', '1', ''), (2, 'app-b', 'b', '1', '');
INSERT INTO sy_schemas (name, state, server_id) VALUES ('s1', 'enabled', 1), ('s2', 'enabled', 2);
INSERT INTO sy_contexts (id, schema_name, enabled, server_id) VALUES
  (11, 's1', 1, NULL), (21, 's2', 1, NULL);
"""


def tenant_yaml(dsn, a_addr, b_addr, cert, key, access_log):
    return f"""workers: 1
listeners:
  - {{name: plain, port: 0, pool: a}}
  - name: tls
    port: 0
    pool: a
    tls:
      certificates: [{{cert: "{cert}", key: "{key}"}}]
pools:
  - {{name: a, members: [{{address: "{a_addr}"}}], health_check: {{enabled: false}}}}
  - {{name: b, members: [{{address: "{b_addr}"}}], health_check: {{enabled: false}}}}
database:
  dsns:
{dsn}  refresh_interval: 100ms
  heartbeat_interval: 200ms
routing:
  role: old
  instance_id: it-target-{os.getpid()}
  serve_pools: [a, b]
  keys:
    - {{type: host_regex, pattern: "^t(?<context>[0-9]+)\\\\.example"}}
access_log:
  path: "{access_log}"
"""


def h1(addr, raw, tls=False):
    """Sends |raw| on a fresh connection (TLS when |tls|) and reads until the close."""
    s = socket.create_connection(addr, timeout=10)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s, server_hostname="t11.example")
    try:
        s.sendall(raw)
        return read_until_close(s, 10)[0]
    finally:
        s.close()


def body_of(raw):
    """The body of the single response in |raw| (Content-Length or chunked)."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" not in head.lower():
        return rest
    body, trailer = b"", b""
    while rest:
        line, _, rest = rest.partition(b"\r\n")
        n = int(line.split(b";")[0], 16)
        if n == 0:
            trailer = rest.partition(b"\r\n\r\n")[0]
            break
        body, rest = body + rest[:n], rest[n + 2:]
    return body if not trailer else (body, trailer)


class TenantIsolationTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.db = Database("sy_target")
        self.addCleanup(self.db.drop)
        self.a = self.backend("a-1")
        self.b = self.backend("b-1")
        self.cert, self.key = make_cert(self.workdir, "t", ["t11.example", "t21.example"])
        self.access = os.path.join(self.workdir, "access.log")
        text = tenant_yaml(self.db.dsn_yaml(), self.a.address, self.b.address, self.cert,
                           self.key, self.access)
        cfg = os.path.join(self.workdir, "migrate.yaml")
        with open(cfg, "w") as f:
            f.write(text)
        p = subprocess.run([BINARY, "db", "migrate", "--config", cfg], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.db.sql(SEED)
        self.sy = self.switchyard(text)

    def seen(self, backend, path="/headers"):
        return int(curl_status(f"http://{backend.address}/control/seen?path={path}")[1])

    def echo(self, raw, tls=False):
        """(status, JSON the origin echoed) for one HTTP/1.1 request."""
        out = h1(self.sy.addr("tls" if tls else "plain"), raw, tls)
        codes = status_lines(out)
        self.assertEqual(len(codes), 1, out[:300])
        return codes[0], (json.loads(body_of(out)) if codes[0] == 200 else None)

    def test_absolute_form_is_routed_on_its_authority_over_h1_and_tls(self):
        for tls in (False, True):
            with self.subTest(tls=tls):
                code, seen = self.echo(b"GET http://t21.example/headers?q=1 HTTP/1.1\r\n"
                                       b"Host: t11.example\r\nConnection: close\r\n\r\n", tls)
                self.assertEqual(code, 200)
                # Tenant 21's origin, in origin-form, with tenant 21's name as Host.
                self.assertEqual(seen["name"], "b-1")
                self.assertEqual(seen["target"], "/headers?q=1")
                self.assertEqual(seen["headers"]["host"], "t21.example")
                # https and a port are fine too; the origin sees host:port.
                code, seen = self.echo(b"GET HTTPS://t21.example:8443/headers HTTP/1.1\r\n"
                                       b"Host: t11.example\r\nConnection: close\r\n\r\n", tls)
                self.assertEqual((code, seen["name"], seen["target"], seen["headers"]["host"]),
                                 (200, "b-1", "/headers", "t21.example:8443"))
                # HTTP/1.0 without a Host field: the authority is still the one sent.
                code, seen = self.echo(b"GET http://t21.example/headers HTTP/1.0\r\n\r\n", tls)
                self.assertEqual((code, seen["name"], seen["headers"]["host"]),
                                 (200, "b-1", "t21.example"))
        self.assertEqual(self.seen(self.a), 0, "a request for tenant 21 reached tenant 11's pool")
        logged = wait_for(lambda: [l for l in access_log_lines(self.access)
                                   if l["status"] == 200], what="access log lines")
        self.assertEqual({(l["context"], l["path"]) for l in logged}, {(21, "/headers?q=1"),
                                                                        (21, "/headers")})

    def test_refused_absolute_forms_get_400_and_reach_nobody(self):
        for target, why in ((b"http://user@t21.example/headers", b"userinfo-in-target"),
                            (b"http://t11.example@t21.example/headers", b"userinfo-in-target"),
                            (b"ftp://t21.example/headers", b"bad-scheme"),
                            (b"http:///headers", b"empty-authority")):
            for tls in (False, True):
                with self.subTest(target=target, tls=tls):
                    out = h1(self.sy.addr("tls" if tls else "plain"),
                             b"GET " + target + b" HTTP/1.1\r\nHost: t11.example\r\n\r\n", tls)
                    self.assertEqual(status_lines(out), [400], out[:300])
                    self.assertIn(why, out)
        self.assertEqual(self.seen(self.a) + self.seen(self.b), 0)

    def test_fragment_is_not_forwarded(self):
        code, seen = self.echo(b"GET /headers?x=1#frag HTTP/1.1\r\nHost: t21.example\r\n"
                               b"Connection: close\r\n\r\n")
        self.assertEqual((code, seen["target"]), (200, "/headers?x=1"))
        code, seen = self.echo(b"GET http://t21.example/headers#frag HTTP/1.1\r\n"
                               b"Host: t21.example\r\nConnection: close\r\n\r\n")
        self.assertEqual((code, seen["target"]), (200, "/headers"))

    def h2(self, tls):
        return RawH2(self.sy.addr("tls" if tls else "plain"), tls=tls)

    def test_h2_routes_on_authority_and_refuses_what_disagrees(self):
        for tls in (False, True):
            with self.subTest(tls=tls):
                c = self.h2(tls)
                # :authority decides, and reaches the origin as Host.
                c.send(h2raw.frame(HEADERS, END_STREAM | END_HEADERS, 1, h2raw.request_block(
                    "/headers#frag", "t21.example", "https" if tls else "http")))
                r = c.response(1)
                self.assertEqual(r["status"], 200, r)
                seen = json.loads(r["body"])
                self.assertEqual((seen["name"], seen["target"], seen["headers"]["host"]),
                                 ("b-1", "/headers", "t21.example"))
                # A host field naming another tenant than :authority: malformed (400).
                c.send(h2raw.frame(HEADERS, END_STREAM | END_HEADERS, 3, h2raw.request_block(
                    "/headers", "t11.example", extra=[("host", "t21.example")])))
                self.assertEqual(c.response(3)["status"], 400)
                # An absolute URI in :path behind a scheme nghttp2 does not check.
                c.send(h2raw.frame(HEADERS, END_STREAM | END_HEADERS, 5, h2raw.request_block(
                    "http://t21.example/headers", "t11.example", scheme="ftp")))
                r = c.response(5)
                self.assertEqual((r["status"], r["body"]), (400, b"bad request: bad-scheme\n"))
                # Userinfo in :authority.
                c.send(h2raw.frame(HEADERS, END_STREAM | END_HEADERS, 7, h2raw.request_block(
                    "/headers", "t11.example@t21.example")))
                self.assertEqual(c.response(7)["status"], 400)
                # The connection is still good.
                c.send(h2raw.frame(HEADERS, END_STREAM | END_HEADERS, 9, h2raw.request_block(
                    "/headers", "t11.example")))
                r = c.response(9)
                self.assertEqual((r["status"], json.loads(r["body"])["name"]), (200, "a-1"))
                c.close()
        self.assertEqual(self.seen(self.a), 2)
        self.assertEqual(self.seen(self.b), 2)


class RequestPolicyTest(ProxyTestCase):
    """Fields and versions, without routing: one origin, an admin socket for the counters."""

    def start(self, limits=""):
        self.b = self.backend("b1")
        self.sock = os.path.join(self.workdir, "admin.sock")
        text = config_yaml([pool_yaml("main", [self.b.address], "v1")], limits=limits,
                           access_log=os.path.join(self.workdir, "access.log"))
        text += f'admin:\n  socket: {{path: "{self.sock}"}}\n'
        self.sy = self.switchyard(text)
        return self.sy

    def stats(self):
        p = subprocess.run([CTL, "-s", self.sock, "show", "stats", "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)["proxy"]

    def headers_seen(self, extra):
        out = h1(self.sy.addr(), b"GET /headers HTTP/1.1\r\nHost: a\r\n" + extra +
                 b"Connection: close\r\n\r\n")
        self.assertEqual(status_lines(out), [200], out[:300])
        return json.loads(body_of(out))["headers"]

    def test_header_names_with_underscores_are_dropped_by_default(self):
        self.start()
        seen = self.headers_seen(b"X_Forwarded_For: 6.6.6.6\r\nX_Tenant: 21\r\nX-Kept: 1\r\n")
        self.assertNotIn("x_forwarded_for", seen)
        self.assertNotIn("x_tenant", seen)
        self.assertEqual(seen["x-kept"], "1")
        self.assertEqual(seen["x-forwarded-for"], "127.0.0.1")
        self.assertEqual(self.stats()["underscore_fields_dropped"], 2)
        # Over HTTP/2 too (the request reaches the same HTTP/1.1 code).
        c = RawH2(self.sy.addr())
        c.send(h2raw.frame(HEADERS, END_STREAM | END_HEADERS, 1, h2raw.request_block(
            "/headers", extra=[("x_tenant", "21")])))
        r = c.response(1)
        c.close()
        self.assertNotIn("x_tenant", json.loads(r["body"])["headers"])

    def test_underscores_in_headers_true_forwards_them(self):
        self.start(limits="underscores_in_headers: true")
        seen = self.headers_seen(b"X_Tenant: 21\r\n")
        self.assertEqual(seen["x_tenant"], "21")
        self.assertEqual(self.stats()["underscore_fields_dropped"], 0)

    def test_trailer_fields_no_trailer_may_carry_are_dropped_both_ways_over_h1(self):
        self.start()
        out = h1(self.sy.addr(),
                 b"POST /trailers HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                 b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\n"
                 b"X-Sum: 42\r\nContent-Length: 5\r\nHost: evil.example\r\n"
                 b"Transfer-Encoding: chunked\r\nX_Under: 1\r\n\r\n")
        self.assertEqual(status_lines(out), [200], out)
        body, trailer = body_of(out)
        self.assertEqual(json.loads(body)["trailers"], {"x-sum": "42"})
        # The origin's own trailer: X-Ok kept, the framing/routing/cookie fields dropped.
        self.assertEqual(trailer, b"X-Ok: 1")
        self.assertEqual(self.stats()["trailer_fields_dropped"], 4 + 3)

    def test_trailer_fields_no_trailer_may_carry_are_dropped_over_h2(self):
        self.start()
        c = RawH2(self.sy.addr())
        c.send(h2raw.frame(HEADERS, END_HEADERS, 1, h2raw.request_block("/trailers",
                                                                         method="POST")) +
               h2raw.frame(DATA, 0, 1, b"abc") +
               h2raw.frame(HEADERS, END_STREAM | END_HEADERS, 1, h2raw.block(
                   [("x-sum", "42"), ("host", "evil.example"), ("content-length", "3")])))
        trailers = None
        got = {}
        c.sock.settimeout(10)
        for kind, sid, value in c.events():
            if kind == "headers" and ":status" not in value:
                trailers = value
            elif kind == "headers":
                got["status"] = int(value[":status"])
            elif kind == "data":
                got["body"] = got.get("body", b"") + value
            elif kind in ("end", "rst", "closed"):
                got["end"] = (kind, value)
                break
        c.close()
        self.assertEqual(got["status"], 200, got)
        self.assertEqual(json.loads(got["body"])["trailers"], {"x-sum": "42"})
        self.assertEqual(trailers, {"x-ok": "1"})

    def test_http_1_2_is_served_as_1_1(self):
        self.start()
        out = h1(self.sy.addr(), b"GET / HTTP/1.2\r\nHost: a\r\nConnection: close\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 200"), out[:200])
        self.assertIn(b"b1 old", out)

    def test_connect_over_h2_gets_501(self):
        self.start()
        c = RawH2(self.sy.addr())
        c.send(h2raw.frame(HEADERS, END_HEADERS, 1, h2raw.block(
            [(":method", "CONNECT"), (":authority", "example.com:443")])))
        r = c.response(1)
        self.assertEqual((r["status"], r["body"]), (501, b"CONNECT is not supported\n"))
        self.assertNotEqual(r["rst"], h2raw.INTERNAL_ERROR)
        # The stream was ended for good (the client never sent END_STREAM) and the
        # connection serves on.
        c.send(h2raw.frame(HEADERS, END_STREAM | END_HEADERS, 3, h2raw.request_block("/")))
        r = c.response(3)
        self.assertEqual((r["status"], r["body"]), (200, b"b1 old\n"))
        c.close()
        line = wait_for(lambda: [l for l in access_log_lines(os.path.join(self.workdir,
                                                                           "access.log"))
                                 if l["method"] == "CONNECT"], what="the CONNECT logged")
        self.assertEqual([(l["status"], l["proto"], l["termination"]) for l in line],
                         [(501, "HTTP/2.0", "PR")])


if __name__ == "__main__":
    unittest.main()
