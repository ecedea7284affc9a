"""`unix:` socket members (issue 13): HTTP/1.1 to a member over AF_UNIX, on the real binary with
real backends (tests/backend/backend.py --unix), health checks, `pool member drain` through
switchyardctl (private MariaDB) and `show pools` the same as for a TCP member.
"""
import http.client
import json
import os
import subprocess
import unittest

from harness import (Database, ProxyTestCase, curl, wait_for)
from test_admin import CTL, SEED, admin_yaml


def bodies(addr, n, path="/"):
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    out = []
    for _ in range(n):
        c.request("GET", path, headers={"X-Context-Id": "11"})  # a tenant of pool old
        r = c.getresponse()
        out.append((r.status, r.read().decode()))
    c.close()
    return out


class UnixMemberTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.db = Database("sy_unix")
        self.addCleanup(self.db.drop)
        self.path = os.path.join(self.workdir, "u1.sock")
        self.u1 = self.backend("u1", extra_args=("--unix", self.path))
        self.member = f"unix:{self.path}"
        self.b2 = self.backend("b2")
        self.sock = os.path.join(self.workdir, "admin.sock")
        token = os.path.join(self.workdir, "token")
        with open(token, "w") as f:
            f.write("s3cret-token-for-tests\n")
        text = admin_yaml(self.db.dsn_yaml(), [self.member, self.b2.address], self.b2.address,
                          self.sock, token)
        text = text.replace("    health_check: {enabled: false}\n",
                            "    health_check: {path: /health, interval: 200ms, timeout: 200ms, "
                            "rise: 1, fall: 1}\n", 1)
        self.db_migrate(text)
        self.db.sql(SEED)
        self.sy = self.switchyard(text)
        self.addr = self.sy.listeners["main"]

    def ctl(self, *args):
        p = subprocess.run([CTL, "-s", self.sock, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p.stdout

    def served(self, n=20):
        replies = bodies(self.addr, n)
        self.assertEqual({s for s, _ in replies}, {200}, replies)
        return {b.split()[0] for _, b in replies}

    def test_a_unix_member_serves_is_checked_drained_and_counted(self):
        self.assertEqual(self.served(), {"u1", "b2"})
        # A body both ways over the unix socket.
        payload = os.urandom(300000)
        host, port = self.addr.rsplit(":", 1)
        for _ in range(2):
            c = http.client.HTTPConnection(host, int(port), timeout=30)
            c.request("POST", "/echo", body=payload, headers={"X-Context-Id": "11"})
            r = c.getresponse()
            self.assertEqual(r.read(), payload)
            c.close()

        members = {m["member"]: m for m in json.loads(self.ctl("show", "pools", "--json"))
                   ["members"]}
        self.assertIn(self.member, members)
        self.assertTrue(members[self.member]["healthy"], members[self.member])

        # Drain: only b2 from now; ready: both again.
        self.ctl("pool", "member", "drain", "old", self.member)
        self.assertEqual(self.served(), {"b2"})
        self.ctl("pool", "member", "ready", "old", self.member)
        self.assertEqual(self.served(), {"u1", "b2"})

        # Health check over the unix socket: down, then up again.
        rc, out, err = curl("--unix-socket", self.path, "http://localhost/control/down",
                            check=True)
        wait_for(lambda: self.served(6) == {"b2"}, what="u1 marked down")
        curl("--unix-socket", self.path, "http://localhost/control/up", check=True)
        wait_for(lambda: self.served(6) == {"u1", "b2"}, what="u1 marked up")

        # Gone: connects fail over to b2 without an error for the client.
        self.u1.stop()
        self.assertEqual(self.served(), {"b2"})


if __name__ == "__main__":
    unittest.main()
