"""HTTP/2 conformance (RFC 9113, RFC 7541) at the socket level, for the rules Switchyard
enforces itself and for the ones it relies on nghttp2 for; docs/tls-h2.md has the whole
checklist (which MUST, who enforces it, which test). Raw frames over h2c.
"""
import unittest

import h2raw
from h2raw import (COMPRESSION_ERROR, CONTINUATION, DATA, END_HEADERS, END_STREAM, HEADERS,
                   NO_ERROR, PING, PROTOCOL_ERROR, RawH2)
from harness import ProxyTestCase, config_yaml, curl_status, pool_yaml, raw_origin


class H2ConformanceTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.b = self.backend("b1")
        self.sy = self.switchyard(config_yaml([pool_yaml("main", [self.b.address], "v1")]))

    def client(self):
        c = RawH2(self.sy.addr())
        c.handshake()
        self.addCleanup(c.close)
        return c

    def get(self, sid, path="/"):
        return h2raw.frame(HEADERS, END_STREAM | END_HEADERS, sid, h2raw.request_block(path))

    def goaway_of(self, c):
        """The GOAWAY error code once the proxy closes |c|; None if it stays open."""
        c.sock.settimeout(10)
        code = None
        for kind, _, value in c.events():
            if kind == "goaway":
                code = value
            if kind == "closed":
                return code
        return None

    def until(self, c, kind):
        """Events of |c| up to and including the first of |kind|."""
        c.sock.settimeout(10)
        seen = []
        for event in c.events():
            seen.append(event)
            if event[0] in (kind, "closed"):
                break
        return seen

    def served_after(self):
        return curl_status(self.sy.url("/"), "--http2-prior-knowledge") == (200, b"b1 old\n")

    # --- RFC 9113 5.1.1: stream identifiers (Switchyard) -----------------------------------

    def test_headers_on_a_lower_stream_id_is_a_connection_error(self):
        c = self.client()
        c.send(self.get(5))
        self.assertEqual(c.response(5)["status"], 200)
        c.send(self.get(3))  # 3 < 5, never opened
        self.assertEqual(self.goaway_of(c), PROTOCOL_ERROR)
        self.assertTrue(self.served_after())

    def test_trailers_on_an_open_or_just_reset_stream_are_no_error(self):
        c = self.client()
        # Stream 1 stays open (a body follows); stream 3 opens above it; stream 1's trailers
        # (a HEADERS frame on the lower id) are legitimate.
        c.send(h2raw.frame(HEADERS, END_HEADERS, 1,
                           h2raw.request_block("/upload", method="POST")) +
               h2raw.frame(DATA, 0, 1, b"abc") + self.get(3) +
               h2raw.frame(HEADERS, END_STREAM | END_HEADERS, 1, h2raw.block([("x-t", "1")])))
        results = {}
        c.sock.settimeout(10)
        body = {}
        for kind, sid, value in c.events():
            if kind == "data":
                body[sid] = body.get(sid, b"") + value
            if kind in ("end", "rst", "goaway", "closed"):
                results[sid] = kind
            if 1 in results and 3 in results:
                break
        self.assertEqual(results, {1: "end", 3: "end"})
        self.assertEqual(body[1], b"3 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n")
        # CONNECT is answered (501) and the stream reset with NO_ERROR while the client may
        # still send on it: a HEADERS frame on it afterwards is not a protocol error.
        c.send(h2raw.frame(HEADERS, END_HEADERS, 5, h2raw.block(
            [(":method", "CONNECT"), (":authority", "x:443")])))
        r = c.response(5)
        self.assertEqual(r["status"], 501)
        self.assertIn(("rst", 5, NO_ERROR), self.until(c, "rst"))
        c.send(h2raw.frame(HEADERS, END_STREAM | END_HEADERS, 5, h2raw.block([("x-t", "1")])) +
               self.get(7))
        r = c.response(7)
        self.assertEqual((r["status"], r["goaway"]), (200, None))

    # --- RFC 9113 8.2: fields (Switchyard on the way out, nghttp2 on the way in) ------------

    def test_responses_carry_no_connection_specific_fields_and_lower_case_names(self):
        origin, _, _ = raw_origin(
            self,
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\n"
            b"X-Hop: 1\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\nTE: trailers\r\n"
            b"Transfer-Encoding: chunked\r\nX-Mixed-Case: v\r\n\r\n"
            b"2\r\nok\r\n0\r\nX-Trail: t\r\nConnection: close\r\n\r\n")
        self.sy.stop()
        sy = self.switchyard(config_yaml([pool_yaml("main", [origin], "v1")]), name="sy2")
        c = RawH2(sy.addr())
        self.addCleanup(c.close)
        c.send(self.get(1))
        fields = []
        c.sock.settimeout(10)
        for kind, sid, value in c.events():
            if kind == "headers":
                fields += list(value)
            if kind in ("end", "rst", "closed"):
                break
        for name in fields:
            self.assertEqual(name, name.lower())
        for bad in ("connection", "keep-alive", "x-hop", "proxy-connection", "upgrade", "te",
                    "transfer-encoding"):
            self.assertNotIn(bad, fields)
        self.assertIn("x-mixed-case", fields)
        self.assertIn("x-trail", fields)

    def test_malformed_requests_are_reset_and_never_forwarded(self):
        cases = [
            ("uppercase name", [("X-Upper", "1")]),
            ("CR in a value", [("x-a", "b\rc")]),
            ("space in a name", [("x a", "1")]),
            ("connection field", [("connection", "keep-alive")]),
            ("te other than trailers", [("te", "gzip")]),
            ("transfer-encoding", [("transfer-encoding", "chunked")]),
        ]
        for what, extra in cases:
            with self.subTest(what=what):
                c = self.client()
                c.send(h2raw.frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                   h2raw.request_block("/malformed", extra=extra)))
                self.assertEqual(c.response(1)["rst"], PROTOCOL_ERROR)
        with self.subTest(what="pseudo-header after a regular field"):
            c = self.client()
            c.send(h2raw.frame(HEADERS, END_STREAM | END_HEADERS, 1, h2raw.block(
                [(":method", "GET"), (":scheme", "http"), ("x-a", "1"), (":path", "/malformed"),
                 (":authority", "a")])))
            self.assertEqual(c.response(1)["rst"], PROTOCOL_ERROR)
        with self.subTest(what="content-length and DATA disagree"):
            c = self.client()
            c.send(h2raw.frame(HEADERS, END_HEADERS, 1, h2raw.request_block(
                "/malformed", method="POST", extra=[("content-length", "10")])) +
                h2raw.frame(DATA, END_STREAM, 1, b"abc"))
            self.assertEqual(c.response(1)["rst"], PROTOCOL_ERROR)
        seen = int(curl_status(f"http://{self.b.address}/control/seen?path=/malformed")[1])
        self.assertEqual(seen, 0)

    # --- RFC 9113 6.10 / 4.3 and RFC 7541 (nghttp2) -----------------------------------------

    def test_frame_inside_a_header_block_is_a_connection_error(self):
        c = self.client()
        c.send(h2raw.frame(HEADERS, END_STREAM, 1, h2raw.request_block("/")) +
               h2raw.frame(PING, 0, 0, b"12345678"))
        self.assertEqual(self.goaway_of(c), PROTOCOL_ERROR)
        c = self.client()
        c.send(h2raw.frame(HEADERS, END_STREAM, 1, h2raw.request_block("/")) +
               h2raw.frame(CONTINUATION, END_HEADERS, 3, h2raw.literal("x-a", "1")))
        self.assertEqual(self.goaway_of(c), PROTOCOL_ERROR)

    def test_hpack_decoding_errors_are_compression_errors(self):
        for what, block in (("index beyond both tables", b"\xff\x80\x01"),
                            ("table size update above the setting", b"\x3f\xe1\x7f"),
                            ("size update after a field", h2raw.literal("x-a", "1") + b"\x20"),
                            ("Huffman string with EOS", b"\x00\x81\xff\x01a")):
            with self.subTest(what=what):
                c = self.client()
                c.send(h2raw.frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
                self.assertEqual(self.goaway_of(c), COMPRESSION_ERROR)
        self.assertTrue(self.served_after())


if __name__ == "__main__":
    unittest.main()
