"""Every byte a client can make the server hold is bounded, per connection and per user:
commands awaiting results, connections per user and in all, and rooms created (each public room
is announced to every connection). Each test floods past one bound."""
from __future__ import annotations

import asyncio
import json

from conftest import IS_ASAN, T, raw_upgrade, run, ws_status


def test_inflight_bytes_are_capped_per_connection(server_factory):
    """Pipelined big commands past --max-inflight-bytes get rate_limited; nothing is lost of the
    ones admitted, and the server's RSS stays bounded however much the client pushes."""
    s = server_factory(["--max-inflight-bytes", "262144", "--rate-per-sec", "100000",
                        "--rate-burst", "100000"])
    pad = "p" * 60000  # unknown fields are ignored, but the frame is held until answered

    async def main():
        a = await s.connect("alice")
        await a.ok("create_room", room="lobby")
        rss0 = s.rss_kb()
        # A barrier (create_room) first: everything behind it waits in flight, for sure.
        ids = [await a.cmd_nowait("create_room", room="second")]
        for i in range(400):  # 24 MB of frames
            ids.append(await a.cmd_nowait("send", room="lobby", text=f"m{i}", pad=pad))
        results = [await a.result(rid, timeout=60) for rid in ids]
        rss1 = s.rss_kb()
        codes = [r.get("error", {}).get("code") for r in results if not r["ok"]]
        oks = [r for r in results[1:] if r["ok"]]
        assert set(codes) <= {"rate_limited"}, codes
        assert codes, "no command was refused: the in-flight byte cap is not enforced"
        assert oks, "every command was refused"
        # What was acknowledged is stored, once, in order.
        h = await a.ok("history", room="lobby", limit=200)
        stored = [m["text"] for m in h["messages"]]
        assert len(stored) == min(200, len(oks)), (len(stored), len(oks))
        growth_mb = (rss1 - rss0) / 1024
        limit_mb = 60 if IS_ASAN else 30
        assert growth_mb < limit_mb, f"RSS grew {growth_mb:.1f} MB over a 24 MB command flood"
        print(f"inflight flood: RSS {rss0 / 1024:.1f} -> {rss1 / 1024:.1f} MB, {len(codes)} refused")

    run(main(), timeout=120)


def test_connections_per_user_are_capped(server_factory):
    s = server_factory(["--max-connections-per-user", "5"])

    async def main():
        token = s.token("alice")
        conns = [await s.connect(token=token, user="alice") for _ in range(5)]
        rss0 = s.rss_kb()
        # A flood of upgrades past the cap: each is refused before a WebSocket exists.
        for _ in range(300):
            assert await ws_status(s.ws_url(token)) == 429
        growth_mb = (s.rss_kb() - rss0) / 1024
        assert growth_mb < (20 if IS_ASAN else 5), f"RSS grew {growth_mb:.1f} MB over 300 refusals"
        # Another user is not affected by alice's connections.
        bob = await s.connect("bob")
        await bob.ok("ping")
        # Once one of hers closes, she may connect again.
        await conns[0].close()
        for _ in range(50):
            if await ws_status(s.ws_url(token)) == 101:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("a freed connection slot was never given back")

    run(main())


def test_connections_in_all_are_capped(server_factory):
    s = server_factory(["--max-connections", "4"])

    async def main():
        conns = [await s.connect(f"u{i}") for i in range(4)]
        status, headers = await raw_upgrade(s.port, s.token("late"))
        assert status == 503, (status, headers)
        assert int(headers["retry-after"]) >= 1, headers  # clients are told when to come back
        # HTTP keeps working for everyone.
        assert s.http("GET", "/healthz").status == 200
        await conns[0].ok("ping")

    run(main())


def test_room_creation_is_quoted_per_user(server_factory):
    """Each public room is announced to every connection: one user cannot make the server
    broadcast without bound."""
    s = server_factory(["--room-create-per-sec", "1", "--room-create-burst", "5"])

    async def main():
        a = await s.connect("alice")
        watcher = await s.connect("watcher")
        for i in range(5):
            await a.ok("create_room", room=f"r{i}")
        rss0 = s.rss_kb()
        # A flood past the quota: nothing is created, stored or announced.
        ids = [await a.cmd_nowait("create_room", room=f"x{i}") for i in range(1000)]
        for rid in ids:
            assert (await a.result(rid))["error"]["code"] == "rate_limited"
        growth_mb = (s.rss_kb() - rss0) / 1024
        assert growth_mb < (20 if IS_ASAN else 5), f"RSS grew {growth_mb:.1f} MB over 1000 refusals"
        await a.err("create_room", "rate_limited", room="r5")
        # The refused room does not exist, and was not announced.
        await a.err("join", "not_found", room="r5")
        created = []
        while True:
            try:
                ev = await watcher.next_frame("event", timeout=T(0.5), event="room.created")
            except AssertionError:
                break
            created.append(ev["room"])
        assert created == [f"r{i}" for i in range(5)], created
        # Others keep their own quota.
        b = await s.connect("bob")
        await b.ok("create_room", room="bobs")
        await asyncio.sleep(1.1)
        await a.ok("create_room", room="r5")

    run(main())
