"""Bulk import (`import csv`, `import configdb`) on the real binary and the real private MariaDB:
a dry run reports and writes nothing, the import writes everything in one go, running it again
changes nothing, and a bad record is reported with its place while nothing is written. Also the
directory commands' refusal on profile ox, which names what is supported there.

Directory (profile own): test_admin.SEED; the configdb is built with tests/tools/ox_configdb.py
(OX's tables, filled as OX's tools fill them) in a database of its own on the same server.
"""
import os
import sys
import unittest

from harness import SOURCE_DIR, Database, wait_for
from owndir import OwnDirectoryCase

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "tools"))
import ox_configdb  # noqa: E402


class ImportTest(OwnDirectoryCase):
    DB_PREFIX = "sy_imp"

    def csv(self, name, text):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def directory(self):
        return (self.db.sql("SELECT name, state, server_id FROM sy_schemas ORDER BY name"),
                self.db.sql("SELECT id, schema_name, enabled, COALESCE(server_id, 0)"
                            " FROM sy_contexts ORDER BY id"),
                self.db.sql("SELECT login, context_id FROM sy_logins ORDER BY login"))

    def test_csv_dry_run_import_rerun_and_located_errors(self):
        path = self.csv("tenants.csv", "# site B\n"
                                       "login,carol@example.com,41\n"
                                       "context,41,s4\n"
                                       "context,42,s4,disabled\n"
                                       "context,11,s1\n"  # there already, the same: unchanged
                                       'login,"dave@example.com",42\n'
                                       "schema,s4,app-old\n")
        before = self.directory()
        dry = self.js("import", "csv", path, "--dry-run")
        self.assertTrue(dry["dry_run"])
        self.assertEqual((dry["added_schemas"], dry["added_contexts"], dry["added_logins"],
                          dry["unchanged"]), (1, 2, 2, 1))
        self.assertEqual(dry["changes"][0],
                         f"{path}:7: schema s4 added on server app-old (enabled)")
        self.assertIn(f"{path}:3: context 41 added (schema s4, enabled)", dry["changes"])
        self.assertEqual(self.directory(), before)  # nothing written
        self.assertEqual(self.status(41), 404)

        done = self.js("import", "csv", path)
        self.assertFalse(done["dry_run"])
        self.assertEqual(done["added"], 5)
        self.assertGreater(done["change_seq"], 0)
        wait_for(lambda: self.status(41) == 200, what="imported context 41 routed")
        self.assertEqual(self.status(42), 403)
        self.assertEqual(self.js("context", "show", "42")["logins"], ["dave@example.com"])
        after = self.directory()

        again = self.js("import", "csv", path)  # idempotent
        self.assertEqual((again["added"], again["unchanged"]), (0, 6))
        self.assertEqual(self.directory(), after)

        # Conflicts with what is there, and a bad line: every one located, nothing written.
        bad = self.csv("bad.csv", "schema,s5,app-old\n"
                                  "context,21,s5\n"       # 21 is in s2
                                  "login,carol@example.com,11\n"  # carol is 41's
                                  "context,51,s9\n"       # no such schema
                                  "schema,s6,app-zz\n")   # no such server
        msg = self.err("import-failed", "import", "csv", bad)
        self.assertIn("nothing imported (4 error(s))", msg)
        self.assertIn(f"{bad}:2: context 21 exists already (schema s2, enabled)", msg)
        self.assertIn(f"{bad}:3: login carol@example.com belongs to context 41 already", msg)
        self.assertIn(f"{bad}:4: no schema 's9'", msg)
        self.assertIn(f"{bad}:5: no server 'app-zz'", msg)
        self.assertEqual(self.directory(), after)  # s5 was not added either
        syntax = self.csv("syntax.csv", "schema,s5\ncontext,abc,s1\n")
        msg = self.err("invalid-argument", "import", "csv", syntax)
        self.assertIn(f"{syntax}:1: schema needs schema,NAME,SERVER", msg)
        self.assertIn(f"{syntax}:2: context id 'abc'", msg)
        self.assertIn("cannot open", self.err("invalid-argument", "import", "csv",
                                              os.path.join(self.workdir, "missing.csv")))

    def test_configdb_import_and_the_ox_profile(self):
        cfg = Database("sy_imp_cfg")
        self.addCleanup(cfg.drop)
        c = ox_configdb.OxConfigdb()
        sid = c.register_server("oxserver-7")
        pool = c.register_database("db-1")
        c.create_schema(pool, "oxdatabase_5")
        c.create_schema(pool, "oxdatabase_44")
        c.create_context(500, "ctx500", sid, pool, "oxdatabase_5", logins=("eve@example.com",))
        c.create_context(501, "ctx501", sid, pool, "oxdatabase_5")
        c.create_context(4400, "ctx4400", sid, pool, "oxdatabase_44")
        c.disable_context(501, 7)  # a tenant disabled for a reason of its own
        cfg.sql(ox_configdb.tables_sql() + c.sql())
        # OX's disableschema on oxdatabase_44: an enabled context of a disabled schema here.
        cfg.sql(ox_configdb.disable_schema_sql("oxdatabase_44"))

        msg = self.err("import-failed", "import", "configdb", cfg.name)
        self.assertIn("configdb context_server2db_pool db_schema oxdatabase_44: no server "
                      "'oxserver-7' (by name or id); register it first", msg)
        self.assertEqual(self.js("schema", "list")["schemas"][0]["schema"], "s1")
        self.assertIn("must be 1..64", self.err("invalid-argument", "import", "configdb", "x-y"))

        self.js("server", "register", "oxserver-7", "--pool", "old", "--version", "7.10.6",
                "--redirect-url", "http://127.0.0.1:3")
        dry = self.js("import", "configdb", cfg.name, "--dry-run")
        # 2 schemas, 3 contexts, logins: each context's cid and name, plus eve.
        self.assertEqual((dry["added_schemas"], dry["added_contexts"], dry["added_logins"]),
                         (2, 3, 7))
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM sy_contexts")[0][0], "3")
        done = self.js("import", "configdb", cfg.name)
        self.assertEqual(done["added"], 12)
        schemas = {s["schema"]: s for s in self.js("schema", "list")["schemas"]}
        self.assertEqual((schemas["oxdatabase_5"]["enabled"], schemas["oxdatabase_5"]["server"]),
                         (True, "oxserver-7"))
        self.assertFalse(schemas["oxdatabase_44"]["enabled"])
        self.assertEqual(self.js("context", "show", "4400")["enabled"], True)
        self.assertEqual(self.js("context", "show", "501")["enabled"], False)
        self.assertEqual(self.js("context", "show", "500")["logins"],
                         ["500", "ctx500", "eve@example.com"])
        self.assertEqual(self.js("import", "configdb", cfg.name)["added"], 0)  # again: nothing

        # Profile ox (a switchyard on that configdb): the directory edits say what there is.
        state = Database("sy_imp_state")
        self.addCleanup(state.drop)
        ox_sock = os.path.join(self.workdir, "ox.sock")
        ox = f"""workers: 1
listeners:
  - {{name: main, port: 0, pool: old}}
pools:
  - {{name: old, members: [{{address: "{self.old_b.address}"}}], health_check: {{enabled: false}}}}
database:
  dsns:
{cfg.dsn_yaml()}  profile: ox
  state_database: {state.name}
admin:
  socket: {{path: "{ox_sock}"}}
"""
        self.db_migrate(ox)
        self.switchyard(ox, name="sy-ox")
        for args in (("context", "add", "9", "--schema", "oxdatabase_5"), ("login", "remove", "x"),
                     ("import", "csv", "/dev/null")):
            msg = self.err("unsupported-profile", *args, sock=ox_sock)
            self.assertIn("edits Switchyard's own tables (profile own); on profile ox the "
                          "configdb belongs to OX", msg)
            self.assertIn("Switchyard supports there: server register|update|unregister", msg)
        # server unregister works there (OX's unregisterserver), refused while contexts are on it.
        self.assertIn("server 'oxserver-7' (id 1) is still used by 2 schema(s) "
                      "(oxdatabase_44, oxdatabase_5)",
                      self.err("in-use", "server", "unregister", "oxserver-7", sock=ox_sock))


if __name__ == "__main__":
    unittest.main()
