"""WebSocket over HTTP/2 (RFC 8441 extended CONNECT, issue 13) with real implementations on both
ends: h2ws.py (python3-h2 + the websockets protocol) as the client over h2c and h2+TLS, the
websockets echo server (wsecho.py) as the HTTP/1.1 member. The 50 MB message is in
test_websocket_h2_big.py, the operational cases (tunnel timeout, drain, hold) in
test_websocket_h2_ops.py.
"""
import base64
import hashlib
import os
import socket
import threading
import unittest

from h2ws import H2WebSocket
from harness import ProxyTestCase, access_log_lines, config_yaml, pool_yaml, wait_for
from test_tls_h2 import client_context, make_cert, tls_config
from wsecho import EchoServer, random_messages

MESSAGES = 10_000


def echo_many(ws, count):
    """Sends |count| messages while reading the echoes (a send that waits for a window reads
    meanwhile); returns (sent, received)."""
    sent = random_messages(count)
    received = []
    for m in sent:
        ws.send(m)
        while ws.messages:
            received.append(ws.messages.popleft())
    while len(received) < count:
        received.append(ws.recv())
    return sent, received


class WebSocketOverHttp2Test(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.echo = EchoServer(self.workdir, "e1")
        self._procs.append(self.echo)
        self.access = os.path.join(self.workdir, "access.log")

    def start(self, tls=False, members=None):
        if tls:
            self.cert, key = make_cert(self.workdir, "ws", ["127.0.0.1"])
            text = tls_config(self.echo, [(self.cert, key)], access_log=self.access)
        else:
            text = config_yaml([pool_yaml("main", members or [self.echo.address], "v1")],
                               access_log=self.access)
        return self.switchyard(text)

    def tunnel_line(self):
        return wait_for(lambda: [l for l in access_log_lines(self.access)
                                 if l.get("tunnel_closed_by")] or None,
                        timeout=20, what="the tunnel's access log line")[0]

    def check_echo(self, ws):
        self.assertEqual(ws.status, 200, ws.body)
        sent, received = echo_many(ws, MESSAGES)
        self.assertEqual(len(received), MESSAGES)
        self.assertTrue(sent == received, "an echoed message differs from the one sent")
        ws.close()
        # The client's Close, the server's Close, then the server closes TCP first (RFC 6455
        # 7.1.1): END_STREAM, and RST_STREAM(NO_ERROR) at most (RFC 9113 8.1).
        self.assertTrue(ws.ended)
        self.assertIn(ws.reset_code, (None, 0))
        line = self.tunnel_line()
        self.assertEqual(line["method"], "CONNECT")
        self.assertEqual(line["status"], 200)
        self.assertEqual(line["proto"], "HTTP/2.0")
        self.assertEqual(line["termination"], "--")
        payload = sum(len(m.encode() if isinstance(m, str) else m) for m in sent)
        self.assertGreater(line["bytes_in"], payload)   # masked frames
        self.assertGreater(line["bytes_out"], payload)
        return line

    def test_ten_thousand_messages_over_h2c(self):
        sy = self.start()
        host, port = sy.addr()
        ws = H2WebSocket(host, port, "/chat", timeout=120)
        line = self.check_echo(ws)
        self.assertEqual(line["path"], "/chat")
        self.assertEqual(line["tunnel_closed_by"], "server")

    def test_ten_thousand_messages_over_tls(self):
        sy = self.start(tls=True)
        host, port = sy.addr("tls")
        ws = H2WebSocket(host, port, "/tls", tls=client_context(self.cert), timeout=120)
        line = self.check_echo(ws)
        self.assertTrue(line["tls"])

    def test_refusals_are_relayed_and_plain_connect_is_answered(self):
        sy = self.start()
        host, port = sy.addr()
        # No sec-websocket-version: the websockets server refuses the handshake with 400, an
        # ordinary response relayed as such.
        ws = H2WebSocket(host, port, "/x", version=None)
        self.assertEqual(ws.status, 400, ws.body)
        self.assertTrue(ws.ended)
        # Another :protocol is not proxied: 501 from the proxy (not a reset).
        other = _Raw(self, host, port)
        self.assertEqual(other.request([(":method", "CONNECT"), (":protocol", "connect-udp"),
                                        (":scheme", "http"), (":path", "/x"),
                                        (":authority", "a.test")]), 501)
        # Plain CONNECT keeps its answer: 501 with a body, not a stream error.
        self.assertEqual(other.request([(":method", "CONNECT"), (":authority", "a.test:443")]),
                         501)

    def test_a_pool_of_http2_members_cannot_take_a_websocket(self):
        # The upstream HTTP/2 codec does not forward :protocol: answered 501 before connecting.
        sy = self.switchyard(config_yaml(
            [pool_yaml("main", [self.echo.address], "v1", extra="protocol: h2")],
            access_log=self.access))
        host, port = sy.addr()
        ws = H2WebSocket(host, port, "/x")
        self.assertEqual(ws.status, 501, ws.body)
        self.assertIn(b"needs a pool of HTTP/1.1 members", ws.body)

    def test_handshake_fields_both_ways_and_a_bad_accept(self):
        # A raw HTTP/1.1 member: checks what the proxy sends, answers a good 101 with a
        # subprotocol the first time, a 101 with a wrong Sec-WebSocket-Accept the second and a
        # 200 the third (neither opens the client's tunnel: 502).
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        self.addCleanup(srv.close)
        heads = []

        def member():
            for answer in ("good", "bad-accept", "plain-200"):
                c, _ = srv.accept()
                with c:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        data += c.recv(4096)
                    head = data.partition(b"\r\n\r\n")[0].decode()
                    heads.append(head)
                    fields = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip()
                              for l in head.split("\r\n")[1:]}
                    key = fields.get("sec-websocket-key", "")
                    accept = base64.b64encode(hashlib.sha1(
                        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
                    if answer == "good":
                        c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                  b"Connection: Upgrade\r\nSec-WebSocket-Accept: " +
                                  accept.encode() + b"\r\nSec-WebSocket-Protocol: chat\r\n\r\n")
                        # The client's END_STREAM is a FIN here; what the member sends after
                        # it still reaches the client (a half-closed tunnel).
                        while c.recv(4096):
                            pass
                        c.sendall(b"\x81\x08fin seen")
                    elif answer == "bad-accept":
                        c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                  b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
                                  b"AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n")
                    else:
                        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

        th = threading.Thread(target=member, daemon=True)
        th.start()
        sy = self.start(members=[f"127.0.0.1:{srv.getsockname()[1]}"])
        host, port = sy.addr()
        ws = H2WebSocket(host, port, "/sub?room=1",
                         headers=[("sec-websocket-protocol", "chat, superchat"),
                                  ("sec-websocket-extensions", "x-test")])
        self.assertEqual(ws.status, 200, ws.body)
        self.assertEqual(ws.header("sec-websocket-protocol"), "chat")
        self.assertIsNone(ws.header("sec-websocket-accept"))  # HTTP/1.1's, not the client's
        self.assertIsNone(ws.header("upgrade"))
        ws.send("hello")
        ws.end_stream()
        self.assertEqual(ws.recv(), "fin seen")
        ws.wait_closed()
        self.assertTrue(ws.ended)
        self.assertIsNone(ws.reset_code)
        line = self.tunnel_line()
        self.assertEqual(line["tunnel_closed_by"], "client")  # the member's close answered
        self.assertEqual(line["termination"], "--")
        head = heads[0]
        lines = head.split("\r\n")
        self.assertEqual(lines[0], "GET /sub?room=1 HTTP/1.1")
        fields = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
        self.assertEqual(fields["upgrade"], "websocket")
        self.assertEqual(fields["connection"].lower(), "upgrade")
        self.assertEqual(fields["sec-websocket-version"], "13")
        self.assertEqual(fields["sec-websocket-protocol"], "chat, superchat")
        self.assertEqual(fields["sec-websocket-extensions"], "x-test")
        self.assertEqual(len(base64.b64decode(fields["sec-websocket-key"])), 16)
        for _ in range(2):
            bad = H2WebSocket(host, port, "/again")
            self.assertEqual(bad.status, 502, bad.body)
            self.assertIn(b"bad response from upstream", bad.body)
        th.join(timeout=20)
        keys = [h.split("ec-WebSocket-Key: ")[1].split("\r\n")[0] for h in heads]
        self.assertEqual(len(set(keys)), 3, "a fresh key per request")


class _Raw:
    """One h2c connection for requests the WebSocket client would not send."""

    def __init__(self, test, host, port):
        from h2ws import h2
        self.h2mod = h2
        self.sock = socket.create_connection((host, port), timeout=20)
        test.addCleanup(self.sock.close)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                      validate_outbound_headers=False))
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())

    def request(self, headers):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, headers, end_stream=True)
        self.sock.sendall(self.conn.data_to_send())
        status = None
        while True:
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError("connection closed")
            for ev in self.conn.receive_data(data):
                if isinstance(ev, self.h2mod.events.ResponseReceived) and ev.stream_id == sid:
                    status = int(dict(ev.headers)[":status"])
                if isinstance(ev, self.h2mod.events.StreamReset) and ev.stream_id == sid:
                    raise AssertionError(f"stream reset with {ev.error_code}")
                if isinstance(ev, self.h2mod.events.StreamEnded) and ev.stream_id == sid:
                    self.sock.sendall(self.conn.data_to_send())
                    return status
            self.sock.sendall(self.conn.data_to_send())


if __name__ == "__main__":
    unittest.main()
