"""Concurrent admin writes on a real 3-node MariaDB Galera cluster (issue 12 item 3; galera.py has
the cluster): three Switchyard instances, each with its DSN list starting at a different node,
and through their three admin sockets at once many writes that touch the same rows: toggles of
one schema and one context, `pool member add|set|remove` of the same addresses of one pool, a
member's runtime state, `pool add` of the same names, `cluster prepare|cancel`, and registrations of servers (unique
names, and one name all three race for), schemas and logins (one name all three race for).

Galera certifies each commit against the others' and fails the loser with 1213 at COMMIT
(`Deadlock found ... try restarting transaction`); an InnoDB lock wait can end in 1205. Every
admin write must absorb that (store::with_conflict_retries): each command answers OK or a
refusal it means (exists, not-found, conflict), never `ERR database`; afterwards the three
instances show one state, and no server id was handed out twice.
"""
import json
import os
import socket
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from galera import GaleraDatabase, NodeDsns, require_galera  # noqa: E402
from harness import ProxyTestCase, wait_for  # noqa: E402
from livepools import ROUTED_SEED, routed_yaml  # noqa: E402

ROUNDS = 20  # per instance; each round is 14 commands


class AdminSocket:
    """One connection to an admin socket in the line protocol (admin/protocol.h), JSON replies."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(90)
        self.sock.connect(path)
        self.buf = b""

    def command(self, line):
        """(ok, code, document) of |line|: code is the error code of an error reply."""
        self.sock.sendall(line.encode() + b" --json\n")
        while b"\n\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"admin socket closed during {line!r}")
            self.buf += chunk
        reply, self.buf = self.buf.split(b"\n\n", 1)
        doc = json.loads(reply.decode().splitlines()[-1])
        if "error" in doc:
            return False, doc["error"]["code"], doc["error"]
        return True, "", doc

    def close(self):
        self.sock.close()


class GaleraAdminWritesTest(ProxyTestCase):
    maxDiff = None
    def setUp(self):
        self.env = require_galera(self)
        super().setUp()
        self.db = GaleraDatabase(self.env, prefix="sy_gal_admin")
        self.addCleanup(self.db.drop)
        self.b1 = self.backend("b1")
        # Addresses the instances add and remove as members of pool main (no server behind
        # them: no request is sent to main here, and removal drains nothing in flight).
        self.extra = [f"127.0.0.1:{p}" for p in (7, 9, 13)]
        self.socks = [os.path.join(self.workdir, f"admin{i}.sock") for i in range(3)]
        self.db_migrate(routed_yaml(NodeDsns(self.db, 1), [self.b1.address], self.socks[0]))
        self.db.sql(ROUTED_SEED)
        self.sys = [self.switchyard(routed_yaml(NodeDsns(self.db, i + 1), [self.b1.address],
                                                sock), f"sy{i}")
                    for i, sock in enumerate(self.socks)]

    def show(self, i, *words):
        conn = AdminSocket(self.socks[i])
        try:
            ok, code, doc = conn.command(" ".join(words))
        finally:
            conn.close()
        self.assertTrue(ok, (words, doc))
        return doc

    def writer(self, i, results):
        """Instance |i|'s share of the race: ROUNDS rounds, each touching the same rows as the
        other two instances' rounds. Appends (command, ok, code, detail) to |results|."""
        conn = AdminSocket(self.socks[i])
        member = self.extra[i]
        shared = self.extra[(i + 1) % 3]  # instance i+1 adds this one; i changes and removes it
        try:
            for r in range(ROUNDS):
                for line in (
                        f"schema {'disable' if (r + i) % 2 == 0 else 'enable'} s1",
                        f"context {'disable' if (r + i) % 2 else 'enable'} 11",
                        f"pool member add main {member} --weight {1 + r}",
                        f"pool member set main {shared} --weight {10 + r}",
                        f"pool member {('drain', 'ready')[r % 2]} main {self.b1.address}",
                        f"server register app-{i}-{r} --pool main --version v1 "
                        "--redirect-url http://127.0.0.1:9",
                        f"server register app-race-{r} --pool main --version v{i} "
                        "--redirect-url http://127.0.0.1:9",
                        f"pool member remove main {shared} --timeout 5s",
                        f"pool member weight main {self.b1.address} {1 + (r + i) % 5}",
                        f"schema add sx{r} --server app-main",
                        f"login add u{r}@example.com --context 11",
                        f"pool add px{r % 4}",
                        "cluster prepare app-target",
                        "cluster cancel"):
                    ok, code, doc = conn.command(line)
                    results.append((line, ok, code, "" if ok else doc.get("message", "")))
        finally:
            conn.close()

    def test_three_instances_write_the_same_rows_at_once_without_conflicts(self):
        # A target server with no schema yet: `cluster prepare` and `cancel` may toggle.
        self.show(0, "server", "register", "app-target", "--pool", "main", "--version", "v2",
                  "--redirect-url", "http://127.0.0.1:9")
        results = [[], [], []]
        threads = [threading.Thread(target=self.writer, args=(i, results[i])) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertFalse(any(t.is_alive() for t in threads))
        every = [r for rs in results for r in rs]
        self.assertEqual(len(every), 3 * ROUNDS * 14)
        # Refusals that are meant: a name already registered by another instance; a member not
        # (yet) known here or already there. Nothing else, and never the database's error.
        meant = {"exists", "not-found", "conflict", "illegal-transition"}
        unexpected = [r for r in every if not r[1] and r[2] not in meant]
        self.assertEqual(unexpected, [], f"{len(unexpected)} of {len(every)} commands failed")
        for line, ok, code, why in every:
            self.assertNotIn("1213", why, line)
            self.assertNotIn("1205", why, line)
        # The races for one name: each server app-race-N, schema sxN and login uN registered
        # exactly once, the other two instances told so.
        for r in range(ROUNDS):
            for prefix in (f"server register app-race-{r} ", f"schema add sx{r} ",
                           f"login add u{r}@"):
                outcomes = [x for x in every if x[0].startswith(prefix)]
                self.assertEqual(len(outcomes), 3, prefix)
                self.assertEqual(sum(1 for x in outcomes if x[1]), 1, outcomes)
                self.assertEqual({x[2] for x in outcomes if not x[1]}, {"exists"}, outcomes)
        self.assertTrue(all(x[1] for x in every if "register app-" in x[0] and "race" not in x[0]))

        # No id twice; every registration is there once, read through each instance's node.
        expected = {"app-main", "app-extra", "app-target"} | {f"app-{i}-{r}" for i in range(3)
                                                for r in range(ROUNDS)} | {
            f"app-race-{r}" for r in range(ROUNDS)}
        for i in range(3):
            servers = self.show(i, "server", "list")["servers"]
            ids = [s["id"] for s in servers]
            self.assertEqual(len(ids), len(set(ids)), servers)
            self.assertEqual(sorted(s["name"] for s in servers), sorted(expected))
        rows = self.db.sql("SELECT id, COUNT(*) FROM sy_servers GROUP BY id HAVING COUNT(*) > 1")
        self.assertEqual(rows, [])

        # One state through all three instances once each has applied the last changes (the
        # members' poll is ~2 s): the schema, the context, and pool main's members as served.
        def state(i):
            schema = [s for s in self.show(i, "schema", "list")["schemas"] if s["schema"] == "s1"]
            ctx = self.show(i, "context", "show", "11")
            shown = self.show(i, "show", "pools")
            members = sorted((m["member"], m["weight"], m["weight_override"], m["admin"])
                             for m in shown["members"] if m["pool"] == "main")
            return (schema[0]["enabled"], ctx["enabled"], members,
                    sorted(p["pool"] for p in shown["pools"]), sorted(ctx["logins"]))

        wait_for(lambda: state(0) == state(1) == state(2), timeout=20,
                 what="the three instances to show the same schema, context, members, pools")
        final = state(0)
        # The cluster walked STABLE <-> READY_TO_UPGRADE: each OK a transition in the history.
        ok_cluster = sum(1 for x in every if x[0].startswith("cluster") and x[1])
        self.assertGreater(ok_cluster, 0)
        # (An OK whose transaction was rolled back would show here: a cluster event retried on
        # its own inside the transition's transaction did that once.)
        history = self.show(1, "cluster", "history", "--limit", "1000")["history"]
        self.assertEqual(len(history), ok_cluster, [h["event"] for h in history])
        self.assertTrue(all(a["from"] == b["to"] for a, b in zip(history, history[1:])))
        self.assertEqual(final[3], sorted(["main"] + [f"px{k}" for k in range(min(ROUNDS, 4))]))
        self.assertEqual(final[4], sorted(f"u{r}@example.com" for r in range(ROUNDS)))
        # The schema and the context as stored (read through node 1).
        self.assertEqual(self.db.sql("SELECT state FROM sy_schemas WHERE name = 's1'")[0][0],
                         "enabled" if final[0] else "disabled")
        self.assertEqual(self.db.sql("SELECT enabled FROM sy_contexts WHERE id = 11")[0][0],
                         "1" if final[1] else "0")
        # What the database holds is what they show: each shared member's last write wins once.
        stored = {r[0]: r[1] for r in self.db.sql(
            "SELECT member, removed FROM sy_pool_members WHERE pool = 'main'")}
        shown = {m[0] for m in final[2]}
        for address in self.extra:
            self.assertEqual(address in shown, stored.get(address) == "0", (address, stored))
        sys.stderr.write(f"\n{len(every)} admin commands through three nodes: "
                         f"{sum(1 for r in every if r[1])} OK, refusals by code: "
                         f"{dict((c, sum(1 for r in every if r[2] == c)) for c in meant)}\n")


if __name__ == "__main__":
    unittest.main()
