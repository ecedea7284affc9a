"""Shared set-up of the bench harness tests: bench/run on one scenario, once per test class.

A class sets SCENARIO (a file in bench/scenarios) and gets, in setUpClass, cls.run_proc (the
finished bench/run, output captured), cls.results (results.json, or None), cls.out (the output
directory, removed afterwards unless SY_KEEP_TMP is set) and cls.db_name (the scenario's
database, as bench/run names it: with KEEP_DB its last pass's databases stay for the test to
read with cls.mysql.sql(TEXT, db=NAME), and tearDownClass drops them).

Needs the private MariaDB (make test exports SY_TEST_MYSQL_*) and HAProxy
(scripts/install-deps.sh installs it).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from harness import BINARY, SOURCE_DIR, Database

BUILD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(BINARY)))
RUN = os.path.join(SOURCE_DIR, "bench", "run")


class BenchRunCase(unittest.TestCase):
    SCENARIO = None   # e.g. "smoke.yaml"
    KEEP_DB = False   # bench/run --keep-db: the last pass's databases stay for the test to read

    @classmethod
    def setUpClass(cls):
        if "SY_TEST_MYSQL_PORT" not in os.environ:
            raise AssertionError("the private MariaDB is not running (make test starts it)")
        cls.out = tempfile.mkdtemp(prefix="sy-bench-it-")
        argv = [RUN, os.path.join(SOURCE_DIR, "bench", "scenarios", cls.SCENARIO), "--out",
                cls.out, "--build", BUILD_DIR, "--quiet"] + (["--keep-db"] if cls.KEEP_DB else [])
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            stdout, _ = proc.communicate(timeout=400)
        except subprocess.TimeoutExpired:
            proc.terminate()  # bench/run stops what it started on SIGTERM
            stdout, _ = proc.communicate()
        cls.run_proc = subprocess.CompletedProcess(argv, proc.returncode, stdout)
        sys.stderr.write("\n" + stdout[-3000:] + "\n")
        path = os.path.join(cls.out, "results.json")
        cls.results = None
        if os.path.exists(path):
            with open(path) as f:
                cls.results = json.load(f)
        name = cls.results["scenario"]["name"] if cls.results else ""
        cls.db_name = f"sy_bench_{name}_{proc.pid}"[:60]
        cls.mysql = Database("sy_bench_it") if cls.KEEP_DB else None

    @classmethod
    def tearDownClass(cls):
        if cls.mysql is not None:
            names = [r[0] for r in cls.mysql.sql(
                "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE "
                f"'{cls.db_name}%'")]
            cls.mysql.sql("".join(f"DROP DATABASE IF EXISTS `{n}`;" for n in names))
            cls.mysql.drop()
        if os.environ.get("SY_KEEP_TMP"):
            sys.stderr.write(f"\n(bench output kept in {cls.out})\n")
        else:
            shutil.rmtree(cls.out, ignore_errors=True)
