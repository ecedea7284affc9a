"""Long-lived responses (issue 13): once the response head arrived, upstream silence is bounded by
the pool's stream_timeout, not response_timeout, so an SSE stream or a chunked long poll that is
quiet for longer than response_timeout survives; and every event reaches the client as the origin
sent it (nothing is held back to fill a buffer).

The origin is a raw socket thread that paces itself on what the client has seen (no sleeps to
wait for the proxy): it sends the next event only after the client reported the previous one.
"""
import os
import socket
import threading
import time
import unittest

from harness import ProxyTestCase, access_log_lines, config_yaml, pool_yaml, wait_for

SSE_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


class SseOrigin:
    """One SSE response per connection: event i is sent once the client has seen event i-1
    (|seen[i-1]| set), after |quiet| seconds of silence; then the last chunk, unless
    |hang_after| events were sent (then silence until the test ends)."""

    def __init__(self, test, events, quiet, hang_after=None):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        test.addCleanup(self.srv.close)
        self.events = events
        self.seen = [threading.Event() for _ in events]
        self.in_time = []
        self.stop = threading.Event()
        test.addCleanup(self.stop.set)
        self.address = f"127.0.0.1:{self.srv.getsockname()[1]}"
        self.thread = threading.Thread(target=self.run, args=(quiet, hang_after), daemon=True)
        self.thread.start()

    def run(self, quiet, hang_after):
        c, _ = self.srv.accept()
        with c:
            data = b""
            while b"\r\n\r\n" not in data:
                data += c.recv(4096)
            c.sendall(SSE_HEAD)
            for i, event in enumerate(self.events):
                if i > 0:
                    # The previous event must reach the client while this origin sends nothing
                    # more: a proxy that buffered would never deliver it.
                    self.in_time.append(self.seen[i - 1].wait(20))
                    time.sleep(quiet)  # silence longer than response_timeout (the point)
                c.sendall(chunk(event))
                if hang_after is not None and i + 1 == hang_after:
                    self.stop.wait(60)
                    return
            self.in_time.append(self.seen[-1].wait(20))
            c.sendall(b"0\r\n\r\n")


class LongResponseTest(ProxyTestCase):
    def start(self, origin, extra):
        access = os.path.join(self.workdir, "access.log")
        sy = self.switchyard(config_yaml([pool_yaml("main", [origin.address], "v1", extra=extra)],
                                         access_log=access))
        sy.access_log_path = access
        return sy

    def read_events(self, sy, origin, path="/events"):
        """Reads the proxied stream, marking each event seen as it arrives; returns the bytes
        and whether the connection was closed."""
        s = socket.create_connection(sy.addr(), timeout=30)
        with s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: a\r\nAccept: text/event-stream\r\n"
                      "Connection: close\r\n\r\n".encode())
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    return data
                data += b
                for i, event in enumerate(origin.events):
                    if event in data:
                        origin.seen[i].set()

    def test_sse_quiet_longer_than_response_timeout_survives_and_is_unbuffered(self):
        events = [b"data: one\n\n", b"id: 2\ndata: two\n\n", b"data: three\n\n"]
        origin = SseOrigin(self, events, quiet=0.5)
        sy = self.start(origin, "response_timeout: 150ms\nstream_timeout: 10s")
        data = self.read_events(sy, origin)
        origin.thread.join(30)
        self.assertEqual(origin.in_time, [True, True, True], "an event was held back")
        self.assertIn(b"\r\n0\r\n\r\n", data)  # the stream ended normally
        for event in events:
            self.assertIn(event, data)
        line = wait_for(lambda: access_log_lines(sy.access_log_path), what="access log line")[0]
        self.assertEqual((line["status"], line["termination"]), (200, "--"))
        self.assertGreater(line["duration_ms"], 900)

    def test_stream_timeout_ends_a_silent_stream(self):
        origin = SseOrigin(self, [b"data: first\n\n", b"data: never\n\n"], quiet=0, hang_after=1)
        sy = self.start(origin, "response_timeout: 10s\nstream_timeout: 300ms")
        data = self.read_events(sy, origin)
        self.assertIn(b"data: first\n\n", data)
        self.assertNotIn(b"\r\n0\r\n\r\n", data)  # cut, not ended: the client can tell
        line = wait_for(lambda: access_log_lines(sy.access_log_path), what="access log line")[0]
        self.assertEqual((line["status"], line["termination"]), (200, "sD"))


if __name__ == "__main__":
    unittest.main()
