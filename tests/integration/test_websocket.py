"""HTTP/1.1 Upgrade tunnels (issue 13) with a real WebSocket client and server: Python
`websockets` (Debian python3-websockets) on both ends, Switchyard in between over h1 and h1+TLS.

Topology: websockets client --(ws:// or wss://)--> switchyard --(ws://)--> wsecho.py member(s).
The operational cases (tunnel timeout, drain, hold) are in test_websocket_ops.py.
"""
import asyncio
import os
import random
import socket
import sys
import threading
import unittest

from harness import (ProxyTestCase, access_log_lines, config_yaml, pool_yaml, raw_exchange,
                     status_lines, wait_for)
from test_tls_h2 import client_context, make_cert, tls_config
from wsecho import EchoServer, RssSampler, random_messages

try:
    import websockets
except ImportError:  # a Python outside Debian's (pyenv, venv) does not see dist-packages
    sys.path.append("/usr/lib/python3/dist-packages")
    import websockets

MESSAGES = 10_000
BIG = 50 * 1000 * 1000


async def echo_many(uri, count, ssl_ctx=None):
    """Sends |count| messages (binary and text, 0..4 KiB, random bytes) while reading the
    echoes; returns (sent, received) lists."""
    sent = random_messages(count)
    received = []
    async with websockets.connect(uri, ssl=ssl_ctx, max_size=None, compression=None,
                                  ping_interval=None) as ws:
        async def reader():
            for _ in range(count):
                received.append(await ws.recv())

        async def writer():
            for m in sent:
                await ws.send(m)

        await asyncio.wait_for(asyncio.gather(reader(), writer()), timeout=120)
    return sent, received


class WebSocketTunnelTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.echo = EchoServer(self.workdir, "e1")
        self._procs.append(self.echo)

    def start(self, pool_extra="", limits="", tls=False):
        access = os.path.join(self.workdir, "access.log")
        if tls:
            self.cert, key = make_cert(self.workdir, "ws", ["127.0.0.1"])
            text = tls_config(self.echo, [(self.cert, key)], limits=limits, access_log=access)
        else:
            text = config_yaml([pool_yaml("main", [self.echo.address], "v1", extra=pool_extra)],
                               limits=limits, access_log=access)
        sy = self.switchyard(text)
        sy.access_log_path = access
        return sy

    def tunnel_lines(self, sy, count=1):
        def lines():
            found = [l for l in access_log_lines(sy.access_log_path) if l["status"] == 101]
            return found if len(found) >= count else None
        return wait_for(lines, timeout=20, what=f"{count} tunnel line(s) in the access log")

    def test_ten_thousand_messages_both_ways_byte_exact(self):
        sy = self.start()
        sent, received = asyncio.run(echo_many(f"ws://{sy.listeners['main']}/chat", MESSAGES))
        self.assertEqual(len(received), MESSAGES)
        self.assertTrue(sent == received, "an echoed message differs from the one sent")
        line = self.tunnel_lines(sy)[0]
        # The client starts the closing handshake; the server closes TCP first (RFC 6455 7.1.1).
        self.assertEqual(line["tunnel_closed_by"], "server")
        self.assertEqual(line["termination"], "--")
        self.assertEqual(line["path"], "/chat")
        payload = sum(len(m.encode() if isinstance(m, str) else m) for m in sent)
        self.assertGreater(line["bytes_in"], payload)   # masked frames, plus the request head
        self.assertGreater(line["bytes_out"], payload)  # the 101 head and the echoes
        self.assertGreaterEqual(line["tunnel_ms"], 0)

    def test_ten_thousand_messages_over_tls(self):
        sy = self.start(tls=True)
        ctx = client_context(self.cert)
        sent, received = asyncio.run(echo_many(f"wss://{sy.listeners['tls']}/tls", MESSAGES, ctx))
        self.assertEqual(len(received), MESSAGES)
        self.assertTrue(sent == received, "an echoed message differs from the one sent")
        line = self.tunnel_lines(sy)[0]
        self.assertTrue(line["tls"])
        self.assertEqual(line["tunnel_closed_by"], "server")

    def test_fifty_megabyte_message_with_bounded_memory(self):
        sy = self.start()
        big = random.Random(5).randbytes(BIG)

        async def run():
            async with websockets.connect(f"ws://{sy.listeners['main']}/big", max_size=None,
                                          compression=None, ping_interval=None) as ws:
                await ws.send(big)
                return await asyncio.wait_for(ws.recv(), timeout=120)

        with RssSampler(sy) as rss:
            echoed = asyncio.run(run())
        self.assertEqual(len(echoed), BIG)
        self.assertTrue(echoed == big, "the 50 MB message came back different")
        rss.assert_bounded(self, 24 * 1024, BIG)
        line = self.tunnel_lines(sy)[0]
        self.assertGreater(line["bytes_in"], BIG)
        self.assertGreater(line["bytes_out"], BIG)

    def test_upgrade_fields_reach_the_member_and_a_refusal_is_relayed(self):
        sy = self.start()
        # websockets refuses a handshake without Sec-WebSocket-Key with 400: an ordinary
        # response, relayed as such (not 502).
        out = raw_exchange(sy.addr(), b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
                                      b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.assertEqual(status_lines(out)[:1], [400], out[:300])
        # Without "Connection: upgrade" the Upgrade field is hop-by-hop and dropped: 426 from
        # the member, which saw no upgrade request.
        out = raw_exchange(sy.addr(), b"GET /x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                                      b"Connection: close\r\n\r\n")
        self.assertEqual(status_lines(out), [426], out[:300])
        self.assertNotIn(b"\r\nUpgrade:", out)  # the member's Upgrade field is hop-by-hop too

    def test_any_upgrade_token_with_bytes_before_the_101_and_a_server_close(self):
        # A raw member speaking a made-up protocol: 101 to "Upgrade: x-echo", then echoes one
        # line and closes. The client sends its first bytes right after the head, before the
        # 101 came: they wait and are relayed once the tunnel is open.
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        self.addCleanup(srv.close)
        seen = {}

        def member():
            c, _ = srv.accept()
            with c:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += c.recv(4096)
                head, _, rest = data.partition(b"\r\n\r\n")
                seen["head"] = head.decode()
                c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x-echo\r\n"
                          b"Connection: Upgrade\r\nX-Member: raw\r\n\r\n")
                while b"\n" not in rest:
                    rest += c.recv(4096)
                c.sendall(b"echo:" + rest)

        th = threading.Thread(target=member)
        th.start()
        access = os.path.join(self.workdir, "access.log")
        sy = self.switchyard(config_yaml(
            [pool_yaml("main", [f"127.0.0.1:{srv.getsockname()[1]}"], "v1")],
            access_log=access))
        sy.access_log_path = access
        s = socket.create_connection(sy.addr(), timeout=20)
        with s:
            s.sendall(b"GET /raw HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
                      b"Upgrade: x-echo\r\n\r\nhello tunnel\n")
            data = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                data += b
        th.join(timeout=20)
        head = seen["head"].lower()
        self.assertIn("\r\nupgrade: x-echo", head)
        self.assertIn("\r\nconnection: upgrade", head)
        self.assertNotIn("keep-alive", head)
        resp_head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(resp_head.startswith(b"HTTP/1.1 101 "), data[:200])
        self.assertIn(b"\r\nUpgrade: x-echo", resp_head)
        self.assertIn(b"\r\nConnection: upgrade", resp_head)
        self.assertIn(b"\r\nX-Member: raw", resp_head)
        self.assertNotIn(b"Transfer-Encoding", resp_head)
        self.assertEqual(body, b"echo:hello tunnel\n")
        line = self.tunnel_lines(sy)[0]
        self.assertEqual(line["tunnel_closed_by"], "server")
        self.assertEqual(line["termination"], "--")


if __name__ == "__main__":
    unittest.main()
