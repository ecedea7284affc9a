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


def instance_yaml(db, members, sock):
    member_lines = "".join(f'      - {{address: "{m}"}}\n' for m in members)
    dsn = db.dsn_yaml() if db is not None else ""
    database = (f"database:\n  dsns:\n{dsn}  refresh_interval: 200ms\n"
                f"  heartbeat_interval: 200ms\n  connect_timeout: 1s\n") if db else ""
    return f"""workers: 2
log_level: info
listeners:
  - {{name: main, port: 0, pool: main}}
pools:
  - name: main
    version: "v1"
    health_check: {{enabled: false}}
    members:
{member_lines}{database}admin:
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
