"""`reload` applies pool members from the YAML live (issue 12): under wrk load a member is
added and another removed by editing the YAML and reloading, with 0 failed requests; the
removed member gets no request afterwards, the added one serves. No database: the YAML alone
drives the members."""
import os
import subprocess
import threading
import unittest
import urllib.request

from harness import ProxyTestCase, wait_for
from livepools import ctl_ok, instance_yaml, members
from test_self_upgrade_load import parse_wrk


def seen(backend, path="/"):
    with urllib.request.urlopen(
            f"http://{backend.address}/control/seen?path={path}", timeout=5) as r:
        return int(r.read().decode().strip())


class LivePoolsReloadTest(ProxyTestCase):
    def test_reload_adds_and_removes_members_under_load_with_no_error(self):
        b1, b2, b3 = self.backend("b1"), self.backend("b2"), self.backend("b3")
        sock = os.path.join(self.workdir, "admin.sock")
        sy = self.switchyard(instance_yaml(None, [b1.address, b2.address], sock))

        def rewrite(addresses):
            with open(sy.config_path, "w") as f:
                f.write(instance_yaml(None, addresses, sock))

        out = {}
        wrk = threading.Thread(target=lambda: out.update(r=subprocess.run(
            ["wrk", "-t1", "-c8", "-d10s", sy.url("/")], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, timeout=60).stdout))
        wrk.start()
        wait_for(lambda: seen(b1) > 200 and seen(b2) > 200, what="load on b1 and b2")
        rewrite([b1.address, b2.address, b3.address])
        applied = ctl_ok(self, sock, "reload")
        self.assertIn(f"pools.main: member {b3.address} added (yaml)", applied)
        wait_for(lambda: seen(b3) > 200, what="load on b3, added by the reload")
        rewrite([b2.address, b3.address])
        applied = ctl_ok(self, sock, "reload")
        self.assertIn(f"pools.main: member {b1.address} removed", applied)
        self.assertEqual(list(members(self, sock)), [b2.address, b3.address])
        # Once the workers applied the new set (their inbox, right after the reload) and the
        # exchanges then in flight on b1 ended, b1 gets nothing more.
        b2_now = seen(b2)
        wait_for(lambda: seen(b2) > b2_now + 200, what="load after the removal")
        b1_after = seen(b1)
        b2_now = seen(b2)
        wait_for(lambda: seen(b2) > b2_now + 300, what="more load after the removal")
        self.assertEqual(seen(b1), b1_after)
        wrk.join(60)
        requests, errors, non2xx = parse_wrk(out["r"])
        self.assertGreater(requests, 1000, out["r"])
        self.assertEqual((errors, non2xx), (0, 0), out["r"])


if __name__ == "__main__":
    unittest.main()
