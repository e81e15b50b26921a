"""An instance reads only the partitions of the log that its clients use (docs/scaling.md,
"Capacity"): one that serves nobody reads and folds nothing, whatever the others carry. The
first command on a room loads its partition (PostgreSQL's snapshot at the persisted offset, then
the log from there), and from then on the instance decides exactly as one that had read it all
along: the same seqs, the same duplicates, the whole history, the live messages with no gap.
A new public room is announced to every connection, also on instances that do not read its
partition, and an invitation made elsewhere lets the invited user in at once.

Each instance's /metrics says what it reads: parley_log_partitions_read (a gauge) and
parley_log_records_folded_total. Fresh clusters: what an instance read before would hide it.
"""
from __future__ import annotations

import re

import pytest
from parley_cluster_harness import T, eventually, in_thread, retry_ok, run, send_many

pytestmark = pytest.mark.cluster

FLOOD = 300


def metric(c, i: int, name: str) -> int:
    r = c.http(i, "GET", "/metrics")
    assert r.status == 200, r
    for line in r.text.splitlines():
        m = re.fullmatch(rf"parley_{name} (\d+)", line)
        if m:
            return int(m.group(1))
    raise AssertionError(f"i{i} exports no parley_{name}")


def test_an_idle_instance_reads_nothing_and_a_late_reader_decides_the_same(cluster_factory):
    c = cluster_factory(n=3)

    async def main():
        alice = c.new_user("alice", on=1)
        bob = c.new_user("bob", on=2)
        carol = c.new_user("carol", on=3)
        a1 = await c.ws(1, alice)
        room = c.room("busy")
        await a1.ok("create_room", room=room)
        await a1.ok("join", room=room)
        first = await a1.ok("send", room=room, text="first", client_msg_id="once")
        sent = await send_many(a1, room, [f"m{k}" for k in range(FLOOD)])
        assert len(sent) == FLOOD

        # i2 and i3 serve nobody in the room: they read no partition and fold no record.
        assert metric(c, 1, "log_partitions_read") >= 1
        assert metric(c, 1, "log_records_folded_total") >= FLOOD + 2
        for i in (2, 3):
            assert metric(c, i, "log_partitions_read") == 0, f"i{i} reads partitions it serves nobody in"
            assert metric(c, i, "log_records_folded_total") == 0, f"i{i} folded records it serves nobody in"

        # A member joins on i2 from the start: the partition is loaded there, the replay is the
        # whole room in order, and live messages follow with no gap.
        b2 = await c.ws(2, bob)
        j = await b2.ok("join", room=room, since=0, timeout=T(30))
        assert j["head"] == sent[-1]["seq"], j
        got = await b2.messages(room, FLOOD + 1, timeout=T(30))
        assert [m["seq"] for m in got] == [first["seq"]] + [s["seq"] for s in sent]
        assert [m["text"] for m in got] == ["first"] + [f"m{k}" for k in range(FLOOD)]
        assert metric(c, 2, "log_partitions_read") == 1
        live = await a1.ok("send", room=room, text="live")
        m = await b2.next_frame("message", room=room, timeout=10)
        assert (m["seq"], m["text"]) == (live["seq"], "live"), m

        # i3 decides a send of its own as one that read the room all along: the next seq, and
        # the dedupe window (client_msg_id "once", sent on i1) loaded with the partition.
        c3 = await c.ws(3, alice)
        again = await c3.ok("send", room=room, text="first", client_msg_id="once", timeout=T(30))
        assert (again["seq"], again["msg_id"]) == (first["seq"], first["msg_id"]), again
        mine = await c3.ok("send", room=room, text="from i3")
        assert mine["seq"] > live["seq"], (mine, live)
        m = await b2.next_frame("message", room=room, timeout=10)
        assert (m["seq"], m["text"]) == (mine["seq"], "from i3"), m
        hist = await in_thread(c.history_all_http, 3, room, c.tokens[carol])
        assert [h["text"] for h in hist] == ["first"] + [f"m{k}" for k in range(FLOOD)] + ["live", "from i3"]

    run(main(), timeout=180)


def test_rooms_made_elsewhere_are_known_without_reading_their_partition(cluster_factory):
    c = cluster_factory(n=2)

    async def main():
        alice = c.new_user("alice", on=1)
        bob = c.new_user("bob", on=2)
        a1 = await c.ws(1, alice)
        b2 = await c.ws(2, bob)
        # A public room made on i1 is announced to bob on i2, which reads none of the log.
        lobby = c.room("lobby")
        await a1.ok("create_room", room=lobby)
        ev = await b2.next_frame("event", event="room.created", room=lobby, timeout=10)
        assert ev["user"] == alice, ev
        assert metric(c, 2, "log_partitions_read") == 0

        # An invitation on i1 into a private room: bob joins and reads it on i2 at once.
        secret = c.room("secret")
        await a1.ok("create_room", room=secret, private=True)
        await a1.ok("send", room=secret, text="before bob")
        await a1.ok("invite", room=secret, user=bob)
        await b2.ok("join", room=secret, since=0, timeout=T(30))
        m = await b2.next_frame("message", room=secret, timeout=10)
        assert m["text"] == "before bob", m
        # A stranger is still refused there (the refusal is confirmed against the log).
        mallory = c.new_user("mallory", on=2)
        m2 = await c.ws(2, mallory)
        await m2.err("join", "forbidden", room=secret)
        await m2.err("join", "not_found", room=c.room("nowhere"))
        # Unknown rooms stay unknown, and a room made on i2 is announced on i1.
        mine = c.room("mine")
        await b2.ok("create_room", room=mine)
        ev = await a1.next_frame("event", event="room.created", room=mine, timeout=10)
        assert ev["user"] == bob, ev
        await retry_ok(a1, "join", room=mine)

    run(main(), timeout=120)


BACKLOG = 100000


def test_an_instance_started_while_the_persister_is_down_serves_a_room_never_stored(cluster_factory):
    """The persister is down before the room exists, so PostgreSQL has nothing of it. i2 starts
    then, and its first join loads the partition from an empty snapshot and folds the whole
    backlog from the log: the resume is every acknowledged message once, in order, then live;
    history pages the same; once a persister is back, the table holds each message once."""
    c = cluster_factory(n=2)
    c.stop_persister()
    c.stop_instance(2)
    alice = c.new_user("alice", on=1)
    room = c.room("unstored")

    async def flood():
        a1 = await c.ws(1, alice)
        await a1.ok("create_room", room=room)
        return await send_many(a1, room, [f"b{k}" for k in range(BACKLOG)], window=200, timeout=T(300))

    sent = run(flood(), timeout=T(360))
    assert c.db(f"select count(*) from messages where room = '{room}'") == [["0"]]
    c.start_instance(2)

    async def resume():
        b2 = await c.ws(2, alice)
        j = await b2.ok("join", room=room, since=0, timeout=T(60))
        assert j["head"] == sent[-1]["seq"], j
        got = await b2.messages(room, BACKLOG, timeout=T(120))
        assert [(m["seq"], m["text"]) for m in got] == [(s["seq"], f"b{k}") for k, s in enumerate(sent)]
        a1 = await c.ws(1, alice)
        live = await a1.ok("send", room=room, text="live")
        m = await b2.next_frame("message", room=room, timeout=10)
        assert (m["seq"], m["text"]) == (live["seq"], "live"), m
        hist = await in_thread(c.history_all_http, 2, room, c.tokens[alice])
        assert [h["seq"] for h in hist] == [s["seq"] for s in sent] + [live["seq"]]

    run(resume(), timeout=T(300))
    c.start_persister()
    rows = c.wait_db_matches_history(room, c.tokens[alice], i=2, timeout=T(120))
    assert len(rows) == BACKLOG + 1 and len({r["seq"] for r in rows}) == BACKLOG + 1
