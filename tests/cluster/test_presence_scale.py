"""Cluster presence at size (issue 14, item 3): 100,000 (room, user) pairs online on one instance
are exactly right on another one, joins and leaves included (see conftest.py for the engines).

The 1,000 users' connections are bare WebSocket clients (BareWs): they send commands and count
results in the byte stream without parsing frames, so the ~2,000,000 member events that the
joins fan out on i1 cost the test process almost nothing."""
from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
from parley_cluster_harness import T, eventually, retry_ok, run

pytestmark = pytest.mark.cluster


class BareWs:
    """A WebSocket client that sends commands and counts their results (and failures) without
    parsing what the server sends. Frames are sent with the all-zero mask (valid per RFC 6455:
    the payload is then sent as is). A background task drains the socket, so the server never
    sees a slow consumer."""

    RESULT = b'"type":"result"'
    FAILED = b'"ok":false'

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.results = 0
        self.failed = 0
        self.closed = False
        self._tails = {self.RESULT: b"", self.FAILED: b""}
        self._seen = asyncio.Event()
        self._ids = 0
        self._task = asyncio.create_task(self._drain())

    @classmethod
    async def connect(cls, port: int, token: str) -> "BareWs":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        path = "/ws?" + urllib.parse.urlencode({"token": token})
        writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), T(30))
        assert b" 101 " in head.split(b"\r\n")[0], f"upgrade refused: {head[:200]!r}"
        return cls(reader, writer)

    async def _drain(self):
        while True:
            try:
                chunk = await self.reader.read(1 << 16)
            except (ConnectionError, asyncio.CancelledError):
                chunk = b""
            if not chunk:
                self.closed = True
                self._seen.set()
                return
            for pat in (self.RESULT, self.FAILED):
                data = self._tails[pat] + chunk
                n = data.count(pat)  # the tail is shorter than pat: only new occurrences
                if pat is self.RESULT:
                    self.results += n
                else:
                    self.failed += n
                self._tails[pat] = data[-(len(pat) - 1):]
            self._seen.set()

    def send(self, op: str, **fields):
        self._ids += 1
        payload = json.dumps({"type": op, "id": f"b{self._ids}", **fields}, separators=(",", ":")).encode()
        n = len(payload)
        head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
        self.writer.write(head + b"\0\0\0\0" + payload)

    async def until_results(self, n: int, timeout: float):
        deadline = time.monotonic() + T(timeout)
        while self.results < n:
            assert not self.closed, f"closed after {self.results}/{n} results"
            left = deadline - time.monotonic()
            assert left > 0, f"{self.results}/{n} results within {T(timeout):.0f}s"
            self._seen.clear()
            try:
                await asyncio.wait_for(self._seen.wait(), left)
            except asyncio.TimeoutError:
                pass

    def abort(self):
        """Drop the connection (no closing handshake): the user's presence there ends."""
        self.writer.transport.abort()


async def _online(cl, room: str) -> set[str]:
    r = await cl.ok("presence", room=room)
    names = r["online"]
    assert len(names) == len(set(names)), f"presence lists a user twice: {names}"
    return set(names)


def _events(cl, event: str, rooms: set[str]) -> set[tuple[str, str]]:
    return {(f["room"], f["user"]) for f in cl.queued("event", event=event) if f.get("room") in rooms}


def test_presence_of_100k_pairs_on_one_instance_is_exact_on_another(cluster_factory):
    """1,000 users on i1, each joined to 100 of 2,500 rooms (40 users a room): 100,000 (room, user)
    pairs online on i1. From i2, `presence` of 40 rooms lists exactly their users, and a watcher
    on i2 joined to them got exactly their member.joined events. Then 200 of the users drop
    their connection and 100 others leave 10 rooms each: i2's presence and member.left events
    are exactly that. (Before, i1 put its whole set into one Kafka record every 2 s, which cannot
    be produced past ~1 MB: i2 saw a part of the set or none of it.)"""
    users_n, per_user, rooms_n = 1000, 100, 2500
    c = cluster_factory(n=2, serve_flags=["--room-create-per-sec", "100000", "--room-create-burst", "100000"])

    async def main():
        t0 = time.monotonic()
        # Rooms first (each room.created goes to every connection: before the users connect).
        rooms = [c.room("p") for _ in range(rooms_n)]
        # Five creators side by side (20 were slower, not faster, in one run on a busy machine).
        creator = c.new_user("creator")
        creators = [await BareWs.connect(c.inst(1).port, c.tokens[creator]) for _ in range(5)]

        async def create(b: BareWs, names: list[str]):
            for k in range(0, len(names), 250):
                for r in names[k:k + 250]:
                    b.send("create_room", room=r)
                await b.until_results(k + len(names[k:k + 250]), 60)
            assert b.failed == 0, f"{b.failed} room creations failed"

        n = len(creators)
        await asyncio.gather(*(create(b, rooms[k::n]) for k, b in enumerate(creators)))
        for b in creators:
            b.abort()
        print(f"{rooms_n} rooms made in {time.monotonic() - t0:.1f}s")

        users = [c.user("pu") for _ in range(users_n)]
        with ThreadPoolExecutor(8) as pool:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: list(pool.map(lambda u: c.register(1, u), users)))
        joined = {u: [rooms[(i * per_user + k) % rooms_n] for k in range(per_user)] for i, u in enumerate(users)}
        members: dict[str, set[str]] = {r: set() for r in rooms}
        for u, rs in joined.items():
            for r in rs:
                members[r].add(u)
        print(f"{users_n} users registered, {time.monotonic() - t0:.1f}s in all")

        # A watcher on i2, joined to a sample of rooms (rooms 0..9 lose users by `leave` below).
        sample = set(rooms[:10]) | set(random.Random(14).sample(rooms[10:], 30))
        watch = c.new_user("watch", on=2)
        w2 = await c.ws(2, watch)
        for r in sorted(sample):
            await retry_ok(w2, "join", room=r)

        # 1,000 connections on i1, 100 joins each.
        t1 = time.monotonic()
        port = c.inst(1).port
        gate = asyncio.Semaphore(200)

        async def connect_and_join(u: str) -> BareWs:
            async with gate:
                b = await BareWs.connect(port, c.tokens[u])
                for r in joined[u]:
                    b.send("join", room=r)
                await b.until_results(per_user, 90)
                assert b.failed == 0, f"{u}: {b.failed} joins failed"
                return b

        bare = dict(zip(users, await asyncio.gather(*(connect_and_join(u) for u in users))))
        print(f"{users_n * per_user} joins answered in {time.monotonic() - t1:.1f}s")
        try:
            async def matches() -> bool:
                for r in sorted(sample):
                    if await _online(w2, r) != members[r] | {watch}:
                        return False
                return True

            async def detail():
                bad = []
                for r in sorted(sample):
                    got = await _online(w2, r)
                    if got != members[r] | {watch}:
                        bad.append(f"{r}: {len(got - {watch})} of {len(members[r])} listed")
                return f"{len(bad)} rooms wrong: {bad[:5]}"

            await eventually(matches, 20, "presence on i2 of the 40 sample rooms to be exactly their users",
                             interval=0.5, detail=detail)
            print(f"i2 exact {time.monotonic() - t1:.1f}s after the first join")
            await w2.no_frame("none", within=1.0)  # read what is queued
            expected_joined = {(r, u) for r in sample for u in members[r]}
            got_joined = _events(w2, "member.joined", sample)
            assert got_joined == expected_joined, (
                f"member.joined on i2: {len(expected_joined - got_joined)} missing, "
                f"{len(got_joined - expected_joined)} unexpected")

            # 200 users drop their connection; 100 others leave their first 10 rooms.
            t2 = time.monotonic()
            gone: set[tuple[str, str]] = set()
            for u in users[:200]:
                bare[u].abort()
                gone |= {(r, u) for r in joined[u]}
            for u in users[200:300]:
                for r in joined[u][:10]:
                    bare[u].send("leave", room=r)
                gone |= {(r, u) for r in joined[u][:10]}
            for u in users[200:300]:
                await bare[u].until_results(per_user + 10, 30)
                assert bare[u].failed == 0
            for r, u in gone:
                members[r].discard(u)
            await eventually(matches, 15, "presence on i2 of the sample rooms to drop the users gone",
                             interval=0.5, detail=detail)
            print(f"i2 exact again {time.monotonic() - t2:.1f}s after the leaves")
            await w2.no_frame("none", within=1.0)
            expected_left = {(r, u) for r, u in gone if r in sample}
            assert expected_left, "the sample should hold rooms that users left"
            got_left = _events(w2, "member.left", sample)
            assert got_left == expected_left, (
                f"member.left on i2: {len(expected_left - got_left)} missing, "
                f"{len(got_left - expected_left)} unexpected")
        finally:
            for b in bare.values():
                b.abort()

    run(main(), timeout=300)
