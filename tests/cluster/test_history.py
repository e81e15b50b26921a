"""Cluster history and resume past the persister, and what one instance acknowledged being seen
by every other one (issue 14: "History and resume fail while the persister is behind", "Right
after a room is created on A, C may answer not_found"). Same harness as test_cluster.py."""
from __future__ import annotations

import asyncio
import os
import time

from parley_cluster_harness import in_thread, run, send_many


def murmur2_partition(key: str, partitions: int) -> int:
    """The partition the producer puts a room's records in (librdkafka's murmur2, as Java's)."""
    data = key.encode()
    m, r = 0x5BD1E995, 24
    h = (0x9747B28C ^ len(data)) & 0xFFFFFFFF
    n4 = len(data) // 4
    for i in range(n4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    rest = data[4 * n4:]
    if len(rest) >= 3:
        h ^= rest[2] << 16
    if len(rest) >= 2:
        h ^= rest[1] << 8
    if len(rest) >= 1:
        h ^= rest[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions


PARTITIONS = 8  # the messages topic's default (--kafka-partitions)


def room_in_partition(c, base: str, partition: int) -> str:
    while True:
        name = c.room(base)
        if murmur2_partition(name, PARTITIONS) == partition:
            return name


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_history_of_a_room_the_persister_never_saw_on_an_instance_started_after_it_stopped(cluster):
    """The persister stores some traffic, then stops; i3 restarts (its snapshot predates what
    follows); room `fresh` (in a partition PostgreSQL has offsets for) is created on i1 and gets
    20 messages. On i3 the HTTP history, the WebSocket history (also paged with `before`) and a
    join with since=0 all give exactly those 20 messages."""
    c = cluster

    async def main():
        alice = c.new_user("fresh-owner", on=1)
        tok = c.tokens[alice]
        a = await c.ws(1, alice)
        warm = c.room("warm")
        await a.ok("create_room", room=warm)
        await send_many(a, warm, [f"w{k}" for k in range(30)])
        await in_thread(c.wait_db_matches_history, warm, tok)
        await in_thread(c.stop_persister)
        await in_thread(c.restart, 3)

        room = room_in_partition(c, "fresh", murmur2_partition(warm, PARTITIONS))
        await a.ok("create_room", room=room)
        sent = await send_many(a, room, [f"m{k}" for k in range(20)])
        seqs = [x["seq"] for x in sent]

        r = await in_thread(c.history_http, 3, room, tok)
        assert r.status == 200, f"HTTP history on i3: {r}"
        assert [m["seq"] for m in r.json["messages"]] == seqs
        assert r.json["has_more"] is False

        a3 = await c.ws(3, alice)
        h = await a3.ok("history", room=room, limit=8)
        assert [m["seq"] for m in h["messages"]] == seqs[-8:], h
        assert h["has_more"] is True
        h2 = await a3.ok("history", room=room, before=seqs[-8], limit=50)
        assert [m["seq"] for m in h2["messages"]] == seqs[:-8], h2
        assert h2["has_more"] is False

        j = await a3.ok("join", room=room, since=0)
        assert j["head"] == seqs[-1], j
        got = await a3.messages(room, 20, timeout=30)
        assert [m["seq"] for m in got] == seqs
        assert [m["text"] for m in got] == [f"m{k}" for k in range(20)]
        await a3.no_frame("message", within=0.5, room=room)

    run(main(), timeout=180)


async def produce(c, user: str, room: str, total: int, conns: list[int], window: int = 1000) -> list[int]:
    """`total` sends into `room` over one connection per entry of `conns` (its instance), each
    pipelining `window`; returns the acknowledged seqs."""
    share = total // len(conns)
    clients = [await c.ws(i, user) for i in conns]

    async def one(k: int, cl) -> list[int]:
        n = share if k < len(conns) - 1 else total - share * (len(conns) - 1)
        res = await send_many(cl, room, [f"{k}.{x}" for x in range(n)], window=window, timeout=120)
        return [r["seq"] for r in res]

    parts = await asyncio.gather(*(one(k, cl) for k, cl in enumerate(clients)))
    for cl in clients:
        await cl.close()
    return [s for p in parts for s in p]


RESUME_N = int(os.environ.get("PARLEY_RESUME_N", "200000"))


def test_resume_of_200000_missed_messages_past_a_stopped_persister(cluster):
    """With the persister stopped, 200,000 messages are acknowledged into one room (8 pipelining
    connections on i1 and i2). Bob resumes on i3 with since=<what he had seen>: every missed seq
    arrives once and in order, then a live one; i3's memory grows by far less than the backlog
    would take if it were read whole."""
    c = cluster

    async def main():
        alice = c.new_user("bulk", on=1)
        bob = c.new_user("resumer", on=3)
        tok = c.tokens[alice]
        a = await c.ws(1, alice)
        room = c.room("bulk")
        await a.ok("create_room", room=room)
        first = await send_many(a, room, [f"before {k}" for k in range(10)])
        await in_thread(c.wait_db_matches_history, room, tok)
        await in_thread(c.stop_persister)
        since = first[4]["seq"]

        t0 = time.monotonic()
        seqs = await produce(c, alice, room, RESUME_N, [1, 2] * 4)
        produced_s = time.monotonic() - t0
        assert len(set(seqs)) == RESUME_N
        stored = await in_thread(c.db_messages, room)
        assert len(stored) == 10, f"the persister is stopped, yet the table has {len(stored)} rows"
        expected = [x["seq"] for x in first[5:]] + sorted(seqs)

        pid = c.inst(3).pid
        rss0 = rss_kb(pid)
        peak = rss0
        b = await c.ws(3, bob)
        t1 = time.monotonic()
        j = await b.ok("join", room=room, since=since, timeout=30)
        assert j["head"] == expected[-1], j
        for k, want in enumerate(expected):
            m = await b.next_frame("message", timeout=30, room=room)
            assert m["seq"] == want, f"message {k} of the resume: seq {m['seq']}, expected {want}"
            if k % 20000 == 0:
                peak = max(peak, rss_kb(pid))
        resumed_s = time.monotonic() - t1
        peak = max(peak, rss_kb(pid))
        live = await a.ok("send", room=room, text="live")
        m = await b.next_frame("message", timeout=15, room=room)
        assert m["seq"] == live["seq"], m
        await b.no_frame("message", within=0.5, room=room)
        print(f"\n{RESUME_N} sends in {produced_s:.1f} s; resumed in {resumed_s:.1f} s; "
              f"i3 RSS {rss0 // 1024} -> peak {peak // 1024} MB")
        # Each message is ~100 bytes of log record: the whole backlog would be ~20 MB of records
        # and several times that as messages. A bounded stream stays well under it.
        assert peak - rss0 < 150 * 1024, f"i3's RSS grew by {(peak - rss0) // 1024} MB during the resume"

    run(main(), timeout=420)


def test_what_one_instance_acknowledged_is_never_refused_on_another(cluster):
    """300 times, with a new room each time: alice creates it on i1 (a private one every other
    time, inviting bob there), and the moment i1 answers, bob joins it on i3 and sends to it
    there. None of these may answer not_found or forbidden."""
    c = cluster

    async def main():
        alice = c.new_user("creator", on=1)
        bob = c.new_user("guest", on=3)
        a = await c.ws(1, alice)
        b = await c.ws(3, bob)
        refused = []
        for k in range(300):
            room = c.room(f"quick{k}")
            private = k % 2 == 1
            await a.ok("create_room", room=room, private=private)
            if private:
                await a.ok("invite", room=room, user=bob)
            op = ("join", {"room": room}) if k % 3 else ("send", {"room": room, "text": "hi"})
            r = await b.cmd(op[0], **op[1])
            if not r["ok"]:
                refused.append((k, op[0], room, r["error"]["code"]))
            if k % 3 == 0 and r["ok"]:
                await b.ok("join", room=room)
        assert not refused, f"{len(refused)} of 300 refused on i3 right after i1 said ok: {refused[:5]}"

    run(main(), timeout=240)
