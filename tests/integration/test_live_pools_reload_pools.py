"""`reload` adds, changes and removes whole pools from the YAML live (issue 12): no "needs
restart" for pools. An old-role instance on the private MariaDB with a server row naming pool
`extra`: a reload that adds `extra` to the YAML makes its context served there; one that
changes its settings keeps it served; one that drops it keeps it while the server row references
it (with a warning), and it goes once nothing does. A keep-alive client connection to pool
main survives every reload."""
import http.client
import os
import unittest

from harness import Database, ProxyTestCase, wait_for
from livepools import (ROUTED_SEED, ctl_ok, extra_pool_yaml, get_ctx, pools, routed_yaml)


class LivePoolsReloadPoolsTest(ProxyTestCase):
    def test_reload_adds_changes_and_removes_a_pool_with_keep_alive_untouched(self):
        db = Database("sy_pools_reload")
        self.addCleanup(db.drop)
        b1, b3 = self.backend("b1"), self.backend("b3", "new")
        sock = os.path.join(self.workdir, "admin.sock")
        self.db_migrate(routed_yaml(db, [b1.address], sock))
        db.sql(ROUTED_SEED)
        sy = self.switchyard(routed_yaml(db, [b1.address], sock))

        def rewrite(extra):
            with open(sy.config_path, "w") as f:
                f.write(routed_yaml(db, [b1.address], sock, extra))

        host, port = sy.addr()
        conn = http.client.HTTPConnection(host, port, timeout=10)

        def keep_alive_get():
            conn.request("GET", "/", headers={"X-Context-Id": "11"})
            r = conn.getresponse()
            return r.status, r.read().decode()

        self.assertEqual(keep_alive_get(), (200, "b1 old\n"))
        sock_before = conn.sock
        self.assertEqual(get_ctx(sy.url("/"), 91)[0], 502)

        rewrite(extra_pool_yaml([b3.address]))
        out = ctl_ok(self, sock, "reload")
        self.assertIn("pools.extra: added (yaml)", out)
        self.assertNotIn("needs a restart", out)
        wait_for(lambda: get_ctx(sy.url("/"), 91) == (200, "b3 new\n"),
                 what="context 91 proxied to the pool the reload added")
        self.assertEqual(pools(self, sock)["extra"]["origin"], "yaml")
        self.assertEqual(keep_alive_get(), (200, "b1 old\n"))

        rewrite(extra_pool_yaml([b3.address], "    connect_timeout: 1s\n"))
        out = ctl_ok(self, sock, "reload")
        self.assertIn("pools.extra: settings changed (yaml)", out)
        for _ in range(5):  # served throughout: the routes follow the name to the new settings
            self.assertEqual(get_ctx(sy.url("/"), 91), (200, "b3 new\n"))
        self.assertEqual(keep_alive_get(), (200, "b1 old\n"))

        # Dropped from the YAML while server 3 names it: kept, with the reason in the log.
        rewrite("")
        out = ctl_ok(self, sock, "reload")
        self.assertNotIn("pools.extra: removed", out)
        self.assertIn("pools.extra: not removed: referenced by server 3 (app-extra)", sy.log())
        self.assertEqual(get_ctx(sy.url("/"), 91), (200, "b3 new\n"))
        # Once nothing references it, it goes (at the next poll of the pools; no reload needed).
        db.sql("UPDATE sy_servers SET pool='main' WHERE id=3")
        wait_for(lambda: "extra" not in pools(self, sock), what="pool extra removed")
        self.assertIn("pools.extra: removed (draining)", sy.log())
        self.assertEqual(get_ctx(sy.url("/"), 91), (200, "b1 old\n"))
        self.assertNotIn("pools.extra", ctl_ok(self, sock, "reload"))
        self.assertEqual(keep_alive_get(), (200, "b1 old\n"))
        self.assertIs(conn.sock, sock_before)  # the same client connection throughout
        conn.close()


if __name__ == "__main__":
    unittest.main()
