#!/usr/bin/env python3
"""Writes the seed corpus of h2_fuzz (tests/fuzz/corpus/h2/): one file per client behaviour,
as h2_fuzz reads it (a flags byte, then raw HTTP/2 frames that follow the preface and an empty
SETTINGS frame). Run again after changing a seed; the files are in git.

HPACK is written by hand without Huffman coding (RFC 7541 6.1 indexed, 6.2.2 literal without
indexing), so a mutated seed still mostly parses and the fuzzer reaches the session code.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "h2")

DATA, HEADERS, PRIORITY, RST, SETTINGS, PUSH, PING, GOAWAY, WINDOW, CONT = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIO = 0x1, 0x1, 0x4, 0x8, 0x20

READS = 1  # flags byte: the client reads the server's output
HALVES = 2  # fed in two halves


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(
        ">I", stream) + payload


def lit(name, value):
    """Literal header field without indexing, new name, no Huffman."""
    n, v = name.encode(), value.encode()
    assert len(n) < 127 and len(v) < 127
    return b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v


def req(path="/a", method="GET", extra=()):
    block = b""
    block += {"GET": b"\x82", "POST": b"\x83"}.get(method) or lit(":method", method)
    block += b"\x86"  # :scheme http
    block += b"\x84" if path == "/" else lit(":path", path)
    block += lit(":authority", "fuzz.example")
    for name, value in extra:
        block += lit(name, value)
    return block


def headers(stream, block, end_stream=True):
    return frame(HEADERS, END_HEADERS | (END_STREAM if end_stream else 0), stream, block)


def data(stream, payload, end_stream=False):
    return frame(DATA, END_STREAM if end_stream else 0, stream, payload)


def settings(*pairs):
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def window(stream, inc):
    return frame(WINDOW, 0, stream, struct.pack(">I", inc))


SEEDS = {
    # Every answer of the canned origin, one GET each.
    **{f"get_{k}": bytes([READS]) + headers(1, req(f"/{k}")) for k in "abcdefghi"},
    "get_root_not_reading": bytes([0]) + headers(1, req("/")),
    "large_with_window_updates": bytes([READS]) + headers(1, req("/e")) + window(0, 1 << 20) +
    window(1, 1 << 20),
    "large_not_reading": bytes([HALVES]) + headers(1, req("/e")) + window(0, 1 << 20) +
    window(1, 1 << 20),
    "post_length": bytes([READS]) + headers(1, req("/a", "POST", [("content-length", "10")]),
                                            end_stream=False) +
    data(1, b"01234") + data(1, b"56789", end_stream=True),
    "post_chunked_trailers": bytes([READS | HALVES]) +
    headers(1, req("/b", "POST", [("te", "trailers")]), end_stream=False) + data(1, b"hello") +
    headers(1, lit("x-trailer", "1")),
    "expect_continue": bytes([READS]) +
    headers(1, req("/d", "POST", [("expect", "100-continue"), ("content-length", "2")]),
            end_stream=False) + data(1, b"ok", end_stream=True),
    "continuation": bytes([READS]) + frame(HEADERS, END_STREAM, 1, req("/a")[:3]) +
    frame(CONT, 0, 1, req("/a")[3:6]) + frame(CONT, END_HEADERS, 1, req("/a")[6:]),
    "headers_without_end": bytes([READS]) + frame(HEADERS, END_STREAM, 1, req("/a")),
    "padded_priority": bytes([READS]) +
    frame(HEADERS, END_HEADERS | END_STREAM | PADDED | PRIO, 1,
          b"\x03" + struct.pack(">IB", 0, 15) + req("/a") + b"\x00\x00\x00"),
    "many_streams": bytes([READS]) + b"".join(headers(i, req("/" + "abcdfhi"[i // 2 % 7]))
                                              for i in range(1, 40, 2)),
    "reset_streams": bytes([READS]) + b"".join(
        headers(i, req("/e")) + frame(RST, 0, i, struct.pack(">I", 8)) for i in range(1, 20, 2)),
    "lower_stream_id": bytes([READS]) + headers(5, req("/a")) + headers(3, req("/a")),
    "settings_window_zero": bytes([READS]) + settings((4, 0), (1, 4096), (3, 1), (5, 16384)) +
    headers(1, req("/a")) + settings((4, 65535)),
    "ping_priority_goaway": bytes([READS]) + frame(PING, 0, 0, b"12345678") +
    frame(PRIORITY, 0, 3, struct.pack(">IB", 1, 10)) + headers(1, req("/c")) +
    frame(GOAWAY, 0, 0, struct.pack(">II", 1, 0)),
    "settings_ack_and_push": bytes([READS]) + frame(SETTINGS, ACK, 0) +
    frame(PUSH, END_HEADERS, 1, struct.pack(">I", 2) + req("/a")) + headers(1, req("/a")),
    "bad_method_and_connect": bytes([READS]) + headers(1, req("/a", "BREW")) +
    headers(3, b"" + lit(":method", "CONNECT") + lit(":authority", "x:1")),
    "forbidden_headers": bytes([READS]) +
    headers(1, req("/a", extra=[("connection", "close"), ("transfer-encoding", "chunked"),
                                ("host", "other.example"), ("x_under", "1")])),
    "window_overflow": bytes([READS]) + headers(1, req("/e")) + window(1, 0x7fffffff) +
    window(1, 0x7fffffff) + window(0, 0),
    "data_on_closed": bytes([READS]) + headers(1, req("/a")) + data(1, b"late", True) +
    data(7, b"idle"),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, content in sorted(SEEDS.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(content)
    print(f"wrote {len(SEEDS)} seeds to {OUT}")


if __name__ == "__main__":
    main()
