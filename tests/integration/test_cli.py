"""The binary's command line: --check-config reports every error with its location and exits 1;
startup refuses a bad file with the same messages; a good file checks clean."""
import os
import subprocess
import tempfile
import unittest

from harness import BINARY, SOURCE_DIR, ProxyTestCase

BAD = """\
workers: two
listeners:
  - name: main
    port: 70000
    pool: nowhere
    colour: blue
pools:
  - name: p
    members:
      - address: 127.0.0.1:9000
        weight: 0
    connect_timeout: 5 parsecs
limits:
  max_header_bytes: 16q
"""

# Every error at once, each as file:line:col: key.path: what.
EXPECTED = [
    ":1:10: workers:",
    ":4:11: listeners[0].port:",
    ":5:11: listeners[0].pool: unknown pool \"nowhere\"",
    ":6:5: listeners[0].colour: unknown key",
    ":11:17: pools[0].members[0].weight:",
    ":12:22: pools[0].connect_timeout:",
    ":14:21: limits.max_header_bytes:",
]


class CliTest(ProxyTestCase):  # for its sanitizer-report check
    def run_bin(self, *args):
        return subprocess.run([BINARY, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=20)

    def test_example_configs_are_valid(self):
        for name in ("switchyard.yaml", "routing.yaml", "configdb.yaml"):
            with self.subTest(example=name):
                p = self.run_bin("--check-config", os.path.join(SOURCE_DIR, "conf/examples", name))
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn("configuration ok", p.stdout + p.stderr)

    def test_db_migrate_needs_a_database_section(self):
        p = self.run_bin("db", "migrate", "--config",
                         os.path.join(SOURCE_DIR, "conf/examples/switchyard.yaml"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("no database section", p.stderr)
        p = self.run_bin("db", "frobnicate")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("unknown db command", p.stderr)

    def test_check_config_reports_every_error_with_location(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(BAD)
        try:
            p = self.run_bin("--check-config", f.name)
            self.assertEqual(p.returncode, 1)
            out = p.stdout + p.stderr
            for e in EXPECTED:
                self.assertIn(f.name + e, out)
            self.assertIn(f"{len(EXPECTED)} error(s)", out)
            # Startup uses the same code and refuses to start.
            p = self.run_bin("--config", f.name)
            self.assertEqual(p.returncode, 1)
            self.assertIn(f.name + EXPECTED[2], p.stdout + p.stderr)
            self.assertIn("not starting", p.stdout + p.stderr)
        finally:
            os.unlink(f.name)

    def test_missing_file_and_bad_arguments(self):
        p = self.run_bin("--check-config", "/nonexistent/sy.yaml")
        self.assertEqual(p.returncode, 1)
        self.assertIn("/nonexistent/sy.yaml: cannot read file", p.stderr + p.stdout)
        p = self.run_bin("--bogus")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("usage", (p.stderr + p.stdout).lower())

    def test_yaml_syntax_error_has_location(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("listeners: [\n  {name: a\n")
        try:
            p = self.run_bin("--check-config", f.name)
            self.assertEqual(p.returncode, 1)
            self.assertRegex(p.stdout + p.stderr, f.name + r":\d+:\d+: .*YAML syntax error")
        finally:
            os.unlink(f.name)


if __name__ == "__main__":
    unittest.main()
