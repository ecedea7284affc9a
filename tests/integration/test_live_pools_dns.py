"""Host-name members (issue 13): a member `app.internal:PORT` is resolved off the worker
threads through a resolver the test controls — dnsmasq on loopback serving a hosts file the
test rewrites (`resolver.nameservers`) — at start and every resolve_interval. Every A record
becomes a member; an address change is followed without restart and without a failed request;
a resolution failure keeps the last good set and says so (log and `show pools`)."""
import os
import shutil
import signal
import socket
import subprocess
import threading
import unittest

from harness import Backend, ProxyTestCase, wait_for
from livepools import ctl_ok, get, instance_yaml, members
from test_self_upgrade_load import parse_wrk

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def free_udp_port():
    """dnsmasq cannot take port 0 and report it: a port free now (loopback, UDP and TCP)."""
    while True:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()


class Dnsmasq:
    """dnsmasq on 127.0.0.1:<port> answering only from |hosts| (re-read on reload())."""

    def __init__(self, workdir, hosts_lines):
        self.hosts = os.path.join(workdir, "dns-hosts")
        self.write(hosts_lines)
        self.port = free_udp_port()
        self.log_path = os.path.join(workdir, "dnsmasq.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [DNSMASQ, "--keep-in-foreground", f"--port={self.port}",
             "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
             f"--addn-hosts={self.hosts}", "--user=root", "--pid-file=", "--log-facility=-",
             "--local-ttl=0"],
            stdout=self._log, stderr=subprocess.STDOUT)
        wait_for(lambda: self._read_hosts_count() >= 1, what="dnsmasq to read its hosts file")

    def _read_hosts_count(self):
        if self.proc.poll() is not None:
            with open(self.log_path) as f:
                raise AssertionError("dnsmasq exited: " + f.read())
        with open(self.log_path) as f:
            return f.read().count(f"read {self.hosts}")

    def write(self, lines):
        tmp = self.hosts + ".tmp"
        with open(tmp, "w") as f:
            f.write("".join(l + "\n" for l in lines))
        os.rename(tmp, self.hosts)

    def reload(self, lines):
        before = self._read_hosts_count()
        self.write(lines)
        self.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: self._read_hosts_count() > before, what="dnsmasq to re-read its hosts")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def dns_yaml(port, members_, sock, dns_port):
    return instance_yaml(None, members_, sock) + (
        f"resolver:\n  nameservers: [\"127.0.0.1:{dns_port}\"]\n"
        f"  resolve_interval: 300ms\n  timeout: 1s\n")


class HostNameMembersTest(ProxyTestCase):
    def test_host_name_member_follows_address_changes_without_restart(self):
        # Two backends on one port, on two loopback addresses: the name moves between them.
        b_a = self.backend("a", extra_args=("--host", "127.0.0.2"))
        b_b = self.backend("b", extra_args=("--host", "127.0.0.3", "--port", str(b_a.port)))
        dns = Dnsmasq(self.workdir, ["127.0.0.2 app.internal"])
        self.addCleanup(dns.stop)
        sock = os.path.join(self.workdir, "admin.sock")
        name = f"app.internal:{b_a.port}"
        sy = self.switchyard(dns_yaml(b_a.port, [name], sock, dns.port))
        # Resolved at start: the first request already has a member.
        self.assertEqual(get(sy.url("/")), (200, "a old\n"))
        row = members(self, sock)[f"127.0.0.2:{b_a.port}"]
        self.assertEqual((row["origin"], row["name"]), ("dns", name))

        out = {}
        wrk = threading.Thread(target=lambda: out.update(r=subprocess.run(
            ["wrk", "-t1", "-c4", "-d6s", sy.url("/")], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, timeout=60).stdout))
        wrk.start()
        # Both addresses: both serve. Then only the second: the first is retired.
        dns.reload(["127.0.0.2 app.internal", "127.0.0.3 app.internal"])
        wait_for(lambda: set(members(self, sock)) == {f"127.0.0.2:{b_a.port}",
                                                       f"127.0.0.3:{b_a.port}"},
                 what="both addresses as members")
        dns.reload(["127.0.0.3 app.internal"])
        wait_for(lambda: set(members(self, sock)) == {f"127.0.0.3:{b_a.port}"},
                 what="the name to move to 127.0.0.3")
        wait_for(lambda: get(sy.url("/")) == (200, "b old\n"), what="b to serve")
        self.assertIn(f"member 127.0.0.2:{b_a.port} removed", sy.log())
        wrk.join(60)
        requests, errors, non2xx = parse_wrk(out["r"])
        self.assertGreater(requests, 100, out["r"])
        self.assertEqual((errors, non2xx), (0, 0), out["r"])

        # The resolver fails (the name is gone): the last good set stays, and says why.
        dns.reload(["127.0.0.3 other.internal"])
        wait_for(lambda: members(self, sock)[f"127.0.0.3:{b_a.port}"]["resolve_error"] != "",
                 what="show pools to report the failed resolution")
        self.assertEqual(list(members(self, sock)), [f"127.0.0.3:{b_a.port}"])
        self.assertEqual(get(sy.url("/")), (200, "b old\n"))
        wait_for(lambda: "keeping the last good" in sy.log(), what="the warning in the log")
        # Back: the error clears.
        dns.reload(["127.0.0.3 app.internal"])
        wait_for(lambda: members(self, sock)[f"127.0.0.3:{b_a.port}"]["resolve_error"] == "",
                 what="the error to clear")


if __name__ == "__main__":
    unittest.main()
