"""The directory commands (`schema add`, `context add|move|disable|enable|show`, `login
add|remove`) and `server unregister` on the real binary and the real private MariaDB (profile
own): what each writes is what the proxy routes by, duplicates and unknown ids get a clear error,
and every write is journaled in sy_changes.

Topology: test_admin's (an old-role switchyard, pools old and new, keys X-Context-Id); servers 1
app-old (7.10), 2 app-new (8.0, redirect http://127.0.0.1:1); schemas s1 (11, 12), s2 (21).
"""
import unittest

from harness import wait_for
from owndir import OwnDirectoryCase


class DirectoryCommandsTest(OwnDirectoryCase):
    def changes(self):
        return int(self.db.sql("SELECT COUNT(*) FROM sy_changes")[0][0])

    def test_schema_context_and_login_commands(self):
        before = self.changes()
        self.assertEqual(self.status(31), 404)
        out = self.js("schema", "add", "s3", "--server", "app-old")
        self.assertEqual(out["message"], "schema s3 added on server app-old (enabled)")
        self.assertTrue(out["changed"])
        self.assertIn("exists already as given", self.err("exists", "schema", "add", "s3",
                                                          "--server", "app-old"))
        self.assertIn("schema s3 exists already (server 1, enabled)",
                      self.err("exists", "schema", "add", "s3", "--server", "app-new"))
        self.assertIn("no server 'app-9' (by name or id); register it first",
                      self.err("not-found", "schema", "add", "s4", "--server", "app-9"))
        self.assertIn("may hold only", self.err("invalid-argument", "schema", "add", "s`x",
                                                "--server", "1"))

        self.assertEqual(self.js("context", "add", "31", "--schema", "s3")["message"],
                         "context 31 added (schema s3, enabled)")
        wait_for(lambda: self.status(31) == 200, what="context 31 routed")
        self.assertIn("context 31 exists already (schema s3, enabled)",
                      self.err("exists", "context", "add", "31", "--schema", "s1"))
        self.assertIn("no schema 'nope' (add it with `schema add nope --server S`)",
                      self.err("not-found", "context", "add", "32", "--schema", "nope"))
        self.assertIn("context id 'x1' is not a positive integer",
                      self.err("invalid-argument", "context", "add", "x1", "--schema", "s3"))
        self.assertIn("no context 99", self.err("not-found", "context", "disable", "99"))

        self.assertEqual(self.js("context", "disable", "31")["message"], "context 31 disabled")
        wait_for(lambda: self.status(31) == 403, what="context 31 disabled")
        self.assertFalse(self.js("context", "disable", "31")["changed"])
        self.js("context", "enable", "31")
        wait_for(lambda: self.status(31) == 200, what="context 31 enabled again")

        # Its own server: the new one (an old-role instance redirects it), never back.
        moved = self.js("context", "move", "31", "--server", "app-new")
        self.assertEqual(moved["message"], "context 31 moved (schema s3, enabled, own server 2)")
        wait_for(lambda: self.status(31) == 307, what="context 31 redirected")
        self.assertIn("would go back to an older version",
                      self.err("one-way-door", "context", "move", "31", "--server", "app-old"))
        # Another schema (on app-old): refused as well, the context is on 8.0 now.
        self.err("one-way-door", "context", "move", "31", "--schema", "s1", "--server", "app-old")

        self.assertEqual(self.js("login", "add", "bob@example.com", "--context", "31")["message"],
                         "login bob@example.com added to context 31")
        self.err("exists", "login", "add", "bob@example.com", "--context", "31")
        self.assertIn("belongs to context 31 already",
                      self.err("exists", "login", "add", "bob@example.com", "--context", "11"))
        self.assertIn("no context 77", self.err("not-found", "login", "add", "x@y", "--context",
                                                "77"))
        shown = self.js("context", "show", "31")
        self.assertEqual((shown["schema"], shown["server"], shown["logins"]),
                         ("s3", "app-new", ["bob@example.com"]))
        self.js("login", "remove", "bob@example.com")
        self.assertIn("no login 'bob@example.com'",
                      self.err("not-found", "login", "remove", "bob@example.com"))
        self.assertEqual(self.js("show", "context", "31")["logins"], [])
        # Journaled: schema add, context add, disable, enable, move, login add, login remove.
        self.assertEqual(self.changes() - before, 7)
        # Audited like the other writes: the command and its outcome in the log.
        log = self.sy.log()
        self.assertRegex(log, r"admin: unix connection \d+: .*context add 31 --schema s3.* -> ok")
        self.assertRegex(log, r"admin: unix connection \d+: .*login add bob@example.com "
                              r"--context 11.* -> ERR exists")
        self.assertIn("usage", self.err("usage", "context", "add", "33"))

    def test_server_unregister(self):
        self.js("server", "register", "app-x", "--pool", "new", "--version", "9.0",
                "--redirect-url", "http://127.0.0.1:2")
        self.assertIn("server 'app-old' (id 1) is still used by 2 schema(s) (s1, s2)",
                      self.err("in-use", "server", "unregister", "app-old"))
        # A context whose own server it is holds it too.
        self.js("context", "move", "12", "--server", "app-x")
        self.assertIn("1 context(s) with it as their own server (12)",
                      self.err("in-use", "server", "unregister", "app-x"))
        self.js("context", "move", "12", "--server", "app-x")  # unchanged: no error
        self.db.sql("UPDATE sy_contexts SET server_id = NULL WHERE id = 12")
        out = self.js("server", "unregister", "app-x")
        self.assertEqual(out["message"], f"server 'app-x' (id {out['id']}) unregistered")
        self.assertEqual([s["name"] for s in self.js("server", "list")["servers"]],
                         ["app-old", "app-new"])
        self.assertIn("no server 'app-x'", self.err("not-found", "server", "unregister", "app-x"))
        # The target of an upgrade stays until the upgrade is over.
        self.js("cluster", "prepare", "app-new")
        self.assertIn("is the target of the cluster upgrade (state READY_TO_UPGRADE)",
                      self.err("in-use", "server", "unregister", "app-new"))
        self.js("cluster", "cancel")
        self.js("server", "unregister", "2")  # by id
        self.assertEqual([s["name"] for s in self.js("server", "list")["servers"]], ["app-old"])


if __name__ == "__main__":
    unittest.main()
