"""TLS termination on the client side: curl and Python's ssl against the real binary with
certificates generated at test time (openssl CLI, in the test's temporary directory).

Covers: h1 and h1+TLS side by side (X-Forwarded-Proto), SNI choosing among several
certificates, TLS 1.2/1.3 only and min_version, ALPN, session resumption shared by the workers,
50 MB upload and download with bounded RSS, certificate reload on SIGHUP under a live
connection (and a failed reload that changes nothing), the handshake timeout, non-TLS bytes on
a TLS port, graceful shutdown with requests in flight, and the start-up errors for a missing
or mismatched key. Routing (proxy, redirect, reject, hold) is run over TLS by RoutingOverTls,
which reuses test_routing's set-up and cases (it needs the private MariaDB).
"""
import functools
import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import unittest

import test_routing
from harness import (BINARY, ProxyTestCase, access_log_lines, config_yaml, curl, curl_status,
                     pool_yaml, raw_origin, rss_limit_kib, wait_for)


def make_cert(workdir, name, names, key_type="rsa", org="first"):
    """Self-signed certificate for DNS |names| (CN = names[0]); returns (cert, key) paths."""
    cert = os.path.join(workdir, f"{name}.crt")
    key = os.path.join(workdir, f"{name}.key")
    key_args = (["-newkey", "rsa:2048"] if key_type == "rsa" else
                ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
    san = ",".join((f"IP:{n}" if n[0].isdigit() else f"DNS:{n}") for n in names)
    subprocess.run(["openssl", "req", "-x509", *key_args, "-nodes", "-days", "2",
                    "-subj", f"/CN={names[0]}/O={org}", "-addext", f"subjectAltName={san}",
                    "-keyout", key, "-out", cert], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return cert, key


def tls_listener_yaml(name, pool, certs, extra=""):
    lines = [f"  - name: {name}", "    port: 0", f"    pool: {pool}", "    tls:",
             "      certificates:"]
    for cert, key in certs:
        lines.append(f'        - {{cert: "{cert}", key: "{key}"}}')
    lines += ["      " + l for l in extra.strip("\n").splitlines() if l]
    return "\n".join(lines) + "\n"


def tls_config(backend, certs, tls_extra="", workers=1, limits="", access_log="",
               with_plain=True):
    """A config with listener "tls" (and "plain" when |with_plain|) in front of |backend|."""
    text = config_yaml([pool_yaml("main", [backend.address], "v1")],
                       listeners=(("plain", "main"),) if with_plain else (),
                       workers=workers, limits=limits, access_log=access_log)
    return text.replace("listeners:\n", "listeners:\n" + tls_listener_yaml(
        "tls", "main", certs, tls_extra), 1)


def client_context(cafile=None):
    ctx = ssl.create_default_context(cafile=cafile)
    if cafile is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def peer_subject_org(tls_sock):
    der = tls_sock.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der)
    out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem.encode(),
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    return out.strip()


def https_get(sock, path="/", host="a.test"):
    """One keep-alive GET on |sock|; returns (status, body)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split(b" ")[1]), body


# The raw HTTP/2 client is shared with the other h2 tests (h2raw.py).
from h2raw import (CONTINUATION, DATA, END_HEADERS, END_STREAM, ENHANCE_YOUR_CALM, GOAWAY,  # noqa: E402
                   HEADERS, PING, RST_STREAM, WINDOW_UPDATE, RawH2)
from h2raw import frame as h2_frame  # noqa: E402
from h2raw import literal as hpack_literal  # noqa: E402
from h2raw import request_block as h2_request_block  # noqa: E402


class TlsTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.b = self.backend("b1")
        self.a_cert, self.a_key = make_cert(self.workdir, "a", ["a.test", "*.a.test"])
        self.b_cert, self.b_key = make_cert(self.workdir, "b", ["b.test"], key_type="ec")

    def start(self, tls_extra="", workers=1, limits="", certs=None, name="sy"):
        access = os.path.join(self.workdir, f"{name}-access.log")
        sy = self.switchyard(tls_config(self.b, certs or [(self.a_cert, self.a_key),
                                                          (self.b_cert, self.b_key)],
                                        tls_extra, workers, limits, access), name)
        sy.access_log_path = access
        self.port = sy.addr("tls")[1]
        return sy

    def https(self, host="a.test", path="/"):
        return f"https://{host}:{self.port}{path}"

    def resolve(self, host="a.test"):
        return ["--resolve", f"{host}:{self.port}:127.0.0.1"]

    def connect(self, server_hostname="a.test", ctx=None, session=None):
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return (ctx or client_context()).wrap_socket(raw, server_hostname=server_hostname,
                                                     session=session)

    # --- basics ----------------------------------------------------------------------------

    def test_h1_and_h1_tls_side_by_side_with_forwarded_proto(self):
        sy = self.start()
        code, body = curl_status(self.https(path="/headers"), "--cacert", self.a_cert,
                                 *self.resolve())
        self.assertEqual(code, 200)
        self.assertIn(b'"x-forwarded-proto": "https"', body)
        code, body = curl_status(sy.url("/headers", "plain"))
        self.assertEqual(code, 200)
        self.assertIn(b'"x-forwarded-proto": "http"', body)
        # A client's own X-Forwarded-Proto never reaches the backend.
        code, body = curl_status(self.https(path="/headers"), "--cacert", self.a_cert,
                                 "-H", "X-Forwarded-Proto: http", *self.resolve())
        self.assertIn(b'"x-forwarded-proto": "https"', body)
        self.assertNotIn(b'"x-forwarded-proto": "http"', body)

    def test_keep_alive_and_pipelining_over_tls(self):
        self.start()
        s = self.connect()
        for i in range(20):
            self.assertEqual(https_get(s, f"/?i={i}"), (200, b"b1 old\n"))
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" * 50)
        data = b""
        while data.count(b"HTTP/1.1 200") < 50:
            chunk = s.recv(65536)
            self.assertTrue(chunk)
            data += chunk
        s.close()

    def test_sni_chooses_the_certificate(self):
        self.start()
        # curl verifies against only the expected certificate: success proves the choice.
        for host, cert in (("a.test", self.a_cert), ("x.a.test", self.a_cert),
                           ("b.test", self.b_cert)):
            code, _ = curl_status(self.https(host), "--cacert", cert, *self.resolve(host))
            self.assertEqual(code, 200, host)
        rc, _, err = curl("-o", "/dev/null", "--cacert", self.b_cert, *self.resolve("a.test"),
                          self.https("a.test"))
        self.assertNotEqual(rc, 0)
        # No SNI or an unknown name: the first (default) certificate.
        for name in (None, "unknown.example"):
            s = self.connect(server_hostname=name)
            self.assertIn("CN = a.test", peer_subject_org(s))
            s.close()
        s = self.connect(server_hostname="B.TEST")
        self.assertIn("CN = b.test", peer_subject_org(s))
        s.close()

    def test_tls_versions_and_alpn(self):
        self.start()
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = client_context()
            ctx.minimum_version = ctx.maximum_version = version
            s = self.connect(ctx=ctx)
            self.assertEqual(s.version(), {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                           ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version])
            self.assertEqual(https_get(s)[0], 200)
            s.close()
        p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.port}",
                            "-tls1_1"], input=b"", stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=20)
        self.assertNotEqual(p.returncode, 0, "TLS 1.1 must be refused")
        ctx = client_context()
        ctx.set_alpn_protocols(["http/1.1"])
        s = self.connect(ctx=ctx)
        self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
        s.close()

    def test_min_version_1_3_refuses_1_2(self):
        self.start(tls_extra="min_version: 1.3")
        ctx = client_context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with self.assertRaises(ssl.SSLError):
            self.connect(ctx=ctx)
        s = self.connect()
        self.assertEqual(s.version(), "TLSv1.3")
        s.close()

    def test_sessions_resume_on_every_worker(self):
        self.start(workers=2)
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = client_context()
            ctx.maximum_version = version
            s = self.connect(ctx=ctx)
            https_get(s)  # TLS 1.3 tickets arrive after the handshake
            session = s.session
            s.close()
            # SO_REUSEPORT spreads these over both workers: all must resume.
            reused = []
            for _ in range(8):
                s = self.connect(ctx=ctx, session=session)
                https_get(s)
                reused.append(s.session_reused)
                s.close()
            self.assertEqual(reused, [True] * 8, version)

    def test_session_tickets_off(self):
        self.start(tls_extra="session_tickets: false")
        ctx = client_context()
        s = self.connect(ctx=ctx)
        https_get(s)
        session = s.session
        s.close()
        s = self.connect(ctx=ctx, session=session)
        https_get(s)
        self.assertFalse(s.session_reused)
        s.close()

    def test_large_upload_and_download_with_bounded_memory(self):
        sy = self.start()
        size = 50 * 1000 * 1000
        data = os.urandom(1 << 20) * 50
        path = os.path.join(self.workdir, "up.bin")
        with open(path, "wb") as f:
            f.write(data[:size])
        rc, out, err = curl("--cacert", self.a_cert, *self.resolve(), "--data-binary", f"@{path}",
                            self.https(path="/upload"), check=True)
        self.assertEqual(out.decode().split(), [str(size), hashlib.sha256(data[:size]).hexdigest()])
        rc, out, err = curl("--cacert", self.a_cert, *self.resolve(), "-o", "-",
                            self.https(path=f"/download?bytes={size}"), check=True)
        self.assertEqual(len(out), size)
        pattern = bytes(range(256)) * 256
        self.assertEqual(out[:len(pattern)], pattern)
        self.assertLess(sy.peak_rss_kib(), rss_limit_kib(64 * 1024),
                        "RSS grew with the body size")

    def test_slow_reader_gets_every_byte_with_bounded_memory(self):
        # The client reads in bursts with pauses: SSL_write meets a full socket (WANT_WRITE),
        # the proxy stops reading the backend above the high-water mark and resumes below it.
        sy = self.start(limits="buffer_high_water: 64k")
        size = 30 * 1000 * 1000
        s = self.connect()
        s.sendall(f"GET /download?bytes={size} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
        data = bytearray()
        head = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            chunk = s.recv(1 << 16)
            self.assertTrue(chunk, "connection closed early")
            data += chunk
            if head is None and b"\r\n\r\n" in data:
                head, _, rest = bytes(data).partition(b"\r\n\r\n")
                data = bytearray(rest)
            if head is not None and len(data) >= size:
                break
            if len(data) % (4 << 20) < len(chunk):
                time.sleep(0.2)  # a pause every ~4 MB
        s.close()
        self.assertIn(b"200 OK", head)
        self.assertEqual(len(data), size)
        # The backend sends byte i = i % 256: sample it (and the very end).
        for i in list(range(0, size, 999_983)) + [size - 1]:
            self.assertEqual(data[i], i % 256, i)
        self.assertLess(sy.peak_rss_kib(), rss_limit_kib(48 * 1024))

    def test_many_concurrent_tls_clients(self):
        sy = self.start(workers=2)
        p = subprocess.run(["h2load", "--h1", "-n", "2000", "-c", "40", "-m", "1",
                            self.https("127.0.0.1")], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("2000 succeeded, 0 failed, 0 errored", p.stdout)
        # New connection per request: 300 full handshakes (and tickets) back to back.
        p = subprocess.run(["h2load", "--h1", "-n", "300", "-c", "300", "-m", "1",
                            self.https("127.0.0.1")], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=120)
        self.assertIn("300 succeeded, 0 failed, 0 errored", p.stdout)
        self.assertEqual(curl_status(sy.url("/", "plain"))[0], 200)

    def test_listeners_keep_their_configured_backlog(self):
        # libevent used to re-listen with 128; 300 simultaneous TLS connects then waited for
        # SYN retransmits (1 s) in bench/compare_h2.
        if not shutil.which("ss"):
            self.skipTest("ss (iproute2) is not installed")
        sy = self.start()
        for name in ("tls", "plain"):
            port = sy.addr(name)[1]
            out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], stdout=subprocess.PIPE,
                                 text=True, check=True).stdout.split()
            self.assertEqual(out[2], "511", out)  # Send-Q of a listener = its backlog

    # --- timeouts, bad clients, shutdown --------------------------------------------------------

    def test_handshake_timeout_closes_a_silent_client(self):
        self.start(tls_extra="handshake_timeout: 300ms")
        s = socket.create_connection(("127.0.0.1", self.port))
        s.settimeout(5)
        t0 = time.monotonic()
        self.assertEqual(s.recv(100), b"")
        self.assertLess(time.monotonic() - t0, 3)
        s.close()
        # A client that starts a ClientHello and stalls half-way is closed too.
        s = socket.create_connection(("127.0.0.1", self.port))
        s.settimeout(5)
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        t0 = time.monotonic()
        self.assertEqual(s.recv(100), b"")
        self.assertLess(time.monotonic() - t0, 3)
        s.close()

    def test_plain_http_on_the_tls_port_is_refused_and_service_continues(self):
        self.start()
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        s.close()
        self.assertNotIn(b"HTTP/1.1 200", data)
        code, _ = curl_status(self.https(), "--cacert", self.a_cert, *self.resolve())
        self.assertEqual(code, 200)

    def test_sigterm_finishes_tls_requests_in_flight(self):
        sy = self.start(workers=2, limits="drain_timeout: 10s")
        results = []

        def client():
            results.append(curl_status(self.https(path="/slow?ms=1500"), "--cacert",
                                       self.a_cert, *self.resolve(), timeout=20))

        threads = [threading.Thread(target=client) for _ in range(6)]
        for t in threads:
            t.start()
        wait_for(lambda: int(curl_status(f"http://{self.b.address}/control/seen?path=/slow")[1])
                 == 6, what="6 requests in flight at the backend")
        sy.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join()
        self.assertEqual(sy.terminate(timeout=15), 0)
        self.assertEqual([r[0] for r in results], [200] * 6, results)
        self.assertEqual(len(access_log_lines(sy.access_log_path)), 6)

    # --- reload -------------------------------------------------------------------------------

    def test_sighup_reloads_certificates_and_keeps_live_connections(self):
        sy = self.start()
        live = self.connect()
        self.assertEqual(https_get(live)[0], 200)
        self.assertIn("O = first", peer_subject_org(live))
        # New files at the same paths (written aside, then renamed over the old ones).
        new_dir = os.path.join(self.workdir, "new")
        os.mkdir(new_dir)
        cert, key = make_cert(new_dir, "a", ["a.test", "*.a.test"], org="second")
        os.replace(cert, self.a_cert)
        os.replace(key, self.a_key)
        sy.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "TLS certificates reloaded" in sy.log(), what="reload logged")
        # The live connection keeps working on its old session and certificate...
        for _ in range(3):
            self.assertEqual(https_get(live)[0], 200)
        self.assertIn("O = first", peer_subject_org(live))
        live.close()
        # ...and new connections get the new certificate.
        s = self.connect()
        self.assertIn("O = second", peer_subject_org(s))
        self.assertEqual(https_get(s)[0], 200)
        s.close()
        code, _ = curl_status(self.https(), "--cacert", self.a_cert, *self.resolve())
        self.assertEqual(code, 200)

    def test_failed_reload_changes_nothing(self):
        sy = self.start()
        # A key that does not belong to the certificate: the reload must be refused.
        _, other_key = make_cert(os.path.join(self.workdir), "other", ["other.test"])
        os.replace(other_key, self.a_key)
        # (the same key type as the certificate: OpenSSL notices while loading the key)
        sy.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "TLS reload failed" in sy.log(), what="failed reload logged")
        self.assertIn("does not match certificate", sy.log())
        code, _ = curl_status(self.https(), "--cacert", self.a_cert, *self.resolve())
        self.assertEqual(code, 200)

    def test_admin_reload_reloads_certificates_or_refuses_with_the_reason(self):
        ctl = os.environ.get("SY_CTL", os.path.join(os.path.dirname(BINARY), "..", "admin",
                                                    "switchyardctl"))
        sock = os.path.join(self.workdir, "admin.sock")
        access = os.path.join(self.workdir, "sy-access.log")
        text = tls_config(self.b, [(self.a_cert, self.a_key), (self.b_cert, self.b_key)],
                          access_log=access)
        sy = self.switchyard(text + f'admin:\n  socket: {{path: "{sock}"}}\n', "sy")
        self.port = sy.addr("tls")[1]
        # A key that does not belong to the certificate: ERR tls, nothing changes.
        _, other_key = make_cert(self.workdir, "other", ["other.test"])
        shutil.copy(other_key, self.a_key)
        p = subprocess.run([ctl, "-s", sock, "reload"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("ERR tls:", p.stderr)
        self.assertIn("does not match certificate", p.stderr)
        s = self.connect()
        self.assertIn("O = first", peer_subject_org(s))
        s.close()
        # New files at the same paths: reloaded, new connections get the new certificate.
        new_dir = os.path.join(self.workdir, "new")
        os.mkdir(new_dir)
        cert, key = make_cert(new_dir, "a", ["a.test", "*.a.test"], org="second")
        os.replace(cert, self.a_cert)
        os.replace(key, self.a_key)
        p = subprocess.run([ctl, "-s", sock, "reload"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("TLS certificates reloaded", p.stdout)
        s = self.connect()
        self.assertIn("O = second", peer_subject_org(s))
        self.assertEqual(https_get(s)[0], 200)
        s.close()

    # --- start-up errors ----------------------------------------------------------------------

    def start_fails(self, certs):
        cfg = os.path.join(self.workdir, "bad.yaml")
        with open(cfg, "w") as f:
            f.write(tls_config(self.b, certs))
        return subprocess.run([BINARY, "--config", cfg], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=30)

    def test_startup_errors_name_the_file(self):
        missing = os.path.join(self.workdir, "missing.key")
        p = self.start_fails([(self.a_cert, missing)])
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("listener tls: tls.certificates[0]: key " + missing, p.stdout)
        self.assertIn("No such file", p.stdout)
        p = self.start_fails([(self.a_cert, self.a_key), (self.b_cert, self.a_key)])
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn(f"tls.certificates[1]: key {self.a_key} does not match certificate "
                      f"{self.b_cert}", p.stdout)
        unreadable = os.path.join(self.workdir, "garbage.crt")
        with open(unreadable, "w") as f:
            f.write("not a certificate\n")
        p = self.start_fails([(unreadable, self.a_key)])
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("cannot load certificate " + unreadable, p.stdout)


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


# ---------------------------------------------------------------------------------------------
# Routing over h1+TLS, h2+TLS and h2c: test_routing's set-up and cases with both instances'
# listeners on TLS (or not, for h2c) and every curl call forced to the protocol.

class RoutingOverTls(test_routing.RoutingTest):
    TLS = True
    CURL_FLAGS = ["--http1.1"]

    def setUp(self):
        self.cert = None
        self._saved = (os.environ.get("CURL_CA_BUNDLE"), test_routing.curl,
                       test_routing.curl_status)
        flags = self.CURL_FLAGS
        test_routing.curl = lambda *a, **k: curl(*flags, *a, **k)
        test_routing.curl_status = lambda url, *a, **k: curl_status(url, *flags, *a, **k)
        super().setUp()
        if self.TLS:
            # curl trusts the test certificate (test_routing's helpers call curl directly).
            os.environ["CURL_CA_BUNDLE"] = self.cert
            scheme = "https"
        else:
            scheme = "http"
        self.db.sql(f"UPDATE sy_servers SET redirect_url='{scheme}://"
                    f"{self.new.listeners['main']}' WHERE id=2")

    def tearDown(self):
        bundle, test_routing.curl, test_routing.curl_status = self._saved
        if bundle is None:
            os.environ.pop("CURL_CA_BUNDLE", None)
        else:
            os.environ["CURL_CA_BUNDLE"] = bundle
        super().tearDown()

    def start(self, role, serve, extra="", dsn=None):
        if not self.TLS:
            return super().start(role, serve, extra, dsn)
        if self.cert is None:
            self.cert, self.key = make_cert(self.workdir, "sy", ["127.0.0.1", "localhost"])
        access = os.path.join(self.workdir, f"{role}-access.log")
        text = test_routing.routing_yaml(dsn or self.db.dsn_yaml(), role, serve,
                                         self.old_b.address, self.new_b.address, extra, access)
        text = text.replace(f"    pool: {serve}\n", f"    pool: {serve}\n    tls:\n"
                            f'      certificates: [{{cert: "{self.cert}", key: "{self.key}"}}]\n',
                            1)
        sy = self.switchyard(text, name=f"sy-{role}")
        sy.access_log_path = access
        sy.url = functools.partial(lambda s, path="/", listener=None:
                                   f"https://{s.listeners[listener or 'main']}{path}", sy)
        return sy

    def test_moved_context_is_redirected_307_in_this_protocol(self):
        self.db.sql("UPDATE sy_schemas SET server_id=2 WHERE name='s1'")
        self.wait_route(self.old, 11, 307, "s1 moved on the old instance")
        self.wait_route(self.new, 11, 200, "s1 moved on the new instance")
        rc, out, err = test_routing.curl("-sS", "-D", "-", "-o", "/dev/null",
                                         "-w", "%{http_version}", "-H", "X-Context-Id: 11",
                                         self.old.url("/app/page?x=1"))
        text = out.decode()
        status_line = text.splitlines()[0]
        self.assertIn(" 307", status_line)
        self.assertEqual(text.rsplit("\n", 1)[-1], "1.1" if "1.1" in self.CURL_FLAGS[0] else "2")
        scheme = "https" if self.TLS else "http"
        self.assertIn(f"{scheme}://{self.new.listeners['main']}/app/page?x=1", text.lower())
        code, body = test_routing.curl_status(self.old.url("/upload"), "-L", "-H",
                                              "X-Context-Id: 11", "--data-binary", "payload")
        self.assertEqual((code, body[:2]), (200, b"7 "))


class RoutingOverH2(RoutingOverTls):
    CURL_FLAGS = ["--http2"]


class RoutingOverH2c(RoutingOverTls):
    TLS = False
    CURL_FLAGS = ["--http2-prior-knowledge"]


ROUTING_CASES = (
    "test_old_instance_proxies_contexts_it_serves",
    "test_moved_context_is_redirected_307_in_this_protocol",
    "test_new_instance_rejects_a_context_still_on_the_old_server",
    "test_errors_for_unknown_missing_and_disabled_tenants",
    "test_request_is_held_while_schema_disabled_and_answered_by_new_pool_after",
)


def load_tests(loader, tests, pattern):
    suite = unittest.TestSuite()
    suite.addTests(loader.loadTestsFromTestCase(TlsTest))
    suite.addTests(H2Test(name) for name in loader.getTestCaseNames(H2Test)
                   if name not in loader.getTestCaseNames(TlsTest))
    for cls in (RoutingOverTls, RoutingOverH2, RoutingOverH2c):
        suite.addTests(cls(name) for name in ROUTING_CASES)
    return suite


if __name__ == "__main__":
    unittest.main()
