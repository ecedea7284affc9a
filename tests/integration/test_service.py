"""Switchyard as a systemd service, with real processes and a fake systemd: the notify protocol
(READY / RELOADING + MONOTONIC_USEC / STOPPING / STATUS as datagrams on $NOTIFY_SOCKET, an
abstract socket here), reloads by SIGHUP and by the admin socket over a main file with conf.d
overlays and ${VAR} values, --version, and secrets that never reach a log or an error."""
import os
import signal
import socket
import subprocess
import time
import unittest

from harness import BINARY, ProxyTestCase, curl_status, read_ready_file, wait_for

CTL = os.environ.get("SY_CTL", os.path.join(os.path.dirname(BINARY), "..", "admin",
                                            "switchyardctl"))
SECRET = "Pa55-w0rd-zz7-never-logged"


class FakeSystemd:
    """The receiving end of sd_notify: a datagram socket with an abstract name."""

    def __init__(self):
        self.name = f"@sy-it-notify-{os.getpid()}-{time.monotonic_ns()}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name[1:])
        self.received = []

    def next(self, timeout=30.0):
        """The next message as a dict of its KEY=VALUE lines."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096).decode()
        except socket.timeout:
            raise AssertionError(f"no sd_notify message within {timeout}s; so far: "
                                 f"{self.received}")
        self.received.append(data)
        return dict(line.split("=", 1) for line in data.split("\n") if "=" in line)

    def wait(self, key, timeout=30.0):
        """Messages until one that sets |key|; returns that one."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.next(max(0.1, deadline - time.monotonic()))
            if key in msg:
                return msg

    def close(self):
        self.sock.close()


class ServiceTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.systemd = FakeSystemd()
        self.proc = None
        self.log_file = None

    def tearDown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.log_file is not None:
            self.log_file.close()
        self.systemd.close()
        super().tearDown()

    def write(self, name, text):
        path = os.path.join(self.workdir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self, main, env):
        if self.log_file is not None:
            self.log_file.close()
        self.ready = os.path.join(self.workdir, "sy.ready")
        self.log_path = os.path.join(self.workdir, "sy.log")
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen([BINARY, "--config", main, "--ready-file", self.ready],
                                     stdout=self.log_file, stderr=subprocess.STDOUT,
                                     env={**os.environ, **env})

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def test_notify_ready_reload_stopping_with_overlays(self):
        b1 = self.backend("b1")
        sock = os.path.join(self.workdir, "admin.sock")
        main = self.write("sy.yaml", f"""\
include_dir: conf.d
workers: 1
listeners:
  - {{name: main, port: 0, pool: app}}
pools:
  - name: app
    members: [{{address: "${{SY_IT_MEMBER}}"}}]
admin:
  socket: {{path: "{sock}"}}
""")
        self.write("conf.d/10-site.yaml", "pools:\n  - name: app\n    health_check: {enabled: false}\n")
        self.start(main, {"NOTIFY_SOCKET": self.systemd.name, "SY_IT_MEMBER": b1.address})

        ready = self.systemd.wait("READY")
        self.assertEqual(ready["READY"], "1")
        self.assertEqual(ready["STATUS"], "Serving: 1 listener(s), 1 worker(s)")
        # READY=1 comes after the listeners are bound: the ready file is already there.
        info = read_ready_file(self.ready)
        self.assertIsNotNone(info)
        url = f"http://{info['listener.main']}/"
        code, body = curl_status(url)
        self.assertEqual((code, body), (200, b"b1 old\n"))  # the member came from ${SY_IT_MEMBER}

        # A new overlay, then SIGHUP: RELOADING=1 with the monotonic clock, then READY=1.
        self.write("conf.d/20-level.yaml", "log_level: debug\n")
        before = time.monotonic_ns() // 1000
        self.proc.send_signal(signal.SIGHUP)
        reloading = self.systemd.wait("RELOADING")
        after = time.monotonic_ns() // 1000
        self.assertEqual(reloading["RELOADING"], "1")
        self.assertTrue(before <= int(reloading["MONOTONIC_USEC"]) <= after, reloading)
        done = self.systemd.wait("READY")
        self.assertEqual(done["STATUS"],
                         "Serving; last reload: 1 change(s) applied, 0 need a restart")
        # main logs what was applied once reload() returned, just after READY=1 was sent.
        wait_for(lambda: "reload applied: log_level: info -> debug" in self.log(),
                 what="the applied change logged")

        # A broken overlay: the reload is refused with the overlay's file:line:col, READY=1
        # still follows (the old configuration serves on).
        bad = self.write("conf.d/30-bad.yaml", "workers: ${SY_IT_UNSET_VARIABLE}\n")
        self.proc.send_signal(signal.SIGHUP)
        self.systemd.wait("RELOADING")
        refused = self.systemd.wait("READY")
        self.assertTrue(refused["STATUS"].startswith("Serving; last reload refused: "), refused)
        self.assertIn(f"{bad}:1:10: workers: environment variable SY_IT_UNSET_VARIABLE is not set",
                      refused["STATUS"])
        self.assertEqual(curl_status(url)[0], 200)

        # The admin `reload` takes the same path and says the same to systemd.
        os.unlink(bad)
        p = subprocess.run([CTL, "-s", sock, "reload"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.systemd.wait("RELOADING")
        self.assertTrue(self.systemd.wait("READY")["STATUS"].startswith("Serving; last reload: "))

        # SIGTERM: STOPPING=1, then a clean exit.
        self.proc.send_signal(signal.SIGTERM)
        stopping = self.systemd.wait("STOPPING")
        self.assertEqual(stopping["STOPPING"], "1")
        self.assertTrue(stopping["STATUS"].startswith("Draining connections"), stopping)
        self.assertEqual(self.proc.wait(timeout=60), 0, self.log())

    def test_sigusr1_does_not_kill_the_process(self):
        # logrotate's postrotate sends SIGUSR1; without an access log there is nothing to
        # reopen, and it must still be harmless (the reopen itself: test_access_log_reopen.py).
        b1 = self.backend("b1")
        main = self.write("sy.yaml", f"""\
listeners: [{{name: main, port: 0, pool: app}}]
pools: [{{name: app, members: [{{address: "{b1.address}"}}], health_check: {{enabled: false}}}}]
""")
        self.start(main, {"NOTIFY_SOCKET": self.systemd.name})
        self.systemd.wait("READY")
        self.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: "SIGUSR1: no access log configured" in self.log(), what="SIGUSR1 logged")
        self.assertIsNone(self.proc.poll())
        info = read_ready_file(self.ready)
        self.assertEqual(curl_status(f"http://{info['listener.main']}/")[0], 200)

    def test_secrets_never_reach_the_log(self):
        # A database that refuses: the start fails and says why, without the password (from a
        # file, and from the environment).
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
        probe.close()
        secret_file = self.write("secrets/db", SECRET + "\n")
        for password in ("password_file: secrets/db", 'password: "${SY_IT_DB_PASSWORD}"'):
            with self.subTest(password=password):
                main = self.write("sy.yaml", f"""\
listeners: [{{name: main, port: 0, pool: app}}]
pools: [{{name: app, members: [{{address: "127.0.0.1:1"}}]}}]
database:
  connect_timeout: 1s
  dsns:
    - {{host: 127.0.0.1, port: {closed_port}, user: sy, database: sy, {password}}}
routing:
  role: old
  serve_pools: [app]
  keys: [{{type: header, name: X-Ctx}}]
""")
                self.start(main, {"SY_IT_DB_PASSWORD": SECRET})
                self.assertEqual(self.proc.wait(timeout=60), 1)
                out = self.log()
                self.assertIn("cannot load the tenant directory", out)
                self.assertNotIn(SECRET, out)
                # --check-config of a file with errors next to the secret does not echo it.
                with open(main) as f:
                    broken = self.write("broken.yaml",
                                        f.read().replace("user: sy", "user: sy, port: 99999"))
                p = subprocess.run([BINARY, "--check-config", broken], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, timeout=30,
                                   env={**os.environ, "SY_IT_DB_PASSWORD": SECRET})
                self.assertEqual(p.returncode, 1, p.stdout)
                self.assertNotIn(SECRET, p.stdout)
        self.assertTrue(os.path.exists(secret_file))


class VersionTest(unittest.TestCase):
    def test_both_binaries_print_the_build_version(self):
        source = os.environ.get("SY_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
        with open(os.path.join(source, "CMakeLists.txt")) as f:
            text = f.read()
        version = text.split("project(switchyard VERSION ", 1)[1].split()[0]
        lines = {}
        for name, path in (("switchyard", BINARY), ("switchyardctl", CTL)):
            p = subprocess.run([path, "--version"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=10)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(p.stdout.startswith(f"{name} {version}"), p.stdout)
            lines[name] = p.stdout[len(name):]
        # One build, one version line (with `git describe` when built from git).
        self.assertEqual(lines["switchyard"], lines["switchyardctl"])
        if os.path.exists(os.path.join(source, ".git")):
            head = subprocess.run(["git", "-C", source, "rev-parse", "--short", "HEAD"],
                                  stdout=subprocess.PIPE, text=True).stdout.strip()
            self.assertIn("(git ", lines["switchyard"])
            self.assertIn(head[:7], lines["switchyard"])


if __name__ == "__main__":
    unittest.main()
