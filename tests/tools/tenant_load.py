#!/usr/bin/env python3
"""A steady client across many tenants, for the upgrade test and the demo.

Threads send requests to one Switchyard, round robin over the given contexts, on keep-alive
connections, and follow a 307 exactly like a browser would (same method and body, to the
Location, once). By default a request is a GET with the tenant header (X-Context-Id); a
|request| function can make others (an OX form login, a cookie). A request counts as failed
when it raises, times out, or does not end with a 200 from a backend (a local error in OX's
envelope comes with status 200 and a JSON body: failed too). The longest request time is the
longest any tenant waited (held requests included), also kept per context.

As a module: TenantLoad(url, contexts, threads).start() ... stop() -> summary dict.
As a command: tenant_load.py URL FIRST-LAST [--threads N] [--seconds S | --until-file F] [--ox]
  prints one JSON summary line at the end; exits 1 when any request failed. --ox: OX clients
  (form logins and cookies, ox_request) instead of the tenant header.
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse


def header_request(ctx, n):
    """The default request: GET with the tenant header."""
    return "GET", f"/app?c={ctx}", {"X-Context-Id": str(ctx)}, None


def ox_request(ctx, n, domain="example.com"):
    """An Open-Xchange client of context |ctx| (named ctx<ctx>.<domain>): every other request
    is a form login (name=user@context; some shouted, as OX's mappings ignore case; context 1
    also logs in without '@', as the context mapped as defaultcontext), the others are requests
    of its session, found by the cookie ox_ctx=<cid>."""
    if n % 2 == 0:
        if ctx == 1 and n % 4 == 0:
            login = "admin"
        else:
            name = f"ctx{ctx}.{domain}"
            login = f"user{n % 7}@{name.upper() if n % 3 == 0 else name}"
        body = f"name={login}&password=secret&client=open-xchange-appsuite".encode()
        return ("POST", "/ajax/login?action=login",
                {"Content-Type": "application/x-www-form-urlencoded"}, body)
    return "GET", "/appsuite/api/apps/manifests?action=config", {"Cookie": f"ox_ctx={ctx}"}, None


class TenantLoad:
    def __init__(self, url, contexts, threads=4, timeout=30.0, request=header_request):
        """|request|(ctx, n) -> (method, path, headers, body) makes the n-th request."""
        self.request_for = request
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.contexts = list(contexts)
        self.threads = threads
        self.timeout = timeout
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = []
        self.ok = 0
        self.failed = 0
        self.redirects = 0
        self.failures = []  # first few (context, what)
        self.max_ms = 0.0
        self.max_ms_by_context = {}
        self.by_version = {}  # body version word -> count
        self.versions_by_context = {}  # context -> the version words it was answered by, in order
        # (a word is listed again only after another one: ["old", "new"] = moved once)

    def start(self):
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self._workers.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in self._workers:
            t.join(self.timeout + 5)
        return self.summary()

    def summary(self):
        with self._lock:
            return {"ok": self.ok, "failed": self.failed, "redirects_followed": self.redirects,
                    "max_request_ms": round(self.max_ms, 1), "answered_by": dict(self.by_version),
                    "first_failures": self.failures[:5]}

    def _record(self, ctx, ok, ms, what="", version=None, redirected=False):
        with self._lock:
            if ok:
                self.ok += 1
            else:
                self.failed += 1
                if len(self.failures) < 20:
                    self.failures.append((ctx, what))
            if redirected:
                self.redirects += 1
            if version:
                self.by_version[version] = self.by_version.get(version, 0) + 1
                seen = self.versions_by_context.setdefault(ctx, [])
                if not seen or seen[-1] != version:
                    seen.append(version)
            self.max_ms = max(self.max_ms, ms)
            self.max_ms_by_context[ctx] = max(self.max_ms_by_context.get(ctx, 0.0), ms)

    def _run(self, index):
        conns = {}

        def conn_for(host, port):
            c = conns.get((host, port))
            if c is None:
                c = http.client.HTTPConnection(host, port, timeout=self.timeout)
                conns[(host, port)] = c
            return c

        def request(host, port, method, path, headers, body):
            for attempt in (0, 1):  # a keep-alive connection the server closed: reconnect once
                c = conn_for(host, port)
                try:
                    c.request(method, path, body=body, headers=headers)
                    r = c.getresponse()
                    body = r.read()
                    if r.getheader("Connection", "").lower() == "close":
                        c.close()
                        conns.pop((host, port), None)
                    return r.status, r.getheader("Location"), body
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                    c.close()
                    conns.pop((host, port), None)
                    if attempt == 1:
                        raise
            raise AssertionError("unreachable")

        i = index
        while not self._stop.is_set():
            ctx = self.contexts[i % len(self.contexts)]
            method, path, headers, req_body = self.request_for(ctx, i)
            i += self.threads
            start = time.monotonic()
            try:
                status, location, body = request(self.host, self.port, method, path, headers,
                                                 req_body)
                redirected = False
                if status == 307 and location:
                    loc = urllib.parse.urlsplit(location)
                    path = loc.path + ("?" + loc.query if loc.query else "")
                    status, location, body = request(loc.hostname, loc.port, method, path,
                                                     headers, req_body)
                    redirected = True
                ms = (time.monotonic() - start) * 1000
                ok = status == 200 and not body.startswith(b"{")
                words = body.split()
                version = words[1].decode() if ok and len(words) >= 2 else None
                self._record(ctx, ok, ms, f"status {status}: {body[:160]!r}", version, redirected)
            except Exception as e:  # noqa: BLE001 - every failure counts, whatever it is
                ms = (time.monotonic() - start) * 1000
                self._record(ctx, False, ms, f"{type(e).__name__}: {e}")
                conns.clear()
        for c in conns.values():
            c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("url")
    ap.add_argument("contexts", help="FIRST-LAST context ids")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=0)
    ap.add_argument("--until-file", help="run until this file exists")
    ap.add_argument("--ox", action="store_true", help="OX form logins and session cookies")
    ap.add_argument("--skip", default="", help="context ids to leave out, comma-separated")
    a = ap.parse_args()
    first, last = (int(x) for x in a.contexts.split("-"))
    skip = {int(x) for x in a.skip.split(",") if x}
    contexts = [c for c in range(first, last + 1) if c not in skip]
    load = TenantLoad(a.url, contexts, a.threads,
                      request=ox_request if a.ox else header_request).start()
    start = time.monotonic()
    try:
        while True:
            time.sleep(0.2)
            if a.seconds and time.monotonic() - start >= a.seconds:
                break
            if a.until_file and os.path.exists(a.until_file):
                break
    except KeyboardInterrupt:
        pass
    s = load.stop()
    print(json.dumps(s))
    return 1 if s["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
