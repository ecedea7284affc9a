"""Promises of docs/admin.md that no test checked (issue 11, "Also, from the last review"), with
the real binaries and no database: switchyardctl reads $SY_ADMIN_SOCKET and exits 2 on
conflicting options; the server refuses to start on a socket path in use, on a path that is not
a socket, on a path too long for sun_path, and on a short TCP token; `auth` twice; a line over
64 KiB is refused and the connection closed; `--flag=value` on a flag that takes no value."""
import os
import socket
import subprocess
import unittest

from harness import BINARY, ProxyTestCase, config_yaml, pool_yaml

CTL = os.environ.get("SY_CTL", os.path.join(os.path.dirname(BINARY), "..", "admin",
                                            "switchyardctl"))


class AdminPromisesTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.b = self.backend("b")
        self.sock = os.path.join(self.workdir, "admin.sock")
        self.token_file = os.path.join(self.workdir, "token")
        with open(self.token_file, "w") as f:
            f.write("token-for-the-promises-test\n")

    def yaml(self, sock=None, token_file=None):
        return config_yaml([pool_yaml("main", [self.b.address])]) + f"""\
admin:
  socket: {{path: "{sock or self.sock}"}}
  tcp: {{port: 0, token_file: "{token_file or self.token_file}"}}
"""

    def refused_start(self, yaml_text):
        """Runs the binary on |yaml_text|; it must exit non-zero. Returns its output."""
        path = os.path.join(self.workdir, "refused.yaml")
        with open(path, "w") as f:
            f.write(yaml_text)
        p = subprocess.run([BINARY, "--config", path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        return p.stdout

    def ctl(self, *args, env=None):
        return subprocess.run([CTL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=30, env=env)

    @staticmethod
    def ask(s, line):
        s.sendall(line.encode() + b"\n")
        out = b""
        while not out.endswith(b"\n\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out.decode()

    def test_ctl_socket_from_the_environment_and_exit_2_on_conflicting_options(self):
        self.switchyard(self.yaml())
        env = dict(os.environ, SY_ADMIN_SOCKET=self.sock)
        p = self.ctl("show", "info", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("role:", p.stdout)
        p = self.ctl("-s", self.sock, "--tcp", "127.0.0.1:9", "--token-file", self.token_file,
                     "show", "info")
        self.assertEqual(p.returncode, 2)
        self.assertIn("use either -s SOCKET or --tcp HOST:PORT", p.stderr)
        p = self.ctl("--tcp", "127.0.0.1:9", "show", "info")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--tcp needs --token-file", p.stderr)

    def test_start_up_refusals(self):
        sy = self.switchyard(self.yaml())
        # In use: another process serves the socket.
        out = self.refused_start(self.yaml())
        self.assertIn(f"admin socket {self.sock} is in use by another process", out)
        self.assertIsNone(sy.proc.poll())  # the first one keeps serving
        # Not a socket: a regular file at the path is never replaced.
        plain = os.path.join(self.workdir, "plain")
        with open(plain, "w") as f:
            f.write("keep me\n")
        out = self.refused_start(self.yaml(sock=plain))
        self.assertIn(f"admin.socket.path {plain} exists and is not a socket", out)
        with open(plain) as f:
            self.assertEqual(f.read(), "keep me\n")
        # Longer than sun_path (108 bytes).
        long_path = os.path.join(self.workdir, "x" * 120 + ".sock")
        out = self.refused_start(self.yaml(sock=long_path))
        self.assertIn(f"admin.socket.path is too long: {long_path}", out)
        # A token shorter than 8 characters.
        short = os.path.join(self.workdir, "short")
        with open(short, "w") as f:
            f.write("abc\n")
        out = self.refused_start(self.yaml(sock=os.path.join(self.workdir, "s2.sock"),
                                           token_file=short))
        self.assertIn(f"admin.tcp.token_file {short}: the token must have at least 8 characters",
                      out)

    def test_auth_twice_long_line_and_flag_value_on_a_flag_without_one(self):
        sy = self.switchyard(self.yaml())
        with open(sy.ready_path) as f:
            ready = dict(l.split("=", 1) for l in f.read().splitlines())
        host, port = ready["admin.tcp"].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as s:
            self.assertIn("ERR auth:", self.ask(s, "show info"))
            self.assertIn("authenticated", self.ask(s, "auth token-for-the-promises-test"))
            self.assertIn("already authenticated", self.ask(s, "auth token-for-the-promises-test"))
            self.assertIn("role:", self.ask(s, "show info"))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(self.sock)
            self.assertIn("no token needed here", self.ask(s, "auth whatever"))
            reply = self.ask(s, "server register app-x --continue=yes")
            self.assertIn("ERR usage:", reply)
            self.assertIn("(--continue takes no value)", reply)
            # Still usable after the error; then one line over 64 KiB closes it.
            self.assertIn("role:", self.ask(s, "show info"))
            s.sendall(b"x" * (64 * 1024 + 10))
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
            self.assertIn(b"ERR usage: line longer than 64 KiB; closing", out)
        self.assertIsNone(sy.proc.poll())

    def test_server_and_ctl_trim_the_token_file_alike(self):
        # A token line ending in a tab and a CR: the server and switchyardctl both drop them
        # (one rule, admin/protocol.h token_from_line), so the ctl authenticates.
        with open(self.token_file, "w") as f:
            f.write("token-for-the-promises-test\t\r\n")
        sy = self.switchyard(self.yaml())
        with open(sy.ready_path) as f:
            ready = dict(l.split("=", 1) for l in f.read().splitlines())
        p = self.ctl("--tcp", ready["admin.tcp"], "--token-file", self.token_file, "show", "info")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("role:", p.stdout)


if __name__ == "__main__":
    unittest.main()
