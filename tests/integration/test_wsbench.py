"""switchyard-wsbench (bench/ws_bench.cpp), the load generator and echo server of
`bench/compare --shape websocket`: its framing interoperates with an independent WebSocket
implementation (Python `websockets`) both ways, and a message that comes back altered or not at
all fails the run, so the comparison cannot count broken echoes as throughput.
"""
import asyncio
import base64
import hashlib
import json
import os
import socket
import struct
import subprocess
import threading
import unittest

from harness import BINARY, read_ready_file, wait_for
from wsecho import EchoServer, websockets

WSBENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(BINARY))), "bench",
                       "switchyard-wsbench")
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


class FaultyEcho:
    """A WebSocket echo on a thread that breaks the echo as told: `flip` alters one byte of the
    2nd message of each connection, `drop` swallows it. Speaks just enough RFC 6455 for the
    generator: handshake, masked client frames with 7/16-bit lengths, unmasked echoes."""

    def __init__(self, fault):
        self.fault = fault
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(4096)
            key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n")
                   if l.lower().startswith(b"sec-websocket-key:")][0]
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            count = 0
            while True:
                b0, b1 = recv_exact(conn, 2)
                length = b1 & 0x7F
                if length == 126:
                    length = struct.unpack("!H", recv_exact(conn, 2))[0]
                mask = recv_exact(conn, 4)
                payload = bytearray(a ^ mask[i % 4] for i, a in
                                    enumerate(recv_exact(conn, length)))
                count += 1
                if count == 2 and b0 & 0x0F != 0x8:
                    if self.fault == "drop":
                        continue
                    payload[-1] ^= 0x01
                head = bytes([b0, length]) if length < 126 else \
                    bytes([b0, 126]) + struct.pack("!H", length)
                conn.sendall(head + bytes(payload))
        except (EOFError, OSError):
            pass
        finally:
            conn.close()

    def stop(self):
        self.sock.close()


class WsBenchTest(unittest.TestCase):
    def setUp(self):
        import shutil
        import tempfile
        self.workdir = tempfile.mkdtemp(prefix="wsbench-")
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)

    def load(self, port, *args):
        p = subprocess.run([WSBENCH, "load", f"ws://127.0.0.1:{port}/x", *args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        return p.returncode, json.loads(p.stdout)

    def start_echo(self):
        ready = os.path.join(self.workdir, "echo.ready")
        proc = subprocess.Popen([WSBENCH, "echo", "--port", "0", "--ready-file", ready])
        self.addCleanup(proc.wait)
        self.addCleanup(proc.terminate)
        wait_for(lambda: os.path.exists(ready), timeout=30, what="wsbench echo")
        with open(ready) as f:
            return int(f.read())

    def test_every_size_comes_back_byte_exact_from_its_own_echo(self):
        port = self.start_echo()
        # 0 and 7 bytes (shorter than the sequence number), 7/16/64-bit frame lengths.
        for size, inflight in ((0, 1), (7, 3), (128, 8), (300, 2), (70000, 4)):
            with self.subTest(size=size):
                rc, r = self.load(port, "--connections", "4", "--inflight", str(inflight),
                                  "--size", str(size), "--duration", "0.5", "--warmup", "0.1",
                                  "--threads", "2")
                self.assertEqual(rc, 0, r)
                self.assertGreater(r["echoed"], 4 * inflight, r)
                self.assertEqual(r["sent"], r["echoed"])
                self.assertEqual((r["lost"], r["mismatched"], r["conn_errors"]), (0, 0, 0))
                self.assertGreater(r["measured"], 0)
                self.assertGreater(r["rtt_us"]["p99"], 0)

    def test_interoperates_with_python_websockets_both_ways(self):
        # The generator against the `websockets` library's server (tests/integration/wsecho.py).
        echo = EchoServer(self.workdir, "py")
        self.addCleanup(echo.stop)
        rc, r = self.load(echo.address.rsplit(":", 1)[1], "--connections", "2", "--inflight",
                          "2", "--size", "1000", "--duration", "0.5", "--warmup", "0")
        self.assertEqual(rc, 0, r)
        self.assertGreater(r["echoed"], 0)
        # The library's client against our echo: text, binary, an empty and a 100 KB message.
        port = self.start_echo()

        async def talk():
            async with websockets.connect(f"ws://127.0.0.1:{port}/", max_size=None,
                                          compression=None, ping_interval=None) as ws:
                got = []
                for m in ("hello", b"\x00\x01\xff", b"", os.urandom(100_000)):
                    await ws.send(m)
                    got.append((m, await ws.recv()))
                await ws.ping()
                return got
        for sent, back in asyncio.run(talk()):
            self.assertEqual(back, sent)

    def test_an_altered_or_missing_echo_fails_the_run(self):
        for fault in ("flip", "drop"):
            with self.subTest(fault=fault):
                server = FaultyEcho(fault)
                self.addCleanup(server.stop)
                rc, r = self.load(server.port, "--connections", "2", "--inflight", "1",
                                  "--duration", "0.3", "--warmup", "0", "--drain-timeout", "0.5")
                self.assertEqual(rc, 1, r)
                if fault == "flip":
                    self.assertEqual(r["mismatched"], 2, r)  # the 2nd message of each
                    self.assertIn("came back different", r["errors"][0])
                else:
                    # The dropped message never comes back: the connection waits for it until
                    # the drain timeout and is counted as lost.
                    self.assertGreater(r["lost"], 0, r)
                    self.assertIn("drain timeout", " ".join(r["errors"]))

    def test_refused_connections_and_bad_arguments(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        rc, r = self.load(port, "--connections", "2", "--duration", "0.2")
        self.assertEqual(rc, 1)
        self.assertEqual(r["conn_errors"], 2)
        self.assertIn("Connection refused", r["errors"][0])
        for args, text in ((["http://127.0.0.1:1/"], "expected ws://HOST:PORT/PATH"),
                           (["ws://127.0.0.1:1/", "--inflight", "0"], "at least 1"),
                           (["ws://127.0.0.1:1/", "--size", "x"], "expected a number"),
                           (["ws://127.0.0.1:1/", "--bogus", "1"], "unknown option --bogus")):
            p = subprocess.run([WSBENCH, "load", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(text, p.stderr)


if __name__ == "__main__":
    unittest.main()
