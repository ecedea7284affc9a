"""What one Switchyard reports about the database it routes from, when nothing happens and when
the database misbehaves (issue 17 items 4, 5 and 8), on the real binary and the private MariaDB:

- an idle instance, fresh or restarted, reports the change seq it applied (not 0), so that an
  upgrade's drain and verify waits see it;
- a rolled-back directory write (a gap in sy_changes that no writer holds) does not hold the
  reported seq back;
- a database that stops answering (a forwarder that freezes the connections, as a SIGSTOPped
  server would, without freezing the server the other tests share) shows as "slow" within a
  refresh, while the admin socket keeps answering.
"""
import json
import os
import subprocess
import unittest

from harness import TcpForwarder, wait_for
import test_admin  # its config, seed and switchyardctl path (its tests are not loaded here)


class DbFaultsTest(test_admin.AdminTest):
    """test_admin's set-up: an old-role instance (self.sy) on a seeded own-profile database,
    started and never sent a request."""

    def setUp(self):
        super().setUp()
        self.instance = f"it-admin-old-{os.getpid()}"

    def restart(self, name, dsn=None):
        self.sy.terminate()
        self.sy = self.start(name=name, dsn=dsn)
        return self.sy

    def stats(self):
        """`show stats` as JSON; the admin socket must answer within 15 s whatever the database
        does (it took 25 s behind a member-state poll of a frozen database)."""
        p = subprocess.run([test_admin.CTL, "-s", self.sock, "--json", "show", "stats"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=15)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return json.loads(p.stdout)

    def applied_seq(self):
        rows = self.db.sql(f"SELECT applied_seq FROM sy_instances WHERE id = '{self.instance}'")
        return int(rows[0][0]) if rows else None

    def max_seq(self):
        return int(self.db.sql("SELECT COALESCE(MAX(seq), 0) FROM sy_changes")[0][0])

    def wait_applied(self, seq, timeout, what):
        wait_for(lambda: (self.applied_seq() or 0) >= seq, timeout=timeout,
                 what=f"{what}: applied seq {seq} in the heartbeat (it reads {self.applied_seq()})")

    # --- item 4 -------------------------------------------------------------------------------

    def test_an_idle_instance_fresh_or_restarted_reports_the_seq_it_applied(self):
        seq = self.max_seq()
        self.assertGreater(seq, 0)  # the seed wrote change rows
        # No request is ever sent to this instance.
        self.wait_applied(seq, 20, "a fresh idle instance")
        self.db.sql("UPDATE sy_schemas SET state = 'disabled' WHERE name = 's2'")
        self.wait_applied(self.max_seq(), 20, "after a change")
        self.sy.terminate()
        self.db.sql("DELETE FROM sy_instances")
        self.sy = self.start(name="sy-again")
        self.wait_applied(self.max_seq(), 20, "a restarted idle instance")

    # --- item 5 -------------------------------------------------------------------------------

    def test_a_rolled_back_directory_write_does_not_hold_the_applied_seq_back(self):
        self.wait_applied(self.max_seq(), 20, "start")
        # One session: a write that is rolled back leaves a gap below the next write's seq.
        self.db.sql("START TRANSACTION;"
                    " INSERT INTO sy_contexts (id, schema_name) VALUES (99, 's1');"
                    " ROLLBACK;"
                    " UPDATE sy_schemas SET state = 'disabled' WHERE name = 's2'")
        target = self.max_seq()
        below = int(self.db.sql(f"SELECT MAX(seq) FROM sy_changes WHERE seq < {target}")[0][0])
        self.assertGreater(target - below, 1)  # the rolled-back numbers are a gap
        # The gap used to hold the seq back for the whole 30 s settle window (as long as the
        # sequencer's drain timeout); a gap nobody holds is passed at the next refresh. The
        # deadline is generous and still far below 30 s.
        self.wait_applied(target, 12, "after a rolled-back write")

    # --- item 8 -------------------------------------------------------------------------------

    def test_a_frozen_database_shows_as_slow_and_the_admin_socket_keeps_answering(self):
        fwd = TcpForwarder(self.db.port)
        self.addCleanup(fwd.stop)
        self.addCleanup(fwd.thaw)  # first: never leave the sessions frozen
        sy = self.restart("sy-fwd", dsn=self.db.dsn_yaml(port=fwd.port))
        wait_for(lambda: self.stats()["loader"]["db_state"] == "up", timeout=20, what="db up")
        fwd.freeze()
        # Within a refresh or so (refresh_interval 100 ms; a round is slow after 1 s), not at the
        # end of a read timeout.
        loader = wait_for(lambda: (lambda l: l if l["db_state"] != "up" else None)(
            self.stats()["loader"]), timeout=8, what="the frozen database reported")
        self.assertFalse(loader["db_up"], loader)
        self.assertIn(loader["db_state"], ("slow", "down"), loader)
        # The admin socket keeps answering what needs no database, again and again.
        for _ in range(3):
            self.assertIn("loader", self.stats())
        # The read timeout (seconds, not the client library's 120) ends the round.
        wait_for(lambda: "database unavailable" in sy.log(), timeout=20,
                 what="the loader's round to time out")
        fwd.thaw()
        wait_for(lambda: self.stats()["loader"]["db_state"] == "up", timeout=30,
                 what="the database back")


def load_tests(loader, tests, pattern):
    """Only this file's tests (test_admin.py runs AdminTest's)."""
    return unittest.TestSuite(DbFaultsTest(name) for name in loader.getTestCaseNames(
        DbFaultsTest) if name in vars(DbFaultsTest))


if __name__ == "__main__":
    unittest.main()
