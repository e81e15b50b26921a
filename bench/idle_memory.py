#!/usr/bin/env python3
"""Idle memory per connection of a single node: the server's RSS growth over N authenticated,
idle WebSocket connections (python3 + websockets; 50 users, 200 connects in flight).

    bench/idle_memory.py build/parley [N] [-- extra serve flags]

PREFIX="heaptrack -o /tmp/ht" runs the server under a profiler (RSS is then the wrapper's; read the
heap from the profile); SIG=KILL kills the server while the connections are still open, so the
profile's "leaked" list is what the idle connections hold."""
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

BIN = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] != "--" else 10000
EXTRA = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
USERS = 50
PASSWORD = "correct-horse-9"

data = tempfile.mkdtemp()
server = subprocess.Popen(os.environ.get("PREFIX", "").split() + [
    BIN, "serve", "--listen", "127.0.0.1:0", "--data", data, "--argon2-mem-kib", "1024", *EXTRA],
    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
port = None
for line in server.stdout:
    if m := re.match(r"ready http://127\.0\.0\.1:(\d+)", line):
        port = int(m.group(1))
        break


def post(path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req).read())


def rss_kb():
    with open(f"/proc/{server.pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))


tokens = []
for i in range(USERS):
    post("/api/register", {"user": f"u{i}", "password": PASSWORD})
    tokens.append(post("/api/login", {"user": f"u{i}", "password": PASSWORD})["token"])


async def main():
    conns = []

    async def connect(i):
        c = await websockets.connect(f"ws://127.0.0.1:{port}/ws?token={tokens[i % USERS]}",
                                     ping_interval=None)
        await c.recv()  # the welcome
        conns.append(c)

    # Warm-up: the allocator's arenas and the workers' caches exist before the first reading.
    await asyncio.gather(*(connect(i) for i in range(200)))
    for c in conns:
        await c.close()
    conns.clear()
    await asyncio.sleep(0.5)
    before = rss_kb()
    slots = asyncio.Semaphore(200)

    async def bounded(i):
        async with slots:
            await connect(i)

    start = time.monotonic()
    await asyncio.gather(*(bounded(i) for i in range(N)))
    took = time.monotonic() - start
    await asyncio.sleep(1)
    after = rss_kb()
    print(json.dumps({"connections": N, "rss_before_kb": before, "rss_after_kb": after,
                      "kb_per_connection": round((after - before) / N, 2),
                      "connect_s": round(took, 2)}))
    if os.environ.get("SIG"):
        subprocess.run(["pkill", "-" + os.environ["SIG"], "-f", data])
        await asyncio.sleep(2)
    for c in conns:
        c.transport.abort()


asyncio.run(main())
subprocess.run(["pkill", "-TERM", "-f", data])
server.wait()
