"""HTTP/2 to members (pools with `protocol: h2`) against a real HTTP/2 origin: nghttpd from
Debian's nghttp2-server, cleartext (h2c prior knowledge) and over TLS (ALPN h2). Clients over
h1, h1+TLS, h2 and h2c reach it through the same pool; streams share few connections; uploads,
downloads and trailers pass; a member that does not speak HTTP/2 is refused with the reason;
health checks speak HTTP/2 too. gRPC through the same code: test_grpc.py.
"""
import hashlib
import json
import os
import signal
import socket
import subprocess
import time
import unittest

from harness import (ProxyTestCase, access_log_lines, config_yaml, curl, curl_status,
                     pool_yaml, wait_for)
from test_tls_h2 import make_cert, tls_listener_yaml

CTL = os.environ.get("SY_CTL", "")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Nghttpd:
    """nghttpd serving |docroot| on loopback; TLS when |cert| is given. --echo-upload answers a
    request with a body with that body; --trailer adds a response trailer."""

    def __init__(self, workdir, docroot, cert=None, key=None, name="nghttpd"):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log = open(os.path.join(workdir, f"{name}.log"), "wb")
        argv = ["nghttpd", "-a", "127.0.0.1", "-d", docroot, "--echo-upload",
                "--trailer", "x-origin-trailer: t1"]
        argv += [str(self.port), key, cert] if cert else ["--no-tls", str(self.port)]
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._listening, what="nghttpd to listen")

    def _listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("nghttpd exited")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.log.close()


class H2UpstreamTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.docroot = os.path.join(self.workdir, "www")
        os.makedirs(self.docroot)
        with open(os.path.join(self.docroot, "index.html"), "w") as f:
            f.write("hello over h2\n")
        self.big = os.urandom(3 * 1024 * 1024)
        with open(os.path.join(self.docroot, "big"), "wb") as f:
            f.write(self.big)
        self.origins = []

    def tearDown(self):
        for o in self.origins:
            o.stop()
        super().tearDown()

    def origin(self, **kw):
        o = Nghttpd(self.workdir, self.docroot, **kw)
        self.origins.append(o)
        return o

    def start(self, pool, listeners=(("plain", "main"),), tls_listener=True, admin=True):
        self.access = os.path.join(self.workdir, "access.log")
        text = config_yaml([pool], listeners=listeners, access_log=self.access)
        if tls_listener:
            cert, key = make_cert(self.workdir, "front", ["a.test"])
            text = text.replace("listeners:\n", "listeners:\n" + tls_listener_yaml(
                "tls", "main", [(cert, key)]), 1)
        if admin:
            self.sock = os.path.join(self.workdir, "admin.sock")
            text += f'admin:\n  socket: {{path: "{self.sock}"}}\n'
        self.sy = self.switchyard(text)
        return self.sy

    def stats(self):
        p = subprocess.run([CTL, "-s", self.sock, "show", "stats", "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)["proxy"]

    def test_every_client_protocol_reaches_an_h2c_origin(self):
        o = self.origin()
        sy = self.start(pool_yaml("main", [o.address], "v1", extra="protocol: h2"))
        plain = sy.listeners["plain"]
        tls = sy.listeners["tls"]
        for args, url, version in (
                ((), f"http://{plain}/index.html", "1.1"),
                (("--http2-prior-knowledge",), f"http://{plain}/index.html", "2"),
                (("-k", "--http1.1"), f"https://{tls}/index.html", "1.1"),
                (("-k", "--http2"), f"https://{tls}/index.html", "2")):
            rc, out, err = curl("-i", "-w", "\n%{http_version}", *args, url)
            self.assertEqual(rc, 0, err)
            text = out.decode()
            self.assertIn("hello over h2", text, args)
            self.assertTrue(text.endswith(version), (args, text[-20:]))
            self.assertIn("via: 1.1 switchyard", text.lower(), args)
        lines = wait_for(lambda: [l for l in access_log_lines(self.access)
                                  if l["path"] == "/index.html"] if len(
            access_log_lines(self.access)) >= 4 else None, what="4 access-log lines")
        self.assertEqual({(l["proto"], l["tls"]) for l in lines},
                         {("HTTP/1.1", False), ("HTTP/2.0", False), ("HTTP/1.1", True),
                          ("HTTP/2.0", True)})
        self.assertEqual({l["upstream"] for l in lines}, {o.address})
        self.assertEqual({l["termination"] for l in lines}, {"--"})

    def test_streams_share_connections_and_bodies_pass_both_ways(self):
        o = self.origin()
        sy = self.start(pool_yaml("main", [o.address], "v1", extra="protocol: h2"))
        plain = sy.listeners["plain"]
        p = subprocess.run(["h2load", "-c8", "-m10", "-n2000", f"http://{plain}/index.html"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=120)
        self.assertIn("2000 succeeded, 0 failed, 0 errored", p.stdout)
        p = subprocess.run(["h2load", "--h1", "-c8", "-n1000", f"http://{plain}/index.html"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=120)
        self.assertIn("1000 succeeded, 0 failed, 0 errored", p.stdout)
        stats = self.stats()
        # 3,000 requests, at most 80 in flight at once: a handful of connections carry them.
        self.assertLessEqual(stats["upstream_connects"], 4, stats)
        self.assertGreaterEqual(stats["upstream_reuses"], 2990, stats)
        # Downloads and uploads (nghttpd --echo-upload sends the body back) of 3 MB.
        for args in ((), ("--http2-prior-knowledge",)):
            code, body = curl_status(f"http://{plain}/big", *args)
            self.assertEqual((code, hashlib.sha256(body).hexdigest()),
                             (200, hashlib.sha256(self.big).hexdigest()), args)
            path = os.path.join(self.docroot, "big")
            code, body = curl_status(f"http://{plain}/index.html", "--data-binary", f"@{path}",
                                     *args)
            self.assertEqual((code, len(body)), (200, len(self.big)), args)
            self.assertEqual(body, self.big, args)

    def test_trailers_from_the_origin_reach_h1_and_h2_clients(self):
        o = self.origin()
        sy = self.start(pool_yaml("main", [o.address], "v1", extra="protocol: h2"))
        plain = sy.listeners["plain"]
        p = subprocess.run(["nghttp", "-v", f"http://{plain}/index.html"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=30)
        self.assertIn("x-origin-trailer: t1", p.stdout)
        self.assertIn("hello over h2", p.stdout)
        # nghttpd sends content-length with its trailer: an HTTP/1.1 client gets the body
        # framed by length, which has no place for a trailer (test_grpc.py has a chunked one).
        s = socket.create_connection(("127.0.0.1", int(plain.rsplit(":", 1)[1])), timeout=10)
        s.sendall(b"GET /index.html HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        head, _, rest = data.partition(b"\r\n\r\n")
        self.assertIn(b"HTTP/1.1 200", head)
        self.assertIn(b"content-length: 14", head.lower())
        self.assertEqual(rest, b"hello over h2\n")

    def test_h2_over_tls_by_alpn_and_a_member_that_does_not_speak_it(self):
        cert, key = make_cert(self.workdir, "origin", ["origin.test"])
        o = self.origin(cert=cert, key=key)
        pool = pool_yaml("main", [o.address], "v1", extra=(
            f'protocol: h2\ntls:\n  ca: "{cert}"\n  server_name: origin.test'))
        sy = self.start(pool, tls_listener=False, admin=False)
        code, body = curl_status(sy.url("/index.html"))
        self.assertEqual((code, body), (200, b"hello over h2\n"))
        code, body = curl_status(sy.url("/index.html"), "--http2-prior-knowledge")
        self.assertEqual((code, body), (200, b"hello over h2\n"))
        sy.terminate()
        # An HTTP/1.1-only TLS member (Python's ssl offers http/1.1 only): refused by ALPN.
        b = self.backend("tls-h1", extra_args=["--tls-cert", cert, "--tls-key", key])
        pool = pool_yaml("main", [b.address], "v1", extra=(
            f'protocol: h2\ntls:\n  ca: "{cert}"\n  server_name: origin.test'))
        sy = self.start(pool, tls_listener=False, admin=False)
        code, body = curl_status(sy.url("/index.html"))
        self.assertEqual(code, 502, body)
        self.assertIn(b"did not agree to HTTP/2 (ALPN h2)", body)

    def test_a_refused_member_is_skipped_and_health_checks_speak_h2(self):
        o = self.origin()
        dead = free_port()  # nothing listens here
        health = "path: /index.html\ninterval: 300ms\ntimeout: 250ms\nrise: 1\nfall: 1"
        sy = self.start(pool_yaml("main", [f"127.0.0.1:{dead}", o.address], "v1",
                                  extra="protocol: h2\nretries: 1", health=health),
                        tls_listener=False)
        for _ in range(4):
            code, body = curl_status(sy.url("/index.html"))
            self.assertEqual((code, body), (200, b"hello over h2\n"))
        wait_for(lambda: f"member 127.0.0.1:{dead} is DOWN" in sy.log(), timeout=20,
                 what="the refused member marked down")
        self.assertNotIn(f"member {o.address} is DOWN", sy.log())
        o.stop()
        self.origins.remove(o)
        wait_for(lambda: f"member {o.address} is DOWN" in sy.log(), timeout=20,
                 what="the stopped origin marked down by its HTTP/2 check")
        code, body = curl_status(sy.url("/index.html"))
        self.assertEqual(code, 502, body)
        self.assertIn(b"connect", body)


if __name__ == "__main__":
    unittest.main()
