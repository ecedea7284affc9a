"""Who the client is (issue 13, "client address trust"): X-Forwarded-For and Forwarded from an
untrusted peer are replaced by its own address, from a trusted proxy (listeners[].trusted_proxies)
extended; the access log's client_ip is read through trusted proxies. PROXY protocol v1 and v2
on a listener (proxy_protocol: true) from a trusted balancer, before cleartext and before TLS;
a missing, garbled, slow or untrusted PROXY header closes the connection and nothing else.

The origin (tests/backend/backend.py, /headers) echoes the fields it received.
"""
import json
import os
import socket
import ssl
import struct
import subprocess
import unittest

from harness import ProxyTestCase, access_log_lines, curl_status, read_until_end, wait_for
from test_tls_h2 import make_cert


def v2_header(src_ip, src_port, dst_ip, dst_port):
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    if ":" in src_ip:
        addrs = (socket.inet_pton(socket.AF_INET6, src_ip) +
                 socket.inet_pton(socket.AF_INET6, dst_ip) + struct.pack("!HH", src_port, dst_port))
        return sig + b"\x21\x21" + struct.pack("!H", len(addrs)) + addrs
    addrs = (socket.inet_aton(src_ip) + socket.inet_aton(dst_ip) +
             struct.pack("!HH", src_port, dst_port))
    return sig + b"\x21\x11" + struct.pack("!H", len(addrs)) + addrs


def http_headers_seen(raw):
    """The JSON body of the origin's /headers answer in a raw HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), raw[:200]
    return json.loads(body)["headers"]


class ClientAddressTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.b = self.backend("b1", "old")
        cert, key = make_cert(self.workdir, "pp", ["localhost", "127.0.0.1"])
        self.access = os.path.join(self.workdir, "access.log")
        yaml_text = f"""workers: 1
log_level: info
listeners:
  - {{name: open, port: 0, pool: main}}
  - {{name: behind, port: 0, pool: main, trusted_proxies: [127.0.0.0/8, "fd00::/8"]}}
  - {{name: pp, port: 0, pool: main, trusted_proxies: [127.0.0.1], proxy_protocol: true}}
  - name: pptls
    port: 0
    pool: main
    trusted_proxies: [127.0.0.1/32]
    proxy_protocol: true
    tls:
      certificates: [{{cert: "{cert}", key: "{key}"}}]
  - {{name: elsewhere, port: 0, pool: main, trusted_proxies: [10.0.0.0/8], proxy_protocol: true}}
pools:
  - name: main
    members: [{{address: "{self.b.address}"}}]
    health_check: {{enabled: false}}
limits:
  client_header_timeout: 1s
access_log:
  path: "{self.access}"
"""
        self.sy = self.switchyard(yaml_text)

    def raw(self, listener, data, tls=False):
        host, port = self.sy.addr(listener)
        s = socket.create_connection((host, port), timeout=10)
        try:
            if tls:
                s.sendall(data[0])
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s = ctx.wrap_socket(s, server_hostname="localhost")
                data = data[1]
            s.sendall(data)
            return read_until_end(s, 10)
        finally:
            s.close()

    def log_lines(self, n):
        return wait_for(lambda: (lambda l: l if len(l) >= n else None)(
            access_log_lines(self.access)), what=f"{n} access log lines")

    def test_untrusted_peer_cannot_claim_an_address(self):
        code, body = curl_status(self.sy.url("/headers", "open"),
                                 "-H", "X-Forwarded-For: 6.6.6.6",
                                 "-H", "Forwarded: for=6.6.6.6;proto=https")
        self.assertEqual(code, 200)
        h = json.loads(body)["headers"]
        self.assertEqual(h["x-forwarded-for"], "127.0.0.1")
        self.assertEqual(h["forwarded"], "for=127.0.0.1;proto=http")
        # Over h2c the same.
        out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-H",
                              "X-Forwarded-For: 6.6.6.6", self.sy.url("/headers", "open")],
                             stdout=subprocess.PIPE, timeout=30, check=True).stdout
        self.assertEqual(json.loads(out)["headers"]["x-forwarded-for"], "127.0.0.1")
        line = self.log_lines(2)[0]
        self.assertNotIn("client_ip", line)  # the peer is the client: "client" says it
        self.assertTrue(line["client"].startswith("127.0.0.1:"))

    def test_trusted_proxy_is_extended_and_the_client_read_through_it(self):
        code, body = curl_status(self.sy.url("/headers", "behind"),
                                 "-H", "X-Forwarded-For: 203.0.113.7, fd00::5",
                                 "-H", "Forwarded: for=203.0.113.7")
        self.assertEqual(code, 200)
        h = json.loads(body)["headers"]
        self.assertEqual(h["x-forwarded-for"], "203.0.113.7, fd00::5, 127.0.0.1")
        self.assertEqual(h["forwarded"], "for=203.0.113.7, for=127.0.0.1;proto=http")
        line = self.log_lines(1)[0]
        self.assertEqual(line["client_ip"], "203.0.113.7")  # fd00::5 is a trusted hop

    def test_proxy_v1_and_v2_give_the_client_address(self):
        get = b"GET /headers HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        port = self.sy.addr("pp")[1]
        h = http_headers_seen(self.raw(
            "pp", f"PROXY TCP4 198.51.100.7 127.0.0.1 5555 {port}\r\n".encode() + get)[0])
        self.assertEqual(h["x-forwarded-for"], "198.51.100.7")
        h = http_headers_seen(self.raw("pp", v2_header("2001:db8::7", 6666, "::1", port) + get)[0])
        self.assertEqual(h["x-forwarded-for"], "2001:db8::7")
        # curl's own PROXY v1 header (its real addresses).
        code, body = curl_status(self.sy.url("/headers", "pp"), "--haproxy-protocol")
        self.assertEqual(code, 200)
        self.assertEqual(json.loads(body)["headers"]["x-forwarded-for"], "127.0.0.1")
        # Before TLS: the header, then the handshake.
        tls_port = self.sy.addr("pptls")[1]
        h = http_headers_seen(self.raw(
            "pptls", (v2_header("192.0.2.44", 7777, "127.0.0.1", tls_port), get), tls=True)[0])
        self.assertEqual(h["x-forwarded-for"], "192.0.2.44")
        self.assertEqual(h["x-forwarded-proto"], "https")
        clients = [l["client"] for l in self.log_lines(4)]
        self.assertEqual(clients[0], "198.51.100.7:5555")
        self.assertEqual(clients[1], "[2001:db8::7]:6666")
        self.assertEqual(clients[3], "192.0.2.44:7777")

    def test_bad_slow_or_untrusted_proxy_headers_close_the_connection(self):
        get = b"GET /headers HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        cut = lambda result: result[0] == b"" and result[1] != "timeout"
        self.assertTrue(cut(self.raw("pp", get)))  # no PROXY header at all
        self.assertTrue(cut(self.raw("pp", b"PROXY TCP4 1.2.3.4 nonsense\r\n" + get)))
        self.assertTrue(cut(self.raw("pp", b"PROXY " + b"x" * 200)))
        # A balancer outside trusted_proxies may not send one, however well formed.
        port = self.sy.addr("elsewhere")[1]
        self.assertTrue(cut(self.raw(
            "elsewhere", f"PROXY TCP4 1.2.3.4 127.0.0.1 1 {port}\r\n".encode() + get)))
        # Half a header, then silence: cut by client_header_timeout (1 s here).
        host, port = self.sy.addr("pp")
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(b"PROXY TCP4 1.2.3.4 ")
        self.assertTrue(cut(read_until_end(s, 20)))
        s.close()
        # The listener still serves a proper one.
        code, _ = curl_status(self.sy.url("/headers", "pp"), "--haproxy-protocol")
        self.assertEqual(code, 200)
        self.assertEqual(self.sy.proc.poll(), None)


if __name__ == "__main__":
    unittest.main()
