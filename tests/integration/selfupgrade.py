"""Helpers for the hitless self-upgrade tests (proxy/handover.h): follow a Switchyard across
binary swaps, where each generation is a new process (the successor of the previous one, not a
child of the test), and stop whichever generation serves at the end."""

import os
import signal
import subprocess

from harness import BINARY, read_ready_file, wait_for

CTL = os.environ.get("SY_CTL", os.path.join(os.path.dirname(BINARY), "..", "admin",
                                            "switchyardctl"))


def pid_gone(pid):
    """True when |pid| has exited (a zombie counts as exited: its parent may be gone too)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def ctl(sock, *words, timeout=30):
    return subprocess.run([CTL, "--socket", sock, *words], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


class Generations:
    """The Switchyard serving now, through swaps. |sy| is the harness's first process."""

    def __init__(self, test, sy):
        self.test = test
        self.sy = sy
        self.pid = sy.pid
        self.pids = [sy.pid]
        test.addCleanup(self.stop)

    def ready_pid(self):
        info = read_ready_file(self.sy.ready_path)
        return int(info["pid"]) if info else 0

    def swap(self, how="signal", sock=None, wait_old=True):
        """Starts a successor (SIGUSR2, or `switchyardctl upgrade binary` on |sock|), waits until
        it has written the ready file and (with |wait_old|) the predecessor has exited, and
        returns the new pid."""
        old = self.pid
        if how == "signal":
            os.kill(old, signal.SIGUSR2)
        else:
            r = ctl(sock, "upgrade", "binary")
            self.test.assertEqual(r.returncode, 0, r.stdout)
            self.test.assertIn("takes the sockets over", r.stdout)
        new = wait_for(lambda: (lambda p: p if p not in (0, old) else 0)(self.ready_pid()),
                       timeout=60, what=f"a successor of pid {old} to be ready")
        self.pid = new
        self.pids.append(new)
        if wait_old:
            self.wait_gone(old)
        return new

    def wait_gone(self, pid):
        if pid == self.sy.pid:
            self.sy.proc.wait(timeout=60)
        wait_for(lambda: pid_gone(pid), timeout=60, what=f"pid {pid} to drain and exit")

    def stop(self):
        if self.pid != self.sy.pid and not pid_gone(self.pid):
            os.kill(self.pid, signal.SIGTERM)
            try:
                wait_for(lambda: pid_gone(self.pid), timeout=30, what=f"pid {self.pid} to exit")
            except AssertionError:
                os.kill(self.pid, signal.SIGKILL)  # clean-up: a stuck one must not outlive us
