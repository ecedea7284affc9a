"""TLS handshakes in /metrics (docs/metrics.md): on a TLS listener, two curl requests (ok), a
plain-text request (protocol), a client that closes mid-handshake (closed) and one that sends
nothing until tls.handshake_timeout (timeout) are counted by outcome."""
import os
import socket
import unittest

from harness import ProxyTestCase, curl_status, wait_for
from metricsrun import http_address, scrape, value
from test_tls_h2 import make_cert, tls_config


class TlsMetricsTest(ProxyTestCase):
    def test_handshakes_are_counted_by_outcome(self):
        b = self.backend("b1")
        cert, key = make_cert(self.workdir, "a", ["a.test"])
        text = tls_config(b, [(cert, key)], tls_extra="handshake_timeout: 300ms")
        text += ("admin:\n"
                 f'  socket: {{path: "{os.path.join(self.workdir, "admin.sock")}"}}\n'
                 "  http: {port: 0}\n")
        sy = self.switchyard(text)
        http = http_address(sy)
        port = sy.addr("tls")[1]
        for _ in range(2):
            code, _ = curl_status(f"https://a.test:{port}/", "--cacert", cert,
                                  "--resolve", f"a.test:{port}:127.0.0.1")
            self.assertEqual(code, 200)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:  # not TLS at all
            s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
            while s.recv(4096):
                pass
        socket.create_connection(("127.0.0.1", port), timeout=10).close()  # gone mid-handshake
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:  # silent
            self.assertEqual(s.recv(4096), b"")  # closed by the proxy at handshake_timeout

        def outcomes():
            m = scrape(http)
            return {o: value(m, "switchyard_tls_handshakes_total", listener="tls", outcome=o)
                    for o in ("ok", "timeout", "protocol", "closed", "aborted")}
        want = {"ok": 2, "timeout": 1, "protocol": 1, "closed": 1, "aborted": 0}
        wait_for(lambda: sum(outcomes().values()) == 5, what="5 handshakes counted")
        self.assertEqual(outcomes(), want)
        m = scrape(http)
        self.assertEqual(value(m, "switchyard_listener_connections", listener="tls"), 0)
        self.assertEqual(value(m, "switchyard_listener_requests_total", listener="tls"), 2)
        self.assertEqual(value(m, "switchyard_listener_requests_total", listener="plain"), 0)
        # A cleartext listener has no handshake samples.
        self.assertFalse([k for k in m if k[0] == "switchyard_tls_handshakes_total" and
                          ("listener", "plain") in k[1]])


if __name__ == "__main__":
    unittest.main()
