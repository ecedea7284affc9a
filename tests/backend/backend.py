#!/usr/bin/env python3
"""Demo and test backend: a small HTTP/1.1 origin server with keep-alive and streaming bodies.

It plays an application node of one version ("old" or "new") in the demo and the integration
tests. Endpoints (any method unless noted):

  /                    "<name> <version>\n"
  /health              200 "ok" while healthy; 503 after /control/down (until /control/up)
  /control/down|up     flip the health answer (used by the health-check tests)
  /control/seen?path=P how many requests for path P this backend has received
  /headers             the request head as received, as JSON (method, target, headers)
  /echo                streams the request body back (same framing length or chunked)
  /upload              reads the whole request body, answers "<bytes> <sha256>\n"
  /download?bytes=N    N bytes of a repeating pattern, streamed; &chunked=1 for chunked coding
  /slow?ms=N           waits N ms before answering
  /status/N            answers status N (no body for 1xx/204/304)
  /close               closes the connection without answering
  /info103             sends "103 Early Hints" before the 200
  /trailers            reads the body, answers JSON {"trailers": {name: value}} of the request
                       trailer fields it received, chunked, with a trailer of its own: X-Ok
                       and fields no trailer may carry (Content-Length, Host, Set-Cookie)
  /control/conns       JSON: connections accepted (after the TLS handshake), how many of them
                       resumed a TLS session, the CNs of the client certificates seen
  /proxy               with --proxy-protocol: JSON of the PROXY header this connection began
                       with: {"version", "source", "destination", "connection"} (source and
                       destination "ip:port", null for v1 UNKNOWN / v2 LOCAL; connection = the
                       backend's number of the connection)

Usage: backend.py --port P [--name N] [--version V] [--ready-file F] [--unix PATH]
                  [--tls-cert C --tls-key K [--tls-client-ca CA] [--tls-max-version 1.2]]
                  [--latency-ms MS] [--app-db HOST:PORT:USER:PASSWORD:DB --app-tenants N
                   --app-schemas S --app-schema-prefix P]
With --tls-cert/--tls-key the origin speaks TLS (1.2+, Python's ssl); --tls-client-ca makes it
require a client certificate signed by CA (mutual TLS); --tls-max-version 1.2 keeps it at 1.2.
Port 0 picks a free port; the chosen one is written to --ready-file as "port=P". With --unix
it listens on that AF_UNIX socket path instead (a `unix:` member; ready file "port=0").
With --proxy-protocol every connection must begin with a PROXY v1 or v2 header (like nginx's
`listen ... proxy_protocol`); a connection without a valid one is closed unanswered.

Application emulation (the bench harness, bench/run): --latency-ms makes every answer of the
default endpoint take that long (an application's own time). With --app-db the backend plays
an application node that checks its tenant's schema the way an Open-Xchange node does: the
tenant comes from X-Context-Id, the sy_ctx cookie, a "<id>.tenants." Host or a login form field
name=user@<id>; tenants 1..N live in S schemas <prefix>NNN in contiguous ranges; the table
app_schemas(name, state) in DB is read every 100 ms (one long-lived mariadb client), and a
request for a schema whose state is not 'enabled' gets an OX-style error envelope (HTTP 200,
{"error":...,"code":"APP-0001"}): what users see while a schema is disabled or being updated.
If the database is unreachable the last state read stays in force.
"""
import argparse
import asyncio
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

PATTERN = bytes(range(256)) * 256  # 64 KiB
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"  # PROXY protocol v2


class AppDirectory:
    """The application's view of its schemas (see the module docstring): read every 100 ms."""

    def __init__(self, dsn, tenants, schemas, prefix):
        host, port, user, password, db = dsn.split(":", 4)
        self.argv = ["mariadb", "--protocol=TCP", "-h", host, "-P", port, "-u", user,
                     f"-p{password}", "--batch", "--skip-column-names", "-n", db]
        self.tenants, self.schemas, self.prefix = tenants, schemas, prefix
        self.disabled = set()
        self.client = None
        threading.Thread(target=self._poll, daemon=True).start()

    def schema_of(self, tenant):
        if tenant < 1 or tenant > self.tenants:
            return None
        return f"{self.prefix}{(tenant - 1) * self.schemas // self.tenants + 1:03d}"

    def _poll(self):
        while True:
            try:
                if self.client is None or self.client.poll() is not None:
                    self.client = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                                   stdout=subprocess.PIPE,
                                                   stderr=subprocess.DEVNULL, text=True)
                self.client.stdin.write("SELECT name, state FROM app_schemas; SELECT '__end__';\n")
                self.client.stdin.flush()
                disabled = set()
                while True:
                    line = self.client.stdout.readline()
                    if not line:
                        raise OSError("client ended")
                    line = line.rstrip("\n")
                    if line == "__end__":
                        break
                    name, _, state = line.partition("\t")
                    if state != "enabled":
                        disabled.add(name)
                self.disabled = disabled
            except (OSError, ValueError):
                if self.client is not None:
                    self.client.kill()
                    self.client = None
                time.sleep(0.5)
            time.sleep(0.1)


TENANT_HOST = re.compile(r"^(\d+)\.tenants\.")  # "<id>.tenants.example.com", not "127.0.0.1"
TENANT_FORM = re.compile(rb"(?:^|&)name=[^&]*?(?:%40|@)(\d+)")


def tenant_of(headers, body):
    """The tenant id a request names (header, cookie, Host, login form), or None."""
    value = headers.get("x-context-id")
    if value and value.isdigit():
        return int(value)
    for part in headers.get("cookie", "").split(";"):
        k, _, v = part.strip().partition("=")
        if k == "sy_ctx" and v.isdigit():
            return int(v)
    m = TENANT_HOST.match(headers.get("host", ""))
    if m:
        return int(m.group(1))
    m = TENANT_FORM.search(body or b"")
    return int(m.group(1)) if m else None


class Backend:
    def __init__(self, name, version, latency_ms=0.0, app=None):
        self.latency = latency_ms / 1000.0
        self.app = app
        self.name = name
        self.version = version
        self.healthy = True
        self.requests = 0
        self.seen = {}  # path -> requests received (not counting /control/*)
        self.connections = 0
        self.resumed = 0
        self.peer_cns = []  # CNs of the client certificates seen, first use order
        self.proxy_protocol = False  # --proxy-protocol

    async def read_proxy_header(self, reader):
        """The PROXY header a connection begins with, as /proxy reports it; None if invalid."""
        first = await reader.readexactly(1)
        if first == b"P":
            line = first + await reader.readuntil(b"\r\n")
            parts = line[:-2].decode("ascii").split(" ")
            if len(line) > 107 or parts[0] != "PROXY":
                return None
            if parts[1] == "UNKNOWN":
                return {"version": 1, "source": None, "destination": None}
            if parts[1] not in ("TCP4", "TCP6") or len(parts) != 6:
                return None
            fmt = (lambda a, p: f"[{a}]:{p}") if parts[1] == "TCP6" else (lambda a, p: f"{a}:{p}")
            return {"version": 1, "source": fmt(parts[2], parts[4]),
                    "destination": fmt(parts[3], parts[5])}
        rest = await reader.readexactly(15)
        head = first + rest
        if head[:12] != V2_SIGNATURE or head[12] >> 4 != 2:
            return None
        body = await reader.readexactly(int.from_bytes(head[14:16], "big"))
        if head[12] & 0x0F == 0:  # LOCAL
            return {"version": 2, "source": None, "destination": None}
        import ipaddress
        if head[13] == 0x11:
            a, b = ipaddress.IPv4Address(body[0:4]), ipaddress.IPv4Address(body[4:8])
            ports = body[8:12]
            fmt = lambda a, p: f"{a}:{p}"
        elif head[13] == 0x21:
            a, b = ipaddress.IPv6Address(body[0:16]), ipaddress.IPv6Address(body[16:32])
            ports = body[32:36]
            fmt = lambda a, p: f"[{a}]:{p}"
        else:
            return None
        return {"version": 2, "source": fmt(a, int.from_bytes(ports[0:2], "big")),
                "destination": fmt(b, int.from_bytes(ports[2:4], "big"))}

    async def handle(self, reader, writer):
        self.connections += 1
        tls = writer.get_extra_info("ssl_object")
        if tls is not None:
            if tls.session_reused:
                self.resumed += 1
            cert = tls.getpeercert()
            if cert:
                for rdn in cert.get("subject", ()):
                    for key, value in rdn:
                        if key == "commonName" and value not in self.peer_cns:
                            self.peer_cns.append(value)
        writer.proxy_info = None
        if self.proxy_protocol:
            try:
                info = await self.read_proxy_header(reader)
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    UnicodeDecodeError, IndexError, ValueError):
                info = None
            if info is None:
                writer.close()
                return
            info["connection"] = self.connections
            writer.proxy_info = info
        try:
            while True:
                head = await read_head(reader)
                if head is None:
                    break
                keep = await self.respond(head, reader, writer)
                await writer.drain()
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    async def respond(self, head, reader, writer):
        method, target, version, headers = head
        self.requests += 1
        url = urllib.parse.urlsplit(target)
        path = url.path
        query = dict(urllib.parse.parse_qsl(url.query))
        if not path.startswith("/control/"):
            self.seen[path] = self.seen.get(path, 0) + 1
        conn = headers.get("connection", "").lower()
        keep = not ("close" in conn or (version == "HTTP/1.0" and "keep-alive" not in conn))

        if path == "/close":
            await discard_body(headers, reader)
            return False
        if path == "/echo":
            await self.echo(headers, reader, writer, keep)
            return keep
        if path == "/trailers":
            trailers = {}
            async for _ in body_pieces(headers, reader, trailers):
                pass
            body = json.dumps({"trailers": trailers}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\nTrailer: X-Ok\r\n" +
                         (b"" if keep else b"Connection: close\r\n") + b"\r\n" +
                         b"%x\r\n%s\r\n" % (len(body), body) +
                         b"0\r\nX-Ok: 1\r\nContent-Length: 999\r\nHost: evil.example\r\n"
                         b"Set-Cookie: stolen=1\r\n\r\n")
            return keep
        if path == "/upload":
            h = hashlib.sha256()
            n = 0
            async for piece in body_pieces(headers, reader):
                h.update(piece)
                n += len(piece)
            send(writer, 200, f"{n} {h.hexdigest()}\n".encode(), keep)
            return keep

        body_in = b"".join([piece async for piece in body_pieces(headers, reader)])
        if path == "/health":
            if self.healthy:
                send(writer, 200, b"ok\n", keep)
            else:
                send(writer, 503, b"down\n", keep)
        elif path == "/control/down":
            self.healthy = False
            send(writer, 200, b"down\n", keep)
        elif path == "/control/up":
            self.healthy = True
            send(writer, 200, b"up\n", keep)
        elif path == "/control/conns":
            body = json.dumps({"connections": self.connections, "resumed": self.resumed,
                               "peer_cns": self.peer_cns}).encode()
            send(writer, 200, body, keep, ctype="application/json")
        elif path == "/control/seen":
            send(writer, 200, f"{self.seen.get(query.get('path', '/'), 0)}\n".encode(), keep)
        elif path == "/proxy":
            send(writer, 200, json.dumps(writer.proxy_info).encode(), keep,
                 ctype="application/json")
        elif path == "/headers":
            body = json.dumps({"method": method, "target": target, "version": version,
                               "headers": headers, "name": self.name}).encode()
            send(writer, 200, body, keep, ctype="application/json")
        elif path == "/download":
            await self.download(writer, int(query.get("bytes", "0")),
                                query.get("chunked") == "1", keep, method == "HEAD")
        elif path == "/slow":
            await asyncio.sleep(int(query.get("ms", "1000")) / 1000)
            send(writer, 200, f"{self.name} slow\n".encode(), keep)
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            no_body = code < 200 or code in (204, 304)
            send(writer, code, b"" if no_body else f"status {code}\n".encode(), keep,
                 with_length=not no_body)
        elif path == "/info103":
            writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
            await writer.drain()
            await asyncio.sleep(0.05)
            send(writer, 200, b"after hints\n", keep)
        else:
            if self.latency:
                await asyncio.sleep(self.latency)
            if self.app is not None:
                tenant = tenant_of(headers, body_in)
                schema = self.app.schema_of(tenant) if tenant is not None else None
                if schema in self.app.disabled:
                    err = json.dumps({"error": f"context {tenant}: schema {schema} is disabled "
                                      "or being updated, try again later", "error_params": [],
                                      "categories": "TRY_AGAIN", "code": "APP-0001"}).encode()
                    send(writer, 200, err, keep, ctype="application/json")
                    return keep
            body = f"{self.name} {self.version}\n".encode()
            send(writer, 200, b"" if method == "HEAD" else body, keep,
                 length=len(body))
        return keep

    async def echo(self, headers, reader, writer, keep):
        chunked = "content-length" not in headers
        out = [b"HTTP/1.1 200 OK\r\n", f"X-Backend: {self.name}\r\n".encode()]
        if chunked:
            out.append(b"Transfer-Encoding: chunked\r\n")
        else:
            out.append(f"Content-Length: {headers['content-length']}\r\n".encode())
        if not keep:
            out.append(b"Connection: close\r\n")
        writer.write(b"".join(out) + b"\r\n")
        async for piece in body_pieces(headers, reader):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            await writer.drain()
        if chunked:
            writer.write(b"0\r\n\r\n")

    async def download(self, writer, n, chunked, keep, head_only):
        out = [b"HTTP/1.1 200 OK\r\n", f"X-Backend: {self.name}\r\n".encode(),
               b"Content-Type: application/octet-stream\r\n"]
        out.append(b"Transfer-Encoding: chunked\r\n" if chunked
                   else f"Content-Length: {n}\r\n".encode())
        if not keep:
            out.append(b"Connection: close\r\n")
        writer.write(b"".join(out) + b"\r\n")
        if head_only:
            return
        left = n
        while left > 0:
            piece = PATTERN[: min(left, len(PATTERN))]
            left -= len(piece)
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            await writer.drain()
        if chunked:
            writer.write(b"0\r\n\r\n")


def send(writer, code, body, keep, ctype="text/plain", with_length=True, length=None):
    reason = {200: "OK", 204: "No Content", 304: "Not Modified", 404: "Not Found",
              500: "Internal Server Error", 503: "Service Unavailable"}.get(code, "Status")
    lines = [f"HTTP/1.1 {code} {reason}", f"Content-Type: {ctype}"]
    if with_length:
        lines.append(f"Content-Length: {len(body) if length is None else length}")
    if not keep:
        lines.append("Connection: close")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)


async def read_head(reader):
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = raw.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        k, v = line.split(":", 1)
        k = k.strip().lower()
        headers[k] = (headers[k] + ", " + v.strip()) if k in headers else v.strip()
    return method, target, version, headers


async def body_pieces(headers, reader, trailers=None):
    """Yields the request body; |trailers| (a dict) receives the trailer fields, if given."""
    if "transfer-encoding" in headers:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
                    if trailers is not None:
                        k, _, v = line.decode("latin-1").partition(":")
                        trailers[k.strip().lower()] = v.strip()
                return
            left = size
            while left > 0:
                piece = await reader.read(min(left, 65536))
                if not piece:
                    raise ConnectionError("eof in chunk")
                left -= len(piece)
                yield piece
            await reader.readexactly(2)
    else:
        left = int(headers.get("content-length", "0"))
        while left > 0:
            piece = await reader.read(min(left, 65536))
            if not piece:
                raise ConnectionError("eof in body")
            left -= len(piece)
            yield piece


async def discard_body(headers, reader):
    async for _ in body_pieces(headers, reader):
        pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--name", default="backend")
    ap.add_argument("--version", default="0")
    ap.add_argument("--ready-file")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--tls-client-ca")
    ap.add_argument("--tls-max-version", choices=["1.2", "1.3"], default="1.3")
    ap.add_argument("--unix", help="listen on this unix socket path instead of a TCP port")
    ap.add_argument("--proxy-protocol", action="store_true",
                    help="every connection starts with a PROXY v1/v2 header")
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--app-db", help="HOST:PORT:USER:PASSWORD:DB (application emulation)")
    ap.add_argument("--app-tenants", type=int, default=0)
    ap.add_argument("--app-schemas", type=int, default=1)
    ap.add_argument("--app-schema-prefix", default="s")
    args = ap.parse_args()
    app = (AppDirectory(args.app_db, args.app_tenants, args.app_schemas, args.app_schema_prefix)
           if args.app_db else None)
    backend = Backend(args.name, args.version, args.latency_ms, app)
    backend.proxy_protocol = args.proxy_protocol
    ctx = None
    if args.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if args.tls_max_version == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        ctx.set_alpn_protocols(["http/1.1"])
        if args.tls_client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.tls_client_ca)
    if args.unix:
        if os.path.exists(args.unix):
            os.unlink(args.unix)
        server = await asyncio.start_unix_server(backend.handle, args.unix, ssl=ctx,
                                                 limit=1 << 20)
        port = 0
    else:
        server = await asyncio.start_server(backend.handle, args.host, args.port, ssl=ctx,
                                            limit=1 << 20, reuse_address=True)
        port = server.sockets[0].getsockname()[1]
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"port={port}\n")
        os.replace(tmp, args.ready_file)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
