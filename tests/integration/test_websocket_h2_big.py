"""A 50 MB WebSocket message each way over HTTP/2 extended CONNECT (RFC 8441, issue 13) with the
proxy's memory bounded: the stream's receive window is opened again only as the member's socket
takes the bytes, and the member is read only while the stream's response buffer has room. Real
client (h2ws.py: python3-h2 + the websockets protocol) and echo server (wsecho.py).
"""
import os
import random
import unittest

from h2ws import H2WebSocket
from harness import ProxyTestCase, access_log_lines, config_yaml, pool_yaml, wait_for
from wsecho import EchoServer, RssSampler

BIG = 50 * 1000 * 1000


class BigMessageOverHttp2Test(ProxyTestCase):
    def test_fifty_megabyte_message_with_bounded_memory(self):
        echo = EchoServer(self.workdir, "e1")
        self._procs.append(echo)
        access = os.path.join(self.workdir, "access.log")
        sy = self.switchyard(config_yaml([pool_yaml("main", [echo.address], "v1")],
                                         access_log=access))
        big = random.Random(5).randbytes(BIG)
        host, port = sy.addr()
        with RssSampler(sy) as rss:
            ws = H2WebSocket(host, port, "/big", timeout=120)
            self.addCleanup(ws.sock.close)
            self.assertEqual(ws.status, 200, ws.body)
            ws.send(big)
            echoed = ws.recv()
            ws.close()
        self.assertEqual(len(echoed), BIG)
        self.assertTrue(echoed == big, "the 50 MB message came back different")
        rss.assert_bounded(self, 24 * 1024, BIG)
        line = wait_for(lambda: [l for l in access_log_lines(access)
                                 if l.get("tunnel_closed_by")] or None,
                        what="the tunnel's access log line")[0]
        self.assertGreater(line["bytes_in"], BIG)
        self.assertGreater(line["bytes_out"], BIG)


if __name__ == "__main__":
    unittest.main()
