"""HTTP/2 streams and connections end at the client timeouts HTTP/1.1 has (issue 17 item 2):
a header block that never ends, a request body that never ends, a client that never opens
its window, a preface without SETTINGS, an idle connection. Raw frames over h2c and over TLS
(ALPN h2), with timeouts of a second so each case ends quickly; each read below has a
deadline ten times longer than the timeout in play, so a proxy without the timeout fails.
"""
import os
import unittest

import h2raw
from h2raw import (CANCEL, DATA, END_HEADERS, END_STREAM, HEADERS, NO_ERROR,
                   SETTINGS_INITIAL_WINDOW_SIZE, RawH2)
from harness import (ProxyTestCase, access_log_lines, config_yaml, curl_status, pool_yaml,
                     wait_for)
from test_tls_h2 import make_cert, tls_listener_yaml

LIMITS = ("client_header_timeout: 1s\nclient_body_timeout: 1s\nsend_timeout: 1s\n"
          "client_idle_timeout: 2s")
DEADLINE = 20  # seconds a read waits for the proxy to act; every timeout here is 1-2 s


class H2TimeoutTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.b = self.backend("b1")
        cert, key = make_cert(self.workdir, "a", ["a.test"])
        self.access = os.path.join(self.workdir, "access.log")
        text = config_yaml([pool_yaml("main", [self.b.address], "v1")],
                           listeners=(("plain", "main"),), limits=LIMITS,
                           access_log=self.access)
        text = text.replace("listeners:\n", "listeners:\n" + tls_listener_yaml(
            "tls", "main", [(cert, key)]), 1)
        self.sy = self.switchyard(text)

    def clients(self, settings=b""):
        """One raw client per transport: h2c and h2 over TLS."""
        for tls in (False, True):
            c = RawH2(self.sy.addr("tls" if tls else "plain"), settings=settings, tls=tls,
                      timeout=DEADLINE)
            c.handshake()
            yield tls, c

    def until_closed(self, c):
        """Reads until the proxy closes |c| (or DEADLINE passes); returns the events seen."""
        c.sock.settimeout(DEADLINE)
        seen = list(c.events())
        c.close()
        return seen

    def assert_closed_with_goaway(self, seen, what):
        kinds = [k for k, _, _ in seen]
        self.assertIn("closed", kinds, f"{what}: the connection stayed open ({seen})")
        self.assertIn("goaway", kinds, f"{what}: closed without GOAWAY ({seen})")

    def test_header_block_without_end_headers_ends_the_connection(self):
        for tls, c in self.clients():
            with self.subTest(tls=tls):
                # HEADERS without END_HEADERS, and no CONTINUATION ever.
                c.send(h2raw.frame(HEADERS, END_STREAM, 1, h2raw.request_block("/")))
                self.assert_closed_with_goaway(self.until_closed(c), "open header block")
        for tls, c in self.clients():
            with self.subTest(tls=tls, cut=True):
                # A HEADERS frame cut short: its header says 200 bytes, 20 arrive.
                full = h2raw.frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                   h2raw.request_block("/", extra=[("x-pad", "p" * 150)]))
                c.send(full[:29])
                self.assert_closed_with_goaway(self.until_closed(c), "cut HEADERS frame")
        lines = wait_for(lambda: [l for l in access_log_lines(self.access)
                                  if l["termination"] == "cR"], what="cR lines")
        self.assertEqual({l["proto"] for l in lines}, {"HTTP/2.0"})
        self.assertEqual(self.seen("/"), 0)

    def seen(self, path):
        return int(curl_status(f"http://{self.b.address}/control/seen?path={path}")[1])

    def test_request_body_that_never_finishes(self):
        for tls, c in self.clients():
            with self.subTest(tls=tls):
                c.send(h2raw.frame(HEADERS, END_HEADERS, 1, h2raw.request_block(
                    "/upload", method="POST", extra=[("content-length", "10")])) +
                    h2raw.frame(DATA, 0, 1, b"abc"))
                seen = self.until_closed(c)
                # 408 from the body timeout, the stream reset (the client never ended it),
                # then the idle connection says GOAWAY and closes.
                statuses = [int(v[":status"]) for k, s, v in seen if k == "headers" and s == 1]
                self.assertEqual(statuses, [408], seen)
                self.assertIn(("rst", 1, NO_ERROR), seen)
                self.assert_closed_with_goaway(seen, "unfinished body")

    def test_zero_window_client_gets_its_stream_reset(self):
        settings = h2raw.setting(SETTINGS_INITIAL_WINDOW_SIZE, 0)
        for tls, c in self.clients(settings):
            with self.subTest(tls=tls):
                c.send(h2raw.frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                   h2raw.request_block("/download?bytes=100000")))
                seen = self.until_closed(c)
                statuses = [int(v[":status"]) for k, s, v in seen if k == "headers" and s == 1]
                self.assertEqual(statuses, [200], seen)
                self.assertFalse([v for k, s, v in seen if k == "data"], "DATA beyond window 0")
                self.assertIn(("rst", 1, CANCEL), seen)
                self.assert_closed_with_goaway(seen, "window never opened")

    def test_preface_without_settings_is_closed(self):
        for tls in (False, True):
            with self.subTest(tls=tls):
                c = RawH2(self.sy.addr("tls" if tls else "plain"), tls=tls, timeout=DEADLINE,
                          send_settings=False)
                kinds = [k for k, _, _ in self.until_closed(c)]
                self.assertIn("closed", kinds, "the connection stayed open without SETTINGS")

    def test_idle_connection_gets_goaway(self):
        for tls, c in self.clients():
            with self.subTest(tls=tls):
                c.send(h2raw.frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                   h2raw.request_block("/")))
                r = c.response(1, timeout=DEADLINE)
                self.assertEqual((r["status"], r["body"]), (200, b"b1 old\n"))
                self.assert_closed_with_goaway(self.until_closed(c), "idle connection")


if __name__ == "__main__":
    unittest.main()
