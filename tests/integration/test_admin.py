"""The admin socket and switchyardctl on the real binary and the real private MariaDB.

Topology (loopback, port 0): one old-role switchyard with an admin Unix socket (admin level),
a second read-only Unix socket is not possible in one config, so the TCP listener is the
read-only one (token protected); pool old has two members (old-1, old-2), pool new one
(new-1). Directory: servers 1 = app-old (pool old, 7.10), 2 = app-new (pool new, 8.0);
schemas s1 (contexts 11, 12), s2 (21) on server 1.
"""
import json
import os
import re
import socket
import subprocess
import time
import unittest

from harness import (BINARY, Database, ProxyTestCase, TcpForwarder, curl_status, wait_for)

CTL = os.environ.get("SY_CTL", os.path.join(os.path.dirname(BINARY), "..", "admin",
                                            "switchyardctl"))

SEED = """
INSERT INTO sy_servers (id, name, pool, version, redirect_url) VALUES
  (1, 'app-old', 'old', '7.10', ''), (2, 'app-new', 'new', '8.0', 'http://127.0.0.1:1');
INSERT INTO sy_schemas (name, state, server_id) VALUES ('s1', 'enabled', 1), ('s2', 'enabled', 1);
INSERT INTO sy_contexts (id, schema_name, enabled, server_id) VALUES
  (11, 's1', 1, NULL), (12, 's1', 1, NULL), (21, 's2', 1, NULL);
INSERT INTO sy_logins (login, context_id) VALUES ('alice@example.com', 12);
"""


def admin_yaml(dsn, old_members, new_addr, sock, token_file, weight2=1, log_level="info",
               extra_admin="", role="old"):
    members = ", ".join(
        f'{{address: "{m}", weight: {weight2 if i == 1 else 1}}}'
        for i, m in enumerate(old_members))
    return f"""workers: 2
log_level: {log_level}
listeners:
  - {{name: main, port: 0, pool: {role}}}
pools:
  - name: old
    version: "7.10"
    members: [{members}]
    health_check: {{enabled: false}}
  - name: new
    version: "8.0"
    members: [{{address: "{new_addr}"}}]
    health_check: {{enabled: false}}
database:
  dsns:
{dsn}  refresh_interval: 100ms
  heartbeat_interval: 200ms
  connect_timeout: 1s
routing:
  role: {role}
  instance_id: it-admin-{role}-{os.getpid()}
  version: "{'7.10' if role == 'old' else '8.0'}"
  serve_pools: [{role}]
  hold: {{max_wait: 20s}}
  keys:
    - {{type: header, name: X-Context-Id}}
admin:
  socket: {{path: "{sock}", mode: "0600"}}
  tcp: {{address: 127.0.0.1, port: 0, token_file: "{token_file}", level: read-only}}
  drain_timeout: 5s
  live_within: 5s
{extra_admin}"""


class AdminTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.db = self.make_database()
        self.addCleanup(self.db.drop)
        self.old1 = self.backend("old-1", "old")
        self.old2 = self.backend("old-2", "old")
        self.new1 = self.backend("new-1", "new")
        self.sock = os.path.join(self.workdir, "admin.sock")
        self.token_file = os.path.join(self.workdir, "token")
        with open(self.token_file, "w") as f:
            f.write("s3cret-token-for-tests\n")
        self.migrate()
        self.db.sql(SEED)
        self.sy = self.start()

    def make_database(self):
        return Database("sy_adm")

    def yaml(self, dsn=None, sock=None, **kw):
        return admin_yaml(dsn or self.db.dsn_yaml(), [self.old1.address, self.old2.address],
                          self.new1.address, sock or self.sock, self.token_file, **kw)

    def migrate(self):
        cfg = os.path.join(self.workdir, "migrate.yaml")
        with open(cfg, "w") as f:
            f.write(self.yaml())
        p = subprocess.run([BINARY, "db", "migrate", "--config", cfg], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout)

    def start(self, name="sy", **kw):
        sy = self.switchyard(self.yaml(**kw), name=name)
        with open(sy.ready_path) as f:
            ready = dict(l.split("=", 1) for l in f.read().splitlines())
        sy.admin_tcp = ready["admin.tcp"]
        self.assertEqual(ready["admin.socket"], self.sock)
        return sy

    def ctl(self, *args, tcp=False, token_file=None):
        where = (["--tcp", self.sy.admin_tcp, "--token-file", token_file or self.token_file]
                 if tcp else ["-s", self.sock])
        p = subprocess.run([CTL] + where + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def ok(self, *args, **kw):
        rc, out, err = self.ctl(*args, **kw)
        self.assertEqual(rc, 0, f"{args}: {out}{err}")
        return out

    def js(self, *args, **kw):
        return json.loads(self.ok(*args, "--json", **kw))

    def get(self, ctx=None, path="/"):
        extra = ["-H", f"X-Context-Id: {ctx}"] if ctx is not None else []
        return curl_status(self.sy.url(path), *extra)

    # --- protocol ----------------------------------------------------------------------------

    def test_help_and_show_commands(self):
        out = self.ok("help")
        for cmd in ("show stats", "server register NAME", "upgrade schemata", "pool member wait",
                    "reload", "cluster approve"):
            self.assertIn(cmd, out)
        self.assertEqual(os.stat(self.sock).st_mode & 0o777, 0o600)
        info = self.js("show", "info")
        self.assertEqual(info["role"], "old")
        self.assertEqual(info["workers"], 2)
        self.assertTrue(info["database"])
        self.assertEqual(self.get(11)[0], 200)
        self.assertEqual(self.get(999)[0], 404)
        stats = self.js("show", "stats")
        self.assertGreaterEqual(stats["decisions"]["proxy"], 1)
        self.assertGreaterEqual(stats["errors"]["CTX-0003"], 1)
        self.assertTrue(stats["loader"]["db_up"])
        self.assertIn("held_now", stats)
        pools = {p["pool"]: p for p in stats["pools"]}
        self.assertGreaterEqual(pools["old"]["requests"], 1)
        members = self.js("show", "pools")["members"]
        self.assertEqual(len(members), 3)
        servers = self.js("show", "servers")["servers"]
        self.assertEqual([s["name"] for s in servers], ["app-old", "app-new"])
        schemas = self.js("show", "schemas")["schemas"]
        self.assertEqual([(s["schema"], s["contexts"]) for s in schemas], [("s1", 2), ("s2", 1)])
        ctx = self.js("show", "context", "12")
        self.assertEqual((ctx["schema"], ctx["server_id"]), ("s1", 1))
        self.assertIn("alice@example.com", ctx["logins"])
        self.assertIn("app-old", self.ok("show", "servers"))
        wait_for(lambda: self.js("show", "instances")["instances"], what="heartbeat")
        self.assertEqual(self.js("show", "cluster")["state"], "STABLE")
        self.ok("show", "migrations")

    def test_several_commands_json_and_errors_on_one_raw_connection(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock)
        s.settimeout(10)
        f = s.makefile("rwb")

        def replies(line, n):
            f.write(line.encode() + b"\n")
            f.flush()
            out = []
            for _ in range(n):
                lines = []
                while True:
                    l = f.readline().decode().rstrip("\n")
                    if l == "":
                        break
                    lines.append(l)
                out.append(lines)
            return out

        r = replies("show info; show pools --json; format json show cluster", 3)
        self.assertTrue(any(l.startswith("instance: ") for l in r[0]))
        self.assertEqual(len(r[1]), 1)
        self.assertEqual(len(json.loads(r[1][0])["members"]), 3)
        self.assertEqual(json.loads(r[2][0])["state"], "STABLE")
        r = replies("bogus command; show context; show context abc; pool member weight old x y",
                    4)
        self.assertEqual(r[0], ["ERR unknown-command: 'bogus command' (try `help`)"])
        self.assertEqual(r[1], ["ERR usage: show context ID"])
        self.assertTrue(r[2][0].startswith("ERR invalid-argument: "), r[2])
        self.assertTrue(r[3][0].startswith("ERR invalid-argument: "), r[3])
        r = replies("show nothing --json", 1)
        self.assertEqual(json.loads(r[0][0])["error"]["code"], "unknown-command")
        r = replies("server register x --pool", 1)
        self.assertTrue(r[0][0].startswith("ERR usage: server register NAME"), r)
        # Still usable.
        r = replies("show info", 1)
        self.assertTrue(any(l.startswith("workers: 2") for l in r[0]))
        s.close()

    def test_ctl_exit_codes(self):
        rc, out, err = self.ctl("bogus")
        self.assertEqual(rc, 1)
        self.assertIn("ERR unknown-command", err)
        p = subprocess.run([CTL, "-s", os.path.join(self.workdir, "none.sock"), "show", "info"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot connect", p.stderr)
        p = subprocess.run([CTL], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage:", p.stderr)

    def test_tcp_token_and_read_only_level(self):
        out = self.ok("show", "pools", tcp=True)
        self.assertIn(self.old1.address, out)
        rc, out, err = self.ctl("pool", "member", "drain", "old", self.old2.address, tcp=True)
        self.assertEqual(rc, 1)
        self.assertIn("ERR permission:", err)
        bad = os.path.join(self.workdir, "bad-token")
        with open(bad, "w") as f:
            f.write("not-the-token\n")
        rc, out, err = self.ctl("show", "info", tcp=True, token_file=bad)
        self.assertEqual(rc, 1)
        self.assertIn("ERR auth:", err)
        # Raw: commands before auth are refused; three failures close the connection.
        host, port = self.sy.admin_tcp.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=10)
        f = s.makefile("rwb")
        for line in (b"show info\n", b"auth nope\n", b"auth nope-again\n"):
            f.write(line)
            f.flush()
            self.assertTrue(f.readline().startswith(b"ERR auth: "))
            self.assertEqual(f.readline(), b"\n")
        self.assertEqual(f.readline(), b"")  # closed
        s.close()

    # --- servers and schemas -----------------------------------------------------------------

    def test_server_register_existing_name_needs_continue_or_abort(self):
        out = self.js("server", "register", "app-next", "--pool", "new", "--version", "9.0",
                      "--redirect-url", "http://127.0.0.1:9")
        self.assertFalse(out["existed"])
        rc, out, err = self.ctl("server", "register", "app-next", "--pool", "new", "--version",
                                "9.1", "--redirect-url", "http://127.0.0.1:9")
        self.assertEqual(rc, 1)
        self.assertIn("ERR exists:", err)
        rc, out, err = self.ctl("server", "register", "app-next", "--pool", "new", "--version",
                                "9.1", "--redirect-url", "http://127.0.0.1:9", "--abort")
        self.assertEqual(rc, 1)
        self.assertIn("ERR aborted:", err)
        out = self.js("server", "register", "app-next", "--pool", "new", "--version", "9.1",
                      "--redirect-url", "http://127.0.0.1:9", "--continue")
        self.assertTrue(out["existed"])
        self.assertEqual(out["version"], "9.0")  # the existing row, never silently changed
        self.assertTrue(out["warning"])
        # --continue on a registered server writes nothing: the three flags may be left out.
        out = self.js("server", "register", "app-next", "--continue")
        self.assertTrue(out["existed"])
        self.assertEqual((out["pool"], out["version"]), ("new", "9.0"))
        # ... but a new name is a write, and needs them.
        rc, out, err = self.ctl("server", "register", "app-other", "--continue")
        self.assertEqual(rc, 1)
        self.assertIn("ERR usage:", err)
        self.assertIn("missing --pool", err)
        self.assertEqual(len(self.js("server", "list")["servers"]), 3)

    def test_server_update_changes_what_is_given(self):
        out = self.js("server", "update", "app-new", "--redirect-url", "http://127.0.0.1:7",
                      "--version", "8.0.1")
        self.assertTrue(out["changed"])
        self.assertEqual((out["pool"], out["version"], out["redirect_url"]),
                         ("new", "8.0.1", "http://127.0.0.1:7"))
        row = [s for s in self.js("server", "list")["servers"] if s["name"] == "app-new"][0]
        self.assertEqual((row["version"], row["redirect_url"]), ("8.0.1", "http://127.0.0.1:7"))
        self.assertFalse(self.js("server", "update", "app-new", "--version", "8.0.1")["changed"])
        rc, _, err = self.ctl("server", "update", "app-none", "--version", "1")
        self.assertEqual(rc, 1)
        self.assertIn("ERR not-found:", err)
        rc, _, err = self.ctl("server", "update", "app-new")
        self.assertEqual(rc, 1)
        self.assertIn("ERR usage:", err)

    def test_server_register_id_and_cluster_history_limit(self):
        out = self.js("server", "register", "app-seven", "--pool", "new", "--version", "9.0",
                      "--redirect-url", "http://127.0.0.1:9", "--id", "7")
        self.assertEqual(out["id"], 7)
        for bad in ("0", "x", "-1"):
            rc, _, err = self.ctl("server", "register", "app-bad", "--pool", "new", "--version",
                                  "9.0", "--redirect-url", "http://127.0.0.1:9", "--id", bad)
            self.assertEqual(rc, 1)
            self.assertIn("ERR invalid-argument: --id needs a positive integer", err)
        self.ok("cluster", "prepare", "app-new")
        self.ok("cluster", "cancel")
        history = self.js("cluster", "history")["history"]
        self.assertEqual(len(history), 2)
        limited = self.js("cluster", "history", "--limit", "1")["history"]
        self.assertEqual(len(limited), 1)
        self.assertEqual(limited[0]["event"], "cancel")  # the newest first
        self.assertRegex(limited[0]["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        rc, _, err = self.ctl("cluster", "history", "--limit", "0")
        self.assertEqual(rc, 1)
        self.assertIn("ERR invalid-argument: --limit needs a positive integer", err)

    def test_schema_disable_holds_and_enable_releases(self):
        self.assertEqual(self.get(11)[0], 200)
        self.ok("schema", "disable", "s1")
        wait_for(lambda: not [s for s in self.js("schema", "list")["schemas"]
                              if s["schema"] == "s1"][0]["enabled"], what="s1 disabled")
        time.sleep(0.5)  # the loader refreshes every 100 ms
        import threading
        result = {}
        t = threading.Thread(target=lambda: result.update(r=self.get(11)))
        t.start()
        wait_for(lambda: self.js("show", "stats")["held_now"] >= 1, what="request held")
        self.assertTrue(t.is_alive())
        self.ok("schema", "enable", "s1")
        t.join(30)
        self.assertEqual(result["r"][0], 200)
        self.assertGreaterEqual(self.js("show", "stats")["decisions"]["hold"], 1)

    def test_schema_move_and_one_way_door(self):
        out = self.ok("schema", "move", "s2", "--server", "2")
        self.assertIn("s2", out)
        wait_for(lambda: self.get(21)[0] == 307, what="s2 redirected after the move")
        rc, out, err = self.ctl("schema", "move", "s2", "--server", "1")
        self.assertEqual(rc, 1)
        self.assertIn("ERR one-way-door:", err)
        rc, out, err = self.ctl("schema", "move", "nope", "--server", "2")
        self.assertEqual(rc, 1)
        self.assertIn("ERR not-found:", err)
        rc, out, err = self.ctl("schema", "move", "s2")
        self.assertEqual(rc, 1)
        self.assertIn("ERR usage:", err)

    def test_cluster_illegal_transition_is_refused(self):
        rc, out, err = self.ctl("cluster", "approve")
        self.assertEqual(rc, 1)
        self.assertIn("ERR illegal-transition:", err)
        out = self.js("cluster", "prepare", "app-new")
        self.assertEqual(out["state"], "READY_TO_UPGRADE")
        self.assertEqual(self.js("cluster", "cancel")["state"], "STABLE")
        self.assertGreaterEqual(len(self.js("cluster", "history")["history"]), 2)

    # --- pool members --------------------------------------------------------------------------

    def backend_names(self, n):
        names = []
        for _ in range(n):
            code, body = self.get(11)
            self.assertEqual(code, 200)
            names.append(body.split()[0].decode())
        return names

    def test_member_drain_ready_wait_and_survives_restart(self):
        self.assertEqual(set(self.backend_names(8)), {"old-1", "old-2"})
        self.ok("pool", "member", "drain", "old", self.old2.address)
        self.assertEqual(set(self.backend_names(12)), {"old-1"})
        out = self.ok("pool", "member", "wait", "old", self.old2.address, "--timeout", "5s")
        self.assertIn("no request in flight", out)
        rc, out, err = self.ctl("pool", "member", "wait", "old", self.old2.address,
                                "--timeout", "x")
        self.assertEqual(rc, 1)
        self.assertIn("ERR invalid-argument:", err)
        rc, out, err = self.ctl("pool", "member", "drain", "old", "127.0.0.1:1")
        self.assertEqual(rc, 1)
        self.assertIn("ERR not-found:", err)
        members = {m["member"]: m for m in self.js("show", "pools")["members"]}
        self.assertEqual(members[self.old2.address]["admin"], "drain")
        # Restart on the same database: the drain is reapplied. The socket file is unlinked on
        # exit; a stale one left by a crash is replaced.
        self.assertEqual(self.sy.terminate(), 0)
        self.assertFalse(os.path.exists(self.sock))
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(self.sock)
        stale.close()
        self.sy = self.start(name="sy2")
        wait_for(lambda: {m["member"]: m for m in self.js("show", "pools")["members"]}
                 [self.old2.address]["admin"] == "drain", what="drain reapplied")
        self.assertEqual(set(self.backend_names(10)), {"old-1"})
        self.ok("pool", "member", "ready", "old", self.old2.address)
        self.assertEqual(set(self.backend_names(8)), {"old-1", "old-2"})
        # Maintenance also takes it out; a weight override is shown.
        self.ok("pool", "member", "maintenance", "old", self.old1.address)
        self.assertEqual(set(self.backend_names(6)), {"old-2"})
        self.ok("pool", "member", "ready", "old", self.old1.address)
        self.ok("pool", "member", "weight", "old", self.old1.address, "3")
        members = {m["member"]: m for m in self.js("show", "pools")["members"]}
        self.assertEqual(members[self.old1.address]["weight"], 3)
        # Smooth weighted round robin per worker (2 workers): 3:1 gives old-1 at least 10 of 16
        # wherever the connections land.
        names = self.backend_names(16)
        self.assertGreaterEqual(names.count("old-1"), 10, names)

    def test_member_wait_says_why_when_busy(self):
        import threading
        # 5 s: long enough for two switchyardctl calls even in a sanitizer build.
        t = threading.Thread(target=lambda: curl_status(self.sy.url("/slow?ms=5000"),
                                                        "-H", "X-Context-Id: 11"))
        t.start()
        busy = wait_for(lambda: next((m["member"] for m in self.js("show", "pools")["members"]
                                      if m["inflight"]), None), what="slow request in flight")
        rc, out, err = self.ctl("pool", "member", "wait", "old", busy, "--timeout", "300ms")
        self.assertEqual(rc, 1)
        self.assertIn("ERR timeout:", err)
        self.assertIn("in flight", err)
        t.join(30)

    # --- reload --------------------------------------------------------------------------------

    def test_reload_bad_file_changes_nothing_good_file_applies(self):
        with open(self.sy.config_path, "w") as f:
            f.write(self.yaml().replace("workers: 2", "workers: many\nbogus_key: 1"))
        rc, out, err = self.ctl("reload")
        self.assertEqual(rc, 1)
        self.assertIn("ERR config:", err)
        self.assertIn("workers", err)
        self.assertIn("bogus_key", err)
        self.assertEqual(set(self.backend_names(4)), {"old-1", "old-2"})
        with open(self.sy.config_path, "w") as f:
            f.write(self.yaml(weight2=3, log_level="debug").replace("max_wait: 20s",
                                                                    "max_wait: 21s"))
        # routing.hold needs a restart: the reload says so with a distinct code and exit 1,
        # naming the key, and still applies what it can.
        rc, out, err = self.ctl("reload")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("ERR reload-partial:", err)
        self.assertIn("NOT applied until a restart: routing.hold", err)
        self.assertIn("log_level: info -> debug", err)
        self.assertIn("weight: 1 -> 3", err)
        names = self.backend_names(16)
        self.assertGreaterEqual(names.count("old-2"), 10, names)
        # SIGHUP runs the same reload (nothing new to apply now).
        os.kill(self.sy.pid, 1)
        wait_for(lambda: "SIGHUP: configuration reloaded" in self.sy.log(), what="SIGHUP log")

    # --- upgrade schemata (smoke; the full end-to-end test is test_upgrade.py) ---------------

    def test_upgrade_schemata_streams_progress_while_other_connections_work(self):
        # A new-role instance (needed by `cluster mixed`) with its own admin socket.
        new_sock = os.path.join(self.workdir, "admin-new.sock")
        self.switchyard(self.yaml(sock=new_sock, role="new"), name="sy-new")
        # A slow command task so the run overlaps the commands below.
        self.sy.terminate()
        self.sy = self.start(name="sy-slow", extra_admin='  update_tasks: {command: "/bin/sleep 1"}\n')
        wait_for(lambda: any(i["role"] == "new" for i in self.js("show", "instances")["instances"]),
                 what="the new-role instance's first heartbeat")  # `cluster mixed` needs it
        for step in (("prepare", "app-new"), ("mixed",), ("ready", "--keep-old-role"),
                     ("approve",)):
            self.ok("cluster", *step)
        driver = subprocess.Popen([CTL, "-s", self.sock, "upgrade", "schemata", "--server",
                                   "app-new", "--continue"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        wait_for(lambda: self.js("show", "info")["upgrade_running"], what="run started")
        status = self.js("upgrade", "status")
        self.assertTrue(status["driving_here"])
        self.assertIn(status["status"], ("starting", "running", "done"))
        rc, out, err = self.ctl("upgrade", "schemata", "--server", "app-new", "--continue")
        self.assertEqual(rc, 1)
        self.assertIn("ERR driver-busy:", err)
        self.ok("show", "stats")
        out, err = driver.communicate(timeout=120)
        self.assertEqual(driver.returncode, 0, out + err)
        # "<ISO time> [done/total] schema step phase  <elapsed> elapsed, ETA <eta>  detail"
        progress = [l for l in out.splitlines() if re.match(r"^\d{4}-\d\d-\d\dT.*Z \[\d+/\d+\] ", l)]
        self.assertTrue(any(" s1 update done " in l for l in progress), out)
        self.assertTrue(any(" s2 verify done " in l and "/2] " in l for l in progress), out)
        self.assertIn("status: done", out)
        schemas = {s["schema"]: s for s in self.js("show", "schemas")["schemas"]}
        self.assertEqual({(s["enabled"], s["server_id"]) for s in schemas.values()}, {(True, 2)})
        self.assertEqual(self.js("show", "migrations")["runs"][0]["status"], "done")
        self.assertEqual(self.js("show", "cluster")["state"], "STABLE")

    # --- database outage -----------------------------------------------------------------------

    def test_database_down_gives_err_database_and_keeps_serving(self):
        fwd = TcpForwarder(self.db.port)
        self.addCleanup(fwd.stop)
        self.sy.terminate()
        self.sy = self.start(name="sy-fwd", dsn=self.db.dsn_yaml(port=fwd.port))
        self.ok("show", "servers")
        fwd.cut()
        rc, out, err = self.ctl("show", "servers")
        self.assertEqual(rc, 1)
        self.assertIn("ERR database:", err)
        self.assertEqual(self.get(11)[0], 200)  # the last snapshot keeps serving
        self.ok("show", "info")  # the admin socket keeps serving
        fwd.restore()
        wait_for(lambda: self.ctl("show", "servers")[0] == 0, what="database back")


if __name__ == "__main__":
    unittest.main()
