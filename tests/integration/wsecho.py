"""A WebSocket echo server for the tunnel tests: Python `websockets` (Debian python3-websockets),
one process on a loopback port. Every message (text or binary, any size) is sent back as it came;
a plain HTTP request gets the library's own answer (426 Upgrade Required, 400 for a bad
handshake), so the proxy's non-101 path is tested against a real server too.

    python3 wsecho.py --port 0 --ready-file F [--name N]

The ready file gets "port=N" once listening. `GET /name` as a WebSocket gets the server's name
as its first message (tells members apart); every other path is an echo.
"""
import argparse
import asyncio
import os
import sys

try:
    import websockets
except ImportError:  # a Python outside Debian's (pyenv, venv) does not see dist-packages
    sys.path.append("/usr/lib/python3/dist-packages")
    import websockets


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--name", default="echo")
    args = ap.parse_args()

    async def handler(ws, path=None):
        path = path if path is not None else ws.path
        if path == "/name":
            await ws.send(args.name)
        async for message in ws:
            await ws.send(message)

    server = await websockets.serve(handler, "127.0.0.1", args.port, max_size=None,
                                    max_queue=4, compression=None, ping_interval=None)
    port = server.sockets[0].getsockname()[1]
    tmp = args.ready_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"port={port}\npid={os.getpid()}\n")
    os.rename(tmp, args.ready_file)
    await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())


def random_messages(count, seed=1234):
    """|count| test messages for the tunnel tests: text (every third, up to 64 characters up
    to U+02FF) and binary (0..4 KiB), random but the same for a seed."""
    import random
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        if i % 3 == 0:
            out.append("".join(chr(rnd.randrange(32, 0x2FF)) for _ in range(rnd.randrange(64))))
        else:
            out.append(rnd.randbytes(rnd.randrange(4096)))
    return out


class RssSampler:
    """Samples a Switchyard's VmRSS every 10 ms while a big message crosses (`with`);
    VmHWM (peak_rss_kib) catches what the samples miss. .before and .peak in KiB."""

    def __init__(self, sy):
        import threading
        self.sy = sy
        self.before = sy.rss_kib()
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample)

    def _sample(self):
        while not self._done.is_set():
            self.peak = max(self.peak, self.sy.rss_kib())
            self._done.wait(0.01)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()

    def assert_bounded(self, test, kib, size):
        """The proxy's memory stayed bounded while a |size|-byte message crossed: its peak
        under |kib| in a normal build. Under ASan the runtime alone is ~58 MiB before any
        traffic, so there the peak's growth over the VmRSS before the message is bounded
        instead: |kib| plus the 16 MiB quarantine of freed buffers (a buffered 50 MB
        message still breaks it)."""
        from harness import SANITIZER, rss_growth_limit_kib
        peak = self.sy.peak_rss_kib()
        if SANITIZER == "address":
            test.assertLess(peak - self.before, rss_growth_limit_kib(kib), self.message(size))
        else:
            test.assertLess(peak, kib, self.message(size))

    def message(self, size):
        return (f"VmHWM {self.sy.peak_rss_kib()} KiB (VmRSS before {self.before}, sampled "
                f"peak {self.peak}) for a {size}-byte message each way")


class EchoServer:
    """wsecho.py in a process of its own (its CPU and memory are not the proxy's)."""

    def __init__(self, workdir, name="echo"):
        import subprocess
        from harness import read_ready_file, wait_for
        self.name = name
        ready = os.path.join(workdir, f"wsecho-{name}.ready")
        self._log = open(os.path.join(workdir, f"wsecho-{name}.log"), "wb")
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--port", "0",
                                      "--name", name, "--ready-file", ready],
                                     stdout=self._log, stderr=subprocess.STDOUT)

        def ready_now():
            if self.proc.poll() is not None:
                raise AssertionError(f"wsecho {name} exited with {self.proc.returncode}")
            return read_ready_file(ready)

        info = wait_for(ready_now, timeout=30, what=f"wsecho {name} to start")
        self.port = int(info["port"])
        self.address = f"127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
