"""Routing over h1+TLS, h2+TLS and h2c: test_routing's set-up and cases (it needs the private
MariaDB) with both instances' listeners on TLS (or not, for h2c) and every curl call forced to
the protocol.
"""
import functools
import os
import unittest

import test_routing
from harness import curl, curl_status
from test_tls_h2 import make_cert


class RoutingOverTls(test_routing.RoutingTest):
    TLS = True
    CURL_FLAGS = ["--http1.1"]

    def setUp(self):
        self.cert = None
        self._saved = (os.environ.get("CURL_CA_BUNDLE"), test_routing.curl,
                       test_routing.curl_status)
        flags = self.CURL_FLAGS
        test_routing.curl = lambda *a, **k: curl(*flags, *a, **k)
        test_routing.curl_status = lambda url, *a, **k: curl_status(url, *flags, *a, **k)
        super().setUp()
        if self.TLS:
            # curl trusts the test certificate (test_routing's helpers call curl directly).
            os.environ["CURL_CA_BUNDLE"] = self.cert
            scheme = "https"
        else:
            scheme = "http"
        self.db.sql(f"UPDATE sy_servers SET redirect_url='{scheme}://"
                    f"{self.new.listeners['main']}' WHERE id=2")

    def tearDown(self):
        bundle, test_routing.curl, test_routing.curl_status = self._saved
        if bundle is None:
            os.environ.pop("CURL_CA_BUNDLE", None)
        else:
            os.environ["CURL_CA_BUNDLE"] = bundle
        super().tearDown()

    def start(self, role, serve, extra="", dsn=None):
        if not self.TLS:
            return super().start(role, serve, extra, dsn)
        if self.cert is None:
            self.cert, self.key = make_cert(self.workdir, "sy", ["127.0.0.1", "localhost"])
        access = os.path.join(self.workdir, f"{role}-access.log")
        text = test_routing.routing_yaml(dsn or self.db.dsn_yaml(), role, serve,
                                         self.old_b.address, self.new_b.address, extra, access)
        text = text.replace(f"    pool: {serve}\n", f"    pool: {serve}\n    tls:\n"
                            f'      certificates: [{{cert: "{self.cert}", key: "{self.key}"}}]\n',
                            1)
        sy = self.switchyard(text, name=f"sy-{role}")
        sy.access_log_path = access
        sy.url = functools.partial(lambda s, path="/", listener=None:
                                   f"https://{s.listeners[listener or 'main']}{path}", sy)
        return sy

    def test_moved_context_is_redirected_307_in_this_protocol(self):
        self.db.sql("UPDATE sy_schemas SET server_id=2 WHERE name='s1'")
        self.wait_route(self.old, 11, 307, "s1 moved on the old instance")
        self.wait_route(self.new, 11, 200, "s1 moved on the new instance")
        rc, out, err = test_routing.curl("-sS", "-D", "-", "-o", "/dev/null",
                                         "-w", "%{http_version}", "-H", "X-Context-Id: 11",
                                         self.old.url("/app/page?x=1"))
        text = out.decode()
        status_line = text.splitlines()[0]
        self.assertIn(" 307", status_line)
        self.assertEqual(text.rsplit("\n", 1)[-1], "1.1" if "1.1" in self.CURL_FLAGS[0] else "2")
        scheme = "https" if self.TLS else "http"
        self.assertIn(f"{scheme}://{self.new.listeners['main']}/app/page?x=1", text.lower())
        code, body = test_routing.curl_status(self.old.url("/upload"), "-L", "-H",
                                              "X-Context-Id: 11", "--data-binary", "payload")
        self.assertEqual((code, body[:2]), (200, b"7 "))


class RoutingOverH2(RoutingOverTls):
    CURL_FLAGS = ["--http2"]


class RoutingOverH2c(RoutingOverTls):
    TLS = False
    CURL_FLAGS = ["--http2-prior-knowledge"]


ROUTING_CASES = (
    "test_old_instance_proxies_contexts_it_serves",
    "test_moved_context_is_redirected_307_in_this_protocol",
    "test_new_instance_rejects_a_context_still_on_the_old_server",
    "test_errors_for_unknown_missing_and_disabled_tenants",
    "test_request_is_held_while_schema_disabled_and_answered_by_new_pool_after",
)


def load_tests(loader, tests, pattern):
    suite = unittest.TestSuite()
    for cls in (RoutingOverTls, RoutingOverH2, RoutingOverH2c):
        suite.addTests(cls(name) for name in ROUTING_CASES)
    return suite


if __name__ == "__main__":
    unittest.main()
