"""WebSocket tunnels under operations (issue 13): tunnel_timeout, `pool member drain` while
tunnels are open, and an upgrade request held while its schema is disabled, released on enable.
Real websockets client and server (test_websocket.py has the data-path cases), the real private
MariaDB and switchyardctl for the last two.
"""
import asyncio
import concurrent.futures
import json
import os
import subprocess
import sys
import threading
import unittest

from harness import (Database, ProxyTestCase, access_log_lines, config_yaml, pool_yaml,
                     wait_for)
from test_admin import CTL, SEED, admin_yaml
from wsecho import EchoServer

try:
    import websockets
except ImportError:  # a Python outside Debian's (pyenv, venv) does not see dist-packages
    sys.path.append("/usr/lib/python3/dist-packages")
    import websockets


def connect(uri, headers=None):
    return websockets.connect(uri, extra_headers=headers or {}, max_size=None, compression=None,
                              ping_interval=None, open_timeout=60, close_timeout=5)


class TunnelTimeoutTest(ProxyTestCase):
    def test_idle_tunnel_is_closed_after_tunnel_timeout_and_traffic_keeps_it(self):
        echo = EchoServer(self.workdir, "e1")
        self._procs.append(echo)
        access = os.path.join(self.workdir, "access.log")
        # response_timeout is far shorter than the pacing below: a tunnel is not a response.
        sy = self.switchyard(config_yaml(
            [pool_yaml("main", [echo.address], "v1",
                       extra="tunnel_timeout: 1s\nresponse_timeout: 100ms")],
            access_log=access))

        async def run():
            async with connect(f"ws://{sy.listeners['main']}/idle") as ws:
                # Traffic every 200 ms for 1.6 s: longer than tunnel_timeout in all, never idle
                # for that long, so the tunnel stays.
                for i in range(8):
                    await ws.send(f"m{i}")
                    self.assertEqual(await ws.recv(), f"m{i}")
                    await asyncio.sleep(0.2)
                # Now silence: the proxy closes the tunnel (the client sees the close).
                with self.assertRaises(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), timeout=30)

        asyncio.run(run())
        line = wait_for(lambda: [l for l in access_log_lines(access) if l["status"] == 101],
                        what="the tunnel's access log line")[0]
        self.assertEqual(line["tunnel_closed_by"], "timeout")
        self.assertEqual(line["termination"], "cT")
        self.assertGreater(line["tunnel_ms"], 1600)


class TunnelOpsSetup(ProxyTestCase):
    """Pool old = two echo members (e1, e2) behind an old-role instance with an admin socket.
    No tests of its own (test_websocket_h2_ops.py uses it too)."""

    def setUp(self):
        super().setUp()
        self.db = Database("sy_ws")
        self.addCleanup(self.db.drop)
        self.e1 = EchoServer(self.workdir, "e1")
        self._procs.append(self.e1)
        self.e2 = EchoServer(self.workdir, "e2")
        self._procs.append(self.e2)
        self.sock = os.path.join(self.workdir, "admin.sock")
        self.token_file = os.path.join(self.workdir, "token")
        with open(self.token_file, "w") as f:
            f.write("s3cret-token-for-tests\n")
        text = admin_yaml(self.db.dsn_yaml(), [self.e1.address, self.e2.address],
                          self.e2.address, self.sock, self.token_file)
        self.access = os.path.join(self.workdir, "access.log")
        text += f'access_log:\n  path: "{self.access}"\n'
        self.db_migrate(text)
        self.db.sql(SEED)
        self.sy = self.switchyard(text)
        self.url = f"ws://{self.sy.listeners['main']}"

    def ctl(self, *args):
        p = subprocess.run([CTL, "-s", self.sock, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def js(self, *args):
        rc, out, err = self.ctl(*args, "--json")
        self.assertEqual(rc, 0, f"{args}: {out}{err}")
        return json.loads(out)

    def address_of(self, name):
        return self.e1.address if name == "e1" else self.e2.address

    def drain_in_background(self, member, tunnels):
        """`pool member drain` with a long --tunnel-wait on a thread of its own; returns (its
        future) once the member shows as draining with |tunnels| tunnels open."""
        pool = concurrent.futures.ThreadPoolExecutor(1)
        self.addCleanup(pool.shutdown)
        drain = pool.submit(self.ctl, "pool", "member", "drain", "old", member,
                            "--tunnel-wait", "60s", "--json")
        wait_for(lambda: [m for m in self.js("show", "pools")["members"]
                          if m["member"] == member and m["admin"] == "drain"
                          and m["tunnels"] == tunnels], what="the member draining")
        return drain

    def tunnels_cut(self, result):
        """The `tunnels_cut` of a drain's (rc, stdout, stderr)."""
        rc, out, err = result
        self.assertEqual(rc, 0, out + err)
        return json.loads(out)["tunnels_cut"]

    def check_cut_lines(self, cut):
        """Waits for |cut| access log lines of tunnels the drain cut; returns them."""
        wait_for(lambda: len([l for l in access_log_lines(self.access)
                              if l.get("tunnel_closed_by") == "drain"]) == cut,
                 what=f"{cut} cut tunnel line(s)")
        lines = [l for l in access_log_lines(self.access) if l.get("tunnel_closed_by") == "drain"]
        self.assertTrue(all(l["termination"] == "KT" for l in lines), lines)
        return lines

    def run_held(self, client):
        """Runs |client(result)| on a thread while schema s1 is disabled: it must be held (its
        upgrade request parked, `held_now`), then, once s1 is enabled, get its member's name
        ("name") and an echo of "after the hold" ("echo"). Returns the tunnel's log line."""
        generation = self.js("show", "info")["snapshot"]["generation"]
        rc, out, err = self.ctl("schema", "disable", "s1")
        self.assertEqual(rc, 0, out + err)
        wait_for(lambda: self.js("show", "info")["snapshot"]["generation"] > generation,
                 what="the snapshot with s1 disabled")
        result = {}
        t = threading.Thread(target=client, args=(result,), daemon=True)
        t.start()
        wait_for(lambda: self.js("show", "stats")["held_now"] >= 1, timeout=20,
                 what="the upgrade request held")
        self.assertTrue(t.is_alive(), result)
        self.assertNotIn("name", result)
        rc, out, err = self.ctl("schema", "enable", "s1")
        self.assertEqual(rc, 0, out + err)
        t.join(60)
        self.assertIn(result.get("name"), ("e1", "e2"), result)
        self.assertEqual(result.get("echo"), "after the hold", result)
        line = wait_for(lambda: [l for l in access_log_lines(self.access)
                                 if l.get("tunnel_closed_by")] or None,
                        what="the tunnel's access log line")[0]
        self.assertEqual(line["route"], "held-proxy")
        self.assertEqual(line["context"], 11)
        return line

class TunnelOperationsTest(TunnelOpsSetup):

    def test_drain_waits_for_tunnels_then_cuts_them_and_says_how_many(self):
        ctx = {"X-Context-Id": "11"}

        async def open_tunnels(count):
            """|count| tunnels, grouped by the member that answered."""
            by_member = {}
            for _ in range(count):
                ws = await connect(f"{self.url}/name", ctx)
                by_member.setdefault(await ws.recv(), []).append(ws)
            return by_member

        async def run():
            # Three tunnels over two members: one member has at least two of them.
            by_member = await open_tunnels(3)
            name, mine = max(by_member.items(), key=lambda kv: len(kv[1]))
            other = "e2" if name == "e1" else "e1"
            member = self.address_of(name)
            # Drain with a long bound: the command waits while the tunnels work on ...
            drain = self.drain_in_background(member, len(mine))
            for _ in range(3):  # new tunnels go to the other member
                async with connect(f"{self.url}/name", ctx) as b:
                    self.assertEqual(await b.recv(), other)
            for ws in mine:
                await ws.send("still here")
                self.assertEqual(await ws.recv(), "still here")
            self.assertFalse(drain.done())
            # ... and returns when their clients closed them: none cut.
            for ws in by_member.get(name, []) + by_member.get(other, []):
                await ws.close()
            result = await asyncio.wait_for(asyncio.wrap_future(drain), timeout=60)
            self.assertEqual(self.tunnels_cut(result), 0, result)

            # Back in service; a tunnel to it; a drain whose bound passes cuts it.
            rc, out, err = self.ctl("pool", "member", "ready", "old", member)
            self.assertEqual(rc, 0, out + err)
            by_member = await open_tunnels(4)
            self.assertIn(name, by_member)
            result = await asyncio.to_thread(
                self.ctl, "pool", "member", "drain", "old", member, "--tunnel-wait", "300ms",
                "--json")
            self.assertEqual(self.tunnels_cut(result), len(by_member[name]), result)
            for ws in by_member[name]:
                with self.assertRaises(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), timeout=30)
            for ws in by_member.get(other, []):  # the other member's tunnels stay
                await ws.send("untouched")
                self.assertEqual(await ws.recv(), "untouched")
                await ws.close()
            return len(by_member[name])

        self.check_cut_lines(asyncio.run(run()))

    def test_upgrade_request_is_held_while_its_schema_is_disabled_and_released(self):
        async def client(result):
            async with connect(f"{self.url}/name", {"X-Context-Id": "11"}) as ws:
                result["name"] = await ws.recv()
                await ws.send("after the hold")
                result["echo"] = await ws.recv()

        line = self.run_held(lambda result: asyncio.run(client(result)))
        self.assertEqual(line["status"], 101)

if __name__ == "__main__":
    unittest.main()
