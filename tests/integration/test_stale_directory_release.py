"""A stale hold ends the moment the database answers again (issue 12 item 5; docs/decisions.md
67): a request held because this instance's directory went stale mid-upgrade is routed as soon
as a directory round succeeds, even when nothing changed and no snapshot is published. A file of
its own (one ctest entry) so that it runs beside test_stale_directory.py.
"""
import threading
import unittest

from harness import access_log_lines, wait_for
import test_stale_directory  # its topology, forwarder and helpers (its tests are not loaded here)


class StaleHoldReleaseTest(test_stale_directory.StaleDirectoryTest):
    """A stale hold long enough for the database to come back while the request waits."""
    max_wait = "300s"  # far beyond every wait below: a release by the deadline would fail them

    def test_a_held_request_routes_at_once_when_the_database_answers_again(self):
        self.cluster("MIXED")
        self.cut_until_stale()
        result = {}
        t = threading.Thread(target=lambda: result.update(answer=self.answer(11)))
        t.start()
        wait_for(lambda: self.js("show", "stats")["held_now"] >= 1, timeout=30,
                 what="the request held")
        # Nothing changed in the directory: no new snapshot is published, yet the hold ends as
        # soon as a round succeeds, not at max_wait.
        self.fwd.restore()
        wait_for(lambda: self.js("show", "stats")["held_now"] == 0, timeout=30,
                 what="the held request released by the first good round")
        t.join(timeout=60)
        self.assertFalse(t.is_alive())
        status, head, body = result["answer"]
        self.assertEqual(status, 200, f"{head}{body}")
        self.assertEqual(self.js("show", "stats")["errors"]["CTX-0023"], 0)
        line = wait_for(lambda: [l for l in access_log_lines(self.access_log)
                                 if l.get("context") == 11] or None,
                        timeout=10, what="the request's access-log line")[-1]
        self.assertEqual((line["route"], line["termination"]), ("held-proxy", "--"))


def load_tests(loader, tests, pattern):
    """Only this file's tests."""
    return unittest.TestSuite(StaleHoldReleaseTest(name) for name in loader.getTestCaseNames(
        StaleHoldReleaseTest) if name in vars(StaleHoldReleaseTest))


if __name__ == "__main__":
    unittest.main()
