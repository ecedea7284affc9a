"""WebSocket over HTTP/2 (RFC 8441) under operations (issue 13): tunnel_timeout, `pool member
drain` while extended-CONNECT tunnels are open, and an extended CONNECT held while its schema is
disabled, released on enable. Client h2ws.py (python3-h2 + the websockets protocol), member the
websockets echo server; the admin cases run against the real private MariaDB with
switchyardctl (the set-up is test_websocket_ops.py's).
"""
import os
import time
import unittest

from h2ws import Closed, H2WebSocket
from harness import ProxyTestCase, access_log_lines, config_yaml, pool_yaml, wait_for
from test_websocket_ops import TunnelOpsSetup
from wsecho import EchoServer

CONNECT_ERROR = 0xA  # RFC 9113 8.5: how the proxy resets a tunnel it cuts


class H2TunnelTimeoutTest(ProxyTestCase):
    def test_idle_tunnel_is_reset_after_tunnel_timeout_and_traffic_keeps_it(self):
        echo = EchoServer(self.workdir, "e1")
        self._procs.append(echo)
        access = os.path.join(self.workdir, "access.log")
        # response_timeout and the client timeouts are far shorter than the pacing below: a
        # tunnel is neither a response nor a request body.
        sy = self.switchyard(config_yaml(
            [pool_yaml("main", [echo.address], "v1",
                       extra="tunnel_timeout: 1s\nresponse_timeout: 100ms")],
            limits="client_body_timeout: 300ms", access_log=access))
        host, port = sy.addr()
        ws = H2WebSocket(host, port, "/idle")
        self.addCleanup(ws.sock.close)
        self.assertEqual(ws.status, 200, ws.body)
        # Traffic every 200 ms for 1.6 s: longer than tunnel_timeout in all, never idle that long.
        for i in range(8):
            ws.send(f"m{i}")
            self.assertEqual(ws.recv(), f"m{i}")
            time.sleep(0.2)
        # Now silence: the proxy resets the stream.
        ws.wait_closed(timeout=30)
        self.assertEqual(ws.reset_code, CONNECT_ERROR)
        line = wait_for(lambda: [l for l in access_log_lines(access)
                                 if l.get("tunnel_closed_by")] or None,
                        what="the tunnel's access log line")[0]
        self.assertEqual(line["tunnel_closed_by"], "timeout")
        self.assertEqual(line["termination"], "cT")
        self.assertGreater(line["tunnel_ms"], 1600)


class H2TunnelOperationsTest(TunnelOpsSetup):
    def open(self, path="/name"):
        host, port = self.sy.addr()
        ws = H2WebSocket(host, port, path, headers=[("x-context-id", "11")])
        self.addCleanup(ws.sock.close)
        self.assertEqual(ws.status, 200, ws.body)
        return ws

    def open_tunnels(self, count):
        """|count| tunnels, grouped by the member that answered."""
        by_member = {}
        for _ in range(count):
            ws = self.open()
            by_member.setdefault(ws.recv(), []).append(ws)
        return by_member

    def test_drain_waits_for_tunnels_then_cuts_them_and_says_how_many(self):
        by_member = self.open_tunnels(3)
        name, mine = max(by_member.items(), key=lambda kv: len(kv[1]))
        other = "e2" if name == "e1" else "e1"
        member = self.address_of(name)
        drain = self.drain_in_background(member, len(mine))
        for _ in range(3):  # new tunnels go to the other member
            b = self.open()
            self.assertEqual(b.recv(), other)
            b.close()
        for ws in mine:
            ws.send("still here")
            self.assertEqual(ws.recv(), "still here")
        self.assertFalse(drain.done())
        for ws in by_member.get(name, []) + by_member.get(other, []):
            ws.close()
        self.assertEqual(self.tunnels_cut(drain.result(timeout=60)), 0)

        rc, out, err = self.ctl("pool", "member", "ready", "old", member)
        self.assertEqual(rc, 0, out + err)
        by_member = self.open_tunnels(4)
        self.assertIn(name, by_member)
        cut = len(by_member[name])
        self.assertEqual(self.tunnels_cut(self.ctl("pool", "member", "drain", "old", member,
                                                   "--tunnel-wait", "300ms", "--json")), cut)
        for ws in by_member[name]:
            ws.wait_closed(timeout=30)
            self.assertEqual(ws.reset_code, CONNECT_ERROR)
            with self.assertRaises(Closed):
                ws.recv(timeout=5)
        for ws in by_member.get(other, []):  # the other member's tunnels stay
            ws.send("untouched")
            self.assertEqual(ws.recv(), "untouched")
            ws.close()
        lines = self.check_cut_lines(cut)
        self.assertTrue(all(l["proto"] == "HTTP/2.0" for l in lines), lines)

    def test_extended_connect_is_held_while_its_schema_is_disabled_and_released(self):
        def client(result):
            try:
                ws = self.open()
                result["name"] = ws.recv()
                ws.send("after the hold")
                result["echo"] = ws.recv()
                ws.close()
            except Exception as e:  # reported by run_held's assertions
                result["error"] = repr(e)

        line = self.run_held(client)
        self.assertEqual(line["method"], "CONNECT")
        self.assertEqual(line["status"], 200)

if __name__ == "__main__":
    unittest.main()
