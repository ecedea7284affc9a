"""Request-smuggling vectors and size limits over a real socket: each is refused with the
expected status, the connection is closed, nothing reaches the backend, and the proxy keeps
serving."""
import unittest

from harness import ProxyTestCase, curl_status, raw_exchange, status_lines

# (name, raw request, expected status). A vector in the head is refused before anything is sent
# upstream. Bodies stream, so for a vector in a chunked body (BODY_VECTORS) the valid head has
# already gone to the backend when the bad chunk arrives: the proxy then answers 400 and aborts
# the upstream connection, so the backend sees a truncated request, never a different one.
BODY_VECTORS = {"bad_chunk_size", "chunk_size_overflow", "chunk_missing_crlf"}
VECTORS = [
    ("cl_and_te", b"POST /v HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("conflicting_cl", b"POST /v HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                       b"Content-Length: 5\r\n\r\nabcde", 400),
    ("repeated_cl", b"POST /v HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                    b"Content-Length: 4\r\n\r\nabcd", 400),
    ("cl_list", b"POST /v HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 4\r\n\r\nabcd", 400),
    ("cl_sign", b"POST /v HTTP/1.1\r\nHost: a\r\nContent-Length: +4\r\n\r\nabcd", 400),
    ("te_not_final_chunked", b"POST /v HTTP/1.1\r\nHost: a\r\n"
                             b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400),
    ("te_gzip", b"POST /v HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    ("te_identity", b"POST /v HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400),
    ("te_twice", b"POST /v HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("te_obfuscated", b"POST /v HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400),
    ("te_http10", b"POST /v HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"0\r\n\r\n", 400),
    ("bad_chunk_size", b"POST /body HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"0x4\r\nabcd\r\n0\r\n\r\n", 400),
    ("chunk_size_overflow", b"POST /body HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"fffffffffffffffff1\r\nabcd\r\n0\r\n\r\n", 400),
    ("chunk_missing_crlf", b"POST /body HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"4\r\nabcdX\r\n0\r\n\r\n", 400),
    ("space_before_colon", b"GET /v HTTP/1.1\r\nHost: a\r\nContent-Length : 0\r\n\r\n", 400),
    ("obs_fold", b"GET /v HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400),
    ("bare_cr", b"GET /v HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n", 400),
    ("bare_lf_in_value", b"GET /v HTTP/1.1\r\nHost: a\r\nX-A: b\nc\r\n\r\n", 400),
    ("nul_in_value", b"GET /v HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n", 400),
    ("bad_method", b"G(T /v HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("bad_version", b"GET /v HTTP/1.x\r\nHost: a\r\n\r\n", 400),
    ("unsupported_version", b"GET /v HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    ("missing_host", b"GET /v HTTP/1.1\r\n\r\n", 400),
    ("two_hosts", b"GET /v HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("space_in_target", b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("too_many_headers", b"GET /v HTTP/1.1\r\nHost: a\r\n" +
                         b"".join(b"X-%d: y\r\n" % i for i in range(120)) + b"\r\n", 431),
    ("huge_header", b"GET /v HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", 431),
    ("huge_uri", b"GET /" + b"u" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
]


class StrictParsingTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.b = self.backend("b1")
        self.sy = self.simple_proxy([self.b])

    def test_each_vector_is_refused_and_never_reaches_the_backend(self):
        for name, raw, expected in VECTORS:
            with self.subTest(vector=name):
                out = raw_exchange(self.sy.addr(), raw)
                self.assertEqual(status_lines(out), [expected], out[:300])
                self.assertIn(b"Connection: close", out)
        seen = int(curl_status(f"http://{self.b.address}/control/seen?path=/v")[1])
        self.assertEqual(seen, 0, "a refused request reached the backend")
        seen = int(curl_status(f"http://{self.b.address}/control/seen?path=/body")[1])
        self.assertLessEqual(seen, len(BODY_VECTORS))
        self.assertIsNone(self.sy.proc.poll())
        self.assertEqual(curl_status(self.sy.url("/"))[0], 200)

    def test_smuggled_second_request_is_not_forwarded(self):
        # The classic CL.TE desync: a front end honouring Content-Length would forward
        # "GET /smuggled" as body; one honouring TE would see it as a second request.
        raw = (b"POST /v HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
               b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
        out = raw_exchange(self.sy.addr(), raw)
        self.assertEqual(status_lines(out), [400])
        seen = int(curl_status(f"http://{self.b.address}/control/seen?path=/smuggled")[1])
        self.assertEqual(seen, 0)

    def test_valid_chunked_with_extension_and_trailer_is_accepted(self):
        raw = (b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
               b"Connection: close\r\n\r\n"
               b"3;name=value\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n")
        out = raw_exchange(self.sy.addr(), raw)
        self.assertEqual(status_lines(out), [200], out)
        self.assertIn(b"5 36bbe50ed96841d10443bcb670d6554f0a34b761be67ec9c4a8ad2c0c44ca42c", out)

    def test_body_over_limit_is_413(self):
        self.sy.stop()
        sy = self.simple_proxy([self.b], limits="max_body_bytes: 1k", name="sy2")
        code, _ = curl_status(sy.url("/upload"), "--data-binary", "x" * 2000)
        self.assertEqual(code, 413)
        code, _ = curl_status(sy.url("/upload"), "--data-binary", "x" * 1000)
        self.assertEqual(code, 200)


if __name__ == "__main__":
    unittest.main()
