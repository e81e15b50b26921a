"""A partition the instance's tail cannot read (its offset out of range on the broker) turns
/readyz 503, and the tail goes on by itself once the broker has that offset.

The out-of-range offset is made the way it happens in production after a lost log tail (an
unclean leader election, a restored PostgreSQL newer than the log): PostgreSQL says a partition
is stored further than the log reaches. A new instance that reads the partition (a client joins
a room there) loads that snapshot and starts its tail there; the broker answers "offset out of
range". Then enough records arrive through the healthy
instance for the offset to exist, and the new instance's tail reads on.
"""
from __future__ import annotations

import asyncio
import time

import pytest
from parley_cluster_harness import T, run, send_many

pytestmark = pytest.mark.cluster

AHEAD = 10


def test_a_partition_out_of_range_is_not_ready_and_recovers(cluster_factory):
    c = cluster_factory(n=2, start=False)
    c.start()
    owner = c.new_user("tail")
    room = c.room("tail")

    async def first():
        o = await c.ws(1, owner)
        await o.ok("create_room", room=room)
        await send_many(o, room, [f"m{k}" for k in range(3)])

    run(first(), timeout=60)
    # Stored, then the persister goes and PostgreSQL is made to say 10 records more.
    deadline = time.monotonic() + T(30)
    while not c.db(f"select 1 from messages where room = '{room}' and text = 'm2'"):
        assert time.monotonic() < deadline, "the persister did not store the room"
        time.sleep(0.3)
    part = int(c.db(f"select partition from rooms where name = '{room}'")[0][0])
    c.stop_persister()
    c.stop_instance(2)
    stored = int(c.db(f"select next_offset from log_offsets where partition = {part}")[0][0])
    c.db(f"update log_offsets set next_offset = {stored + AHEAD} where partition = {part}")

    inst = c.inst(2)
    c._launch_instance(inst)
    c._wait_instance_started(inst)
    deadline = time.monotonic() + T(10)
    while c.readyz(2) != 200:  # it reads no partition yet
        assert time.monotonic() < deadline, f"i2 is not ready:\n{inst.log_tail(20)}"
        time.sleep(0.2)

    async def stuck_then_recovered():
        # i2 reads a partition once a client needs it: a join there starts the read, at the
        # offset PostgreSQL gives, which the broker does not have.
        r = await c.ws(2, owner)
        join = asyncio.ensure_future(r.ok("join", room=room, since=0, timeout=T(60)))
        # Not ready while the partition cannot be read: within 10 s, and it stays so.
        deadline = time.monotonic() + T(10)
        while c.readyz(2) != 503:
            assert time.monotonic() < deadline, f"i2 /readyz is {c.readyz(2)} with a partition out of range"
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.0)
        assert c.readyz(2) == 503, "i2 said ready again while its partition was still out of range"

        o = await c.ws(1, owner)
        await send_many(o, room, [f"n{k}" for k in range(AHEAD + 5)])
        deadline = time.monotonic() + T(15)
        while c.readyz(2) != 200:
            assert time.monotonic() < deadline, f"i2 did not recover once the offset existed:\n{inst.log_tail(20)}"
            await asyncio.sleep(0.2)
        await join

    run(stuck_then_recovered(), timeout=120)

    async def live():
        # The recovered tail delivers: a message sent on i1 reaches a member joined on i2.
        r = await c.ws(2, owner)
        await r.ok("join", room=room)
        o = await c.ws(1, owner)
        sent = await o.ok("send", room=room, text="after")
        m = await r.next_frame("message", timeout=10)
        assert m["seq"] == sent["seq"], m

    run(live(), timeout=60)
