"""The access log cannot take the process down (issue 17 item 6).

* A FIFO nobody reads: memory stays bounded (the queue is access_log.max_queue_bytes), the
  dropped lines are counted and reported, and SIGTERM still exits.
* A file that cannot grow (RLIMIT_FSIZE set in the child: the write at the limit is cut
  short, the next one fails with EFBIG, as on a full disk): every line in the file is whole,
  the failure is reported once, writing resumes when there is room again ("writing again"),
  and a second failure is reported again.
"""
import json
import os
import resource
import subprocess
import unittest

from harness import (SANITIZER, ProxyTestCase, config_yaml, curl_status, pool_yaml,
                     rss_growth_limit_kib, wait_for)


def lines_of(path):
    with open(path, "rb") as f:
        return f.read()


class AccessLogTest(ProxyTestCase):
    def start(self, log_path, access_extra="", preexec_fn=None):
        self.b = self.backend("b1")
        text = config_yaml([pool_yaml("main", [self.b.address], "v1")], access_log=log_path)
        text += access_extra
        return self.switchyard(text, preexec_fn=preexec_fn)

    def load(self, sy, seconds=3, path="/"):
        """wrk for |seconds| at the proxy; returns the number of requests it completed."""
        out = subprocess.run(["wrk", "-t1", "-c16", f"-d{seconds}s", sy.url(path)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=seconds + 30).stdout
        return int(out.split(" requests in ")[0].split()[-1])

    def test_fifo_nobody_reads_bounded_memory_and_sigterm_exits(self):
        fifo = os.path.join(self.workdir, "access.fifo")
        os.mkfifo(fifo)
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # open, never read
        self.addCleanup(os.close, reader)
        sy = self.start(fifo)  # the default queue: 4 MiB
        before = sy.rss_kib()
        # Long targets make long lines (about 3 KB), so that a few seconds of requests log far
        # more than the pipe (64 KiB) and the queue (256 KiB) hold. Without a bound the
        # process kept every line.
        # (Longer under a sanitizer: the proxy is slower, and its allowance is larger: ASan
        # also keeps freed request and line buffers in its per-size caches beyond the
        # quarantine, measured at up to ~30 MiB here.)
        limit_kib = rss_growth_limit_kib(10 * 1024) + (12 * 1024 if SANITIZER == "address" else 0)
        pressure = 2 * limit_kib * 1024  # an unbounded queue would grow by all of it
        done = 0
        for _ in range(3):  # a busy machine may need more than one round to get there
            done += self.load(sy, seconds=12 if SANITIZER else 4, path="/" + "x" * 3000)
            if done * 3000 > pressure:
                break
        self.assertGreater(done * 3000, pressure, f"only {done} requests: no pressure")
        grown = sy.rss_kib() - before
        self.assertLess(grown, limit_kib, f"RSS grew {grown} KiB with the log unread")
        wait_for(lambda: "line(s) dropped (queue full" in sy.log(), what="drops reported")
        rc = sy.terminate(timeout=20)  # raises TimeoutExpired if SIGTERM does not end it
        with open(sy.log_path) as f:
            log = f.read()
        self.assertEqual(rc, 0, log)
        self.assertIn("switchyard stopped", log)

    def test_a_file_that_cannot_grow_keeps_whole_lines(self):
        path = os.path.join(self.workdir, "access.log")
        limit = 20000
        sy = self.start(path, preexec_fn=lambda: resource.setrlimit(
            resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY)))
        # The file fills up: a write is cut at the limit, the next one fails.
        wait_for(lambda: self.get_some(sy) and "access log write failed" in sy.log(),
                 timeout=30, what="the access log to hit the file size limit")
        data = lines_of(path)
        self.assertLessEqual(len(data), limit)
        self.assertTrue(data.endswith(b"\n"), data[-200:])
        for line in data.splitlines():
            json.loads(line)  # every line whole: no half line, no two glued together
        # Room again: new lines arrive, whole, and the log says writing works again.
        resource.prlimit(sy.pid, resource.RLIMIT_FSIZE,
                         (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        wait_for(lambda: curl_status(sy.url("/after"))[0] == 200 and
                 b'"path":"/after"' in lines_of(path), what="lines written again")
        wait_for(lambda: "access log writing again" in sy.log(), what="the recovery reported")
        for line in lines_of(path).splitlines():
            json.loads(line)
        # The warning is re-armed: a second failure is reported again.
        resource.prlimit(sy.pid, resource.RLIMIT_FSIZE,
                         (len(lines_of(path)) + 100, resource.RLIM_INFINITY))
        wait_for(lambda: self.get_some(sy) and sy.log().count("access log write failed") == 2,
                 timeout=30, what="the second failure reported")
        for line in lines_of(path).splitlines():
            json.loads(line)
        self.assertEqual(sy.terminate(timeout=20), 0)

    def get_some(self, sy, n=20):
        for _ in range(n):
            self.assertEqual(curl_status(sy.url("/"))[0], 200)
        return True


if __name__ == "__main__":
    unittest.main()
