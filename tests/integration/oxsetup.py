"""Shared set-up of the Open-Xchange (profile ox) integration tests.

The configdb is built from tests/fixtures/sql/ox_configdb.sql (OX's tables, column for column)
and filled the way OX's tools fill it (tests/tools/ox_configdb.py). Switchyard's own state
lives in a second database (database.state_database): the configdb never gets a table of ours.

Topology (loopback, port 0): an old-role Switchyard (serves pool old) and a new-role one (pool
new), both on the configdb and the state database, each with an admin socket; backends old-1
("old") and new-1 ("new"). Clients talk to the old-role instance and follow its 307s.

The update task is OX-shaped: `runupdate -n SCHEMA` (a stand-in script with OX's argument
form): it logs its runs, sleeps `sleep` seconds (a file next to it; default 0), hangs for the
schemas listed in `hang`, and fails (exit 1, a Java-like message on stderr) for those in `fail`.
"""
import json
import os
import subprocess
import sys

from harness import BINARY, SOURCE_DIR, Database, ProxyTestCase, wait_for

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "tools"))
import ox_configdb  # noqa: E402
from tenant_load import TenantLoad, ox_request  # noqa: E402

CTL = os.environ.get("SY_CTL", os.path.join(SOURCE_DIR, "build", "admin", "switchyardctl"))

SCHEMAS = ["oxdatabase_3", "oxdatabase_5", "oxdatabase_10", "oxdatabase_44", "oxdatabase_81",
           "oxdatabase_100"]
OLD_SERVERS = ["oxserver-1", "oxserver-2", "oxserver-3"]
NEW_SERVER = "oxserver-8"
DISABLED_CTX = 7      # disabled by an administrator (reason 7): 403 through everything
DISABLED_REASON = 7
REFRESH_MS = 100

RUNUPDATE = """#!/bin/sh
# A stand-in for OX's runupdate, with its argument form: runupdate -n SCHEMA
while getopts n: opt; do
  case $opt in n) schema=$OPTARG ;; *) echo "usage: runupdate -n SCHEMA" >&2; exit 2 ;; esac
done
[ -n "$schema" ] || { echo "usage: runupdate -n SCHEMA" >&2; exit 2; }
dir=$(dirname "$0")
echo "$schema" >> "$dir/runs"
echo "Running update tasks on schema $schema"
if grep -qx "$schema" "$dir/hang" 2>/dev/null; then sleep 60; fi
sleep "$(cat "$dir/sleep" 2>/dev/null || echo 0)"
if grep -qx "$schema" "$dir/fail" 2>/dev/null; then
  echo "com.openexchange.groupware.update.UpdateTaskException: task failed on $schema" >&2
  exit 1
fi
echo "Update tasks done on schema $schema"
"""


def ox_yaml(configdb, state, role, serve, old_addr, new_addr, socket_path, tasks_dir,
            task_timeout="20s", extra_routing="", access_log=""):
    overrides = "".join(f'    - {{name: {n}, pool: old, version: "7.10.6"}}\n'
                        for n in OLD_SERVERS)
    return f"""workers: 2
listeners:
  - name: main
    port: 0
    pool: {serve}
pools:
  - name: old
    version: "7.10.6"
    members: [{{address: "{old_addr}"}}]
    health_check: {{enabled: false}}
  - name: new
    version: "8.0.0"
    members: [{{address: "{new_addr}"}}]
    health_check: {{enabled: false}}
limits:
  drain_timeout: 5s
access_log: {{path: "{access_log}"}}
database:
  dsns:
{configdb.dsn_yaml()}  profile: ox
  state_database: {state.name}
  refresh_interval: {REFRESH_MS}ms
  heartbeat_interval: 200ms
  ox: {{checksum_interval: 1s}}
  servers:
{overrides}routing:
  role: {role}
  instance_id: ox-{role}-{os.getpid()}-{id(configdb)}
  version: "{'7.10.6' if role == 'old' else '8.0.0'}"
  serve_pools: [{serve}]
  hold: {{max_requests: 10000, max_wait: 30s}}
  keys:
    - {{type: login_form, name: name}}
    - {{type: cookie, name: ox_ctx}}
{extra_routing}admin:
  socket: {{path: "{socket_path}"}}
  live_within: 5s
  drain_timeout: 15s
  update_tasks:
    command: "{tasks_dir}/runupdate -n {{schema}}"
    command_timeout: {task_timeout}
"""


def ctx_name(cid):
    return f"ctx{cid}.example.com"


class OxTestCase(ProxyTestCase):
    """A configdb with 3 servers, the 6 schemas, |CONTEXTS| contexts, and two Switchyards."""

    CONTEXTS = 60

    def setUp(self):
        super().setUp()
        self.configdb = Database("sy_oxc")
        self.addCleanup(self.configdb.drop)
        self.state = Database("sy_oxs")
        self.addCleanup(self.state.drop)
        self.tasks_dir = os.path.join(self.workdir, "tasks")
        os.makedirs(self.tasks_dir)
        task = os.path.join(self.tasks_dir, "runupdate")
        with open(task, "w") as f:
            f.write(RUNUPDATE)
        os.chmod(task, 0o755)
        self.seed()
        self.old_b = self.backend("old-1", "old")
        self.new_b = self.backend("new-1", "new")
        self.migrate()
        self.new = self.start("new", "new")
        self.old = self.start("old", "old")

    # --- the configdb ---------------------------------------------------------------------------

    def seed(self):
        place = ox_configdb.round_robin(len(OLD_SERVERS), len(SCHEMAS))
        c, self.server_ids, _ = ox_configdb.build(OLD_SERVERS, SCHEMAS, self.CONTEXTS, place)
        self.schema_of = {cid: SCHEMAS[place(cid)[1]] for cid in range(1, self.CONTEXTS + 1)}
        c.disable_context(DISABLED_CTX, DISABLED_REASON)
        self.configdb.sql(ox_configdb.tables_sql() + c.sql() +
                          f"INSERT INTO reason_text VALUES ({DISABLED_REASON}, 'unpaid');\n")
        self.contexts = [cid for cid in range(1, self.CONTEXTS + 1) if cid != DISABLED_CTX]

    TABLES = {  # table -> ORDER BY
        "server": "server_id", "context": "cid", "context_server2db_pool": "cid, server_id",
        "login2context": "login_info", "db_pool": "db_pool_id", "db_cluster": "cluster_id",
        "contexts_per_dbpool": "db_pool_id", "contexts_per_dbschema": "db_pool_id, schemaname",
        "reason_text": "id", "configdb_sequence": "id"}

    def dump(self):
        """Every row of OX's tables, as text."""
        return {t: self.configdb.sql(f"SELECT * FROM {t} ORDER BY {o}")
                for t, o in self.TABLES.items()}

    def sy_tables_in_configdb(self):
        return self.configdb.sql("SELECT table_name FROM information_schema.tables WHERE "
                                 f"table_schema = '{self.configdb.name}' AND table_name LIKE "
                                 "'sy\\_%'")

    def migrate(self):
        cfg = os.path.join(self.workdir, "migrate.yaml")
        with open(cfg, "w") as f:
            f.write(ox_yaml(self.configdb, self.state, "old", "old", "127.0.0.1:1",
                            "127.0.0.1:2", os.path.join(self.workdir, "m.sock"), self.tasks_dir))
        before = self.dump()
        p = subprocess.run([BINARY, "db", "migrate", "--config", cfg], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("has OX's tables; left unchanged", p.stdout)
        self.assertEqual(self.dump(), before)
        self.assertEqual(self.sy_tables_in_configdb(), [])

    # --- the Switchyards --------------------------------------------------------------------------

    def start(self, role, serve, name=None, extra_routing=""):
        sock = os.path.join(self.workdir, f"{name or role}.sock")
        access = os.path.join(self.workdir, f"{name or role}-access.log")
        sy = self.switchyard(
            ox_yaml(self.configdb, self.state, role, serve, self.old_b.address,
                    self.new_b.address, sock, self.tasks_dir, self.task_timeout(), extra_routing,
                    access),
            name=name or f"sy-{role}")
        sy.socket = sock
        sy.access_log_path = access
        return sy

    def task_timeout(self):
        return "20s"

    def task_file(self, name, lines):
        with open(os.path.join(self.tasks_dir, name), "w") as f:
            f.write("".join(str(x) + "\n" for x in lines))

    def task_runs(self):
        path = os.path.join(self.tasks_dir, "runs")
        out = {}
        if os.path.exists(path):
            with open(path) as f:
                for line in f.read().split():
                    out[line] = out.get(line, 0) + 1
        return out

    def ctl(self, sy, *args, check=True, timeout=300):
        p = subprocess.run([CTL, "-s", sy.socket, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
        if check and p.returncode != 0:
            self.fail(f"switchyardctl {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n"
                      f"{p.stderr}")
        return p

    def ctl_json(self, sy, *args):
        return json.loads(self.ctl(sy, "--json", *args).stdout)

    def prepare_cluster(self, sy=None):
        """Registers oxserver-8 (pool new) and walks the cluster to RUNNING_UPGRADE_TASKS."""
        sy = sy or self.old
        reg = self.ctl_json(sy, "server", "register", NEW_SERVER, "--pool", "new", "--version",
                            "8.0.0", "--redirect-url", f"http://{self.new.listeners['main']}")
        self.new_id = reg["id"]
        wait_for(lambda: any(i["role"] == "new"
                             for i in self.ctl_json(sy, "show", "instances")["instances"]),
                 timeout=30, what="the new-role instance's first heartbeat")
        for step in (("prepare", NEW_SERVER), ("mixed",), ("ready", "--keep-old-role"),
                     ("approve",)):
            self.ctl(sy, "cluster", *step)

    def upgrade(self, *flags, check=True, sy=None):
        return self.ctl(sy or self.old, "upgrade", "schemata", "--server", NEW_SERVER,
                        "--continue", *flags, check=check)

    def servers_of_schemas(self):
        rows = self.configdb.sql("SELECT db_schema, MIN(server_id), MAX(server_id) FROM "
                                 "context_server2db_pool GROUP BY db_schema")
        return {r[0]: int(r[1]) if r[1] == r[2] else None for r in rows}

    def load(self, contexts=None, threads=4):
        return TenantLoad(self.old.url("/"), contexts or self.contexts, threads=threads,
                          request=ox_request).start()
