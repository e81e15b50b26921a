"""Idle memory: what an authenticated, idle WebSocket connection costs the server, as RSS growth
over a few thousand connections (bench/idle_memory.py measures 10,000; issue 17's target is
1.5 KB, uWebSockets.js holds 1.49 KB).

Measured (Release, 3,000 connections, three runs each, on a machine shared with other builds):
1.30-1.36 KB a connection; the code before (any_io_executor in the session's socket and two
timers, a vector of buffers kept beside the frames, a timer and a parked wait per connection for
the keepalive): 1.96-1.99 KB. 3.5-5 s. The figures are printed (run with -s to see them).
Sanitizer builds keep shadow memory and quarantines per allocation: skipped there.
"""
from __future__ import annotations

import asyncio

import pytest
import websockets

from conftest import PARLEY_BIN, IS_ASAN, T, run

CONNECTIONS = 3000
USERS = 30  # 100 connections each, under the default 256 per user
# A regression guard, not the target: issue 17's 1.5 KB is measured by bench/idle_memory.py
# (docs/benchmarks.md). This bound leaves the allocator room on another machine (a third over
# today's figure) and still fails the code before (1.96 KB).
LIMIT_KB = 1.8


@pytest.mark.skipif(IS_ASAN or "san" in PARLEY_BIN.lower(), reason="sanitizer builds pad allocations")
def test_idle_connection_costs_under_limit(server):
    tokens = [server.token(f"idle{i}") for i in range(USERS)]
    url = f"ws://127.0.0.1:{server.port}/ws?token="

    async def main():
        conns = []
        slots = asyncio.Semaphore(200)

        async def connect(i):
            async with slots:
                c = await websockets.connect(url + tokens[i % USERS], ping_interval=None)
                await asyncio.wait_for(c.recv(), T(15))  # the welcome
                conns.append(c)

        try:
            # Warm-up: the allocator's arenas and the workers' caches exist before the reading.
            await asyncio.gather(*(connect(i) for i in range(200)))
            for c in conns:
                await c.close()
            conns.clear()
            await asyncio.sleep(0.5)
            before = server.rss_kb()
            await asyncio.gather(*(connect(i) for i in range(CONNECTIONS)))
            await asyncio.sleep(1)
            after = server.rss_kb()
        finally:
            for c in conns:
                c.transport.abort()
        per = (after - before) / CONNECTIONS
        print(f"\nidle: {CONNECTIONS} connections, RSS {before} -> {after} KB, {per:.2f} KB each "
              f"(limit {LIMIT_KB})")
        assert per <= LIMIT_KB, f"an idle connection costs {per:.2f} KB of RSS"

    run(main(), timeout=120)
