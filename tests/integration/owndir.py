"""The set-up of the directory command tests (test_directory_commands.py, test_import.py): one
old-role switchyard on profile own with test_admin's topology and SEED (servers 1 app-old 7.10,
2 app-new 8.0; schemas s1 with contexts 11, 12 and s2 with 21; keys X-Context-Id), and helpers
that run switchyardctl on its admin socket."""
import json
import os
import subprocess

from harness import Database, ProxyTestCase, curl_status
from test_admin import CTL, SEED, admin_yaml


class OwnDirectoryCase(ProxyTestCase):
    DB_PREFIX = "sy_dir"

    def setUp(self):
        super().setUp()
        self.db = Database(self.DB_PREFIX)
        self.addCleanup(self.db.drop)
        self.old_b = self.backend("old-1", "old")
        self.new_b = self.backend("new-1", "new")
        token = os.path.join(self.workdir, "token")
        with open(token, "w") as f:
            f.write("s3cret-token-for-tests\n")
        self.sock = os.path.join(self.workdir, "admin.sock")
        yaml = admin_yaml(self.db.dsn_yaml(), [self.old_b.address], self.new_b.address,
                          self.sock, token)
        self.db_migrate(yaml)
        self.db.sql(SEED)
        self.sy = self.switchyard(yaml)

    def ctl(self, *args, sock=None):
        p = subprocess.run([CTL, "-s", sock or self.sock, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def js(self, *args):
        rc, out, err = self.ctl("--json", *args)
        self.assertEqual(rc, 0, f"{args}: {out}{err}")
        return json.loads(out)

    def err(self, code, *args, sock=None):
        """Runs a command that must fail with `ERR <code>:` (exit 1); its stderr."""
        rc, out, err = self.ctl(*args, sock=sock)
        self.assertEqual(rc, 1, f"{args}: {out}{err}")
        self.assertTrue(err.startswith(f"ERR {code}: "), f"{args}: {err}")
        return err

    def status(self, ctx):
        """The HTTP status of a request for context |ctx| through the switchyard."""
        return curl_status(self.sy.url("/"), "-H", f"X-Context-Id: {ctx}")[0]
