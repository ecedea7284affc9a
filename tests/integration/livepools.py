"""Shared setup of test_live_pools*.py: Switchyard instances on one private MariaDB database,
each with its own admin socket, pool `main` bootstrapped from the YAML (issue 12: pools and
members that change without restarts)."""
import json
import os
import subprocess
import urllib.request

from harness import BINARY, wait_for

CTL = os.environ.get("SY_CTL", os.path.join(os.path.dirname(BINARY), "..", "admin",
                                            "switchyardctl"))


def main_pool_yaml(members):
    """The document's start both builders share: two workers, listener main on pool main (v1,
    no health checks) with |members|; the pools list stays open for more entries."""
    member_lines = "".join(f'      - {{address: "{m}"}}\n' for m in members)
    return f"""workers: 2
log_level: info
listeners:
  - {{name: main, port: 0, pool: main}}
pools:
  - name: main
    version: "v1"
    health_check: {{enabled: false}}
    members:
{member_lines}"""


def instance_yaml(db, members, sock):
    dsn = db.dsn_yaml() if db is not None else ""
    database = (f"database:\n  dsns:\n{dsn}  refresh_interval: 200ms\n"
                f"  heartbeat_interval: 200ms\n  connect_timeout: 1s\n") if db else ""
    return main_pool_yaml(members) + f"""{database}admin:
  socket: {{path: "{sock}", mode: "0600"}}
"""


def ctl(sock, *args, timeout=120):
    p = subprocess.run([CTL, "-s", sock] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def ctl_ok(test, sock, *args):
    rc, out, err = ctl(sock, *args)
    test.assertEqual(rc, 0, f"{args}: {out}{err}")
    return out


def members(test, sock):
    """{address: row} of pool main, from `show pools --json`."""
    doc = json.loads(ctl_ok(test, sock, "show", "pools", "--json"))
    return {r["member"]: r for r in doc["members"] if r["pool"] == "main"}


def get(url, timeout=10):
    """(status, body) of a GET; the body is '<backend name> <version>' for /."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def served_by(url, name):
    """True once a GET of |url| is answered by backend |name| (round robin: within a few)."""
    for _ in range(8):
        status, body = get(url)
        if status == 200 and body.split(" ")[0] == name:
            return True
    return False


def wait_served_by(url, name, what, timeout=20):
    wait_for(lambda: served_by(url, name), timeout=timeout, what=what)


# --- whole pools at runtime (test_live_pools_add.py, test_live_pools_reload_pools.py) ---------

# Server 1 (pool main) holds schema s1 with context 11; server 3 names pool `extra`, which no
# YAML lists: its context 91 is answered 502 (CTX-0011) until a pool `extra` exists on the
# instance, then proxied to it (role old, moved_action proxy: a context on a server this
# instance does not serve goes to that server's pool when the instance has it).
ROUTED_SEED = """
INSERT INTO sy_servers (id, name, pool, version, redirect_url) VALUES
  (1, 'app-main', 'main', 'v1', ''), (3, 'app-extra', 'extra', 'v2', '');
INSERT INTO sy_schemas (name, state, server_id) VALUES ('s1', 'enabled', 1), ('s9', 'enabled', 3);
INSERT INTO sy_contexts (id, schema_name, enabled, server_id) VALUES
  (11, 's1', 1, NULL), (91, 's9', 1, NULL);
"""


def routed_yaml(db, main_members, sock, extra_pools=""):
    """An old-role instance serving pool main (listener main), routing by X-Context-Id;
    |extra_pools| is appended to its pools list as YAML text."""
    return main_pool_yaml(main_members) + f"""{extra_pools}database:
  dsns:
{db.dsn_yaml()}  refresh_interval: 200ms
  heartbeat_interval: 200ms
  connect_timeout: 1s
routing:
  role: old
  version: "v1"
  serve_pools: [main]
  moved_action: proxy
  keys:
    - {{type: header, name: X-Context-Id}}
admin:
  socket: {{path: "{sock}", mode: "0600"}}
"""


def extra_pool_yaml(members, settings=""):
    member_lines = "".join(f'      - {{address: "{m}"}}\n' for m in members)
    return (f"  - name: extra\n    version: \"v2\"\n    health_check: {{enabled: false}}\n"
            f"{settings}    members:\n{member_lines}")


def get_ctx(url, ctx, timeout=10):
    """(status, body) of a GET for context |ctx|."""
    req = urllib.request.Request(url, headers={"X-Context-Id": str(ctx)})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def pools(test, sock):
    """{pool name: row} from `show pools --json`."""
    doc = json.loads(ctl_ok(test, sock, "show", "pools", "--json"))
    return {r["pool"]: r for r in doc["pools"]}


def pool_members(test, sock, pool):
    doc = json.loads(ctl_ok(test, sock, "show", "pools", "--json"))
    return {r["member"]: r for r in doc["members"] if r["pool"] == pool}
