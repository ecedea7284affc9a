"""PROXY protocol sent to members (issue 13, pools[].send_proxy: v1 | v2), on the real binary
with backends that require the header (tests/backend/backend.py --proxy-protocol: a connection
without a valid one is closed) and echo what it said (/proxy).

Listeners: one -> pool v1, two -> pool v2, lb (proxy_protocol from a trusted 127.0.0.1) -> v2.
"""
import http.client
import json
import socket
import unittest

from harness import ProxyTestCase, raw_exchange, wait_for

HEALTH = "    health_check: {path: /health, interval: 200ms, timeout: 200ms, rise: 1, fall: 1}\n"


def proxy_info(conn):
    conn.request("GET", "/proxy")
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, (r.status, body)
    return json.loads(body)


def direct(backend, path):
    """A request straight to a --proxy-protocol backend (with the header it requires)."""
    head = f"PROXY TCP4 127.0.0.1 127.0.0.1 1 {backend.port}\r\n".encode()
    raw = raw_exchange(("127.0.0.1", backend.port),
                       head + f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                       .encode())
    return raw.split(b"\r\n\r\n", 1)[1].decode()


class SendProxyTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.p1 = self.backend("p1", extra_args=("--proxy-protocol",))
        self.p2 = self.backend("p2", extra_args=("--proxy-protocol",))
        text = f"""workers: 2
log_level: info
listeners:
  - {{name: one, port: 0, pool: v1}}
  - {{name: two, port: 0, pool: v2}}
  - {{name: lb, port: 0, pool: v2, proxy_protocol: true, trusted_proxies: [127.0.0.1/32]}}
pools:
  - name: v1
    send_proxy: v1
    members: [{{address: "{self.p1.address}"}}]
{HEALTH}  - name: v2
    send_proxy: v2
    members: [{{address: "{self.p2.address}"}}]
{HEALTH}"""
        self.sy = self.switchyard(text)

    def check_listener(self, listener, version):
        host, port = self.sy.addr(listener)
        a = http.client.HTTPConnection(host, port, timeout=30)
        first = proxy_info(a)
        mine = a.sock.getsockname()
        self.assertEqual(first["version"], version)
        self.assertEqual(first["source"], f"{mine[0]}:{mine[1]}")  # the client, not us
        self.assertEqual(first["destination"], f"{host}:{port}")   # where it connected
        # The same client connection reuses its upstream connection (one header, at its start).
        self.assertEqual(proxy_info(a)["connection"], first["connection"])
        # Another client never gets that connection: its own, announcing itself.
        b = http.client.HTTPConnection(host, port, timeout=30)
        other = proxy_info(b)
        theirs = b.sock.getsockname()
        self.assertNotEqual(other["connection"], first["connection"])
        self.assertEqual(other["source"], f"{theirs[0]}:{theirs[1]}")
        self.assertEqual(proxy_info(a)["connection"], first["connection"])
        a.close()
        b.close()

    def test_v1_and_v2_carry_the_client_address_on_private_connections(self):
        self.check_listener("one", 1)
        self.check_listener("two", 2)

    def test_the_address_from_a_trusted_balancer_is_passed_on(self):
        host, port = self.sy.addr("lb")
        raw = raw_exchange((host, port),
                           b"PROXY TCP4 203.0.113.7 192.0.2.1 40000 443\r\n"
                           b"GET /proxy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertIn(b" 200 ", raw.split(b"\r\n", 1)[0], raw)
        got = json.loads(raw.split(b"\r\n\r\n", 1)[1])
        self.assertEqual(got["version"], 2)
        self.assertEqual(got["source"], "203.0.113.7:40000")

    def test_health_checks_pass_with_a_header_naming_no_client(self):
        # The backends close connections without a valid header before counting a request:
        # checks that arrive were sent with one (v1 UNKNOWN, v2 LOCAL).
        for b in (self.p1, self.p2):
            wait_for(lambda: int(direct(b, "/control/seen?path=/health")) >= 2,
                     what=f"health checks reaching {b.name}")


if __name__ == "__main__":
    unittest.main()
