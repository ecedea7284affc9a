"""A WebSocket client over HTTP/2 (RFC 8441 extended CONNECT) for the tunnel tests: the HTTP/2
side is Debian's python3-h2 (frames, HPACK, flow control), the WebSocket side the sans-I/O
protocol of python3-websockets (framing, masking, the closing handshake), so both are real
implementations; this file only moves bytes between them. Neither library does this on its own
(websockets speaks HTTP/1.1 only; nghttp2's tools do not send :protocol).

    ws = H2WebSocket("127.0.0.1", port, "/chat")          # h2c with prior knowledge
    ws = H2WebSocket(host, port, "/chat", tls=ctx)         # h2 by ALPN
    ws.status          # 200: the tunnel is open; else ws.body is the refusal
    ws.send("text" or b"bytes"); ws.recv() -> str | bytes; ws.close()

Synchronous and single-threaded: a send that waits for the stream's or the connection's window
reads meanwhile (echoes queue up in ws.messages), so a client sending faster than it reads
cannot deadlock against the proxy's flow control. Every wait has a deadline (TimeoutError).
"""
import socket
import ssl
import sys
import time
from collections import deque

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.settings
    import websockets.connection
    import websockets.frames
except ImportError:  # a Python outside Debian's (pyenv, venv) does not see dist-packages
    sys.path.append("/usr/lib/python3/dist-packages")
    import h2.config
    import h2.connection
    import h2.events
    import h2.settings
    import websockets.connection
    import websockets.frames

WINDOW = 1 << 20  # this client's receive window, per stream and for the connection


class Closed(Exception):
    """The tunnel ended (reset or END_STREAM) while a message was awaited."""


class H2WebSocket:
    def __init__(self, host, port, path, tls=None, authority=None, headers=(), timeout=60,
                 version="13"):
        self.timeout = timeout
        raw = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            tls.set_alpn_protocols(["h2"])
            self.sock = tls.wrap_socket(raw, server_hostname=host)
            if self.sock.selected_alpn_protocol() != "h2":
                raise AssertionError(f"ALPN chose {self.sock.selected_alpn_protocol()!r}")
        else:
            self.sock = raw
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.h2.local_settings = h2.settings.Settings(
            client=True, initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WINDOW})
        self.h2.initiate_connection()
        self.h2.increment_flow_control_window(WINDOW)
        self._flush()
        self.server_settings = {}
        self.status = None
        self.response_headers = []
        self.body = b""
        self.ended = False        # the proxy's END_STREAM arrived
        self.reset_code = None    # the proxy's RST_STREAM error code
        self.messages = deque()   # echoes received while sending
        self.ws = None            # the WebSocket protocol, once the tunnel is open
        self._fragments = []
        self._fin_sent = False
        # The server's SETTINGS first: extended CONNECT only when it advertised it (RFC 8441 3).
        self._pump_until(lambda: h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL
                         in self.server_settings, "the server's SETTINGS")
        if self.server_settings[h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL] != 1:
            raise AssertionError("SETTINGS_ENABLE_CONNECT_PROTOCOL is not 1")
        self.stream = self.h2.get_next_available_stream_id()
        self.h2.send_headers(self.stream, [
            (":method", "CONNECT"), (":protocol", "websocket"),
            (":scheme", "https" if tls is not None else "http"), (":path", path),
            (":authority", authority or f"{host}:{port}"),
            *([("sec-websocket-version", version)] if version else []), *headers])
        self._flush()
        self._pump_until(lambda: self.status is not None or self.reset_code is not None,
                         "the response to the extended CONNECT")
        if self.status != 200:
            try:
                self._pump_until(lambda: self.ended or self.reset_code is not None,
                                 "the end of the refusal")
            finally:
                self.sock.close()

    def header(self, name):
        for n, v in self.response_headers:
            if n == name:
                return v
        return None

    # --- WebSocket messages ----------------------------------------------------------------

    def send(self, message):
        if isinstance(message, str):
            self.ws.send_text(message.encode())
        else:
            self.ws.send_binary(message)
        self._send_ws_output()

    def recv(self, timeout=None):
        self._pump_until(lambda: self.messages or self.ended or self.reset_code is not None,
                         "a message", timeout)
        if self.messages:
            return self.messages.popleft()
        raise Closed(f"tunnel ended (END_STREAM {self.ended}, reset {self.reset_code})")

    def close(self, code=1000):
        """The closing handshake: Close frame, the server's Close, then the stream's ends."""
        if self.ws is not None and self.ws.state is websockets.connection.State.OPEN:
            self.ws.send_close(code)
            self._send_ws_output()
        try:
            self._pump_until(lambda: self.ended or self.reset_code is not None,
                             "the end of the tunnel")
        finally:
            self.sock.close()

    def end_stream(self):
        """Ends this side of the stream (END_STREAM, the FIN of RFC 8441 4) without a Close."""
        self._fin_sent = True
        self.h2.end_stream(self.stream)
        self._flush()

    def wait_closed(self, timeout=None):
        """Waits for the proxy to end the stream (END_STREAM or RST_STREAM); messages that
        arrive meanwhile are kept."""
        self._pump_until(lambda: self.ended or self.reset_code is not None,
                         "the proxy to end the tunnel", timeout)

    # --- plumbing --------------------------------------------------------------------------

    def _send_ws_output(self):
        for data in self.ws.data_to_send():
            if data == b"":  # the WebSocket side is done: END_STREAM (RFC 8441 4's FIN)
                if not self._fin_sent and not self.ended and self.reset_code is None:
                    self._fin_sent = True
                    self.h2.end_stream(self.stream)
                    self._flush()
                continue
            self._send_stream_bytes(data)

    def _send_stream_bytes(self, data):
        view = memoryview(data)
        while view:
            if self.reset_code is not None:
                raise Closed(f"stream reset ({self.reset_code}) while sending")
            window = min(self.h2.local_flow_control_window(self.stream),
                         self.h2.max_outbound_frame_size)
            if window <= 0:
                self._pump_once(self.timeout)  # read (echoes, WINDOW_UPDATE) until it opens
                continue
            chunk = view[:window]
            self.h2.send_data(self.stream, chunk.tobytes())
            view = view[len(chunk):]
            self._flush()

    def _flush(self):
        out = self.h2.data_to_send()
        if out:
            self.sock.sendall(out)

    def _pump_until(self, cond, what, timeout=None):
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while not cond():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {what} within the deadline")
            self._pump_once(left)

    def _pump_once(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 18)
        except socket.timeout:
            raise TimeoutError("the socket stayed silent") from None
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        if not data:
            if self.reset_code is None and not self.ended:
                self.reset_code = "connection closed"
            return
        for ev in self.h2.receive_data(data):
            self._event(ev)
        self._flush()

    def _event(self, ev):
        if isinstance(ev, h2.events.RemoteSettingsChanged):
            for code, change in ev.changed_settings.items():
                self.server_settings[code] = change.new_value
        elif isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == self.stream:
            self.response_headers = list(ev.headers)
            self.status = int(dict(ev.headers)[":status"])
            if self.status == 200:  # the tunnel is open: DATA in the same read is WebSocket's
                self.ws = websockets.connection.Connection(
                    websockets.connection.Side.CLIENT, websockets.connection.State.OPEN,
                    max_size=None)
        elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == self.stream:
            if ev.flow_controlled_length:
                self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            if self.ws is None:
                self.body += ev.data
                return
            self.ws.receive_data(ev.data)
            for frame in self.ws.events_received():
                self._frame(frame)
            self._send_ws_output()  # pongs, the answer to a Close
        elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == self.stream:
            self.ended = True
            if self.ws is not None:
                self.ws.receive_eof()
        elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == self.stream:
            self.reset_code = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            if self.reset_code is None and not self.ended:
                self.reset_code = f"GOAWAY {ev.error_code}"

    def _frame(self, frame):
        ops = websockets.frames.Opcode
        if frame.opcode in (ops.TEXT, ops.BINARY):
            self._fragments = [frame]
        elif frame.opcode is ops.CONT:
            self._fragments.append(frame)
        else:
            return  # ping, pong, close: the protocol object answers them
        if frame.fin:
            data = b"".join(bytes(f.data) for f in self._fragments)
            text = self._fragments[0].opcode is ops.TEXT
            self.messages.append(data.decode() if text else data)
            self._fragments = []
