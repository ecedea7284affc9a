"""Helpers for the HTTP admin listener's tests (test_metrics*.py, test_status_page.py): the
listener's address from the ready file, GET with an optional bearer token, and /metrics parsed
by the real Prometheus text parser (Debian python3-prometheus-client)."""
import os
import subprocess
import sys
import urllib.error
import urllib.request

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # a Python outside Debian's (pyenv, venv) does not see dist-packages
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

from harness import BINARY, read_ready_file


def http_address(sy):
    """"ip:port" of |sy|'s admin.http listener (written to its --ready-file)."""
    return read_ready_file(sy.ready_path)["admin.http"]


def get(addr, path, token=None, timeout=10):
    """GET http://|addr||path|; returns (status, body text, headers)."""
    req = urllib.request.Request(f"http://{addr}{path}")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def scrape(addr, token=None):
    """/metrics parsed: {(sample name, frozenset(labels.items())): value}. The parser raises on
    anything that is not valid text exposition format; every family must have HELP and TYPE."""
    status, text, headers = get(addr, "/metrics", token)
    if status != 200:
        raise AssertionError(f"/metrics answered {status}: {text[:500]}")
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers["Content-Type"]
    samples = {}
    names = set()
    for family in text_string_to_metric_families(text):
        if family.type == "unknown":
            raise AssertionError(f"family {family.name} has no TYPE line")
        if not family.documentation:
            raise AssertionError(f"family {family.name} has no HELP text")
        if family.name in names:
            raise AssertionError(f"family {family.name} appears twice")
        names.add(family.name)
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            if key in samples:
                raise AssertionError(f"duplicate sample {s.name} {s.labels}")
            samples[key] = s.value
    return samples


def value(samples, name, **labels):
    """The value of sample |name| with exactly |labels|; KeyError names what is missing."""
    key = (name, frozenset(labels.items()))
    if key not in samples:
        near = sorted(str(dict(l)) for n, l in samples if n == name)[:10]
        raise KeyError(f"no sample {name}{labels}; {name} has: {near}")
    return samples[key]


def pool(name, version, members):
    """One pools: entry (health checks off) for routed_yaml."""
    addresses = ", ".join(f'{{address: "{m}"}}' for m in members)
    return (f"  - name: {name}\n    version: \"{version}\"\n    members: [{addresses}]\n"
            "    health_check: {enabled: false}\n")


def routed_yaml(workdir, dsn_yaml, pools, database_extra="", workers=1):
    """An old-role Switchyard serving pool "old" by the X-Context-Id header, with the admin
    socket and admin.http on port 0. |pools| is pool() entries; |database_extra| more keys of
    the database section (two-space indented lines)."""
    return f"""workers: {workers}
listeners: [{{name: main, port: 0, pool: old}}]
pools:
{"".join(pools)}database:
  dsns:
{dsn_yaml}{database_extra}routing:
  role: old
  instance_id: it-metrics-{os.getpid()}
  version: "7.10"
  serve_pools: [old]
  keys: [{{type: header, name: X-Context-Id}}]
admin:
  socket: {{path: "{os.path.join(workdir, "admin.sock")}"}}
  http: {{port: 0}}
"""


def migrate(workdir, yaml_text):
    """Creates Switchyard's tables in the database |yaml_text| names; returns the file."""
    path = os.path.join(workdir, "migrate.yaml")
    with open(path, "w") as f:
        f.write(yaml_text)
    p = subprocess.run([BINARY, "db", "migrate", "--config", path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"db migrate failed: {p.stdout}")
    return path
