"""The Debian package and the FHS install, as far as they can be checked without installing
anything on this machine: the package builds (CPack DEB), has the right control data, unpacks
into a scratch root (dpkg -x) whose programs run --version and --check-config on the packaged
default configuration (also with a site overlay in conf.d/), `systemd-analyze verify` accepts
the unit, the man pages render without a warning, the bash completion completes command words,
logrotate accepts its snippet, and `cmake --install` with DESTDIR lays out the same files.

Needs the build directory (SY_BUILD_DIR, set by tests/integration/CMakeLists.txt). One
package build per run (setUpClass); the whole file takes well under a minute."""
import glob
import gzip
import os
import re
import shutil
import subprocess
import tempfile
import unittest

BUILD_DIR = os.environ.get("SY_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                        "build"))


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=kw.pop("timeout", 120), **kw)


def tree(root):
    """Every file and directory below |root|, as absolute paths inside it."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            out.add("/" + os.path.relpath(os.path.join(dirpath, name), root))
    return out


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as f:
            cache = f.read()
        prefix = re.search(r"^CMAKE_INSTALL_PREFIX:PATH=(.*)$", cache, re.M).group(1)
        if prefix != "/usr":
            raise AssertionError(f"{BUILD_DIR} is configured with CMAKE_INSTALL_PREFIX={prefix}; "
                                 "the package needs /usr (make configure passes it)")
        cls.tmp = tempfile.mkdtemp(prefix="sy-pkg-")
        out = os.path.join(cls.tmp, "out")
        p = run(["cpack", "-G", "DEB", "--config", os.path.join(BUILD_DIR, "CPackConfig.cmake"),
                 "-B", out], timeout=300)
        if p.returncode != 0:
            raise AssertionError(f"cpack failed:\n{p.stdout}\n{p.stderr}")
        debs = glob.glob(os.path.join(out, "switchyard_*.deb"))
        assert len(debs) == 1, debs
        cls.deb = debs[0]
        cls.root = os.path.join(cls.tmp, "root")
        p = run(["dpkg", "-x", cls.deb, cls.root])
        assert p.returncode == 0, p.stderr

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("SY_KEEP_TMP"):
            print(f"\n(package files kept in {cls.tmp})")
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def field(self, name):
        return run(["dpkg-deb", "-f", self.deb, name]).stdout.strip()

    # --- the package itself -----------------------------------------------------------------

    def test_control_data(self):
        self.assertEqual(self.field("Package"), "switchyard")
        self.assertRegex(self.field("Version"), r"^\d+\.\d+\.\d+(\+git\d+\.[0-9a-f]+)?-1$")
        depends = self.field("Depends")
        for lib in ("libevent-core", "libssl3", "libnghttp2", "libyaml-cpp", "libmysqlcppconn"):
            self.assertIn(lib, depends)  # computed by dpkg-shlibdeps
        info = run(["dpkg-deb", "-I", self.deb]).stdout
        for script in ("postinst", "prerm", "postrm"):
            self.assertRegex(info, rf"\d+ lines\s+\*\s+{script}\s+#!/bin/sh")
        ctl = os.path.join(self.tmp, "control")
        run(["dpkg-deb", "-e", self.deb, ctl])
        with open(os.path.join(ctl, "conffiles")) as f:
            self.assertEqual(f.read().split(),
                             ["/etc/switchyard/switchyard.yaml", "/etc/logrotate.d/switchyard"])
        for script in ("postinst", "prerm", "postrm"):
            self.assertEqual(run(["sh", "-n", os.path.join(ctl, script)]).returncode, 0, script)
        with open(os.path.join(ctl, "postinst")) as f:
            postinst = f.read()
        self.assertIn("systemd-sysusers switchyard.conf", postinst)
        self.assertIn("useradd --system", postinst)

    def test_files_are_where_fhs_and_debian_want_them(self):
        files = tree(self.root)
        for f in ("/usr/sbin/switchyard", "/usr/bin/switchyardctl",
                  "/etc/switchyard/switchyard.yaml", "/etc/switchyard/conf.d",
                  "/etc/logrotate.d/switchyard", "/lib/systemd/system/switchyard.service",
                  "/usr/lib/sysusers.d/switchyard.conf",
                  "/usr/share/man/man1/switchyardctl.1.gz", "/usr/share/man/man5/switchyard.yaml.5.gz",
                  "/usr/share/man/man8/switchyard.8.gz",
                  "/usr/share/bash-completion/completions/switchyardctl",
                  "/usr/share/doc/switchyard/copyright", "/usr/share/doc/switchyard/README.md",
                  "/usr/share/doc/switchyard/configuration.md",
                  "/usr/share/doc/switchyard/packaging.md",
                  "/usr/share/doc/switchyard/examples/switchyard.yaml"):
            self.assertIn(f, files)
        self.assertEqual(os.listdir(self.path("/etc/switchyard/conf.d")), [])  # site config only
        for program in ("/usr/sbin/switchyard", "/usr/bin/switchyardctl"):
            self.assertNotIn("not stripped", run(["file", self.path(program)]).stdout)
        with open(self.path("/usr/lib/sysusers.d/switchyard.conf")) as f:
            self.assertRegex(f.read(), r"(?m)^u switchyard - ")

    def test_installed_programs_run_on_the_packaged_configuration(self):
        sy, ctl = self.path("/usr/sbin/switchyard"), self.path("/usr/bin/switchyardctl")
        version = self.field("Version").split("+")[0].split("-")[0]
        for program, name in ((sy, "switchyard"), (ctl, "switchyardctl")):
            p = run([program, "--version"])
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(p.stdout.startswith(f"{name} {version}"), p.stdout)
        main = self.path("/etc/switchyard/switchyard.yaml")
        p = run([sy, "--check-config", main])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), f"{main}: configuration ok")
        # A site overlay merges over the packaged file; a mistake in it is reported there.
        site = self.path("/etc/switchyard/conf.d/50-site.yaml")
        try:
            with open(site, "w") as f:
                f.write("listeners:\n  - name: main\n    port: 8443\n"
                        "pools:\n  - name: app\n    members: [{address: \"10.0.0.11:8080\"}]\n")
            p = run([sy, "--check-config", main])
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(f"(overlays: {site})", p.stdout)
            with open(site, "a") as f:
                f.write("workers: lots\n")
            p = run([sy, "--check-config", main])
            self.assertEqual(p.returncode, 1)
            self.assertIn(f"{site}:7:10: workers: wrong type: expected an integer", p.stderr)
        finally:
            os.unlink(site)

    # --- the systemd unit -------------------------------------------------------------------

    def verify_root(self):
        """A copy of the scratch root that systemd-analyze can resolve the unit in: the host's
        units (for sysinit.target and friends) and /bin/kill (ExecReload) are added."""
        root = os.path.join(self.tmp, "verify-root")
        if not os.path.exists(root):
            shutil.copytree(self.root, root, symlinks=True)
            units = os.path.join(root, "lib/systemd/system")
            for f in glob.glob("/lib/systemd/system/*"):
                target = os.path.join(units, os.path.basename(f))
                if os.path.isfile(f) and not os.path.exists(target):
                    shutil.copy(f, target)
            os.makedirs(os.path.join(root, "bin"), exist_ok=True)
            shutil.copy("/bin/kill", os.path.join(root, "bin/kill"))
        return root

    def verify(self, unit_name):
        # systemd-analyze exits 0 even when it ignores a bad line: its output must be empty.
        p = run(["systemd-analyze", "verify", "--man=no", "--generators=no",
                 f"--root={self.verify_root()}", unit_name])
        return p.returncode, (p.stdout + p.stderr).strip()

    def test_systemd_analyze_verify_accepts_the_unit(self):
        rc, out = self.verify("switchyard.service")
        self.assertEqual((rc, out), (0, ""))
        # ... and the same check does catch mistakes.
        units = os.path.join(self.verify_root(), "lib/systemd/system")
        with open(os.path.join(units, "switchyard.service")) as f:
            text = f.read()
        broken = os.path.join(units, "sy-broken.service")
        with open(broken, "w") as f:
            f.write(text.replace("Type=notify", "Type=notfiy").replace(
                "/usr/sbin/switchyard --config", "/usr/sbin/nothing-here --config"))
        rc, out = self.verify("sy-broken.service")
        self.assertIn("Failed to parse service type", out)
        self.assertIn("/usr/sbin/nothing-here", out)

    def test_unit_settings(self):
        with open(self.path("/lib/systemd/system/switchyard.service")) as f:
            lines = [l.strip() for l in f if "=" in l and not l.lstrip().startswith("#")]
        settings = {}
        for l in lines:
            k, v = l.split("=", 1)
            settings.setdefault(k, []).append(v)
        self.assertEqual(settings["Type"], ["notify"])
        self.assertEqual(settings["User"], ["switchyard"])
        self.assertEqual(settings["AmbientCapabilities"], ["CAP_NET_BIND_SERVICE"])
        self.assertEqual(settings["RuntimeDirectory"], ["switchyard"])
        self.assertEqual(settings["LimitNOFILE"], ["1048576"])
        self.assertEqual(settings["ExecStart"],
                         ["/usr/sbin/switchyard --config /etc/switchyard/switchyard.yaml"])
        self.assertEqual(settings["ExecReload"],
                         ["/usr/sbin/switchyard --check-config /etc/switchyard/switchyard.yaml",
                          "/bin/kill -HUP $MAINPID"])
        self.assertEqual(settings["NoNewPrivileges"], ["yes"])
        # The admin socket of the packaged configuration is in the RuntimeDirectory.
        with open(self.path("/etc/switchyard/switchyard.yaml")) as f:
            self.assertIn("/run/switchyard/admin.sock", f.read())

    # --- man pages, completion, logrotate ---------------------------------------------------

    def test_man_pages_render_without_warnings(self):
        env = {**os.environ, "LC_ALL": "C.UTF-8", "MANWIDTH": "80"}
        expect = {
            "man1/switchyardctl.1.gz": ["upgrade schemata", "pool member drain", "SY_ADMIN_SOCKET"],
            "man5/switchyard.yaml.5.gz": ["include_dir", "pools[].health_check.interval",
                                         "database.dsns[].password_file", "${NAME:-default}"],
            "man8/switchyard.8.gz": ["--check-config", "READY=1", "SIGUSR1"],
        }
        for page, needles in expect.items():
            with self.subTest(page=page):
                path = self.path("/usr/share/man/" + page)
                p = run(["man", "--warnings", "-E", "UTF-8", "-l", path], env=env)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stderr, "")
                text = p.stdout.replace("\u2010", "-").replace("\u2212", "-")
                text = re.sub(r"-\n\s+", "-", text)  # words hyphenated at line ends
                for n in needles:
                    self.assertIn(n, text)
                with gzip.open(path, "rt") as f:
                    self.assertIn("generated", f.read(400).lower())

    def test_man_pages_document_every_option_of_the_programs(self):
        for program, page in (("/usr/sbin/switchyard", "man8/switchyard.8.gz"),
                              ("/usr/bin/switchyardctl", "man1/switchyardctl.1.gz")):
            help_text = run([self.path(program), "--help"]).stdout
            with gzip.open(self.path("/usr/share/man/" + page), "rt") as f:
                roff = f.read().replace("\\-", "-")
            for option in set(re.findall(r"(?<![\w-])--?[a-z][a-z-]*", help_text)):
                with self.subTest(program=program, option=option):
                    self.assertIn(option, roff)

    def complete(self, *words):
        """What the installed completion offers for the last of |words| (as typed so far)."""
        script = self.path("/usr/share/bash-completion/completions/switchyardctl")
        quoted = " ".join("'" + w + "'" for w in ("switchyardctl",) + words)
        p = run(["bash", "--norc", "--noprofile", "-c",
                 f"source '{script}' && complete -p switchyardctl && "
                 f"COMP_WORDS=({quoted}) && COMP_CWORD={len(words)} && _switchyardctl && "
                 'printf "%s\\n" "${COMPREPLY[@]}"'])
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0], "complete -F _switchyardctl switchyardctl")
        return sorted(l for l in lines[1:] if l)

    def test_bash_completion_completes_commands_and_flags(self):
        self.assertEqual(self.complete("sh"), ["show"])
        self.assertIn("upgrade", self.complete(""))
        self.assertEqual(self.complete("pool", "member", "d"), ["drain"])
        self.assertEqual(self.complete("-s", "/run/x.sock", "pool", "m"), ["member"])
        self.assertEqual(self.complete("upgrade", "schemata", "--s"), ["--server", "--skip"])
        self.assertEqual(self.complete("upgrade", "schemata", "--server", ""), [])  # a value
        self.assertEqual(self.complete("--js"), ["--json"])
        # Every command of the table (as `switchyardctl --help` lists it) completes word by word.
        help_text = run([self.path("/usr/bin/switchyardctl"), "--help"]).stdout
        commands = help_text.split("commands (", 1)[1].splitlines()[1:]
        self.assertGreater(len(commands), 20)
        for line in commands:
            words = []
            for w in line.split():
                if not re.fullmatch(r"[a-z]+", w):
                    break
                words.append(w)
            for i, w in enumerate(words):
                with self.subTest(command=line.strip(), word=w):
                    self.assertIn(w, self.complete(*words[:i], w[:2]))

    def test_logrotate_accepts_the_snippet(self):
        with open(self.path("/etc/logrotate.d/switchyard")) as f:
            text = f.read()
        self.assertIn("--signal=SIGUSR1 switchyard.service", text)
        # This machine has no switchyard user: check the syntax with root as the owner.
        snippet = os.path.join(self.tmp, "logrotate.conf")
        with open(snippet, "w") as f:
            f.write(text.replace("switchyard switchyard", "root root"))
        p = run(["logrotate", "-d", "-s", os.path.join(self.tmp, "logrotate.state"), snippet])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("error", (p.stdout + p.stderr).lower())

    # --- cmake --install --------------------------------------------------------------------

    def test_cmake_install_with_destdir_lays_out_the_package_files(self):
        dest = os.path.join(self.tmp, "destdir")
        p = run(["cmake", "--install", BUILD_DIR], env={**os.environ, "DESTDIR": dest})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(tree(dest), tree(self.root))


if __name__ == "__main__":
    unittest.main()
