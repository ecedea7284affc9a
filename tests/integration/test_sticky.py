"""Sticky sessions (issue 13): cookie persistence per pool, on the real binary with real
backends (tests/backend/backend.py answers "<name> <version>" on /), curl over HTTP/1.1 and
HTTP/2 (h2c), Python's http.client, and switchyardctl against the private MariaDB.

Insert mode: pool old = b1, b2, b3 behind an old-role instance with an admin socket (member
drain needs the database); the cookie names a member by a keyed hash, never its address; a
unix: member added with `pool member add` gets its own sessions too.
Route mode (no database): the application's JSESSIONID "<session>.<route>" names the member.
"""
import http.client
import json
import os
import re
import subprocess
import unittest

from harness import (Database, ProxyTestCase, config_yaml, curl, wait_for)
from test_admin import CTL, SEED, admin_yaml


def get(addr, path="/", cookie=None, conns=1, per_conn=1, context=None):
    """|conns| keep-alive connections, |per_conn| requests each (of tenant |context| when
    routing is on); returns [(status, body, set_cookie)] in order."""
    host, port = addr.rsplit(":", 1)
    headers = {"Cookie": cookie} if cookie else {}
    if context:
        headers["X-Context-Id"] = context
    out = []
    for _ in range(conns):
        c = http.client.HTTPConnection(host, int(port), timeout=30)
        for _ in range(per_conn):
            c.request("GET", path, headers=headers)
            r = c.getresponse()
            out.append((r.status, r.read().decode(), r.getheader("Set-Cookie")))
        c.close()
    return out


def cookie_of(set_cookie, name="SYSRV"):
    m = re.match(rf"{name}=([^;]*)", set_cookie or "")
    return m.group(1) if m else None


class StickyInsertTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.db = Database("sy_sticky")
        self.addCleanup(self.db.drop)
        self.b = [self.backend(f"b{i}") for i in (1, 2, 3)]
        self.sock = os.path.join(self.workdir, "admin.sock")
        token = os.path.join(self.workdir, "token")
        with open(token, "w") as f:
            f.write("s3cret-token-for-tests\n")
        text = admin_yaml(self.db.dsn_yaml(), [b.address for b in self.b], self.b[0].address,
                          self.sock, token)
        # The old pool gets cookie persistence; round robin stays its balancer.
        text = text.replace('    version: "7.10"\n',
                            '    version: "7.10"\n    sticky: {mode: insert, secret: k3y}\n', 1)
        self.db_migrate(text)
        self.db.sql(SEED)
        self.sy = self.switchyard(text)
        self.addr = self.sy.listeners["main"]

    def get(self, *args, **kw):
        return get(*args, context="11", **kw)  # a tenant of pool old (SEED)

    def ctl(self, *args):
        p = subprocess.run([CTL, "-s", self.sock, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p.stdout

    def stat(self, name):
        return json.loads(self.ctl("show", "stats", "--json"))["proxy"][name]

    def test_session_sticks_moves_on_drain_and_a_forged_cookie_falls_back(self):
        # Without a cookie the balancer spreads requests (so the checks below can fail).
        spread = self.get(self.addr, conns=1, per_conn=6)
        self.assertGreater(len({body for _, body, _ in spread}), 1, spread)
        status, body, set_cookie = spread[0]
        sid = cookie_of(set_cookie)
        self.assertIsNotNone(sid, set_cookie)
        self.assertIn("HttpOnly", set_cookie)
        for b in self.b:  # the cookie is opaque: no address, no port
            self.assertNotIn(str(b.port), set_cookie)
        self.assertNotIn("127.0.0.1", set_cookie)
        member = body.split()[0]

        # 1,000 requests of the session over 20 connections (2 workers): one member, and no
        # Set-Cookie once stuck.
        replies = self.get(self.addr, cookie=f"SYSRV={sid}; lang=de", conns=20, per_conn=50)
        self.assertEqual(len(replies), 1000)
        self.assertEqual({(s, body) for s, body, _ in replies}, {(200, f"{member} old\n")})
        self.assertEqual({c for _, _, c in replies}, {None})
        self.assertGreaterEqual(self.stat("sticky_hits"), 1000)

        # The member never sees our cookie; the application's cookies pass.
        _, headers, _ = self.get(self.addr, "/headers", cookie=f"a=1; SYSRV={sid}; lang=de")[0]
        got = {k.lower(): v for k, v in json.loads(headers)["headers"].items()}
        self.assertEqual(got.get("cookie"), "a=1; lang=de")
        self.assertNotIn(sid, headers)

        # HTTP/2 (h2c, one connection, multiplexed): the same member.
        # (nghttp: curl 7.88 fails a second prior-knowledge request on one connection.)
        out = subprocess.run(
            ["nghttp", "-H", "x-context-id: 11", "-H", f"cookie: SYSRV={sid}",
             *[f"http://{self.addr}/?{i}" for i in range(50)]],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=True).stdout
        self.assertEqual(out.decode(), f"{member} old\n" * 50)

        # Drain the member: the session moves, is told its new member, and sticks to it.
        drained = next(b for b in self.b if b.name == member)
        self.ctl("pool", "member", "drain", "old", drained.address)
        moved = self.get(self.addr, cookie=f"SYSRV={sid}")[0]
        self.assertEqual(moved[0], 200)
        new_member = moved[1].split()[0]
        self.assertNotEqual(new_member, member)
        new_sid = cookie_of(moved[2])
        self.assertIsNotNone(new_sid, moved)
        self.assertNotEqual(new_sid, sid)
        replies = self.get(self.addr, cookie=f"SYSRV={new_sid}", conns=10, per_conn=20)
        self.assertEqual({body for _, body, _ in replies}, {f"{new_member} old\n"})
        self.assertEqual({c for _, _, c in replies}, {None})
        # Back in service: the new session stays where it is.
        self.ctl("pool", "member", "ready", "old", drained.address)
        replies = self.get(self.addr, cookie=f"SYSRV={new_sid}", conns=2, per_conn=20)
        self.assertEqual({body for _, body, _ in replies}, {f"{new_member} old\n"})

        # A forged cookie naming no member: the balancer picks, and the reply sticks the client.
        before = self.stat("sticky_fallbacks")
        forged = self.get(self.addr, cookie="SYSRV=0123456789abcdef", conns=1, per_conn=6)
        self.assertEqual({s for s, _, _ in forged}, {200})
        self.assertGreater(len({body for _, body, _ in forged}), 1, forged)
        for _, body, set_cookie in forged:
            again = self.get(self.addr, cookie=f"SYSRV={cookie_of(set_cookie)}")[0]
            self.assertEqual(again[1], body)
        self.assertGreaterEqual(self.stat("sticky_fallbacks") - before, 6)

        # The HTTP/2 client gets the Set-Cookie too.
        rc, out, err = curl("--http2-prior-knowledge", "-H", "X-Context-Id: 11", "-D", "-", "-o", "/dev/null",
                            f"http://{self.addr}/", check=True)
        self.assertIn("HTTP/2 200", out.decode())
        self.assertRegex(out.decode(), r"(?i)set-cookie: SYSRV=[0-9a-f]{16}; Path=/")

    def test_a_member_added_at_runtime_holds_its_sessions(self):
        # A unix: member through switchyardctl (one address parser for the YAML and the admin).
        path = os.path.join(self.workdir, "u4.sock")
        self.backend("u4", extra_args=("--unix", path))
        out = self.ctl("pool", "member", "add", "old", f"unix:{path}")
        self.assertIn(f"member unix:{path} added (db)", out)

        def cookie_from_u4():
            for _, body, set_cookie in self.get(self.addr, conns=1, per_conn=8):
                if body == "u4 old\n":
                    return cookie_of(set_cookie)
            return None
        sid = wait_for(cookie_from_u4, what="a reply from u4 with its cookie")
        self.assertNotIn(path, sid)
        replies = self.get(self.addr, cookie=f"SYSRV={sid}", conns=4, per_conn=25)
        self.assertEqual({(s, body, c) for s, body, c in replies}, {(200, "u4 old\n", None)})


class StickyRouteTest(ProxyTestCase):
    """Route mode: the application's session cookie ends in ".<route>"; nothing is inserted."""

    def test_route_suffix_names_the_member_and_a_down_member_falls_back(self):
        b = [self.backend(f"n{i}") for i in (1, 2, 3)]
        members = "".join(f'      - {{address: "{x.address}", route: {x.name}}}\n' for x in b)
        pool = ("  - name: main\n    sticky: {mode: route}\n    members:\n" + members +
                "    health_check: {path: /health, interval: 200ms, timeout: 200ms, rise: 1, "
                "fall: 1}\n")
        sy = self.switchyard(config_yaml([pool], workers=2))
        addr = sy.listeners["main"]
        wait_for(lambda: len({r[1] for r in get(addr, conns=1, per_conn=6)}) == 3,
                 what="every member healthy")

        session = "JSESSIONID=8f2ac31e.n2"
        replies = get(addr, cookie=f"a=1; {session}", conns=10, per_conn=30)
        self.assertEqual({(s, body) for s, body, _ in replies}, {(200, "n2 old\n")})
        self.assertEqual({c for _, _, c in replies}, {None})  # the application's cookie only
        _, headers, _ = get(addr, "/headers", cookie=session)[0]
        got = {k.lower(): v for k, v in json.loads(headers)["headers"].items()}
        self.assertEqual(got.get("cookie"), session)  # read, never changed

        # A route no member has, a session without one: the balancer.
        for cookie in ("JSESSIONID=8f2ac31e.n9", "JSESSIONID=8f2ac31e"):
            spread = get(addr, cookie=cookie, conns=1, per_conn=6)
            self.assertGreater(len({body for _, body, _ in spread}), 1, spread)

        # n2 fails its health check: the session goes elsewhere, without an error.
        get(f"127.0.0.1:{b[1].port}", "/control/down")
        wait_for(lambda: get(addr, cookie=session)[0][1] != "n2 old\n", what="n2 down")
        replies = get(addr, cookie=session, conns=2, per_conn=20)
        self.assertEqual({s for s, _, _ in replies}, {200})
        self.assertNotIn("n2 old\n", {body for _, body, _ in replies})
        get(f"127.0.0.1:{b[1].port}", "/control/up")
        wait_for(lambda: get(addr, cookie=session)[0][1] == "n2 old\n", what="n2 back")


if __name__ == "__main__":
    unittest.main()
