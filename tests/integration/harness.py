"""Integration-test harness: real Switchyard binary, real backends, real clients.

Every test starts what it needs on port 0 in a private temporary directory:
  * Backend  - tests/backend/backend.py (an HTTP/1.1 origin with a name and a version)
  * Switchyard - the built binary with a YAML config written by the test
and drives them with curl (subprocess) or, for byte-exact cases (pipelining, smuggling
vectors), a raw socket. Nothing is mocked.

Environment (set by tests/integration/CMakeLists.txt):
  SY_BINARY      path to the switchyard executable
  SY_SOURCE_DIR  project root
  SY_SANITIZE    "address" when the binaries are an ASan+UBSan build (with ASAN_OPTIONS and
                 UBSAN_OPTIONS); see "Sanitizer builds" below
"""
import atexit
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SOURCE_DIR = os.environ.get(
    "SY_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BINARY = os.environ.get("SY_BINARY", os.path.join(SOURCE_DIR, "build", "proxy", "switchyard"))
BACKEND = os.path.join(SOURCE_DIR, "tests", "backend", "backend.py")

# ---------------------------------------------------------------------------------------------
# Sanitizer builds. Every process a test starts (switchyard, switchyardctl, `switchyard db
# migrate`) inherits log_path=<REPORT_DIR>/report, so an ASan or LeakSanitizer report is written
# to report.<pid> there instead of into the output the test reads; every report also makes the
# process exit with 86. UBSan ignores log_path when it runs inside ASan (GCC 12) and prints to
# stderr, so the switchyard log is scanned as well. ProxyTestCase.tearDown stops its processes
# (SIGTERM first, so LeakSanitizer runs at exit) and fails the test that started one with a
# report; a report file found only at interpreter exit fails the whole file.

# Lines that start a sanitizer report in a process's output.
SANITIZER_MARKERS = ("runtime error:", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "WARNING: ThreadSanitizer", "ERROR: UndefinedBehaviorSanitizer")

SANITIZER = os.environ.get("SY_SANITIZE", "")
REPORT_DIR = None
if SANITIZER:
    REPORT_DIR = tempfile.mkdtemp(prefix="sy-sanitizer-")
    for _var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        os.environ[_var] = os.environ.get(_var, "") + f":log_path={REPORT_DIR}/report"


def sanitizer_report_in(text):
    """The part of |text| from the first sanitizer report on ("" when there is none)."""
    starts = [i for i in (text.find(m) for m in SANITIZER_MARKERS) if i >= 0]
    if not starts:
        return ""
    start = text.rfind("\n", 0, min(starts)) + 1
    return text[start:start + 20000]


def take_sanitizer_reports():
    """The sanitizer reports written since the last call, as one text ("" when none)."""
    if REPORT_DIR is None:
        return ""
    texts = []
    for path in sorted(glob.glob(os.path.join(REPORT_DIR, "report*"))):
        with open(path, errors="replace") as f:
            texts.append(f"--- {os.path.basename(path)}\n{f.read()}")
        os.unlink(path)
    return "\n".join(texts)


def _reports_at_exit():
    text = take_sanitizer_reports()
    if text:
        sys.stderr.write("sanitizer report(s) from a process started by these tests:\n" + text)
        sys.stderr.flush()
        os._exit(1)
    if REPORT_DIR is not None:
        shutil.rmtree(REPORT_DIR, ignore_errors=True)


atexit.register(_reports_at_exit)


def rss_limit_kib(kib):
    """A bound on the proxy's peak resident memory: |kib| in a normal build; under ASan the same
    plus 48 MiB for the sanitizer's runtime, shadow memory, redzones and its 16 MiB quarantine of
    freed blocks (quarantine_size_mb in tests/CMakeLists.txt). Measured: the memory tests peak at
    8-13 MiB normally and 50-89 MiB under ASan (an idle ASan proxy is ~59 MiB, every thread with
    its own allocator caches; the health checker's thread runs always since runtime pools, and
    with 40 MiB the TLS slow-reader test peaked 1 MiB over), while each moves 30 MB to 2 GB
    through the proxy, so a buffered body still breaks the bound."""
    return kib + 48 * 1024 if SANITIZER == "address" else kib


def rss_growth_limit_kib(kib):
    """A bound on how much the proxy's memory may grow during a test: |kib| in a normal build;
    under ASan plus the 16 MiB quarantine, which fills with freed buffers as data flows."""
    return kib + 16 * 1024 if SANITIZER == "address" else kib


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Polls |predicate| until it returns a truthy value; fails the test after |timeout|."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def read_ready_file(path):
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    if not text.endswith("\n"):
        return None
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


class Backend:
    """One tests/backend/backend.py process on a free loopback port."""

    def __init__(self, workdir, name, version="old", extra_args=()):
        self.name = name
        self.version = version
        ready = os.path.join(workdir, f"backend-{name}.ready")
        self.log_path = os.path.join(workdir, f"backend-{name}.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, BACKEND, "--port", "0", "--name", name, "--version", version,
             "--ready-file", ready, *extra_args],
            stdout=self._log, stderr=subprocess.STDOUT)
        info = wait_for(lambda: self._ready(ready), what=f"backend {name} to start")
        self.port = int(info["port"])
        self.address = f"127.0.0.1:{self.port}"

    def _ready(self, path):
        if self.proc.poll() is not None:
            raise AssertionError(f"backend {self.name} exited: {open(self.log_path).read()}")
        return read_ready_file(path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


class Switchyard:
    """The real switchyard binary with a config written from |yaml_text|. |preexec_fn| runs in
    the child before exec (e.g. to lower its resource limits)."""

    def __init__(self, workdir, yaml_text, name="sy", preexec_fn=None):
        self.workdir = workdir
        self.config_path = os.path.join(workdir, f"{name}.yaml")
        with open(self.config_path, "w") as f:
            f.write(yaml_text)
        self.ready_path = os.path.join(workdir, f"{name}.ready")
        if os.path.exists(self.ready_path):
            os.unlink(self.ready_path)
        self.log_path = os.path.join(workdir, f"{name}.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [BINARY, "--config", self.config_path, "--ready-file", self.ready_path],
            stdout=self._log, stderr=subprocess.STDOUT, preexec_fn=preexec_fn)
        info = wait_for(self._ready, what="switchyard to start")
        self.pid = int(info["pid"])
        self.listeners = {k.split(".", 1)[1]: v for k, v in info.items()
                          if k.startswith("listener.")}

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"switchyard exited with {self.proc.returncode}: {self.log()}")
        return read_ready_file(self.ready_path)

    def url(self, path="/", listener=None):
        addr = self.listeners[listener] if listener else next(iter(self.listeners.values()))
        return f"http://{addr}{path}"

    def addr(self, listener=None):
        text = self.listeners[listener] if listener else next(iter(self.listeners.values()))
        host, port = text.rsplit(":", 1)
        return host, int(port)

    def log(self):
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def cpu_ticks(self):
        """User + system CPU of the process so far, in clock ticks (usually 1/100 s)."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def peak_rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def terminate(self, timeout=30):
        """SIGTERM, then waits; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._log.close()

    def stop(self):
        if self.proc.poll() is None and SANITIZER:
            # A clean exit runs LeakSanitizer and the sanitizers' exit checks.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self._log.closed:
            self._log.close()


def pool_yaml(name, members, version="", health=None, extra=""):
    lines = [f"  - name: {name}", f'    version: "{version}"']
    if extra:
        lines += ["    " + l for l in extra.strip("\n").splitlines()]
    lines.append("    members:")
    for m in members:
        lines.append(f'      - address: "{m}"')
    if health is not None:
        lines.append("    health_check:")
        lines += ["      " + l for l in health.strip("\n").splitlines()]
    else:
        lines += ["    health_check:", "      enabled: false"]
    return "\n".join(lines) + "\n"


def config_yaml(pools, listeners=(("main", "main"),), workers=1, limits="", access_log=""):
    out = [f"workers: {workers}", "log_level: info", "listeners:"]
    for name, pool in listeners:
        out += [f"  - name: {name}", "    port: 0", f"    pool: {pool}"]
    out.append("pools:")
    text = "\n".join(out) + "\n" + "".join(pools)
    if limits:
        text += "limits:\n" + "".join("  " + l + "\n" for l in limits.strip("\n").splitlines())
    if access_log:
        text += f'access_log:\n  path: "{access_log}"\n'
    return text


def curl(*args, timeout=60, check=False):
    """Runs curl; returns (exit_code, stdout_bytes, stderr_text)."""
    cmd = ["curl", "-sS", "--max-time", str(timeout)] + list(args)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout + 10)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode()}")
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def curl_status(url, *args, timeout=30):
    """Returns (http_code, body) of one request."""
    rc, out, err = curl("-o", "-", "-w", "\n%{http_code}", *args, url, timeout=timeout)
    body, _, code = out.rpartition(b"\n")
    return int(code or 0), body


def raw_exchange(addr, data, timeout=5.0, read_until_close=True):
    """Sends |data| on a fresh connection and returns everything read until close/timeout."""
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.sendall(data)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            chunks.append(b)
            if not read_until_close:
                break
        return b"".join(chunks)
    finally:
        s.close()


def read_until_end(s, timeout):
    """Reads |s| until it ends; returns (data, how): "closed" (the peer's FIN), "reset" or
    "timeout" (|timeout| passed first)."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return data, "closed"
            data += b
    except ConnectionResetError:
        return data, "reset"
    except socket.timeout:
        return data, "timeout"


def read_until_close(s, timeout):
    """Reads |s| until the peer closes it or |timeout| passes; returns (data, closed)."""
    data, how = read_until_end(s, timeout)
    return data, how == "closed"


def raw_origin(test, answer):
    """A one-connection origin for |test| (a unittest.TestCase, which closes it): reads a request
    head (and a body announced by content-length, or a chunked body up to its last chunk),
    records it, sends |answer| and closes. Returns (address, thread, {"request": bytes})."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    seen = {}

    def origin():
        conn, _ = srv.accept()
        data = b""
        while True:
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                low = head.lower()
                if b"transfer-encoding: chunked" in low:
                    if b"\r\n0\r\n" in b"\r\n" + rest and rest.endswith(b"\r\n\r\n"):
                        break
                elif b"content-length:" in low:
                    n = int(low.split(b"content-length:", 1)[1].split(b"\r\n")[0])
                    if len(rest) >= n:
                        break
                else:
                    break
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        seen["request"] = data
        conn.sendall(answer)
        conn.close()

    th = threading.Thread(target=origin, daemon=True)
    th.start()
    test.addCleanup(srv.close)
    return f"127.0.0.1:{srv.getsockname()[1]}", th, seen


def status_lines(raw):
    """Status codes of every response in |raw| (heads only; bodies may contain anything)."""
    codes = []
    i = 0
    while True:
        j = raw.find(b"HTTP/1.1 ", i)
        if j < 0:
            break
        codes.append(int(raw[j + 9:j + 12]))
        i = j + 12
    return codes


def access_log_lines(path):
    try:
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        return []


# Headless Chromium for the tests that look at a page (Debian chromium, scripts/install-deps.sh).
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium():
    path = shutil.which("chromium")
    if not path:
        raise AssertionError("chromium is not installed: run scripts/install-deps.sh")
    return path


def chromium_page(url, screenshot, window_size="1000,900"):
    """Loads |url| in headless Chromium twice, with a throw-away profile: returns the DOM it
    built (--dump-dom) and writes a PNG of the page to |screenshot|."""
    profile = tempfile.mkdtemp(prefix="sy-chromium-")
    try:
        dom = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                              "--dump-dom", url], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, timeout=120).stdout
        subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                        f"--window-size={window_size}", f"--screenshot={screenshot}", url],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120,
                       cwd=os.path.dirname(screenshot))
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return dom


class ProxyTestCase(unittest.TestCase):
    """Gives each test a temporary directory and stops every process it started."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="sy-it-")
        self._procs = []

    def tearDown(self):
        for p in reversed(self._procs):
            p.stop()
        reports = take_sanitizer_reports()
        for p in self._procs:
            if isinstance(p, Switchyard):
                found = sanitizer_report_in(p.log())
                if found:
                    reports += f"\n--- {p.log_path}\n{found}"
        if reports:
            self.fail("sanitizer report(s) from a process this test started:\n" +
                      reports[:50000])
        if os.environ.get("SY_KEEP_TMP"):
            sys.stderr.write(f"\n(test files kept in {self.workdir})\n")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def backend(self, name, version="old", extra_args=()):
        b = Backend(self.workdir, name, version, extra_args)
        self._procs.append(b)
        return b

    def switchyard(self, yaml_text, name="sy", preexec_fn=None):
        s = Switchyard(self.workdir, yaml_text, name, preexec_fn)
        self._procs.append(s)
        return s

    def db_migrate(self, yaml_text):
        """Runs `switchyard db migrate` with the config |yaml_text| (creates Switchyard's tables
        in the test's database); fails the test with the tool's output if it fails."""
        cfg = os.path.join(self.workdir, "migrate.yaml")
        with open(cfg, "w") as f:
            f.write(yaml_text)
        p = subprocess.run([BINARY, "db", "migrate", "--config", cfg], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout)
        return p.stdout

    def simple_proxy(self, backends, health=None, limits="", workers=1, pool_extra="",
                     name="sy"):
        access = os.path.join(self.workdir, f"{name}-access.log")
        yaml_text = config_yaml(
            [pool_yaml("main", [b.address for b in backends], "v1", health, pool_extra)],
            workers=workers, limits=limits, access_log=access)
        sy = self.switchyard(yaml_text, name)
        sy.access_log_path = access
        return sy


# ---------------------------------------------------------------------------------------------
# The project's private MariaDB (tests/scripts/mariadb.sh; scripts/run-tests.sh exports its env)

class Database:
    """A fresh database on the private MariaDB server, dropped by drop()."""

    _counter = 0

    def __init__(self, prefix="sy_it"):
        env = os.environ
        missing = [k for k in ("SY_TEST_MYSQL_PORT", "SY_TEST_MYSQL_USER") if k not in env]
        if missing:
            raise AssertionError(
                "the private MariaDB is not running: start it with `bash tests/scripts/mariadb.sh "
                "start` and export `eval \"$(bash tests/scripts/mariadb.sh env)\"` (make test does)")
        self.host = env.get("SY_TEST_MYSQL_HOST", "127.0.0.1")
        self.port = int(env["SY_TEST_MYSQL_PORT"])
        self.user = env["SY_TEST_MYSQL_USER"]
        self.password = env.get("SY_TEST_MYSQL_PASSWORD", "")
        Database._counter += 1
        self.name = f"{prefix}_{os.getpid()}_{Database._counter}"
        self.sql(f"DROP DATABASE IF EXISTS {self.name}; CREATE DATABASE {self.name}", db="")

    def client(self, db=None):
        return ["mariadb", "--protocol=TCP", "-h", self.host, "-P", str(self.port), "-u",
                self.user, f"-p{self.password}", "--batch", "--skip-column-names"] + (
                    [self.name if db is None else db] if (db is None or db) else [])

    def sql(self, statements, db=None):
        """Runs |statements| (';'-separated) and returns the output rows as lists of strings."""
        p = subprocess.run(self.client(db), input=statements.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"SQL failed: {p.stderr.decode()}\n{statements[:500]}")
        return [line.split("\t") for line in p.stdout.decode().splitlines()]

    def dsn_yaml(self, port=None):
        return (f"    - {{host: {self.host}, port: {port or self.port}, user: {self.user}, "
                f"password: \"{self.password}\", database: {self.name}}}\n")

    def drop(self):
        try:
            self.sql(f"DROP DATABASE IF EXISTS {self.name}", db="")
        except AssertionError:
            pass


class TcpForwarder:
    """A loopback TCP forwarder the test can cut and restore, or freeze and thaw: simulates a
    database outage, or a database that stops answering (as a SIGSTOPped server does: its
    connections stay open, nothing comes back), for one Switchyard without stopping or freezing
    the MariaDB server other tests share."""

    def __init__(self, target_port):
        import threading
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(64)
        self.up = True
        self.flowing = threading.Event()  # cleared while frozen
        self.flowing.set()
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import threading
        while True:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                c.close()
                continue
            self.flowing.wait()  # frozen: the connection is accepted and then nothing happens
            try:
                t = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, t]
            for a, b in ((c, t), (t, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                self.flowing.wait()
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        """Refuses new connections and resets the open ones."""
        self.up = False
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.conns = []

    def restore(self):
        self.up = True

    def freeze(self):
        """Keeps every connection open and forwards nothing, either way, until thaw()."""
        self.flowing.clear()

    def thaw(self):
        self.flowing.set()

    def stop(self):
        self.thaw()
        self.cut()
        self.listener.close()
