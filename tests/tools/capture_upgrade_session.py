"""Captures the session shown in docs/admin.md ("A run with one failing schema ..."): a real
`upgrade schemata` run in test_upgrade.py's topology where one schema's update task fails, the
status and cluster it leaves, the failed schema's fast 503, the fix, and the resume.

Run with the environment of an integration test (SY_BINARY, SY_CTL, SY_TEST_MYSQL_*):
    python3 tests/tools/capture_upgrade_session.py > session.txt
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import test_upgrade as up

class Capture(up.UpgradeTest):
    SCHEMAS = 3
    def with_command(self):
        return True
    def runTest(self):
        pass

t = Capture()
t.setUp()
out = []
def sh(*args, shown=None):
    p = subprocess.run([up.CTL, "-s", t.old.socket, *args], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=300)
    shown = shown or ("switchyardctl " + " ".join(args))
    out.append("$ " + shown)
    out.append(p.stdout.rstrip("\n"))
    out.append(f"$ echo $?\n{p.returncode}")
try:
    a, b, c = t.schemas
    with open(os.path.join(t.tasks_dir, "cmd", "fail"), "w") as f:
        f.write(b + "\n")
    t.prepare_cluster(t.old)
    sh("upgrade", "schemata", "--server", "app-new", "--continue")
    sh("upgrade", "status")
    sh("show", "cluster")
    r = subprocess.run(["curl", "-sS", "-i", "-H", f"X-Context-Id: {t.contexts[10]}", t.old.url("/")],
                       stdout=subprocess.PIPE, text=True, timeout=30)
    out.append(f"$ curl -si -H 'X-Context-Id: {t.contexts[10]}' http://old-instance/")
    out.append(r.stdout.rstrip())
    with open(os.path.join(t.tasks_dir, "cmd", "fail"), "w") as f:
        f.write("")
    out.append("# (the update task is fixed)")
    sh("upgrade", "schemata", "--server", "app-new", "--continue")
    sh("show", "cluster")
finally:
    t.tearDown()
    t.doCleanups()
print("\n".join(out))
