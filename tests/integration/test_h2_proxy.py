"""HTTP/2 through the proxy: h2 by ALPN on the TLS listener and h2c with prior knowledge on the
plain one (TlsTest's set-up from test_tls_h2.py): many streams, large bodies both ways, flow
control against a stalled client, rapid reset, GOAWAY on SIGTERM, trailers, interim responses,
Expect: 100-continue, CONTINUATION and PING floods, oversized header lists.
"""
import hashlib
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import (access_log_lines, config_yaml, curl, curl_status, pool_yaml, raw_origin,
                     rss_limit_kib, wait_for)
from test_tls_h2 import TlsTest

# The raw HTTP/2 client is shared with the other h2 tests (h2raw.py).
from h2raw import (CONTINUATION, DATA, END_HEADERS, END_STREAM, ENHANCE_YOUR_CALM, GOAWAY,  # noqa: E402
                   HEADERS, PING, RST_STREAM, WINDOW_UPDATE, RawH2)
from h2raw import frame as h2_frame  # noqa: E402
from h2raw import literal as hpack_literal  # noqa: E402
from h2raw import request_block as h2_request_block  # noqa: E402


class H2Test(TlsTest):
    """HTTP/2: h2 by ALPN on the TLS listener, h2c with prior knowledge on the plain one."""

    def test_h2_h2c_and_h1_on_the_same_listeners(self):
        sy = self.start()
        for args, url, version, proto in (
                (["--http2", "--cacert", self.a_cert, *self.resolve()], self.https(path="/headers"),
                 "2", "https"),
                (["--http1.1", "--cacert", self.a_cert, *self.resolve()],
                 self.https(path="/headers"), "1.1", "https"),
                (["--http2-prior-knowledge"], sy.url("/headers", "plain"), "2", "http"),
                ([], sy.url("/headers", "plain"), "1.1", "http")):
            rc, out, err = curl("-w", "\n%{http_version}", *args, url, check=True)
            body, _, got = out.rpartition(b"\n")
            self.assertEqual(got.decode(), version, args)
            self.assertIn(f'"x-forwarded-proto": "{proto}"'.encode(), body)
            self.assertIn(b'"via": "1.1 switchyard"', body)
        # The access log tells the four apart: h2 streams are logged by their internal
        # HTTP/1.1 connection, which must not call them HTTP/1.1.
        lines = wait_for(lambda: (lambda l: l if len(l) >= 4 else None)(
            access_log_lines(sy.access_log_path)), what="4 access log lines")
        self.assertEqual([(l["listener"], l["proto"], l["tls"]) for l in lines],
                         [("tls", "HTTP/2.0", True), ("tls", "HTTP/1.1", True),
                          ("plain", "HTTP/2.0", False), ("plain", "HTTP/1.1", False)])

    def test_many_concurrent_streams_on_one_connection(self):
        sy = self.start()
        for url in (self.https("127.0.0.1", "/slow?ms=300"), sy.url("/slow?ms=300", "plain")):
            t0 = time.monotonic()
            p = subprocess.run(["nghttp", "-n", "-s", "-m", "100", url], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout)
            rows = [l for l in p.stdout.splitlines() if l.strip().endswith("/slow?ms=300")]
            self.assertEqual(len(rows), 100, p.stdout)
            self.assertTrue(all(" 200 " in r for r in rows), p.stdout)
            # 100 requests of 300 ms each in well under 100 x 300 ms: they ran concurrently.
            self.assertLess(time.monotonic() - t0, 10)
        p = subprocess.run(["h2load", "-n", "3000", "-c", "4", "-m", "50",
                            self.https("127.0.0.1")], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=120)
        self.assertIn("3000 succeeded, 0 failed, 0 errored", p.stdout)
        self.assertIn("h2", p.stdout)

    def test_large_upload_and_download_over_h2(self):
        sy = self.start()
        size = 50 * 1000 * 1000
        data = (os.urandom(1 << 20) * 50)[:size]
        path = os.path.join(self.workdir, "up.bin")
        with open(path, "wb") as f:
            f.write(data)
        digest = hashlib.sha256(data).hexdigest()
        for args in (["--data-binary", f"@{path}"],          # content-length
                     ["-T", "-"]):                            # unknown length (chunked upstream)
            p = subprocess.run(["curl", "-sS", "--http2", "--cacert", self.a_cert,
                                *self.resolve(), *args, self.https(path="/upload")],
                               input=data if args[0] == "-T" else None,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.decode().split(), [str(size), digest], args)
        for url, args in ((self.https(path=f"/download?bytes={size}"),
                           ["--http2", "--cacert", self.a_cert, *self.resolve()]),
                          (sy.url(f"/download?bytes={size}&chunked=1", "plain"),
                           ["--http2-prior-knowledge"])):
            rc, out, err = curl(*args, "-o", "-", url, check=True)
            self.assertEqual(len(out), size)
            self.assertEqual(out[:65536], bytes(range(256)) * 256)
        self.assertLess(sy.peak_rss_kib(), rss_limit_kib(64 * 1024),
                        "RSS grew with the body size")

    def test_flow_control_holds_the_upstream_when_the_client_stalls(self):
        # A client that never opens its 64 KiB window: the proxy must stop reading the backend
        # instead of buffering the whole 40 MB body.
        sy = self.start(limits="buffer_high_water: 64k")
        size = 40 * 1000 * 1000
        c = RawH2(sy.addr("plain"))
        c.send(h2_frame(HEADERS, END_STREAM | END_HEADERS, 1,
                        h2_request_block(f"/download?bytes={size}")))
        got = 0
        deadline = time.monotonic() + 2
        c.sock.settimeout(0.3)
        while time.monotonic() < deadline:
            try:
                f = c.read_frame()
            except socket.timeout:
                continue
            self.assertIsNotNone(f)
            if f[0] == DATA:
                got += len(f[3])
        self.assertLessEqual(got, 65535)
        self.assertLess(sy.rss_kib(), rss_limit_kib(40 * 1024),
                        "the body was buffered despite flow control")
        # Open the windows: everything arrives.
        c.sock.settimeout(10)
        big = (2 ** 31 - 1 - 65535).to_bytes(4, "big")
        c.send(h2_frame(WINDOW_UPDATE, 0, 0, big) + h2_frame(WINDOW_UPDATE, 0, 1, big))
        while True:
            f = c.read_frame()
            self.assertIsNotNone(f, f"closed after {got} bytes")
            if f[0] == DATA and f[2] == 1:
                got += len(f[3])
                if f[1] & END_STREAM:
                    break
            self.assertNotEqual(f[0], RST_STREAM)
        c.close()
        self.assertEqual(got, size)

    def test_many_stalled_streams_keep_memory_bounded(self):
        # 100 streams of 20 MB downloads (2 GB) on one connection that never opens its window:
        # each stream may hold about 64 KiB + buffer_high_water in the proxy, no more.
        sy = self.start()
        c = RawH2(sy.addr("plain"))
        c.send(b"".join(h2_frame(HEADERS, END_STREAM | END_HEADERS, sid,
                                 h2_request_block("/download?bytes=20000000"))
                        for sid in range(1, 200, 2)))
        wait_for(lambda: int(curl_status(f"http://{self.b.address}/control/seen?path=/download")
                             [1]) == 100, what="100 downloads started at the backend")
        time.sleep(1.5)
        self.assertLess(sy.rss_kib(), rss_limit_kib(96 * 1024))
        c.close()
        rc, out, _ = curl("--http2-prior-knowledge", sy.url("/", "plain"), check=True)
        self.assertEqual(out, b"b1 old\n")

    def test_rapid_reset_gets_goaway_and_others_are_served(self):
        sy = self.start()
        c = RawH2(sy.addr("plain"))
        burst = b"".join(
            h2_frame(HEADERS, END_STREAM | END_HEADERS, sid, h2_request_block("/slow?ms=500")) +
            h2_frame(RST_STREAM, 0, sid, (8).to_bytes(4, "big"))  # CANCEL
            for sid in range(1, 2 * 1000, 2))
        try:
            c.send(burst)
        except OSError:
            pass  # the proxy may close before the whole burst is written
        goaway = None
        c.sock.settimeout(10)
        try:
            while goaway is None:
                f = c.read_frame()
                if f is None:
                    break
                if f[0] == GOAWAY:
                    goaway = f
        except (ConnectionResetError, socket.timeout):
            pass
        c.close()
        self.assertIsNotNone(goaway, "no GOAWAY after 1000 resets")
        self.assertEqual(int.from_bytes(goaway[3][4:8], "big"), ENHANCE_YOUR_CALM)
        self.assertIn("ENHANCE_YOUR_CALM", sy.log())
        # Everybody else is still served, over every protocol.
        rc, out, _ = curl("--http2-prior-knowledge", sy.url("/", "plain"), check=True)
        self.assertEqual(out, b"b1 old\n")
        code, _ = curl_status(self.https(), "--http2", "--cacert", self.a_cert, *self.resolve())
        self.assertEqual(code, 200)

    def test_sigterm_sends_goaway_and_finishes_open_streams(self):
        sy = self.start(workers=2, limits="drain_timeout: 10s")
        procs = [subprocess.Popen(["nghttp", "-n", "-s", "-m", "5", url],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for url in (self.https("127.0.0.1", "/slow?ms=1500"),
                             sy.url("/slow?ms=1500", "plain"))]
        wait_for(lambda: int(curl_status(f"http://{self.b.address}/control/seen?path=/slow")[1])
                 == 10, what="10 streams in flight at the backend")
        sy.proc.send_signal(signal.SIGTERM)
        for p in procs:
            out, _ = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 0, out)
            rows = [l for l in out.splitlines() if l.strip().endswith("/slow?ms=1500")]
            self.assertEqual(len(rows), 5, out)
            self.assertTrue(all(" 200 " in r for r in rows), out)
        self.assertEqual(sy.terminate(timeout=15), 0)
        self.assertEqual(len(access_log_lines(sy.access_log_path)), 10)

    def test_trailers_pass_through_both_ways(self):
        # A raw origin: checks the request's trailer after the last chunk and answers with a
        # chunked body and a trailer of its own.
        import threading
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        seen = {}

        def origin():
            conn, _ = srv.accept()
            data = b""
            while not (b"\r\n0\r\n" in data and data.endswith(b"\r\n\r\n")):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            seen["request"] = data
            value = b"none"
            for line in data.split(b"\r\n0\r\n", 1)[-1].split(b"\r\n"):
                if line.lower().startswith(b"x-req:"):
                    value = line.split(b":", 1)[1].strip()
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-echo\r\n"
                         b"\r\n5\r\nhello\r\n0\r\nx-echo: " + value + b"\r\n\r\n")
            conn.close()

        th = threading.Thread(target=origin, daemon=True)
        th.start()
        text = config_yaml([pool_yaml("main", [f"127.0.0.1:{srv.getsockname()[1]}"], "v1")],
                           listeners=(("plain", "main"),))
        sy = self.switchyard(text, "sy-trailers")
        body = os.path.join(self.workdir, "body.txt")
        with open(body, "w") as f:
            f.write("some body\n")
        p = subprocess.run(["nghttp", "-v", "--no-content-length", "-d", body,
                            "--trailer=x-req: abc123", sy.url("/t", "plain")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
        th.join(timeout=10)
        srv.close()
        self.assertIn(b"x-req: abc123", seen.get("request", b""))
        self.assertIn("x-echo: abc123", p.stdout)
        self.assertIn("hello", p.stdout)

    def test_interim_responses_are_relayed_as_non_final_headers(self):
        # 103 Early Hints from the upstream, then the final response.
        addr, th, _ = raw_origin(
            self,
            b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        sy = self.switchyard(config_yaml([pool_yaml("main", [addr], "v1")],
                                         listeners=(("plain", "main"),)), "sy-1xx")
        p = subprocess.run(["nghttp", "-v", sy.url("/hints", "plain")], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        th.join(timeout=10)
        self.assertEqual(p.returncode, 0, p.stdout)
        out = p.stdout
        self.assertIn(":status: 103", out)
        self.assertIn("link: </style.css>; rel=preload", out)
        self.assertIn(":status: 200", out)
        self.assertLess(out.index(":status: 103"), out.index(":status: 200"))
        # The 103 HEADERS frame does not end the stream; the final one's DATA does.
        hints = out[out.index(":status: 103"):out.index(":status: 200")]
        self.assertNotIn("END_STREAM", hints.split("recv HEADERS frame")[0])
        # HTTP/1.1 the same way: the final response right behind the 103 in the same read
        # used to wait for more upstream bytes (and got a 502 when the upstream closed).
        addr, th, _ = raw_origin(
            self,
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        sy = self.switchyard(config_yaml([pool_yaml("main", [addr], "v1")],
                                         listeners=(("plain", "main"),)), "sy-1xx-h1")
        rc, body, err = curl("-sv", sy.url("/hints", "plain"))
        th.join(timeout=10)
        self.assertEqual(body, b"ok", err)
        self.assertIn("< HTTP/1.1 103", err)
        self.assertIn("< HTTP/1.1 200", err)

    def test_expect_100_continue_is_answered_over_h2(self):
        # The client waits for 100 Continue before it sends the body (nghttp
        # --expect-continue); the proxy's own 100 reaches it as an interim HEADERS frame.
        sy = self.start()
        body = os.path.join(self.workdir, "body.txt")
        with open(body, "w") as f:
            f.write("x" * 1000)
        # /upload answers after the whole body (/echo sends its head first, and nghttp sends
        # no body once a final response came: the two would wait for each other).
        p = subprocess.run(["nghttp", "-v", "--expect-continue", "-d", body,
                            sy.url("/upload", "plain")], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("1000 " + hashlib.sha256(b"x" * 1000).hexdigest(), p.stdout)
        self.assertIn(":status: 100", p.stdout)
        self.assertIn(":status: 200", p.stdout)
        self.assertLess(p.stdout.index(":status: 100"), p.stdout.index(":status: 200"))

    def test_request_trailers_with_content_length_when_announced(self):
        # With content-length and a "trailer" field, the request goes upstream chunked so
        # that its trailer fields survive; the upstream sees no content-length.
        addr, th, seen = raw_origin(self, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        sy = self.switchyard(config_yaml([pool_yaml("main", [addr], "v1")],
                                         listeners=(("plain", "main"),)), "sy-trailer-cl")
        body = os.path.join(self.workdir, "body.txt")
        with open(body, "w") as f:
            f.write("some body\n")
        p = subprocess.run(["nghttp", "-v", "-d", body, "-H", "trailer: x-req",
                            "--trailer=x-req: abc123", sy.url("/t", "plain")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=30)
        th.join(timeout=10)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("content-length: 10", p.stdout.lower())  # the client did send one
        request = seen.get("request", b"")
        head, _, rest = request.partition(b"\r\n\r\n")
        self.assertIn(b"transfer-encoding: chunked", head.lower())
        self.assertNotIn(b"content-length", head.lower())
        self.assertTrue(rest.startswith(b"a\r\nsome body\n\r\n0\r\n"), rest)
        self.assertIn(b"x-req: abc123", rest)

    def wait_closed(self, c, timeout=10):
        """Reads |c| until the proxy closes it; returns the frame types seen."""
        types = []
        c.sock.settimeout(timeout)
        try:
            while True:
                f = c.read_frame()
                if f is None:
                    return types
                types.append(f[0])
        except (ConnectionResetError, BrokenPipeError):
            return types

    def test_continuation_flood_ends_the_session(self):
        sy = self.start()
        c = RawH2(sy.addr("plain"))
        frames = h2_frame(HEADERS, 0, 1, h2_request_block("/"))
        frames += b"".join(h2_frame(CONTINUATION, 0, 1, hpack_literal(f"x-{i}", "v"))
                           for i in range(40))
        c.send(frames)
        self.wait_closed(c)  # returns only once the proxy closed the connection
        c.close()
        rc, out, _ = curl("--http2-prior-knowledge", sy.url("/", "plain"), check=True)
        self.assertEqual(out, b"b1 old\n")

    def test_ping_flood_from_a_client_that_does_not_read(self):
        sy = self.start()
        c = RawH2(sy.addr("plain"), rcvbuf=4096)
        ping = h2_frame(PING, 0, 0, b"12345678")
        sent = 0
        c.sock.settimeout(5)
        try:
            for _ in range(200):
                c.send(ping * 1000)  # 17 KB of PINGs, never reading the ACKs
                sent += 1000
        except (OSError, socket.timeout):
            pass
        types = self.wait_closed(c)
        c.close()
        self.assertLess(types.count(PING), sent, "every PING was answered: no flood limit")
        self.assertLess(sy.peak_rss_kib(), rss_limit_kib(64 * 1024))
        rc, out, _ = curl("--http2-prior-knowledge", sy.url("/", "plain"), check=True)
        self.assertEqual(out, b"b1 old\n")

    def test_oversized_header_list_resets_only_that_stream(self):
        sy = self.start(limits="max_header_bytes: 4k\nmax_uri_bytes: 2k")
        rc, out, err = curl("--http2-prior-knowledge", "-H", "X-Big: " + "a" * 6000,
                            sy.url("/", "plain"))
        self.assertNotEqual((rc, out), (0, b"b1 old\n"))
        rc, out, _ = curl("--http2-prior-knowledge", sy.url("/", "plain"), check=True)
        self.assertEqual(out, b"b1 old\n")


def load_tests(loader, tests, pattern):
    # H2Test's own cases (TlsTest's run in test_tls_h2.py).
    inherited = set(loader.getTestCaseNames(TlsTest))
    return unittest.TestSuite(H2Test(name) for name in loader.getTestCaseNames(H2Test)
                              if name not in inherited)


if __name__ == "__main__":
    unittest.main()
