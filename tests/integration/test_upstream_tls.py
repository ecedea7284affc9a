"""TLS from Switchyard to upstream pool members (pools[].tls), with certificate verification.

A private CA, server and client certificates are made per test with the openssl CLI; the
origin is tests/backend/backend.py with --tls-cert/--tls-key (Python's ssl), which also reports
how many connections it accepted and how many resumed a TLS session (/control/conns). Clients
are curl (cleartext to Switchyard), so what is tested is the upstream side only:
verification on by default (chain, IP and DNS names), a wrong CA or name = 502 naming the
cause (and a retry on another member), verify: false, keep-alive reuse and session resumption,
health checks over TLS (a TLS member up, a plain-HTTP member on the pool down with the
reason), 50 MB each way with bounded memory, mutual TLS, start-up errors for bad files, and
that a reload says a tls change needs a restart.
"""
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import unittest

from harness import (BACKEND, BINARY, ProxyTestCase, access_log_lines, config_yaml, curl,
                     curl_status, pool_yaml, read_ready_file, rss_limit_kib, wait_for)


class Pki:
    """Certificates made with the openssl CLI in |workdir| (EC P-256: quick to generate)."""

    def __init__(self, workdir):
        self.dir = workdir

    def _run(self, *args):
        subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def _key_args(self, key):
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key]

    def ca(self, name):
        cert = os.path.join(self.dir, f"{name}.crt")
        key = os.path.join(self.dir, f"{name}.key")
        self._run("req", "-x509", *self._key_args(key), "-days", "2", "-subj", f"/CN={name}",
                  "-out", cert)
        return cert, key

    def leaf(self, ca, name, sans=(), client=False):
        """A certificate for CN=|name| signed by |ca| (cert, key); |sans| like "DNS:a", "IP:b"."""
        cert = os.path.join(self.dir, f"{name}.crt")
        key = os.path.join(self.dir, f"{name}.key")
        csr = os.path.join(self.dir, f"{name}.csr")
        ext = os.path.join(self.dir, f"{name}.ext")
        with open(ext, "w") as f:
            if sans:
                f.write("subjectAltName=" + ",".join(sans) + "\n")
            f.write("extendedKeyUsage=" + ("clientAuth" if client else "serverAuth") + "\n")
        self._run("req", *self._key_args(key), "-subj", f"/CN={name}", "-out", csr)
        self._run("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
                  "-days", "2", "-extfile", ext, "-out", cert)
        return cert, key


class TlsBackend:
    """tests/backend/backend.py speaking TLS on a free loopback port."""

    def __init__(self, workdir, name, cert, key, client_ca=None, max_version=None):
        self.name = name
        ready = os.path.join(workdir, f"backend-{name}.ready")
        self.log_path = os.path.join(workdir, f"backend-{name}.log")
        self._log = open(self.log_path, "wb")
        args = [sys.executable, BACKEND, "--port", "0", "--name", name, "--version", "v1",
                "--ready-file", ready, "--tls-cert", cert, "--tls-key", key]
        if client_ca:
            args += ["--tls-client-ca", client_ca]
        if max_version:
            args += ["--tls-max-version", max_version]
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        info = wait_for(lambda: self._ready(ready), what=f"backend {name} to start")
        self.port = int(info["port"])
        self.address = f"127.0.0.1:{self.port}"
        self._own_queries = 0
        self.query_cert = None  # (cert, key) for get() when the origin requires one

    def _ready(self, path):
        if self.proc.poll() is not None:
            raise AssertionError(f"backend {self.name} exited: {open(self.log_path).read()}")
        return read_ready_file(path)

    def get(self, path):
        """A request straight to the origin (not through Switchyard); returns the body."""
        cert = ["--cert", self.query_cert[0], "--key", self.query_cert[1]] if self.query_cert else []
        rc, out, err = curl("-k", *cert, f"https://{self.address}{path}", check=True)
        return out

    def conns(self):
        """(connections, resumed, client certificate CNs) the origin saw, not counting these
        queries' own connections."""
        info = json.loads(self.get("/control/conns"))
        self._own_queries += 1
        return info["connections"] - self._own_queries, info["resumed"], info["peer_cns"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


class PlainOnTlsPort:
    """A cleartext HTTP server where a TLS member is expected: it answers whatever arrives
    (a ClientHello) with `400 Bad Request` and closes, as nginx or HAProxy would."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = 0
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                c.settimeout(2)
                c.recv(4096)
                c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                          b"Connection: close\r\n\r\n")
            except OSError:
                pass
            finally:
                c.close()

    def stop(self):
        self._stop = True
        self.sock.close()


def tls_block(**keys):
    lines = ["tls:"] if keys else ["tls: {}"]
    for k, v in keys.items():
        lines.append(f'  {k}: "{v}"' if isinstance(v, str) else f"  {k}: {str(v).lower()}")
    return "\n".join(lines) + "\n"


class UpstreamTlsTest(ProxyTestCase):

    def setUp(self):
        super().setUp()
        self.pki = Pki(self.workdir)
        self.ca = self.pki.ca("test-ca")
        # The origin's certificate names the loopback IP and two DNS names.
        self.server = self.pki.leaf(self.ca, "origin",
                                    ["DNS:app.test", "DNS:localhost", "IP:127.0.0.1"])

    def tls_backend(self, name="tls-a", cert=None, client_ca=None, max_version=None):
        cert, key = cert or self.server
        b = TlsBackend(self.workdir, name, cert, key, client_ca, max_version)
        self._procs.append(b)
        return b

    def proxy(self, members, tls, health=None, extra="", workers=1):
        access = os.path.join(self.workdir, "access.log")
        yaml_text = config_yaml(
            [pool_yaml("main", members, "v1", health, extra + tls)],
            workers=workers, access_log=access)
        sy = self.switchyard(yaml_text)
        sy.access_log_path = access
        return sy

    def last_log(self, sy):
        return wait_for(lambda: access_log_lines(sy.access_log_path), what="an access log line")[-1]

    # --- verification ----------------------------------------------------------------------

    def test_proxied_with_verification_of_the_member_ip(self):
        b = self.tls_backend()
        sy = self.proxy([b.address], tls_block(ca=self.ca[0]))
        code, body = curl_status(sy.url("/"))
        self.assertEqual((code, body), (200, b"tls-a v1\n"))
        code, body = curl_status(sy.url("/headers"))
        self.assertEqual(code, 200)
        self.assertEqual(json.loads(body)["name"], "tls-a")

    def test_proxied_with_server_name(self):
        b = self.tls_backend()
        sy = self.proxy([b.address], tls_block(ca=self.ca[0], server_name="app.test"))
        self.assertEqual(curl_status(sy.url("/")), (200, b"tls-a v1\n"))

    def test_wrong_ca_is_a_502_naming_the_verification(self):
        b = self.tls_backend()
        other_ca = self.pki.ca("other-ca")
        sy = self.proxy([b.address], tls_block(ca=other_ca[0]), extra="retries: 0\n")
        code, body = curl_status(sy.url("/"))
        self.assertEqual(code, 502)
        self.assertIn(b"upstream TLS verification failed", body)
        self.assertIn(b"unable to get local issuer certificate", body)
        self.assertIn(b.address.encode(), body)
        line = self.last_log(sy)
        self.assertEqual((line["status"], line["termination"]), (502, "SC"))
        self.assertEqual(b.conns()[0], 0, "the origin saw no HTTP request")

    def test_system_store_does_not_trust_a_private_ca(self):
        b = self.tls_backend()
        sy = self.proxy([b.address], tls_block(), extra="retries: 0\n")
        code, body = curl_status(sy.url("/"))
        self.assertEqual(code, 502)
        self.assertIn(b"upstream TLS verification failed", body)

    def test_wrong_server_name_is_a_502_naming_the_mismatch(self):
        b = self.tls_backend()
        sy = self.proxy([b.address], tls_block(ca=self.ca[0], server_name="other.test"),
                        extra="retries: 0\n")
        code, body = curl_status(sy.url("/"))
        self.assertEqual(code, 502)
        self.assertIn(b"upstream TLS verification failed: hostname mismatch", body)

    def test_certificate_for_another_ip_is_refused(self):
        cert = self.pki.leaf(self.ca, "dns-only", ["DNS:app.test"])
        b = self.tls_backend(cert=cert)
        sy = self.proxy([b.address], tls_block(ca=self.ca[0]), extra="retries: 0\n")
        code, body = curl_status(sy.url("/"))
        self.assertEqual(code, 502)
        self.assertIn(b"upstream TLS verification failed: IP address mismatch", body)

    def test_verify_false_proxies_and_warns_at_start(self):
        other_ca = self.pki.ca("other-ca")
        cert = self.pki.leaf(other_ca, "untrusted", ["DNS:nothing.test"])
        b = self.tls_backend(cert=cert)
        sy = self.proxy([b.address], tls_block(verify=False))
        self.assertEqual(curl_status(sy.url("/")), (200, b"tls-a v1\n"))
        self.assertIn("pool main: tls.verify is false", sy.log())

    def test_verification_failure_retries_on_another_member_and_ejects(self):
        other_ca = self.pki.ca("other-ca")
        bad = self.tls_backend("bad", cert=self.pki.leaf(other_ca, "bad", ["IP:127.0.0.1"]))
        good = self.tls_backend("good")
        sy = self.proxy([bad.address, good.address], tls_block(ca=self.ca[0]),
                        extra="retries: 1\npassive_ejection: {consecutive_failures: 1, "
                              "eject_for: 60s}\n")
        for _ in range(6):
            self.assertEqual(curl_status(sy.url("/")), (200, b"good v1\n"))
        self.assertEqual(bad.conns()[0], 0)

    # --- connections ---------------------------------------------------------------------------

    def test_keep_alive_connections_are_reused(self):
        b = self.tls_backend()
        sy = self.proxy([b.address], tls_block(ca=self.ca[0]))
        for i in range(20):  # 20 client connections, one request each
            self.assertEqual(curl_status(sy.url(f"/?i={i}")), (200, b"tls-a v1\n"))
        conns, _, _ = b.conns()
        self.assertGreaterEqual(conns, 1)
        self.assertLess(conns, 20, "every request opened its own upstream TLS connection")

    def test_reconnects_resume_the_session(self):
        b = self.tls_backend()
        # No idle connections kept: every request is a new upstream connection.
        sy = self.proxy([b.address], tls_block(ca=self.ca[0]),
                        extra="max_idle_connections: 0\n")
        for i in range(10):
            self.assertEqual(curl_status(sy.url(f"/?i={i}")), (200, b"tls-a v1\n"))
        conns, resumed, _ = b.conns()
        self.assertEqual(conns, 10)
        self.assertGreaterEqual(resumed, 8, "reconnects did full handshakes")

    def test_tls_1_2_member_with_keep_alive_and_resumption(self):
        b = self.tls_backend(max_version="1.2")
        sy = self.proxy([b.address], tls_block(ca=self.ca[0]),
                        extra="max_idle_connections: 0\n")
        for i in range(6):
            self.assertEqual(curl_status(sy.url(f"/?i={i}")), (200, b"tls-a v1\n"))
        conns, resumed, _ = b.conns()
        self.assertEqual(conns, 6)
        self.assertGreaterEqual(resumed, 4, "TLS 1.2 reconnects did full handshakes")

    def test_min_version_1_3_refuses_a_tls_1_2_member(self):
        b = self.tls_backend(max_version="1.2")
        sy = self.proxy([b.address], tls_block(ca=self.ca[0], min_version="1.3"),
                        extra="retries: 0\n")
        code, body = curl_status(sy.url("/"))
        self.assertEqual(code, 502)
        self.assertIn(b"upstream TLS handshake failed", body)

    def test_session_reuse_off_does_full_handshakes(self):
        b = self.tls_backend()
        sy = self.proxy([b.address], tls_block(ca=self.ca[0], session_reuse=False),
                        extra="max_idle_connections: 0\n")
        for i in range(4):
            self.assertEqual(curl_status(sy.url(f"/?i={i}")), (200, b"tls-a v1\n"))
        conns, resumed, _ = b.conns()
        self.assertEqual((conns, resumed), (4, 0))

    def test_tls_1_3_only(self):
        b = self.tls_backend()
        sy = self.proxy([b.address], tls_block(ca=self.ca[0], min_version="1.3"))
        self.assertEqual(curl_status(sy.url("/")), (200, b"tls-a v1\n"))

    def test_large_upload_and_download_with_bounded_memory(self):
        b = self.tls_backend()
        sy = self.proxy([b.address], tls_block(ca=self.ca[0]))
        size = 50 * 1000 * 1000
        data = os.urandom(1 << 20) * 50
        path = os.path.join(self.workdir, "up.bin")
        with open(path, "wb") as f:
            f.write(data[:size])
        rc, out, err = curl("--data-binary", f"@{path}", sy.url("/upload"), check=True)
        self.assertEqual(out.decode().split(),
                         [str(size), hashlib.sha256(data[:size]).hexdigest()])
        for chunked in ("0", "1"):
            rc, out, err = curl("-o", "-", sy.url(f"/download?bytes={size}&chunked={chunked}"),
                                check=True)
            self.assertEqual(len(out), size)
            pattern = bytes(range(256)) * 256
            self.assertEqual(out[:len(pattern)], pattern)
            self.assertEqual(out[-len(pattern):], (pattern * 800)[size - len(pattern):size])
        self.assertLess(sy.peak_rss_kib(), rss_limit_kib(64 * 1024),
                        "RSS grew with the body size")

    # --- health checks -------------------------------------------------------------------------

    def test_health_checks_use_tls(self):
        b = self.tls_backend()
        health = "path: /health\ninterval: 100ms\ntimeout: 100ms\nrise: 1\nfall: 1\n"
        sy = self.proxy([b.address], tls_block(ca=self.ca[0]), health=health)
        # The checks arrive over TLS (the origin speaks nothing else).
        wait_for(lambda: int(b.get("/control/seen?path=/health")) >= 2, what="TLS health checks")
        b.get("/control/down")
        wait_for(lambda: f"member {b.address} is DOWN" in sy.log(), what="member down")
        b.get("/control/up")
        wait_for(lambda: f"member {b.address} is UP" in sy.log(), what="member up again")
        self.assertEqual(curl_status(sy.url("/")), (200, b"tls-a v1\n"))

    def test_plain_http_member_on_a_tls_pool_is_marked_down_with_the_reason(self):
        good = self.tls_backend("good")
        plain = PlainOnTlsPort()
        self.addCleanup(plain.stop)
        health = "path: /health\ninterval: 100ms\ntimeout: 100ms\nrise: 1\nfall: 1\n"
        sy = self.proxy([plain.address, good.address], tls_block(ca=self.ca[0]), health=health)
        log = wait_for(lambda: f"member {plain.address} is DOWN" in sy.log() and sy.log(),
                       what="the plain member marked down")
        line = next(l for l in log.splitlines() if f"member {plain.address} is DOWN" in l)
        self.assertIn("upstream TLS handshake failed", line)
        self.assertNotIn(f"member {good.address} is DOWN", log)
        for _ in range(6):
            self.assertEqual(curl_status(sy.url("/")), (200, b"good v1\n"))

    def test_plain_http_member_is_a_502_with_the_reason(self):
        plain = PlainOnTlsPort()
        self.addCleanup(plain.stop)
        sy = self.proxy([plain.address], tls_block(ca=self.ca[0]), extra="retries: 0\n")
        code, body = curl_status(sy.url("/"))
        self.assertEqual(code, 502)
        self.assertIn(b"upstream TLS handshake failed", body)
        self.assertEqual(self.last_log(sy)["termination"], "SC")

    def test_member_that_never_answers_the_client_hello_times_out(self):
        silent = socket.socket()  # the kernel completes the TCP handshake; nobody reads
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        self.addCleanup(silent.close)
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        sy = self.proxy([address], tls_block(ca=self.ca[0]),
                        extra="retries: 0\nconnect_timeout: 300ms\n")
        code, body = curl_status(sy.url("/"))
        self.assertEqual(code, 502)
        self.assertIn(b"upstream TLS handshake timeout", body)

    # --- mutual TLS ----------------------------------------------------------------------------

    def test_client_certificate(self):
        client_ca = self.pki.ca("client-ca")
        client = self.pki.leaf(client_ca, "switchyard-client", client=True)
        b = self.tls_backend(client_ca=client_ca[0])
        b.query_cert = self.pki.leaf(client_ca, "test-query", client=True)
        sy = self.proxy([b.address], tls_block(ca=self.ca[0], cert=client[0], key=client[1]))
        self.assertEqual(curl_status(sy.url("/")), (200, b"tls-a v1\n"))
        conns, _, peer = b.conns()
        self.assertEqual(conns, 1)
        self.assertIn("switchyard-client", peer)

    def test_no_client_certificate_is_refused_by_a_member_that_requires_one(self):
        client_ca = self.pki.ca("client-ca")
        b = self.tls_backend(client_ca=client_ca[0])
        sy = self.proxy([b.address], tls_block(ca=self.ca[0]), extra="retries: 0\n")
        code, _ = curl_status(sy.url("/"))
        self.assertEqual(code, 502)

    # --- configuration -------------------------------------------------------------------------

    def start_fails(self, tls):
        cfg = os.path.join(self.workdir, "bad.yaml")
        with open(cfg, "w") as f:
            f.write(config_yaml([pool_yaml("main", ["127.0.0.1:1"], "v1", None, tls)]))
        p = subprocess.run([BINARY, "--config", cfg], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(p.returncode, 1, p.stdout.decode())
        return p.stdout.decode()

    def test_start_fails_on_bad_files(self):
        missing = os.path.join(self.workdir, "missing.pem")
        out = self.start_fails(tls_block(ca=missing))
        self.assertIn(f"pool main: tls.ca {missing}: No such file or directory", out)
        not_pem = os.path.join(self.workdir, "not.pem")
        with open(not_pem, "w") as f:
            f.write("hello\n")
        out = self.start_fails(tls_block(ca=not_pem))
        self.assertIn(f"pool main: tls.ca: cannot load CA certificates from {not_pem}", out)
        client = self.pki.leaf(self.ca, "client", client=True)
        other = self.pki.leaf(self.ca, "other", client=True)
        out = self.start_fails(tls_block(ca=self.ca[0], cert=client[0], key=other[1]))
        self.assertIn(f"pool main: tls.key: key {other[1]} does not match certificate "
                      f"{client[0]}", out)
        out = self.start_fails(tls_block(ca=self.ca[0], cert=not_pem, key=client[1]))
        self.assertIn(f"pool main: tls.cert: cannot load certificate {not_pem}", out)
        out = self.start_fails("tls:\n  ca: \"\"\n")
        self.assertIn("pools[0].tls.ca: must not be empty", out)

    def test_relative_paths_are_relative_to_the_config(self):
        b = self.tls_backend()
        sy = self.proxy([b.address], tls_block(ca=os.path.basename(self.ca[0])))
        self.assertEqual(curl_status(sy.url("/")), (200, b"tls-a v1\n"))

    def test_reload_applies_a_tls_change_live(self):
        b = self.tls_backend()
        sy = self.proxy([b.address], tls_block(ca=self.ca[0]))
        self.assertEqual(curl_status(sy.url("/")), (200, b"tls-a v1\n"))
        with open(sy.config_path) as f:
            text = f.read()
        with open(sy.config_path, "w") as f:
            f.write(text.replace("tls:\n", "tls:\n      server_name: \"other.test\"\n", 1))
        os.kill(sy.pid, signal.SIGHUP)
        # The pool takes its new TLS settings live (docs/decisions.md 68): the member's
        # certificate does not name other.test, so it is refused now.
        wait_for(lambda: "pools.main: settings changed (yaml)" in sy.log(),
                 what="the reload report")
        self.assertNotIn("needs a restart", sy.log())
        wait_for(lambda: curl_status(sy.url("/"))[0] == 502,
                 what="the new server_name verified against the member")

if __name__ == "__main__":
    unittest.main()
