"""A raw HTTP/2 client for byte-exact tests: frames are written by hand, HPACK requests as
literals without Huffman coding (RFC 7541 6.2.2), so a test can send what no well-behaved
client would (a HEADERS frame without END_HEADERS, a lower stream id, a zero window).

Responses are decoded with Debian's python3-hpack (scripts/install-deps.sh): the proxy's
encoder uses Huffman coding and its dynamic table, which a test should not re-implement.
"""
import socket
import ssl
import sys

try:
    import hpack
except ImportError:  # a Python outside Debian's (pyenv, venv) does not see dist-packages
    sys.path.append("/usr/lib/python3/dist-packages")
    import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
# Error codes (RFC 9113 7).
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED, \
    FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, CONNECT_ERROR, \
    ENHANCE_YOUR_CALM = range(12)
# SETTINGS identifiers.
SETTINGS_INITIAL_WINDOW_SIZE = 0x4


def frame(ftype, flags, stream_id, payload=b""):
    return (len(payload).to_bytes(3, "big") + bytes([ftype, flags]) +
            stream_id.to_bytes(4, "big") + payload)


def setting(ident, value):
    return ident.to_bytes(2, "big") + value.to_bytes(4, "big")


def literal(name, value):
    """Literal header field without indexing, new name, no Huffman (RFC 7541 6.2.2)."""
    def string(b):
        if len(b) < 127:
            return bytes([len(b)]) + b
        n, out = len(b) - 127, bytearray([127])
        while n >= 128:
            out.append((n & 0x7f) | 0x80)
            n >>= 7
        out.append(n)
        return bytes(out) + b
    return b"\x00" + string(name.encode()) + string(value.encode())


def request_block(path, authority="a", scheme="http", method="GET", extra=()):
    fields = [(":method", method), (":scheme", scheme), (":path", path)]
    if authority is not None:
        fields.append((":authority", authority))
    return b"".join(literal(n, v) for n, v in fields + list(extra))


def block(fields):
    return b"".join(literal(n, v) for n, v in fields)


class RawH2:
    """Preface + SETTINGS (unless |send_settings| is false) on a plain (or TLS, ALPN h2)
    socket. read_frame() returns (type, flags, stream, payload) or None at EOF and answers
    SETTINGS with an ACK."""

    def __init__(self, addr, settings=b"", rcvbuf=None, tls=False, timeout=10,
                 send_settings=True):
        raw = socket.socket()
        if rcvbuf:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        raw.settimeout(timeout)
        raw.connect(addr)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            raw = ctx.wrap_socket(raw, server_hostname="a.test")
            assert raw.selected_alpn_protocol() == "h2"
        self.sock = raw
        self.buf = b""
        self.decoder = hpack.Decoder()
        self._block = {}  # stream -> header block bytes until END_HEADERS
        self.sock.sendall(PREFACE + (frame(SETTINGS, 0, 0, settings) if send_settings else b""))

    def send(self, data):
        self.sock.sendall(data)

    def handshake(self):
        """Reads (and ACKs) the server's SETTINGS, so that the ACK cannot land in the middle of
        a frame the test sends next on purpose unfinished."""
        while True:
            f = self.read_frame()
            if f is None or (f[0] == SETTINGS and not f[1] & ACK):
                return

    def read_frame(self):
        while len(self.buf) < 9 or len(self.buf) < 9 + int.from_bytes(self.buf[:3], "big"):
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        n = int.from_bytes(self.buf[:3], "big")
        f = (self.buf[3], self.buf[4], int.from_bytes(self.buf[5:9], "big") & 0x7fffffff,
             self.buf[9:9 + n])
        self.buf = self.buf[9 + n:]
        if f[0] == SETTINGS and not f[1] & ACK:
            self.send(frame(SETTINGS, ACK, 0))
        return f

    def headers_of(self, f):
        """Decoded fields of a HEADERS/CONTINUATION frame once its block is complete, else
        None. Must see every header frame of the connection (HPACK state is shared)."""
        ftype, flags, sid, payload = f
        if ftype == HEADERS:
            if flags & PADDED:
                pad = payload[0]
                payload = payload[1:len(payload) - pad]
            if flags & PRIORITY_FLAG:
                payload = payload[5:]
            self._block[sid] = payload
        else:
            self._block[sid] = self._block.get(sid, b"") + payload
        if not flags & END_HEADERS:
            return None
        return dict((k.decode() if isinstance(k, bytes) else k,
                     v.decode() if isinstance(v, bytes) else v)
                    for k, v in self.decoder.decode(self._block.pop(sid)))

    def events(self, until_closed=False):
        """Reads frames until EOF or a socket timeout; yields (kind, stream, value):
        ("headers", sid, dict), ("data", sid, bytes), ("end", sid, None), ("rst", sid, code),
        ("goaway", last_sid, code), ("closed", 0, None)."""
        while True:
            try:
                f = self.read_frame()
            except (socket.timeout, TimeoutError):
                return
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
                f = None
            if f is None:
                yield ("closed", 0, None)
                return
            ftype, flags, sid, payload = f
            if ftype in (HEADERS, CONTINUATION):
                h = self.headers_of(f)
                if h is not None:
                    yield ("headers", sid, h)
                if ftype == HEADERS and flags & END_STREAM:
                    yield ("end", sid, None)
            elif ftype == DATA:
                yield ("data", sid, payload)
                if flags & END_STREAM:
                    yield ("end", sid, None)
            elif ftype == RST_STREAM:
                yield ("rst", sid, int.from_bytes(payload[:4], "big"))
            elif ftype == GOAWAY:
                yield ("goaway", int.from_bytes(payload[:4], "big") & 0x7fffffff,
                       int.from_bytes(payload[4:8], "big"))

    def response(self, sid, timeout=10):
        """Reads until stream |sid| ends (END_STREAM or RST_STREAM) or the connection closes;
        returns {"status": int or None, "headers": dict, "body": bytes, "rst": code or None,
        "goaway": code or None, "closed": bool}."""
        self.sock.settimeout(timeout)
        out = {"status": None, "headers": {}, "body": b"", "rst": None, "goaway": None,
               "closed": False}
        for kind, s, value in self.events():
            if kind == "goaway":
                out["goaway"] = value
            elif kind == "closed":
                out["closed"] = True
                return out
            elif s != sid:
                continue
            elif kind == "headers":
                status = int(value.get(":status", "0"))
                if status >= 200:  # the final response (1xx and trailers are skipped)
                    out["status"] = status
                    out["headers"] = value
            elif kind == "data":
                out["body"] += value
            elif kind == "end":
                return out
            elif kind == "rst":
                out["rst"] = value
                return out
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
