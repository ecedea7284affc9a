#!/usr/bin/env python3
"""A quick WebSocket number without wrk: messages/s of one Python `websockets` client through
Switchyard and straight to the same echo server, in the same run (the ratio is the point; the
Python client is the bottleneck of both, so this bounds the proxy's added cost, it does not
measure its peak). Starts tests/integration/wsecho.py and the built switchyard on port 0.

    python3 bench/ws_ratio.py [--switchyard build/proxy/switchyard] [--messages 20000]
                              [--size 64] [--rounds 3]
"""
import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import read_ready_file, wait_for  # noqa: E402
from wsecho import EchoServer, websockets  # noqa: E402


async def rate(uri, count, size):
    payload = b"x" * size
    async with websockets.connect(uri, max_size=None, compression=None,
                                  ping_interval=None) as ws:
        t0 = time.perf_counter()

        async def writer():
            for _ in range(count):
                await ws.send(payload)

        async def reader():
            for _ in range(count):
                await ws.recv()

        await asyncio.gather(writer(), reader())
        return count / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--switchyard", default=os.path.join(HERE, "..", "build", "proxy",
                                                         "switchyard"))
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ws-ratio-")
    echo = EchoServer(work, "bench")
    cfg = os.path.join(work, "sy.yaml")
    ready = os.path.join(work, "sy.ready")
    with open(cfg, "w") as f:
        f.write(f"""workers: 1
log_level: warn
listeners:
  - {{name: main, port: 0, pool: main}}
pools:
  - name: main
    members: [{{address: "{echo.address}"}}]
    health_check: {{enabled: false}}
""")
    sy = subprocess.Popen([args.switchyard, "--config", cfg, "--ready-file", ready])
    try:
        info = wait_for(lambda: read_ready_file(ready), timeout=30, what="switchyard")
        proxied_uri = f"ws://{info['listener.main']}/"
        direct_uri = f"ws://{echo.address}/"
        for r in range(args.rounds):
            direct = asyncio.run(rate(direct_uri, args.messages, args.size))
            proxied = asyncio.run(rate(proxied_uri, args.messages, args.size))
            print(f"round {r + 1}: direct {direct:,.0f} msg/s, through switchyard "
                  f"{proxied:,.0f} msg/s, ratio {proxied / direct:.2f}")
    finally:
        sy.terminate()
        sy.wait()
        echo.stop()


if __name__ == "__main__":
    main()
