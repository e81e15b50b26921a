"""Persisters that come and go while a backlog is being written: nothing acknowledged is lost or
stored twice.

One instance takes a backlog of acknowledged sends with no persister running. Then persisters
are started one every 0.7 s while the oldest is stopped (SIGTERM and SIGKILL in turn), for 15 s,
so the consumer group rebalances again and again while batches are being folded and written.
One persister stays until PostgreSQL holds everything. Every acknowledged (room, seq) must be in
the messages table exactly once, with its msg_id, and the offsets must stand at the log's end.

Sizes: PARLEY_CHURN_MESSAGES (default 120,000) sends into 16 rooms, enough that a persister
needs several seconds to catch up, so that rebalances land mid-catch-up.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import time

import pytest
from parley_cluster_harness import Persister, T, in_thread, run, ws_connect

pytestmark = pytest.mark.cluster

MESSAGES = int(os.environ.get("PARLEY_CHURN_MESSAGES", "120000"))
ROOMS = 16
IN_FLIGHT = 64


async def backlog(c, rooms: list[str], total: int) -> dict[tuple[str, int], str]:
    """`total` acknowledged sends spread over `rooms`, one connection per room with IN_FLIGHT
    sends pipelined; returns (room, seq) -> msg_id of every ok result."""
    acked: dict[tuple[str, int], str] = {}
    per_room = total // len(rooms)

    async def one(room: str, k: int):
        user = c.user(f"churn{k}")
        token = await in_thread(c.register, 1, user)
        ws = await ws_connect(c.ws_url(1, token, None))
        welcome = json.loads(await ws.recv())
        assert welcome.get("type") == "welcome", welcome
        await ws.send(json.dumps({"type": "create_room", "id": "create", "room": room}))
        while (r := json.loads(await ws.recv())).get("type") != "result":
            pass  # room.created events of the rooms being made
        assert r.get("ok") is True, r
        sent = done = 0
        ids = itertools.count()

        async def send_one():
            nonlocal sent
            n = next(ids)
            await ws.send(json.dumps({"type": "send", "id": f"s{n}", "room": room, "text": f"{room} #{n}",
                                      "client_msg_id": f"{room}-{n}"}))
            sent += 1

        for _ in range(min(IN_FLIGHT, per_room)):
            await send_one()
        while done < per_room:
            frame = json.loads(await asyncio.wait_for(ws.recv(), T(60)))
            if frame.get("type") != "result":
                continue
            assert frame.get("ok") is True, f"send refused while writing the backlog: {frame}"
            acked[(room, frame["seq"])] = frame["msg_id"]
            done += 1
            if sent < per_room:
                await send_one()
        await ws.close()

    await asyncio.gather(*(one(room, k) for k, room in enumerate(rooms)))
    return acked


def test_persisters_come_and_go_during_a_backlog_and_nothing_is_lost(cluster_factory):
    c = cluster_factory(n=1, start=False)
    c.start(persister=False)
    rooms = [c.room(f"churn{k}") for k in range(ROOMS)]

    t0 = time.monotonic()
    acked = run(backlog(c, rooms, MESSAGES), timeout=600)
    took = time.monotonic() - t0
    print(f"backlog: {len(acked)} acknowledged sends in {took:.1f} s ({len(acked) / took:.0f}/s)")
    assert len(acked) == (MESSAGES // ROOMS) * ROOMS

    # Churn: a new persister every 0.7 s; the oldest of those alive stopped, SIGTERM and
    # SIGKILL in turn, so two or three are in the group at any time and it rebalances often.
    persisters: list[Persister] = []
    alive: list[Persister] = []
    stops = itertools.cycle(["term", "kill"])
    churn_end = time.monotonic() + 15.0
    stopped = {"term": 0, "kill": 0}
    while time.monotonic() < churn_end:
        d = c.workdir / f"persister-{len(persisters) + 1}"
        d.mkdir(parents=True, exist_ok=True)
        p = Persister(d)
        p.launch(c.persist_cmd())
        persisters.append(p)
        alive.append(p)
        time.sleep(0.7)
        if len(alive) >= 3:
            old = alive.pop(0)
            how = next(stops)
            if old.alive():
                old.proc.send_signal(signal.SIGTERM if how == "term" else signal.SIGKILL)
                stopped[how] += 1
    for old in alive[:-1]:
        old.proc.send_signal(signal.SIGKILL)
        stopped["kill"] += 1
    last = alive[-1]
    print(f"churn: {len(persisters)} persisters started, {stopped['term']} stopped by SIGTERM, "
          f"{stopped['kill']} by SIGKILL")

    try:
        # The last one (its group's session timeouts expire for the killed ones) stores the rest.
        # Done when the offsets stand at the log's end; every record is a creation or a send.
        records = len(acked) + ROOMS
        deadline = time.monotonic() + T(240)
        last_seen = None
        while True:
            assert last.alive(), f"the remaining persister exited:\n{last.log_tail()}"
            offsets = int(c.db("select coalesce(sum(next_offset), 0) from log_offsets")[0][0])
            stored = int(c.db("select count(*) from messages")[0][0])
            last_seen = (offsets, stored)
            if offsets >= records:
                break
            assert time.monotonic() < deadline, (
                f"PostgreSQL did not reach the log's end ({records} records) in time: offsets sum "
                f"{offsets}, {stored} messages stored\n{last.log_tail()}")
            time.sleep(1.0)
        rows = c.db("select room, seq, msg_id from messages")
    finally:
        for p in persisters:
            p.kill9()

    stored: dict[tuple[str, int], str] = {}
    doubled = []
    for room, seq, msg_id in rows:
        k = (room, int(seq))
        if k in stored:
            doubled.append(k)
        stored[k] = msg_id
    missing = sorted(k for k in acked if k not in stored)
    wrong = sorted(k for k, m in acked.items() if k in stored and stored[k] != m)
    extra = sorted(k for k in stored if k not in acked)
    print(f"stored {len(stored)} of {len(acked)} acknowledged; last offsets/rows {last_seen}")
    assert not missing, (f"{len(missing)} acknowledged messages never reached PostgreSQL although its "
                         f"offsets passed them: {missing[:5]}")
    assert not doubled, f"stored twice: {doubled[:5]}"
    assert not wrong, f"stored with another msg_id: {wrong[:5]}"
    assert not extra, f"stored but never acknowledged: {extra[:5]}"
    assert offsets == records, f"log_offsets sum {offsets}, the log holds {records} records"
