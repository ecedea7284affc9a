"""Runtime pool members, fleet-wide (issue 12): three Switchyard instances on one MariaDB
database. A member added through one instance's admin socket serves traffic on all three
within one refresh; `pool member remove` drains the member first (a request in flight on it
finishes with 200) and then removes it everywhere, even a member the YAML lists (the database
wins over the YAML); `show pools` says where each member came from."""
import os
import threading
import time
import unittest

from harness import Database, ProxyTestCase, wait_for
from livepools import ctl, ctl_ok, get, instance_yaml, members, served_by, wait_served_by


class LivePoolsTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.db = Database("sy_pools")
        self.addCleanup(self.db.drop)
        self.b1 = self.backend("b1")
        self.b2 = self.backend("b2")
        self.socks = [os.path.join(self.workdir, f"admin{i}.sock") for i in range(3)]
        self.db_migrate(instance_yaml(self.db, [self.b1.address], self.socks[0]))
        self.sys = [self.switchyard(instance_yaml(self.db, [self.b1.address], sock), f"sy{i}")
                    for i, sock in enumerate(self.socks)]

    def test_member_added_through_one_instance_serves_on_all_three_then_drains_out(self):
        before = members(self, self.socks[2])
        self.assertEqual(list(before), [self.b1.address])
        self.assertEqual(before[self.b1.address]["origin"], "yaml")

        out = ctl_ok(self, self.socks[0], "pool", "member", "add", "main", self.b2.address,
                     "--weight", "3")
        self.assertIn(f"pools.main: member {self.b2.address} added (db)", out)
        # Every instance, the one that took the command and the two that read the database.
        for i, sy in enumerate(self.sys):
            wait_served_by(sy.url("/"), "b2", f"instance {i} to send requests to b2")
            row = members(self, self.socks[i])[self.b2.address]
            self.assertEqual((row["origin"], row["weight"], row["admin"]), ("db", 3, "ready"))
        self.assertIn(f"pools.main: member {self.b2.address} added (db)", self.sys[1].log())

        # Adding it again is refused by name; bad input is refused with the reason.
        rc, out, err = ctl(self.socks[1], "pool", "member", "add", "main", self.b2.address)
        self.assertNotEqual(rc, 0)
        self.assertIn("already has member", out + err)
        rc, out, err = ctl(self.socks[1], "pool", "member", "add", "main", "app.internal")
        self.assertIn("bad member address", out + err)
        rc, out, err = ctl(self.socks[1], "pool", "member", "add", "nope", self.b2.address)
        self.assertIn("no pool named nope", out + err)
        rc, out, err = ctl(self.socks[1], "pool", "member", "set", "main", self.b1.address,
                           "--weight", "0")
        self.assertIn("not an integer in 1..256", out + err)

        # A slow request in flight on b2: b1 in maintenance (stored, so fleet-wide) until the
        # request is on b2, then back in service.
        ctl_ok(self, self.socks[0], "pool", "member", "maintenance", "main", self.b1.address)
        slow = {}
        t = threading.Thread(target=lambda: slow.update(r=get(self.sys[0].url("/slow?ms=6000"))))
        t.start()
        wait_for(lambda: members(self, self.socks[0])[self.b2.address]["inflight"] == 1,
                 what="the slow request in flight on b2")
        ctl_ok(self, self.socks[0], "pool", "member", "ready", "main", self.b1.address)
        removal = {}
        r = threading.Thread(target=lambda: removal.update(
            r=ctl(self.socks[0], "pool", "member", "remove", "main", self.b2.address,
                  "--timeout", "20s")))
        r.start()
        # Drained first, fleet-wide, while the request is still in flight ...
        for i in range(3):
            wait_for(lambda: members(self, self.socks[i])[self.b2.address]["admin"] == "drain",
                     what=f"b2 drained on instance {i}")
        self.assertEqual(members(self, self.socks[0])[self.b2.address]["inflight"], 1)
        self.assertTrue(r.is_alive())  # ... and not removed before that request is done
        t.join(30)
        r.join(30)
        self.assertEqual(slow["r"][0], 200, slow)
        self.assertTrue(slow["r"][1].startswith("b2 "), slow)
        rc, out, err = removal["r"]
        self.assertEqual(rc, 0, out + err)
        self.assertIn("removed after draining", out)
        # ... then gone everywhere, and b1 serves every request.
        for i, sy in enumerate(self.sys):
            wait_for(lambda: self.b2.address not in members(self, self.socks[i]),
                     what=f"b2 removed on instance {i}")
            for _ in range(6):
                self.assertEqual(get(sy.url("/")), (200, "b1 old\n"))

    def test_yaml_member_removed_in_the_database_stays_removed_after_restart(self):
        ctl_ok(self, self.socks[0], "pool", "member", "add", "main", self.b2.address)
        ctl_ok(self, self.socks[0], "pool", "member", "remove", "main", self.b1.address)
        for i in range(3):
            wait_for(lambda: list(members(self, self.socks[i])) == [self.b2.address],
                     what=f"only b2 on instance {i}")
        # A restarted instance reads the database at start: the YAML is only the bootstrap.
        self.sys[2].stop()
        sy = self.switchyard(instance_yaml(self.db, [self.b1.address], self.socks[2]), "sy2b")
        wait_for(lambda: list(members(self, self.socks[2])) == [self.b2.address],
                 what="the restarted instance to apply the database's members")
        for _ in range(6):
            self.assertEqual(get(sy.url("/")), (200, "b2 old\n"))
        # `set` changes the configured weight of a member (stored; every instance follows).
        ctl_ok(self, self.socks[1], "pool", "member", "set", "main", self.b2.address,
               "--weight", "5")
        for i in range(3):
            wait_for(lambda: members(self, self.socks[i])[self.b2.address]["weight"] == 5,
                     what=f"weight 5 on instance {i}")


if __name__ == "__main__":
    unittest.main()
