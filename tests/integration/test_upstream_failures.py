"""Upstream failure handling through the real binary: 502 when no member can be connected or a
member answers garbage, 504 on a response timeout, retry on another member only before a
request byte was sent, active health checks ejecting and returning a member, passive ejection."""
import socket
import time
import unittest

from harness import (ProxyTestCase, access_log_lines, config_yaml, curl_status, pool_yaml,
                     wait_for)


def free_dead_port():
    """A loopback port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class UpstreamFailureTest(ProxyTestCase):
    def last_log(self, sy, n=1):
        return wait_for(lambda: len(access_log_lines(sy.access_log_path)) >= n and
                        access_log_lines(sy.access_log_path)[-1], what="access-log line")

    def test_backend_down_is_502_naming_the_cause(self):
        b = self.backend("gone")
        sy = self.simple_proxy([b])
        b.stop()
        code, body = curl_status(sy.url("/"))
        self.assertEqual(code, 502)
        self.assertIn(b"connect", body)
        self.assertIn(b.address.encode(), body)
        line = self.last_log(sy)
        self.assertEqual((line["status"], line["termination"]), (502, "SC"))
        # The proxy keeps running and serves again once the backend is back.
        self.assertIsNone(sy.proc.poll())

    def test_backend_slow_is_504(self):
        b = self.backend("slow")
        sy = self.simple_proxy([b], pool_extra="response_timeout: 300ms")
        t0 = time.monotonic()
        code, body = curl_status(sy.url("/slow?ms=3000"))
        elapsed = time.monotonic() - t0
        self.assertEqual(code, 504)
        self.assertIn(b"did not respond within 300 ms", body)
        self.assertLess(elapsed, 2.5)
        self.assertEqual(self.last_log(sy)["termination"], "sH")
        # The same client connection flow still works for a fast request.
        self.assertEqual(curl_status(sy.url("/"))[0], 200)

    def test_backend_closing_without_answer_is_502(self):
        b = self.backend("rude")
        sy = self.simple_proxy([b])
        code, body = curl_status(sy.url("/close"))
        self.assertEqual(code, 502)
        self.assertEqual(self.last_log(sy)["termination"], "SH")

    def test_connect_failure_retries_another_member(self):
        live = self.backend("live")
        dead = f"127.0.0.1:{free_dead_port()}"
        access = f"{self.workdir}/access.log"
        sy = self.switchyard(config_yaml([pool_yaml("main", [dead, live.address],
                                                    extra="retries: 1")],
                                         access_log=access))
        sy.access_log_path = access
        codes = [curl_status(sy.url("/"))[0] for _ in range(6)]
        self.assertEqual(codes, [200] * 6)

    def test_no_retry_once_request_bytes_were_sent(self):
        # /close consumes the request then hangs up: a retry would replay a POST; the proxy
        # must answer 502 and the second member must never see the request.
        a = self.backend("a")
        b = self.backend("b")
        sy = self.simple_proxy([a, b], pool_extra="retries: 2")
        code, _ = curl_status(sy.url("/close"), "-d", "payload")
        self.assertEqual(code, 502)
        seen = [int(curl_status(f"http://{x.address}/control/seen?path=/close")[1])
                for x in (a, b)]
        self.assertEqual(sum(seen), 1, seen)

    def test_health_check_ejects_and_returns_member(self):
        a = self.backend("a")
        b = self.backend("b")
        health = "path: /health\ninterval: 100ms\ntimeout: 90ms\nrise: 2\nfall: 2"
        sy = self.simple_proxy([a, b], health=health)

        def served():
            return {curl_status(sy.url("/"))[1].split()[0] for _ in range(6)}

        self.assertEqual(served(), {b"a", b"b"})
        curl_status(f"http://{a.address}/control/down")
        wait_for(lambda: "member " + a.address + " is DOWN" in sy.log(), what="a DOWN")
        self.assertEqual(served(), {b"b"})
        curl_status(f"http://{a.address}/control/up")
        wait_for(lambda: "member " + a.address + " is UP" in sy.log(), what="a UP")
        self.assertEqual(served(), {b"a", b"b"})

    def test_passive_ejection_skips_a_failing_member(self):
        live = self.backend("live")
        dead = f"127.0.0.1:{free_dead_port()}"
        access = f"{self.workdir}/access.log"
        pool = pool_yaml("main", [dead, live.address],
                         extra="retries: 0\npassive_ejection:\n  consecutive_failures: 2\n"
                               "  eject_for: 30s")
        sy = self.switchyard(config_yaml([pool], access_log=access))
        codes = [curl_status(sy.url("/"))[0] for _ in range(20)]
        # Without retries the dead member fails twice, is ejected, and from then on only the
        # live member is used.
        self.assertEqual(codes.count(502), 2, codes)
        self.assertEqual(codes[-10:], [200] * 10)


if __name__ == "__main__":
    unittest.main()
