"""TLS termination on the client side: curl and Python's ssl against the real binary with
certificates generated at test time (openssl CLI, in the test's temporary directory).

Covers: h1 and h1+TLS side by side (X-Forwarded-Proto), SNI choosing among several
certificates, TLS 1.2/1.3 only and min_version, ALPN, session resumption shared by the workers,
50 MB upload and download with bounded RSS, certificate reload on SIGHUP under a live
connection (and a failed reload that changes nothing), the handshake timeout, non-TLS bytes on
a TLS port, graceful shutdown with requests in flight, and the start-up errors for a missing
or mismatched key. Its helpers (make_cert, tls_config, TlsTest's set-up) serve the other TLS
files: test_h2_proxy.py (HTTP/2 on the same listeners) and test_tls_routing.py (routing over
h1+TLS, h2 and h2c).
"""
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

from harness import (BINARY, ProxyTestCase, access_log_lines, config_yaml, curl, curl_status,
                     pool_yaml, rss_limit_kib, wait_for)


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


if __name__ == "__main__":
    unittest.main()
