"""Profile ox while OX's own tools change the configdb, and what OX clients see.

- OX's disableschema done by plain SQL (as OX's CLI does it) while Switchyard runs: the
  schema's requests are held, not refused; enableschema by SQL: released. A context disabled
  for another reason stays 403. changeserver by SQL: routed to the new server.
- Logins resolve as OX resolves them: the part after the last '@', case-insensitively; no '@'
  means the context mapped as defaultcontext.
- Local errors in OX's envelope (HTTP 200, code CTX-0012 with OX's text) by default, and in
  Switchyard's JSON with native statuses when configured.
- The admin commands on profile ox write OX's rows (and never a table of ours into the
  configdb); the update task is OX-shaped (`runupdate -n SCHEMA`), its output is kept.
"""
import json
import threading
import unittest

from harness import access_log_lines, curl_status, wait_for
from oxsetup import (DISABLED_CTX, NEW_SERVER, SCHEMAS, OxTestCase, ctx_name, ox_configdb)


def login(sy, name):
    """An OX form login through |sy|: (status, body)."""
    return curl_status(sy.url("/ajax/login?action=login"), "-d", f"name={name}&password=x")


class OxProfileTest(OxTestCase):
    CONTEXTS = 60

    def ctx_in(self, schema, skip=()):
        return next(c for c in self.contexts if self.schema_of[c] == schema and c not in skip)

    def generation(self, sy):
        return self.ctl_json(sy, "show", "info")["snapshot"]["generation"]

    def held_now(self, sy):
        return self.ctl_json(sy, "show", "stats")["held_now"]

    def routed_context(self, sy, marker):
        """The context the access log names for the request whose login was |marker|."""
        def find():
            for line in access_log_lines(sy.access_log_path):
                if line.get("path", "").endswith(f"&m={marker}"):
                    return line
            return None
        return wait_for(find, what=f"access log line of {marker}")["context"]

    def test_ox_disable_by_sql_holds_and_enable_by_sql_releases(self):
        schema = "oxdatabase_10"
        ctx = self.ctx_in(schema)
        self.assertEqual(login(self.old, f"u@{ctx_name(ctx)}"), (200, b"old-1 old\n"))
        before = self.generation(self.old)
        self.configdb.sql(ox_configdb.disable_schema_sql(schema))
        # Within one refresh the instance sees OX's reason and publishes a new snapshot.
        wait_for(lambda: self.generation(self.old) > before, timeout=10,
                 what="the instance to see OX's disableschema")
        result = {}

        def request():
            result["answer"] = login(self.old, f"u@{ctx_name(ctx)}")

        t = threading.Thread(target=request, daemon=True)
        t.start()
        # Held, not 403.
        wait_for(lambda: self.held_now(self.old) >= 1, timeout=10, what="the request held")
        self.assertTrue(t.is_alive(), result)
        # The administrator's disabled context is refused meanwhile, not held.
        status, body = login(self.old, f"u@{ctx_name(DISABLED_CTX)}")
        self.assertEqual((status, json.loads(body)["code"]), (200, "CTX-0004"))
        self.configdb.sql(ox_configdb.enable_schema_sql(schema))
        t.join(15)
        self.assertFalse(t.is_alive())
        self.assertEqual(result["answer"], (200, b"old-1 old\n"))
        # changeserver by SQL (OX's CLI, while Switchyard runs): the schema now lives on a server
        # of the new pool, so the old role redirects its tenants.
        self.configdb.sql("INSERT INTO server VALUES (99, 'oxserver-99');"
                          + ox_configdb.disable_schema_sql(schema) + ";"
                          + ox_configdb.change_server_sql(99, schema) + ";"
                          + ox_configdb.enable_schema_sql(schema))
        self.ctl(self.old, "server", "register", "oxserver-99", "--pool", "new", "--version",
                 "8.0.0", "--redirect-url", f"http://{self.new.listeners['main']}", "--continue")
        wait_for(lambda: login(self.old, f"u@{ctx_name(ctx)}")[0] == 307,
                 what="the moved schema redirected")
        # One context disabled by SQL (disablecontext) is refused after the next checksum.
        other = self.ctx_in("oxdatabase_3", skip=(1,))  # not the schema's sentinel (1)
        self.configdb.sql(f"UPDATE context SET enabled = 0, reason_id = 7 WHERE cid = {other}")
        wait_for(lambda: b'"code":"CTX-0004"' in login(self.old, f"u@{ctx_name(other)}")[1],
                 timeout=15, what="the disabled context refused")

    def test_logins_resolve_like_ox(self):
        c5 = self.ctx_in("oxdatabase_5")
        cases = [
            (f"user@{ctx_name(c5)}", c5),
            (f"USER@{ctx_name(c5).upper()}", c5),         # utf8_unicode_ci
            (f"first.last@example.org@{ctx_name(c5)}", c5),  # the LAST '@' splits
            (f"user@{c5}", c5),                            # OX maps the cid as text too
            ("admin", 1),                                  # no '@': defaultcontext
        ]
        for n, (name, want) in enumerate(cases):
            status, body = curl_status(self.old.url(f"/ajax/login?action=login&m={n}"), "-d",
                                       f"name={name}&password=x")
            self.assertEqual((status, body), (200, b"old-1 old\n"), name)
            self.assertEqual(self.routed_context(self.old, n), want, name)
        status, body = login(self.old, "user@nowhere.example.com")
        answer = json.loads(body)
        self.assertEqual((status, answer["code"]), (200, "CTX-0002"))
        self.assertEqual(answer["categories"], "USER_INPUT")

    def test_error_envelopes_ox_by_default_json_when_configured(self):
        ctx = self.ctx_in("oxdatabase_44")
        server_id = int(self.configdb.sql(
            f"SELECT server_id FROM context_server2db_pool WHERE cid = {ctx}")[0][0])
        # A new-version node asked for a context still on an old server: OX's CTX-0012.
        status, body = login(self.new, f"u@{ctx_name(ctx)}")
        self.assertEqual(status, 200, body)
        answer = json.loads(body)
        text = f"The context {ctx} is located in server with id {server_id}"
        self.assertEqual(answer["code"], "CTX-0012")
        self.assertEqual(answer["error"], text)
        self.assertEqual(answer["error_desc"], text)
        self.assertEqual(answer["error_params"], [])
        self.assertEqual(answer["categories"], "ERROR")
        self.assertRegex(answer["error_id"], r"^\d+-\d+-\d+$")
        # The same instance with Switchyard's own envelope and native statuses.
        own = self.start("new", "new", name="sy-new-json",
                         extra_routing="  errors: {envelope: json, status: native}\n")
        status, body = login(own, f"u@{ctx_name(ctx)}")
        self.assertEqual(status, 409)
        self.assertEqual(json.loads(body), {"error": "CTX-0012",
                                            "message": "context lives on another server",
                                            "context": ctx, "server": "oxserver-%d" % (
                                                self.server_ids.index(server_id) + 1)})

    def test_admin_commands_write_ox_rows(self):
        self.configdb.sql("INSERT INTO contexts_per_dbschema VALUES (4, 'oxdatabase_200', 0, 0)")
        info = self.ctl_json(self.old, "show", "info")
        self.assertEqual(info["profile"], "ox")
        wait_for(lambda: [s["schema"] for s in
                          self.ctl_json(self.old, "schema", "list")["schemas"]] ==
                 SCHEMAS + ["oxdatabase_200"], what="schemas listed in OX's order")
        listed = {s["schema"]: s for s in self.ctl_json(self.old, "schema", "list")["schemas"]}
        self.assertEqual(listed["oxdatabase_200"]["contexts"], 0)
        self.assertEqual(listed["oxdatabase_3"]["server"], "oxserver-1")

        ctx7 = self.ctl_json(self.old, "show", "context", str(DISABLED_CTX))
        self.assertFalse(ctx7["enabled"])
        self.assertEqual(ctx7["reason_id"], 7)

        # Registered with an id from configdb_sequence, as registerserver does.
        seq = int(self.configdb.sql("SELECT id FROM configdb_sequence")[0][0])
        reg = self.ctl_json(self.old, "server", "register", NEW_SERVER, "--pool", "new",
                            "--version", "8.0.0", "--redirect-url", "http://127.0.0.1:9")
        self.assertEqual(reg["id"], seq + 1)
        self.assertEqual(self.configdb.sql(f"SELECT name FROM server WHERE server_id = {seq + 1}"),
                         [[NEW_SERVER]])

        schema = "oxdatabase_81"
        p = self.ctl(self.old, "schema", "move", schema, "--server", NEW_SERVER, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("not-disabled", p.stderr)
        self.ctl(self.old, "schema", "disable", schema)
        rows = self.configdb.sql("SELECT DISTINCT c.enabled, c.reason_id FROM context c JOIN "
                                 "context_server2db_pool p ON p.cid = c.cid WHERE p.db_schema = "
                                 f"'{schema}'")
        self.assertEqual(rows, [["0", "1431655765"]])
        self.ctl(self.old, "schema", "move", schema, "--server", NEW_SERVER)
        self.assertEqual(self.servers_of_schemas()[schema], seq + 1)
        # The update task, OX-shaped; its output is kept in the state database.
        out = self.ctl_json(self.old, "schema", "update", schema)
        self.assertEqual(out["tasks"][0]["status"], "ok")
        self.assertEqual(self.task_runs(), {schema: 1})
        kept = self.state.sql(f"SELECT status, output FROM sy_update_tasks WHERE schema_name = "
                              f"'{schema}'")
        self.assertEqual(kept[0][0], "ok")
        self.assertIn(f"Update tasks done on schema {schema}", kept[0][1])
        self.ctl(self.old, "schema", "enable", schema)
        self.assertEqual(self.configdb.sql(
            "SELECT DISTINCT c.enabled, COALESCE(c.reason_id, 0) FROM context c JOIN "
            f"context_server2db_pool p ON p.cid = c.cid WHERE p.db_schema = '{schema}'"),
            [["1", "0"]])
        # Member state is Switchyard's: kept in the state database, not the configdb.
        drained = self.ctl_json(self.old, "pool", "member", "drain", "old", self.old_b.address)
        self.assertTrue(drained["persisted"])
        self.assertEqual(self.state.sql("SELECT pool, admin_state FROM sy_member_state"),
                         [["old", "drain"]])
        self.ctl(self.old, "pool", "member", "ready", "old", self.old_b.address)
        self.assertEqual(self.sy_tables_in_configdb(), [])


if __name__ == "__main__":
    unittest.main()
