"""Hitless self-upgrade under load (DESIGN decision 8; proxy/handover.h): five binary swaps
while wrk (HTTP/1.1, plain) and h2load (HTTP/2 over TLS) run the whole time against a real
backend, and not one request fails or is reset. Swaps alternate between SIGUSR2 and
`switchyardctl upgrade binary`; a slow request in flight across a swap is answered by the old
process while it drains."""

import os
import re
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

from harness import ProxyTestCase, config_yaml, pool_yaml, wait_for
from selfupgrade import Generations, ctl
from test_tls_h2 import make_cert, tls_listener_yaml

SWAPS = 5


def parse_wrk(out):
    """(requests, socket errors, non-2xx) from wrk's report."""
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors = sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return requests, errors, int(m.group(1)) if m else 0


def h2load_failures(log_path):
    """(never sent, sent and failed) from an h2load --log-file: one line per request closed in
    the main phase, "<start µs>\t<status or -1>\t<µs>". A failed request whose start is 0 was
    never put on the wire: h2load submitted it, then read the GOAWAY that came in the same read
    as an earlier response, and nghttp2 closed it with REFUSED_STREAM without sending it
    (RFC 9113 §8.7: such a request was not processed and may be retried; a browser does).
    Anything else that failed had reached the proxy, which must never fail it."""
    never_sent = sent_failed = 0
    with open(log_path) as f:
        for line in f:
            start, status, _ = line.split("\t")
            if status == "-1" or not 200 <= int(status) < 300:
                if int(start) == 0:
                    never_sent += 1
                else:
                    sent_failed += 1
    return never_sent, sent_failed


def parse_h2load(out):
    """(succeeded, failed, errored) from h2load's report."""
    m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored", out)
    if not m:
        raise AssertionError("no h2load summary:\n" + out)
    return tuple(int(x) for x in m.groups())


class SelfUpgradeLoadTest(ProxyTestCase):
    def test_five_swaps_under_h1_and_h2_load_fail_nothing(self):
        backend = self.backend("b1")
        cert, key = make_cert(self.workdir, "a", ["127.0.0.1"])
        sock = os.path.join(self.workdir, "admin.sock")
        text = config_yaml([pool_yaml("main", [backend.address], "v1")],
                           listeners=(("plain", "main"),), workers=2,
                           limits="drain_timeout: 20s")
        text = text.replace("listeners:\n", "listeners:\n" + tls_listener_yaml(
            "tls", "main", [(cert, key)]), 1)
        text += f'admin:\n  socket: {{path: "{sock}"}}\n'
        sy = self.switchyard(text)
        gens = Generations(self, sy)
        plain = f"http://{sy.listeners['plain']}/"
        tls = f"https://{sy.listeners['tls']}/"

        duration = 20  # seconds of load; the swaps finish well inside it (checked below)
        results = {}

        def run(name, argv):
            results[name] = subprocess.run(argv, stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, text=True,
                                           timeout=duration + 60).stdout

        # h2load does not reconnect after a GOAWAY (the old process's drain sends one with
        # NO_ERROR on every HTTP/2 connection): a client that got one stops issuing requests
        # ("Process Request Failure"), which a timing-based run does not count as failed. So
        # the h2 load is back-to-back one-second runs, each connecting afresh; every request of
        # every run is in its --log-file, and h2load_failures() tells the ones that reached the
        # proxy from the ones h2load never sent.
        stop_h2 = threading.Event()

        def h2_rounds():
            outs, logs = [], []
            while not stop_h2.is_set():
                logs.append(os.path.join(self.workdir, f"h2load-{len(logs)}.log"))
                outs.append(subprocess.run(["h2load", "-c4", "-m4", "-D", "1",
                                            "--log-file=" + logs[-1], tls],
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           text=True, timeout=60).stdout)
            results["h2load"] = outs
            results["h2load_logs"] = logs

        loads = [
            threading.Thread(target=run, args=("wrk", [
                "wrk", "-t1", "-c8", f"-d{duration}s", plain])),
            threading.Thread(target=h2_rounds),
        ]
        t0 = time.monotonic()
        for t in loads:
            t.start()
        # A slow request in flight across the first swap: the old process answers it.
        slow = {}
        slow_thread = threading.Thread(target=lambda: slow.update(out=subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", plain + "slow?ms=6000"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60).stdout))
        slow_thread.start()
        seen = f"http://{backend.address}/control/seen?path=/slow"
        wait_for(lambda: urllib.request.urlopen(seen, timeout=10).read().strip() != b"0",
                 timeout=20, what="the slow request at the backend")
        first_old = gens.pid
        for i in range(SWAPS):
            # The first old process keeps draining (the slow request) while the next swaps run.
            gens.swap("signal" if i % 2 == 0 else "ctl", sock, wait_old=i > 0)
            if i == 0:
                slow_crossed = slow_thread.is_alive()
        gens.wait_gone(first_old)
        swapped_at = time.monotonic() - t0
        slow_thread.join(timeout=60)
        loads[0].join(timeout=duration + 90)
        stop_h2.set()
        loads[1].join(timeout=90)
        self.assertLess(swapped_at, duration - 2,
                        "the swaps did not finish while the load was running")
        self.assertTrue(slow_crossed, "the slow request ended before the first swap did")
        self.assertEqual(slow.get("out"), "200", slow)
        self.assertEqual(len(set(gens.pids)), SWAPS + 1)

        requests, errors, non2xx = parse_wrk(results["wrk"])
        rounds = [parse_h2load(out) for out in results["h2load"]]
        succeeded, failed, errored = (sum(r[i] for r in rounds) for i in range(3))
        logged = [h2load_failures(path) for path in results["h2load_logs"]]
        never_sent, sent_failed = (sum(r[i] for r in logged) for i in range(2))
        sys.stderr.write(f"\n{SWAPS} swaps in {swapped_at:.1f} s (pids {gens.pids}); wrk: "
                         f"{requests} requests, {errors} socket errors, {non2xx} non-2xx; "
                         f"h2load: {len(rounds)} rounds, {succeeded} succeeded, {failed} failed "
                         f"({never_sent} never sent, {sent_failed} sent), {errored} errored\n")
        self.assertGreater(requests, 100, results["wrk"])
        self.assertEqual((errors, non2xx), (0, 0), results["wrk"])
        self.assertGreater(succeeded, 100, results["h2load"][-1])
        self.assertGreaterEqual(len(rounds), duration // 2, "the h2 load did not run throughout")
        bad = [out for out, r in zip(results["h2load"], logged) if r[1]]
        self.assertEqual(sent_failed, 0, "\n".join(bad)[:5000])
        # Every failure h2load counted is one of the never-sent requests: its own summary and
        # its log agree, so nothing failed that the log does not show.
        self.assertEqual(failed, never_sent, "\n".join(results["h2load"])[-5000:])
        # A never-sent request needs a GOAWAY in the same read as a response, and h2load
        # submits one request per response: at most one per open stream (-m4) of each of the
        # 4 connections a swap's GOAWAY reaches. (The clean-clone run of stop 21 saw 24.)
        self.assertLessEqual(never_sent, 4 * 4 * SWAPS)

        # The admin socket was passed along: the last generation answers on the same path.
        r = ctl(sock, "show", "info")
        self.assertEqual(r.returncode, 0, r.stdout)
        log = sy.log()
        self.assertEqual(log.count("handed over to pid"), SWAPS, log[-3000:])
        self.assertNotIn("did not take over", log)


if __name__ == "__main__":
    unittest.main()
