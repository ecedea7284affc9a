"""The admin socket at its limits, with the real binary (no database needed): connections over
admin.socket/tcp.max_connections get one `ERR busy` line and are closed; a client that sends
and never reads no longer grows the process without bound; switchyardctl refuses an empty token
file and a port out of range with a clear message."""
import os
import select
import socket
import subprocess
import time
import unittest

from harness import BINARY, ProxyTestCase, config_yaml, pool_yaml, rss_growth_limit_kib, wait_for

CTL = os.environ.get("SY_CTL", os.path.join(os.path.dirname(BINARY), "..", "admin",
                                            "switchyardctl"))
UNKNOWN = b"ERR unknown-command: 'x' (try `help`)\n\n"


class AdminLimitsTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.b = self.backend("b")
        self.sock = os.path.join(self.workdir, "admin.sock")
        self.token_file = os.path.join(self.workdir, "token")
        with open(self.token_file, "w") as f:
            f.write("token-for-the-limits-test\n")

    def start(self, socket_extra="", tcp_extra=""):
        yaml_text = config_yaml([pool_yaml("main", [self.b.address])]) + f"""\
admin:
  socket: {{path: "{self.sock}"{socket_extra}}}
  tcp: {{port: 0, token_file: "{self.token_file}"{tcp_extra}}}
"""
        self.sy = self.switchyard(yaml_text)
        with open(self.sy.ready_path) as f:
            ready = dict(l.split("=", 1) for l in f.read().splitlines())
        host, port = ready["admin.tcp"].rsplit(":", 1)
        self.tcp = (host, int(port))

    def unix(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.sock)
        return s

    @staticmethod
    def ask(s, line):
        s.sendall(line.encode() + b"\n")
        out = b""
        while not out.endswith(b"\n\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out

    @staticmethod
    def read_to_eof(s):
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk

    def test_connections_over_the_cap_get_err_busy(self):
        self.start(", max_connections: 2", ", max_connections: 1")
        a, b = self.unix(), self.unix()
        self.assertEqual(self.ask(a, "x"), UNKNOWN)
        self.assertEqual(self.ask(b, "x"), UNKNOWN)
        c = self.unix()
        self.assertEqual(self.read_to_eof(c),
                         b"ERR busy: too many admin connections on this listener (max 2, "
                         b"admin.socket.max_connections); closing\n\n")
        # The TCP listener counts on its own (before authentication).
        t1 = socket.create_connection(self.tcp, timeout=10)
        self.assertTrue(self.ask(t1, "auth token-for-the-limits-test").startswith(b"authenticated"))
        t2 = socket.create_connection(self.tcp, timeout=10)
        self.assertIn(b"admin.tcp.max_connections", self.read_to_eof(t2))
        # switchyardctl shows the line and exits 1 (the server answered ERR).
        p = subprocess.run([CTL, "-s", self.sock, "show", "info"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("ERR busy: too many admin connections", p.stderr)
        self.assertEqual(self.ask(a, "x"), UNKNOWN)  # the others are untouched
        for s in (a, b, c, t1, t2):
            s.close()
        wait_for(lambda: "refused" in self.sy.log(), what="the refusal in the log")
        p = subprocess.run([CTL, "-s", self.sock, "help"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_client_that_never_reads_keeps_memory_bounded(self):
        self.start()  # the default bounds
        s = self.unix()
        # A small send buffer: what the kernel holds for us is small, so what we manage to send
        # is what the server took.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        s.setblocking(False)
        chunk = b"help\n" * 1000  # each 5 bytes ask for the ~4 KB command table
        limit = rss_growth_limit_kib(16 * 1024)
        before = self.sy.rss_kib()
        sent = 0
        # Send without reading until the server stops taking our bytes (it pauses a connection
        # whose replies reach its output bound). Before, it read and answered into memory
        # without end: +700 bytes per byte sent.
        while sent < 8 * 1024 * 1024:
            try:
                off = sent % len(chunk)
                sent += s.send(chunk[off:])
                grown = self.sy.rss_kib() - before
                self.assertLess(grown, limit, f"RSS grew by {grown} KiB after {sent} bytes")
                continue
            except BlockingIOError:
                pass
            # Blocked: wait for room; none for 2 s means the server stopped reading us.
            _, writable, _ = select.select([], [s], [], 2.0)
            if not writable:
                break
        grown = self.sy.rss_kib() - before
        self.assertLess(grown, limit, f"RSS grew by {grown} KiB")
        self.assertLess(sent, 1024 * 1024, "the server kept reading a client that never reads")
        # Once the client reads, every complete line is answered (each help lists `reload`
        # once), and the connection stays usable.
        s.setblocking(True)
        s.settimeout(30)
        want = sent // 5
        got = 0
        buf = b""
        while got < want:
            data = s.recv(1 << 20)
            self.assertTrue(data, f"closed after {got} of {want} replies")
            buf += data
            cut = buf.rfind(b"\n\n")
            if cut >= 0:
                got += buf.count(b"\n\n", 0, cut + 2)
                buf = buf[cut + 2:]
        self.assertEqual(got, want)
        if sent % 5:  # finish the line that was cut, and take its reply
            s.sendall(chunk[sent % 5:5])
            while buf.count(b"\n\n") < 1:
                buf += s.recv(1 << 16)
        self.assertEqual(self.ask(s, "x"), UNKNOWN)
        s.close()


class CtlArgumentsTest(ProxyTestCase):
    """switchyardctl's own checks, before it connects anywhere."""

    def ctl(self, *args):
        return subprocess.run([CTL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=30)

    def test_empty_token_file(self):
        empty = os.path.join(self.workdir, "empty")
        open(empty, "w").close()
        p = self.ctl("--tcp", "127.0.0.1:9", "--token-file", empty, "show", "info")
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"token file {empty} is empty", p.stderr)
        self.assertNotIn("Success", p.stderr)
        p = self.ctl("--tcp", "127.0.0.1:9", "--token-file", empty + ".missing", "show", "info")
        self.assertEqual(p.returncode, 2)
        self.assertIn("No such file or directory", p.stderr)

    def test_port_out_of_range(self):
        token = os.path.join(self.workdir, "token")
        with open(token, "w") as f:
            f.write("whatever-token\n")
        for port in ("99999", "0", "65536", "-1", "80x", ""):
            with self.subTest(port=port):
                p = self.ctl("--tcp", f"127.0.0.1:{port}", "--token-file", token, "show", "info")
                self.assertEqual(p.returncode, 2)
                self.assertIn(f"bad port '{port}' (expected 1-65535)", p.stderr)


if __name__ == "__main__":
    unittest.main()
