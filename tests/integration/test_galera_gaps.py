"""Change tracking on a real 3-node MariaDB Galera cluster (galera.py has the set-up):
sy_changes.seq goes up by auto_increment_increment = 3, and a drain must not wait out the
settle window for each gap.
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from galera import GaleraUpgradeTest  # noqa: E402


class GaleraGapsTest(GaleraUpgradeTest):
    # The old per-gap wait was this settle window; the drain timeout (15 s) is shorter, so a
    # reader that waited out each gap of the stride would fail every drain.
    DATABASE_EXTRA = "  change_settle: 30s\n"

    def test_sequence_gaps_do_not_stall_the_drain(self):
        # change_settle 30 s (DATABASE_EXTRA) against drain_timeout 15 s.
        self.prepare_cluster(self.old)
        started = time.monotonic()
        self.upgrade(self.old, timeout=120)
        elapsed = time.monotonic() - started
        sys.stderr.write(f"\nGalera upgrade of {self.SCHEMAS} schemas with change_settle 30 s: "
                         f"{elapsed:.1f} s ({elapsed / self.SCHEMAS * 1000:.0f} ms per schema)\n")
        self.assertEqual(set(self.schema_rows().values()), {("enabled", self.new_server_id())})
        seqs = [int(r[0]) for r in self.db.sql("SELECT seq FROM sy_changes ORDER BY seq")]
        strides = {b - a for a, b in zip(seqs, seqs[1:])}
        self.assertIn(3, strides, seqs)  # the gaps were there
        for s in self.schemas:
            counts = self.journal_counts(s)
            for step in ("disable", "drain", "move", "update", "enable", "verify"):
                self.assertEqual(counts.get(step), 1, (s, counts))


if __name__ == "__main__":
    unittest.main()
