"""Client-side timeouts (slowloris, idle keep-alive) and graceful shutdown on SIGTERM."""
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import (ProxyTestCase, access_log_lines, curl_status, read_until_close,
                     status_lines, wait_for)


class TimeoutTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.b = self.backend("b1")
        self.sy = self.simple_proxy(
            [self.b], limits="client_header_timeout: 400ms\nclient_idle_timeout: 400ms\n"
                             "client_body_timeout: 400ms")

    def test_slowloris_head_gets_408_and_close(self):
        s = socket.create_connection(self.sy.addr())
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")
        t0 = time.monotonic()
        for _ in range(3):  # keep trickling: each byte must not extend the head deadline
            time.sleep(0.15)
            try:
                s.sendall(b"X-Slow: 1\r\n")
            except OSError:
                break
        data, closed = read_until_close(s, 3)
        s.close()
        self.assertTrue(closed)
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertEqual(status_lines(data), [408])
        line = wait_for(lambda: access_log_lines(self.sy.access_log_path),
                        what="access log")[-1]
        self.assertEqual(line["termination"], "cR")

    def test_slow_body_gets_408(self):
        s = socket.create_connection(self.sy.addr())
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        data, closed = read_until_close(s, 3)
        s.close()
        self.assertTrue(closed)
        self.assertIn(status_lines(data), ([408], []))

    def test_idle_keep_alive_connection_is_closed(self):
        s = socket.create_connection(self.sy.addr())
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        time.sleep(0.1)
        first = s.recv(65536)
        self.assertEqual(status_lines(first), [200])
        t0 = time.monotonic()
        data, closed = read_until_close(s, 3)
        s.close()
        self.assertTrue(closed, "idle connection stayed open")
        self.assertEqual(data, b"", "an idle close must not send a response")
        self.assertGreater(time.monotonic() - t0, 0.25)


class GracefulShutdownTest(ProxyTestCase):
    def test_sigterm_finishes_in_flight_requests_and_exits_0(self):
        b = self.backend("b1")
        sy = self.simple_proxy([b], workers=2, limits="drain_timeout: 10s")
        results = []

        def client():
            results.append(curl_status(sy.url("/slow?ms=1500"), timeout=20))

        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        wait_for(lambda: int(curl_status(f"http://{b.address}/control/seen?path=/slow")[1]) == 8,
                 what="8 requests in flight at the backend")
        sy.proc.send_signal(signal.SIGTERM)
        # New connections are refused once the listeners are closed.
        wait_for(lambda: curl_status(sy.url("/"), timeout=2)[0] == 0,
                 what="listener closed after SIGTERM")
        for t in threads:
            t.join()
        self.assertEqual(sy.terminate(timeout=15), 0)
        self.assertEqual([r[0] for r in results], [200] * 8, results)
        self.assertEqual(len(access_log_lines(sy.access_log_path)), 8)

    def test_drain_timeout_bounds_shutdown(self):
        b = self.backend("b1")
        sy = self.simple_proxy([b], limits="drain_timeout: 500ms")
        p = subprocess.Popen(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                              sy.url("/slow?ms=10000")], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        wait_for(lambda: int(curl_status(f"http://{b.address}/control/seen?path=/slow")[1]) == 1,
                 what="request in flight")
        t0 = time.monotonic()
        self.assertEqual(sy.terminate(timeout=10), 0)
        self.assertLess(time.monotonic() - t0, 5)
        out, _ = p.communicate(timeout=10)
        self.assertNotEqual(out, b"200")
        line = access_log_lines(sy.access_log_path)[-1]
        self.assertEqual(line["termination"][0], "K")

    def test_idle_keep_alive_connections_do_not_delay_shutdown(self):
        b = self.backend("b1")
        sy = self.simple_proxy([b], limits="drain_timeout: 20s")
        s = socket.create_connection(sy.addr())
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(status_lines(s.recv(65536)), [200])
        t0 = time.monotonic()
        self.assertEqual(sy.terminate(timeout=10), 0)
        self.assertLess(time.monotonic() - t0, 5)
        s.close()


if __name__ == "__main__":
    unittest.main()
