"""Access log reopen, valid JSON for any bytes, request fields and X-Request-Id (issue 14).

* Rotation under load: a Python client sends a known number of requests over keep-alive
  connections while the log is moved away and reopened, by SIGUSR1 and by the admin
  `reopen-logs`, several times; the lines of all files together are exactly the requests
  sent, each once, each line whole.
* A target and fields with bytes that are not UTF-8 (invalid, overlong, surrogate, cut short)
  give lines that decode as strict UTF-8 and parse as JSON, the bad bytes as \\u00XX.
* host, user_agent, referer, forwarded_for, request_id are logged; X-Request-Id is generated
  when absent and sent upstream, kept when present; traceparent passes through.
"""
import http.client
import json
import os
import signal
import subprocess
import threading
import unittest

from harness import (BINARY, ProxyTestCase, config_yaml, pool_yaml, raw_exchange, status_lines,
                     wait_for)

CTL = os.environ.get("SY_CTL", os.path.join(os.path.dirname(BINARY), "..", "admin",
                                            "switchyardctl"))


def strict_lines(path):
    """Every line of |path| decoded as strict UTF-8 and parsed as JSON (raises otherwise)."""
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        raise AssertionError(f"{path} ends in half a line: {data[-200:]!r}")
    return [json.loads(line.decode("utf-8")) for line in data.splitlines()]


class Load:
    """|clients| threads, each sending |per_client| GETs over one keep-alive connection, every
    target distinct; |done| counts the answered ones."""

    def __init__(self, addr, clients, per_client):
        self.addr = addr
        self.per_client = per_client
        self.done = 0
        self.errors = []
        self.lock = threading.Lock()
        self.targets = [f"/r/{c}/{i}" for c in range(clients) for i in range(per_client)]
        self.threads = [threading.Thread(target=self.client, args=(c,)) for c in range(clients)]
        for t in self.threads:
            t.start()

    def client(self, c):
        conn = http.client.HTTPConnection(*self.addr, timeout=60)
        try:
            for i in range(self.per_client):
                conn.request("GET", f"/r/{c}/{i}")
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    raise AssertionError(f"/r/{c}/{i}: {r.status}")
                with self.lock:
                    self.done += 1
        except Exception as e:  # reported by the test
            self.errors.append(repr(e))
        finally:
            conn.close()

    def join(self):
        for t in self.threads:
            t.join(timeout=300)

    def running(self):
        return any(t.is_alive() for t in self.threads)


class AccessLogReopenTest(ProxyTestCase):
    def start(self, workers=2):
        self.b = self.backend("b1")
        self.log_path = os.path.join(self.workdir, "access.log")
        self.sock = os.path.join(self.workdir, "admin.sock")
        text = config_yaml([pool_yaml("main", [self.b.address], "v1")], workers=workers,
                           access_log=self.log_path)
        text += f'admin:\n  socket: {{path: "{self.sock}"}}\n'
        return self.switchyard(text)

    def ctl(self, *args):
        p = subprocess.run([CTL, "-s", self.sock, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p.stdout

    def test_rotation_under_load_loses_no_line(self):
        sy = self.start()
        load = Load(sy.addr(), clients=4, per_client=1500)
        rotated = []
        for n in range(1, 5):
            # Some requests between two rotations, and the load still running at each one.
            wait_for(lambda: load.done >= n * 800 or load.errors, timeout=120,
                     what=f"{n * 800} requests answered")
            self.assertEqual(load.errors, [])
            self.assertTrue(load.running(), "the load ended before the rotation")
            old = f"{self.log_path}.{n}"
            os.rename(self.log_path, old)
            rotated.append(old)
            if n % 2:
                sy.proc.send_signal(signal.SIGUSR1)
                wait_for(lambda: sy.log().count("SIGUSR1: access log reopened: ") >= (n + 1) // 2,
                         what="the SIGUSR1 reopen")
            else:
                out = self.ctl("reopen-logs")
                self.assertIn(f"access log reopened: {self.log_path}", out)
            self.assertTrue(os.path.exists(self.log_path), "no new file at the path")
        load.join()
        self.assertEqual(load.errors, [])
        self.assertEqual(load.done, len(load.targets))
        # SIGTERM flushes the workers' buffers and the writer's queue.
        self.assertEqual(sy.terminate(), 0, sy.log())
        files = rotated + [self.log_path]
        per_file = [strict_lines(p) for p in files]
        for path, lines in zip(files, per_file):
            self.assertGreater(len(lines), 0, f"{path} got no line")
        paths = [l["path"] for lines in per_file for l in lines]
        self.assertEqual(len(paths), len(load.targets))  # lines in all files = requests sent
        self.assertEqual(sorted(paths), sorted(load.targets))  # each request once

    def test_reopen_failure_keeps_the_old_file(self):
        sy = self.start(workers=1)
        os.rename(self.log_path, self.log_path + ".1")
        os.mkdir(self.log_path)  # the path cannot be opened for writing now
        p = subprocess.run([CTL, "-s", self.sock, "reopen-logs"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"cannot open access log {self.log_path}: Is a directory", p.stdout)
        sy.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: "still writing to the old file" in sy.log(), what="SIGUSR1 failure")
        self.assertEqual(status_lines(raw_exchange(sy.addr(), b"GET /kept HTTP/1.1\r\n"
                                                   b"Host: h\r\nConnection: close\r\n\r\n")),
                         [200])
        wait_for(lambda: any(l["path"] == "/kept" for l in strict_lines(self.log_path + ".1")),
                 what="the line in the old file")


class AccessLogFieldsTest(ProxyTestCase):
    def start(self):
        self.b = self.backend("b1")
        self.log_path = os.path.join(self.workdir, "access.log")
        return self.switchyard(config_yaml([pool_yaml("main", [self.b.address], "v1")],
                                           access_log=self.log_path))

    def lines(self, n):
        return wait_for(lambda: (lambda ls: ls if len(ls) >= n else None)(
            strict_lines(self.log_path)), what=f"{n} access log lines")

    def test_invalid_utf8_in_target_and_fields_is_escaped(self):
        sy = self.start()
        cases = [
            # (bytes sent in the target, what the logged path decodes to)
            (b"/x\xff\xfe", "/x\u00ff\u00fe"),                  # the example
            (b"/overlong\xc0\xaf", "/overlong\u00c0\u00af"),    # '/' written in two bytes
            (b"/surrogate\xed\xa0\x80", "/surrogate\u00ed\u00a0\u0080"),
            (b"/cut\xe2\x82", "/cut\u00e2\u0082"),              # a 3-byte sequence cut short
            (b"/above\xf4\x90\x80\x80", "/above\u00f4\u0090\u0080\u0080"),  # > U+10FFFF
            (b"/lone\x80tail", "/lone\u0080tail"),
            ("/valid-é€😀".encode(), "/valid-é€😀"),             # well-formed: kept as is
            (b'/quote"back\\slash', '/quote"back\\slash'),
        ]
        for target, _ in cases:
            raw = raw_exchange(sy.addr(), b"GET " + target + b" HTTP/1.1\r\nHost: h\r\n"
                               b"User-Agent: agent\xff\r\nReferer: http://r/\xc3\r\n"
                               b"Connection: close\r\n\r\n")
            self.assertEqual(status_lines(raw), [200], (target, raw[:200]))
        lines = self.lines(len(cases))
        self.assertEqual([l["path"] for l in lines], [want for _, want in cases])
        for l in lines:
            self.assertEqual(l["user_agent"], "agent\u00ff")
            self.assertEqual(l["referer"], "http://r/\u00c3")
        with open(self.log_path, "rb") as f:
            data = f.read()
        self.assertIn(rb'"path":"/x\u00ff\u00fe"', data)  # the escape, not the raw bytes
        self.assertIn("/valid-é€😀".encode(), data)

    def test_fields_request_id_and_traceparent(self):
        sy = self.start()
        trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        base = f"http://{sy.addr()[0]}:{sy.addr()[1]}"
        # Without X-Request-Id: one is generated, sent upstream and logged.
        out = subprocess.run(
            ["curl", "-sS", "-H", "Host: tenant.example", "-H", "User-Agent: ua/1",
             "-H", "Referer: http://ref.example/p", "-H", "X-Forwarded-For: 203.0.113.9",
             "-H", f"traceparent: {trace}", f"{base}/headers"],
            stdout=subprocess.PIPE, timeout=30, check=True).stdout
        seen = json.loads(out)["headers"]
        generated = seen["x-request-id"]
        self.assertRegex(generated, r"^[0-9a-f]{32}$")
        self.assertEqual(seen["traceparent"], trace)
        # With one: passed on unchanged, not doubled.
        out = subprocess.run(["curl", "-sS", "-H", "X-Request-Id: client-id-7",
                              f"{base}/headers"], stdout=subprocess.PIPE, timeout=30,
                             check=True).stdout
        self.assertEqual(json.loads(out)["headers"]["x-request-id"], "client-id-7")
        # Two requests on one connection, and one over h2c: each gets an id of its own.
        subprocess.run(["curl", "-sS", "-o", "/dev/null", "-o", "/dev/null", f"{base}/a",
                        f"{base}/b"], timeout=30, check=True)
        subprocess.run(["curl", "-sS", "-o", "/dev/null", "--http2-prior-knowledge",
                        "-H", "User-Agent: h2-agent", f"{base}/h2"], timeout=30, check=True)
        first, second, a, b, h2 = self.lines(5)
        self.assertEqual(first["host"], "tenant.example")
        self.assertEqual(first["user_agent"], "ua/1")
        self.assertEqual(first["referer"], "http://ref.example/p")
        self.assertEqual(first["forwarded_for"], "203.0.113.9")
        self.assertEqual(first["request_id"], generated)
        self.assertTrue(first["client"].startswith("127.0.0.1:"), first)  # the peer, trusted
        self.assertEqual(second["request_id"], "client-id-7")
        self.assertEqual(second["forwarded_for"], "")
        self.assertEqual((h2["proto"], h2["path"], h2["user_agent"]),
                         ("HTTP/2.0", "/h2", "h2-agent"))
        self.assertEqual(h2["host"], f"{sy.addr()[0]}:{sy.addr()[1]}")  # from :authority
        ids = [first["request_id"], a["request_id"], b["request_id"], h2["request_id"]]
        for i in ids:
            self.assertRegex(i, r"^[0-9a-f]{32}$")
        self.assertEqual(len(set(ids)), 4, ids)


if __name__ == "__main__":
    unittest.main()
