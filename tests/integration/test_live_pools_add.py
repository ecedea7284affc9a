"""Whole pools at runtime, fleet-wide (issue 12): three Switchyard instances on one MariaDB
database. A pool that no YAML lists, added through one instance's admin socket with a member,
serves traffic on all three within one refresh (a server row already names it: its context is
proxied there once the pool exists); `pool remove` is refused while a listener or a server row
references the pool, and once nothing does it drains the pool first (a request in flight on it
finishes with 200) and then removes it everywhere; `show pools` says where each pool and member
came from."""
import os
import threading
import unittest

from harness import Database, ProxyTestCase, wait_for
from livepools import (ROUTED_SEED, ctl, ctl_ok, get_ctx, pool_members, pools, routed_yaml)


class LivePoolsAddTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.db = Database("sy_pools_add")
        self.addCleanup(self.db.drop)
        self.b1 = self.backend("b1")
        self.b3 = self.backend("b3", "new")
        self.socks = [os.path.join(self.workdir, f"admin{i}.sock") for i in range(3)]
        self.db_migrate(routed_yaml(self.db, [self.b1.address], self.socks[0]))
        self.db.sql(ROUTED_SEED)
        self.sys = [self.switchyard(routed_yaml(self.db, [self.b1.address], sock), f"sy{i}")
                    for i, sock in enumerate(self.socks)]

    def test_pool_added_through_one_instance_serves_on_all_three_then_drains_out(self):
        for sy in self.sys:
            self.assertEqual(get_ctx(sy.url("/"), 11), (200, "b1 old\n"))
            self.assertEqual(get_ctx(sy.url("/"), 91)[0], 502)  # no pool extra here yet

        out = ctl_ok(self, self.socks[0], "pool", "add", "extra", "--balance", "least_conn",
                     "--connect-timeout", "1s")
        self.assertIn("pools.extra: added (db)", out)
        out = ctl_ok(self, self.socks[0], "pool", "member", "add", "extra", self.b3.address)
        self.assertIn(f"pools.extra: member {self.b3.address} added (db)", out)
        for i, sy in enumerate(self.sys):
            wait_for(lambda: get_ctx(sy.url("/"), 91) == (200, "b3 new\n"),
                     what=f"instance {i} to proxy context 91 to the new pool", timeout=20)
            p = pools(self, self.socks[i])
            self.assertEqual((p["extra"]["origin"], p["extra"]["balance"]), ("db", "least_conn"))
            self.assertEqual(p["main"]["origin"], "yaml")
            row = pool_members(self, self.socks[i], "extra")[self.b3.address]
            self.assertEqual((row["origin"], row["pool_origin"]), ("db", "db"))
            self.assertEqual(get_ctx(sy.url("/"), 11), (200, "b1 old\n"))
        self.assertIn("pools.extra: added (db)", self.sys[2].log())

        # Bad input gets its reason; an existing pool is refused by name.
        rc, out, err = ctl(self.socks[1], "pool", "add", "extra")
        self.assertNotEqual(rc, 0)
        self.assertIn("pool extra already exists (from db)", out + err)
        rc, out, err = ctl(self.socks[1], "pool", "add", "other", "--balance", "random")
        self.assertIn("pool.balance", out + err)
        rc, out, err = ctl(self.socks[1], "pool", "add", "other", "--retries", "many")
        self.assertIn("pool.retries", out + err)
        self.assertNotIn("other", pools(self, self.socks[1]))

        # Referenced: by a listener (YAML) and by a server row (the directory).
        rc, out, err = ctl(self.socks[1], "pool", "remove", "main")
        self.assertNotEqual(rc, 0)
        self.assertIn("pool main is referenced by listener main", out + err)
        rc, out, err = ctl(self.socks[1], "pool", "remove", "extra")
        self.assertNotEqual(rc, 0)
        self.assertIn("pool extra is referenced by server 3 (app-extra)", out + err)
        self.assertIn("extra", pools(self, self.socks[1]))

        # A slow request in flight on the pool; then the server moves to pool main, so nothing
        # references extra any more, and the removal drains it first.
        slow = {}
        t = threading.Thread(target=lambda: slow.update(
            r=get_ctx(self.sys[0].url("/slow?ms=5000"), 91, timeout=30)))
        t.start()
        wait_for(lambda: pool_members(self, self.socks[0], "extra")[self.b3.address]["inflight"]
                 == 1, what="the slow request in flight on pool extra")
        self.db.sql("UPDATE sy_servers SET pool='main' WHERE id=3")
        wait_for(lambda: get_ctx(self.sys[0].url("/"), 91) == (200, "b1 old\n"),
                 what="server 3 on pool main", timeout=20)
        removal = {}
        r = threading.Thread(target=lambda: removal.update(
            r=ctl(self.socks[0], "pool", "remove", "extra", "--timeout", "20s")))
        r.start()
        for i in range(3):
            wait_for(lambda: pool_members(self, self.socks[i], "extra")[self.b3.address]["admin"]
                     == "drain", what=f"pool extra drained on instance {i}")
        self.assertTrue(r.is_alive())  # not removed while that request runs
        t.join(30)
        r.join(30)
        self.assertEqual(slow["r"], (200, "b3 slow\n"))
        rc, out, err = removal["r"]
        self.assertEqual(rc, 0, out + err)
        self.assertIn("pool extra removed after draining", out)
        self.assertIn("pools.extra: removed (draining)", out)
        for i, sy in enumerate(self.sys):
            wait_for(lambda: "extra" not in pools(self, self.socks[i]),
                     what=f"pool extra gone on instance {i}")
            self.assertEqual(get_ctx(sy.url("/"), 91), (200, "b1 old\n"))
        rc, out, err = ctl(self.socks[2], "pool", "member", "add", "extra", self.b3.address)
        self.assertIn("no pool named extra", out + err)


if __name__ == "__main__":
    unittest.main()
