"""The listener lock and the socket handover (proxy/handover.h), without load: a second
Switchyard on the same port is refused with the holder's pid; the lock dies with its holder,
kill -9 included; a successor takes the admin socket along, binds listeners new in its
configuration and drops the ones gone from it; a successor that cannot start leaves the old
process serving. The swap under load: test_self_upgrade_load.py."""

import os
import signal
import socket
import subprocess
import unittest

from harness import (BINARY, ProxyTestCase, config_yaml, curl_status, pool_yaml, read_ready_file,
                     wait_for)
from selfupgrade import Generations, ctl, pid_gone


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fixed_port_yaml(backend, port, extra_listener=None, admin_sock=None, workers=2,
                    http_port=None):
    text = config_yaml([pool_yaml("main", [backend.address], "v1")], workers=workers)
    text = text.replace("    port: 0\n", f"    port: {port}\n", 1)
    if extra_listener:
        text = text.replace("pools:\n", f"  - name: {extra_listener}\n    port: 0\n"
                                        "    pool: main\npools:\n", 1)
    if admin_sock:
        text += f'admin:\n  socket: {{path: "{admin_sock}"}}\n'
        if http_port:
            text += f"  http: {{port: {http_port}}}\n"
    return text



def live_children(pid):
    """Pids of |pid|'s children that have not exited (zombies do not count: they are reapable)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return out

class SelfUpgradeTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.b1 = self.backend("b1")
        self.port = free_port()

    def run_second(self, yaml_text, *extra):
        path = os.path.join(self.workdir, "second.yaml")
        with open(path, "w") as f:
            f.write(yaml_text)
        return subprocess.run([BINARY, "--config", path, *extra], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=60)

    def test_second_instance_is_refused_with_port_and_pid(self):
        sy = self.switchyard(fixed_port_yaml(self.b1, self.port))
        second = self.run_second(fixed_port_yaml(self.b1, self.port))
        self.assertEqual(second.returncode, 1, second.stdout)
        self.assertIn(f"listener main: 127.0.0.1:{self.port} is already served by Switchyard "
                      f"pid {sy.pid}", second.stdout)
        self.assertIn("--takeover", second.stdout)
        # The refused one never joined the port: the first still answers every request.
        for _ in range(20):
            self.assertEqual(curl_status(sy.url("/"))[0], 200)

    def test_the_lock_dies_with_its_holder_even_on_kill_9(self):
        sy = self.switchyard(fixed_port_yaml(self.b1, self.port))
        sy.proc.send_signal(signal.SIGKILL)
        sy.proc.wait()
        again = self.switchyard(fixed_port_yaml(self.b1, self.port), name="again")
        self.assertEqual(curl_status(again.url("/"))[0], 200)

    def test_takeover_without_a_running_instance_says_so(self):
        r = self.run_second(fixed_port_yaml(self.b1, self.port), "--takeover")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn(f"no running Switchyard holds 127.0.0.1:{self.port}", r.stdout)

    def test_takeover_by_hand_moves_admin_socket_and_listeners(self):
        sock = os.path.join(self.workdir, "admin.sock")
        http_port = free_port()  # /metrics on a fixed port: its socket is passed on too
        sy = self.switchyard(fixed_port_yaml(self.b1, self.port, extra_listener="gone",
                                             admin_sock=sock, http_port=http_port))
        gone_addr = sy.listeners["gone"]
        # The successor's configuration drops "gone" and adds "fresh", and has one worker instead
        # of two (it keeps both of main's sockets: its one worker accepts on both); it is started
        # by hand, naming no address: the fixed port of "main" finds the running instance.
        new_yaml = fixed_port_yaml(self.b1, self.port, extra_listener="fresh", admin_sock=sock,
                                   workers=1, http_port=http_port)
        path = os.path.join(self.workdir, "new.yaml")
        with open(path, "w") as f:
            f.write(new_yaml)
        ready = os.path.join(self.workdir, "new.ready")
        log = open(os.path.join(self.workdir, "new.log"), "wb")
        new = subprocess.Popen([BINARY, "--config", path, "--ready-file", ready, "--takeover"],
                               stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: (new.poll() is None and new.kill(), new.wait(), log.close()))
        sy.proc.wait(timeout=60)  # the old one drains and exits on its own
        info = wait_for(lambda: read_ready_file(ready),
                        what="the successor's ready file")
        self.assertEqual(int(info["pid"]), new.pid)
        self.assertEqual(info["listener.main"], f"127.0.0.1:{self.port}")
        for _ in range(20):  # the kernel spreads these over both inherited sockets
            self.assertEqual(curl_status(f"http://127.0.0.1:{self.port}/")[0], 200)
        self.assertEqual(curl_status(f"http://{info['listener.fresh']}/")[0], 200)
        # "gone" was closed by both: nothing listens there any more.
        self.assertNotEqual(curl_status(f"http://{gone_addr}/")[0], 200)
        # The admin socket file stayed (the old process did not unlink it) and is the new one's.
        r = ctl(sock, "show", "info")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn(str(new.pid), r.stdout)
        # So is the admin HTTP listener: the successor serves /live and /ready on the same port.
        self.assertEqual(curl_status(f"http://127.0.0.1:{http_port}/live")[0], 200)
        self.assertEqual(curl_status(f"http://127.0.0.1:{http_port}/ready")[0], 200)
        self.assertEqual(info["admin.http"], f"127.0.0.1:{http_port}")
        # And the successor holds the lock now: a third instance is refused naming it.
        third = self.run_second(fixed_port_yaml(self.b1, self.port))
        self.assertIn(f"is already served by Switchyard pid {new.pid}", third.stdout)
        self.assertIn("passed", sy.log())
        self.assertIn(f"handed over to pid {new.pid}", sy.log())

    def test_a_successor_that_cannot_start_leaves_the_old_one_serving(self):
        sy = self.switchyard(fixed_port_yaml(self.b1, self.port))
        gens = Generations(self, sy)
        with open(sy.config_path) as f:
            good = f.read()
        with open(sy.config_path, "w") as f:
            f.write(good.replace("workers: 2", "workers: two"))
        os.kill(sy.pid, signal.SIGUSR2)
        wait_for(lambda: "not starting" in sy.log(), what="the successor to refuse its config")
        self.assertIsNone(sy.proc.poll())
        self.assertEqual(curl_status(sy.url("/"))[0], 200)
        # The refused successor logs before it exits (under ASan its leak check takes a while);
        # until it has exited the old one rightly answers a new SIGUSR2 "still starting".
        wait_for(lambda: not live_children(sy.pid), what="the refused successor to exit")
        # Fixed, the next attempt works (the failed successor was reaped, not "still starting").
        with open(sy.config_path, "w") as f:
            f.write(good)
        gens.swap("signal")
        self.assertEqual(curl_status(f"http://127.0.0.1:{self.port}/")[0], 200)


if __name__ == "__main__":
    unittest.main()
