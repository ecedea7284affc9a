"""gRPC through Switchyard: a real grpcio server (Debian's python3-grpcio) behind a pool with
`protocol: h2`, a real grpcio client in front, over h2c and over TLS (ALPN h2). Unary,
server-streaming, client-streaming and bidirectional calls; status codes and trailing
metadata (grpc-status, grpc-message arrive in the response trailers); a client's cancel resets
the upstream stream; response_timeout ends a call that hangs. And one gRPC-shaped exchange
from an HTTP/1.1 client, which gets the trailers after the last chunk.
"""
import os
import socket
import struct
import sys
import threading
import time
import unittest
from concurrent import futures

try:
    import grpc
except ImportError:  # a Python outside Debian's (pyenv, venv) does not see dist-packages
    sys.path.append("/usr/lib/python3/dist-packages")
    import grpc

from harness import ProxyTestCase, access_log_lines, config_yaml, pool_yaml, wait_for
from test_tls_h2 import make_cert, tls_listener_yaml

SERVICE = "test.Echo"


class Origin:
    """A grpcio server with raw-bytes methods (no protobuf needed)."""

    def __init__(self):
        self.cancelled = threading.Event()
        self.released = threading.Event()  # set at stop(): a Slow call still waiting returns
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        handlers = {
            "Say": grpc.unary_unary_rpc_method_handler(self.say),
            "Slow": grpc.unary_unary_rpc_method_handler(self.slow),
            "Count": grpc.unary_stream_rpc_method_handler(self.count),
            "Forever": grpc.unary_stream_rpc_method_handler(self.forever),
            "Sum": grpc.stream_unary_rpc_method_handler(self.sum),
            "Chat": grpc.stream_stream_rpc_method_handler(self.chat),
        }
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, handlers),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.address = f"127.0.0.1:{self.port}"

    def stop(self):
        self.released.set()
        self.server.stop(0)

    def say(self, request, context):
        if request == b"fail":
            context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
        md = dict(context.invocation_metadata())
        context.set_trailing_metadata((("x-trailer", "t1"),
                                       ("x-saw-via", md.get("via", ""))))
        return request[::-1]

    def slow(self, request, context):
        self.released.wait(3)  # an origin that answers after 3 s (or when the test ends)
        return request

    def count(self, request, context):
        for i in range(int(request)):
            yield str(i).encode()

    def forever(self, request, context):
        context.add_callback(self.cancelled.set)
        while context.is_active():
            yield b"tick"
            self.cancelled.wait(0.02)  # a tick every 20 ms until the call is cancelled

    def sum(self, requests, context):
        return str(sum(len(r) for r in requests)).encode()

    def chat(self, requests, context):
        for r in requests:
            yield r.upper()


def call(channel, kind, name, **kw):
    make = {"uu": channel.unary_unary, "us": channel.unary_stream, "su": channel.stream_unary,
            "ss": channel.stream_stream}[kind]
    return make(f"/{SERVICE}/{name}", **kw)


class GrpcTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.origin = Origin()
        self.cert, key = make_cert(self.workdir, "front", ["a.test"])
        self.access = os.path.join(self.workdir, "access.log")
        text = config_yaml([pool_yaml("grpc", [self.origin.address], "v1",
                                      extra="protocol: h2\nresponse_timeout: 1s")],
                           listeners=(("plain", "grpc"),), access_log=self.access)
        text = text.replace("listeners:\n", "listeners:\n" + tls_listener_yaml(
            "tls", "grpc", [(self.cert, key)]), 1)
        self.sy = self.switchyard(text)
        self.channels = []

    def tearDown(self):
        for c in self.channels:
            c.close()
        self.origin.stop()
        super().tearDown()

    def channel(self, tls):
        if tls:
            with open(self.cert, "rb") as f:
                creds = grpc.ssl_channel_credentials(root_certificates=f.read())
            c = grpc.secure_channel(self.sy.listeners["tls"], creds,
                                    options=(("grpc.ssl_target_name_override", "a.test"),))
        else:
            c = grpc.insecure_channel(self.sy.listeners["plain"])
        self.channels.append(c)
        return c

    def test_calls_statuses_and_trailing_metadata(self):
        for tls in (False, True):
            with self.subTest(tls=tls):
                ch = self.channel(tls)
                reply, c = call(ch, "uu", "Say").with_call(b"hello", timeout=10)
                self.assertEqual(reply, b"olleh")
                trailers = dict(c.trailing_metadata())
                self.assertEqual(trailers["x-trailer"], "t1")
                self.assertEqual(trailers["x-saw-via"], "1.1 switchyard")
                self.assertEqual(c.code(), grpc.StatusCode.OK)
                with self.assertRaises(grpc.RpcError) as e:
                    call(ch, "uu", "Say")(b"fail", timeout=10)
                self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)
                self.assertEqual(e.exception.details(), "no such thing")
                self.assertEqual(list(call(ch, "us", "Count")(b"50", timeout=10)),
                                 [str(i).encode() for i in range(50)])
                chunks = [b"x" * 100000 for _ in range(30)]  # 3 MB up, flow-controlled
                self.assertEqual(call(ch, "su", "Sum")(iter(chunks), timeout=30), b"3000000")
                self.assertEqual(list(call(ch, "ss", "Chat")(iter([b"a", b"bc"]), timeout=10)),
                                 [b"A", b"BC"])
        lines = access_log_lines(self.access)
        self.assertTrue(lines)
        self.assertEqual({l["proto"] for l in lines}, {"HTTP/2.0"})
        self.assertEqual({l["pool"] for l in lines}, {"grpc"})

    def test_cancel_resets_the_upstream_stream(self):
        ch = self.channel(False)
        stream = call(ch, "us", "Forever")(b"", timeout=30)
        self.assertEqual(next(stream), b"tick")
        stream.cancel()
        wait_for(self.origin.cancelled.is_set, timeout=10,
                 what="the origin to see the call cancelled")
        # The connection to the origin serves on.
        self.assertEqual(call(ch, "uu", "Say")(b"ab", timeout=10), b"ba")

    def test_response_timeout_ends_a_hanging_call(self):
        ch = self.channel(False)
        t0 = time.monotonic()
        with self.assertRaises(grpc.RpcError) as e:
            call(ch, "uu", "Slow")(b"x", timeout=20)
        self.assertLess(time.monotonic() - t0, 2.9)  # before the handler would answer
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertIn("504", e.exception.details())
        line = wait_for(lambda: [l for l in access_log_lines(self.access)
                                 if l["path"] == f"/{SERVICE}/Slow"], what="the 504 logged")
        self.assertEqual((line[0]["status"], line[0]["termination"]), (504, "sH"))

    def test_grpc_shaped_exchange_from_an_http1_client(self):
        # A gRPC request written by hand over HTTP/1.1: the upstream leg is HTTP/2, and the
        # response (no content-length) comes back chunked with grpc-status as a trailer.
        message = b"hello"
        body = b"\x00" + struct.pack(">I", len(message)) + message
        host, port = self.sy.addr("plain")
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(b"POST /test.Echo/Say HTTP/1.1\r\nHost: a.test\r\n"
                  b"Content-Type: application/grpc\r\nTE: trailers\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                  b"Connection: close\r\n\r\n" + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        head, _, rest = data.partition(b"\r\n\r\n")
        self.assertIn(b"HTTP/1.1 200", head)
        self.assertIn(b"transfer-encoding: chunked", head.lower())
        self.assertIn(b"content-type: application/grpc", head.lower())
        self.assertIn(b"olleh", rest)
        trailer = rest[rest.index(b"\r\n0\r\n") + 5:]
        self.assertIn(b"grpc-status: 0", trailer)
        self.assertIn(b"x-trailer: t1", trailer)


if __name__ == "__main__":
    unittest.main()
