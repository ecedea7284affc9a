"""Upgrade events through the shared database (issue 11, docs/admin.md "Events"): every
instance's hook thread delivers every event, made on any instance, in id order with SY_EVENT_ID;
a slow hook stalls no admin command; a restarted instance resumes after its stored position;
`show events --since ID` lists them and `switchyardctl show events --follow` streams them; the
audit log follows the command table's privilege.

The topology is test_upgrade.py's (an old-role and a new-role instance on one database), each
with admin.event_hook set to a script that appends "<id> <kind> <state> <schema>" to a file of
its own, and that waits while a "block-<name>" file exists (bounded by the hook's 10 s timeout).
"""
import json
import os
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import test_upgrade as up  # noqa: E402  (its test classes are not bound here: they do not run twice)

HOOK = """#!/bin/sh
dir="$(dirname "$0")"; name="$1"
echo "$SY_EVENT_ID" >> "$dir/started-$name"
i=0
while [ -f "$dir/block-$name" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
echo "$SY_EVENT_ID $SY_EVENT $SY_STATE $SY_SCHEMA" >> "$dir/events-$name"
"""


class EventsTest(up.UpgradeTest):
    SCHEMAS = 2

    def setUp(self):
        self.hook_dir = None
        super().setUp()

    def start(self, role, serve, name=None):
        if self.hook_dir is None:
            self.hook_dir = os.path.join(self.workdir, "hook")
            os.makedirs(self.hook_dir, exist_ok=True)
            with open(os.path.join(self.hook_dir, "hook.sh"), "w") as f:
                f.write(HOOK)
        real = up.yaml_for

        def with_hook(*args, **kwargs):
            return real(*args, **kwargs) + \
                f'  event_hook: "/bin/sh {self.hook_dir}/hook.sh {role}"\n'

        up.yaml_for = with_hook
        try:
            return super().start(role, serve, name)
        finally:
            up.yaml_for = real

    def delivered(self, name):
        path = os.path.join(self.hook_dir, f"events-{name}")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [line.split(" ") for line in f.read().splitlines()]

    def event_ids(self):
        return [int(r[0]) for r in self.db.sql("SELECT id FROM sy_events ORDER BY id")]

    def hooked(self, name):
        """The hook of |name| has delivered every event in sy_events, in order, once each."""
        return [int(e[0]) for e in self.delivered(name)] == self.event_ids()

    def test_every_instance_delivers_every_event_in_order(self):
        self.prepare_cluster(self.old)
        self.upgrade(self.old)
        ids = self.event_ids()
        kinds = [r[0] for r in self.db.sql("SELECT kind FROM sy_events ORDER BY id")]
        self.assertEqual(kinds.count("schema.done"), 2, kinds)
        self.assertEqual(kinds[-1], "upgrade.finished", kinds)
        # A transition and its event are one transaction: one event per history row.
        history = int(self.db.sql("SELECT COUNT(*) FROM sy_cluster_history")[0][0])
        self.assertEqual(kinds.count("cluster.transition"), history)
        # Both instances deliver all of them, though every command ran on old.
        up.wait_for(lambda: self.hooked("old") and self.hooked("new"), timeout=30,
                    what="both hooks to deliver every event")
        last = self.delivered("new")[-2]
        self.assertEqual(last[1:3], ["cluster.transition", "STABLE"])
        # show events, on either instance.
        doc = self.ctl_json(self.new, "show", "events", "--since", "0")
        self.assertEqual([e["id"] for e in doc["events"]], ids)
        self.assertEqual(doc["last_id"], ids[-1])
        self.assertTrue(doc["events"][0]["actor"].endswith("/admin"), doc["events"][0])
        text = self.ctl(self.old, "show", "events", "--since", str(ids[-3]), "--limit", "2").stdout
        lines = text.splitlines()
        self.assertEqual([int(l.split()[0]) for l in lines[:-1]], ids[-2:])
        self.assertEqual(lines[-1], f"last_id: {ids[-1]}")
        p = self.ctl(self.old, "show", "events", "--since", "x", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("ERR invalid-argument: --since 'x'", p.stderr)
        # --follow: streams what comes next.
        follow = subprocess.Popen([up.CTL, "-s", self.new.socket, "show", "events", "--since",
                                   str(ids[-1]), "--follow"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: follow.poll() is None and follow.kill())
        got = []
        reader = threading.Thread(target=lambda: got.append(follow.stdout.readline()))
        reader.start()
        self.ctl(self.old, "cluster", "prepare", "app-old")
        reader.join(timeout=30)
        self.assertEqual(len(got), 1, "no event streamed within 30 s")
        self.assertIn(" cluster.transition state=READY_TO_UPGRADE ", got[0])
        self.assertEqual(int(got[0].split()[0]), self.event_ids()[-1])
        follow.kill()
        # The audit log: admin-level commands, not the read-only ones.
        log = self.old.log()
        self.assertIn(": cluster prepare app-old -> ok", log)
        self.assertNotIn(": show events", log)

    def test_a_slow_hook_stalls_no_command_and_a_restart_resumes(self):
        new_url = f"http://{self.new.listeners['main']}"
        self.ctl(self.old, "server", "register", "app-new", "--pool", "new", "--version", "8.0",
                 "--redirect-url", new_url)
        block = os.path.join(self.hook_dir, "block-old")
        open(block, "w").close()
        self.addCleanup(lambda: os.path.exists(block) and os.unlink(block))
        # The hook of old now takes ~10 s per event; the command that made it answers at once
        # (the old synchronous hook held it 10 s: past this ctl's 8 s timeout).
        self.ctl(self.old, "cluster", "prepare", "app-new", timeout=8)
        started = os.path.join(self.hook_dir, "started-old")
        up.wait_for(lambda: os.path.exists(started), timeout=30, what="old's hook to start")
        self.assertIn("READY_TO_UPGRADE", self.ctl(self.old, "show", "cluster", timeout=8).stdout)
        self.ctl(self.old, "cluster", "cancel", timeout=8)
        self.assertEqual(self.delivered("old"), [])
        os.unlink(block)
        up.wait_for(lambda: self.hooked("old"), timeout=30, what="old's hook to catch up")
        self.assertEqual([e[2] for e in self.delivered("old")], ["READY_TO_UPGRADE", "STABLE"])
        # new is stopped; events go on; restarted, it delivers exactly the ones it missed.
        up.wait_for(lambda: self.hooked("new"), timeout=30, what="new's hook")
        self.new.stop()
        self.ctl(self.old, "cluster", "prepare", "app-new")
        self.ctl(self.old, "cluster", "cancel")
        self.new = self.start("new", "new")
        up.wait_for(lambda: self.hooked("new"), timeout=30,
                    what="the restarted new instance to deliver what it missed")
        self.assertEqual(len(self.delivered("new")), 4)


if __name__ == "__main__":
    unittest.main()
