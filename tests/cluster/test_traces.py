"""Traces across processes: one command followed by its W3C trace id through the instance that
took it, another instance that delivered it to a member, and the persister that stored it.

Two instances and a persister log JSON lines at debug (`--log-format json --log-level debug`).
A send carries a client-chosen `traceparent` on i1, a member joined on i2 receives it, the
persister stores it: the same trace id is in log lines of all three (parsed as JSON; every line
of every log must parse), with i1's span id handed on to i2 and the persister, and the result
echoes the traceparent parley used. A send without a traceparent gets a new trace that shows the
same way; an invalid one (an all-zero trace id, a wrong type, garbage, 10,000 chars) is
replaced, never refused.

The binary before traces refuses `--log-format` and does not start; with only the debug level
(text logs), no line names a trace id and no result echoes one.

The other topics carry traces too: a result published on parley.results (its session moved to
another instance while the command waited) is logged on the receiving instance under the
command's trace; events records (typing, presence deltas) under the trace of the command that
caused them, and those of no command (a closed connection, heartbeats, snapshots) under a trace
of their own; a dead letter on parley.dlq has its command's traceparent header. The binary
before that logs none of those lines and writes no such header.

Every test here shares one cluster of two instances and a persister (fresh names per test).
"""
from __future__ import annotations

import asyncio
import json
import re
import secrets

import subprocess

import pytest
from parley_cluster_harness import Cluster, T, eventually, half_close, in_thread, retry_ok, run

pytestmark = pytest.mark.cluster

LOG_FLAGS = ["--log-level", "debug", "--log-format", "json"]
TRACE_ID = re.compile(r"[0-9a-f]{32}")
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def log_lines(proc) -> list[dict]:
    """Every line the process logged, each parsed as one JSON object (a line that is not one
    fails the test: the format must hold for every line, librdkafka's included)."""
    out = []
    for path in proc.logs:
        for n, line in enumerate(path.read_text(errors="strict").splitlines(), 1):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise AssertionError(f"{path}:{n} is not a JSON line ({e}): {line!r}") from None
            assert isinstance(obj, dict), f"{path}:{n}: {line!r}"
            assert {"ts", "level", "msg"} <= obj.keys(), f"{path}:{n}: {line!r}"
            out.append(obj)
    return out


def traced(proc, trace_id: str) -> list[dict]:
    return [o for o in log_lines(proc) if o.get("trace_id") == trace_id]


def msgs(lines: list[dict]) -> str:
    return "\n".join(f"{o.get('level')} {o.get('span_id')} {o['msg']}" for o in lines)


async def followed(c, trace_id: str, seq: int) -> dict[str, list[dict]]:
    """Waits until the trace shows on i1 (admission, fold, result), on i2 (its fold) and on the
    persister (the stored message of `seq`); returns the lines of each."""
    wanted = {
        "i1": (c.inst(1), ("command send", "log: folded message", "result of send")),
        "i2": (c.inst(2), ("log: folded message",)),
        "persister": (c.persister, (f"persister: stored message of ",)),
    }
    for name, (proc, needles) in wanted.items():
        await eventually(lambda: all(any(n in o["msg"] for o in traced(proc, trace_id)) for n in needles), 20,
                         f"{name}'s log to show trace {trace_id} ({', '.join(needles)})",
                         detail=lambda: msgs(traced(proc, trace_id)) or "no line with it")
    lines = {name: traced(proc, trace_id) for name, (proc, _) in wanted.items()}
    stored = [o for o in lines["persister"] if "stored message" in o["msg"]]
    assert any(f"(seq {seq}," in o["msg"] for o in stored), msgs(stored)
    return lines


@pytest.fixture(scope="module")
def traced_cluster(kafka, postgres, tmp_path_factory):
    """Two instances and a persister logging JSON lines at debug, shared by this module's tests."""
    c = Cluster(kafka, postgres, tmp_path_factory.mktemp("traces"), 2, serve_flags=LOG_FLAGS,
                persist_flags=LOG_FLAGS)
    try:
        c.start()
        yield c
    finally:
        c.close()


def traceparent() -> tuple[str, str]:
    """A client's traceparent and its trace id."""
    trace_id = secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01", trace_id


async def logged(proc, name: str, trace_id: str, needle: str, within: float = 20):
    """Waits until a line of `proc` with `needle` names `trace_id`."""
    await eventually(lambda: any(needle in o["msg"] for o in traced(proc, trace_id)), within,
                     f"{name}'s log to show {needle!r} under trace {trace_id}",
                     detail=lambda: msgs(traced(proc, trace_id)) or "no line with it")


def test_a_send_is_followed_across_instances_and_the_persister(traced_cluster):
    c = traced_cluster

    async def main():
        alice, bob = c.new_user("trace", on=1), c.new_user("trace", on=2)
        a, b = await c.ws(1, alice), await c.ws(2, bob)
        room = c.room("trace")
        await a.ok("create_room", room=room)
        await retry_ok(b, "join", room=room)

        # 1. A client-chosen traceparent: kept, continued with parley's span, echoed.
        trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
        text = 'she said "hi"\nand left \\ {}'
        r = await a.ok("send", room=room, text=text, traceparent=f"00-{trace_id}-{parent}-01")
        m = TRACEPARENT.fullmatch(r.get("traceparent", ""))
        assert m, f"the result does not echo a traceparent: {r}"
        assert m.group(1) == trace_id and m.group(3) == "01", r
        span = m.group(2)
        assert span != parent, "parley's span must be its own, not the caller's"
        got = await b.next_frame("message", room=room, timeout=15)
        assert got["text"] == text and got["seq"] == r["seq"], got
        lines = await followed(c, trace_id, r["seq"])
        # i1's lines are parley's span; the record hands that span on, so i2 and the persister
        # log the same one: a trace tool sees one span of parley per command.
        for name, ls in lines.items():
            assert {o["span_id"] for o in ls} == {span}, f"{name}: spans {msgs(ls)}"

        # An invitation (its record is made after a user lookup on a PostgreSQL thread) carries
        # its command's trace to i2 too.
        invite_trace = secrets.token_hex(16)
        r = await a.ok("invite", room=room, user=bob, traceparent=f"00-{invite_trace}-{parent}-01")
        assert r["traceparent"].startswith(f"00-{invite_trace}-"), r
        await eventually(lambda: any("folded new member" in o["msg"] for o in traced(c.inst(2), invite_trace)), 20,
                         f"i2 to log the invitation's trace {invite_trace}",
                         detail=lambda: msgs(traced(c.inst(2), invite_trace)) or "no line with it")

        # 2. No traceparent: a new trace, in the logs of all three, not echoed.
        r = await a.ok("send", room=room, text="plain", id="untraced-1")
        assert "traceparent" not in r, r
        admitted = [o for o in log_lines(c.inst(1)) if o["msg"].startswith("command send id untraced-1 ")]
        assert len(admitted) == 1, msgs(admitted)
        new_trace = admitted[0].get("trace_id", "")
        assert re.fullmatch(r"[0-9a-f]{32}", new_trace) and new_trace != "0" * 32, admitted
        await followed(c, new_trace, r["seq"])

        # 3. Invalid traceparents are replaced (a new trace), never refused.
        invalid = ["00-" + "0" * 32 + f"-{parent}-01",        # all-zero trace id
                   f"00-{trace_id.upper()}-{parent}-01",      # upper case
                   f"01-{trace_id}-{parent}-01",              # another version
                   "garbage", 42, None, "x" * 10000]
        seen = {trace_id, new_trace}
        for k, tp in enumerate(invalid):
            r = await a.ok("send", room=room, text=f"invalid {k}", traceparent=tp)
            m = TRACEPARENT.fullmatch(r.get("traceparent", ""))
            assert m and m.group(3) == "00", f"{tp!r}: {r}"
            assert m.group(1) not in seen, f"{tp!r}: trace id reused: {r}"
            seen.add(m.group(1))
            replaced = [o for o in traced(c.inst(1), m.group(1)) if "replaced" in o["msg"]]
            assert replaced, f"{tp!r}: no line says it was replaced"
        await followed(c, m.group(1), r["seq"])

        # 4. A request id is the client's: quotes, a newline and a backslash stay inside the
        # line's msg (every line of every log parses as one object, checked by log_lines).
        await a.ok("ping", id='q"\n[x] forged\\')
        ping = [o for o in log_lines(c.inst(1)) if o["msg"].startswith("command ping id q")]
        assert [o["msg"] for o in ping] == [f'command ping id q\\"\\u000a[x] forged\\\\ from {alice} '
                                            f'(session {a.welcome["session"]})'], msgs(ping)

    run(main(), timeout=120)


def test_a_result_on_the_results_topic_carries_its_command_trace(traced_cluster, postgres):
    """An invitation waits for its user lookup (PostgreSQL stopped) while its connection on i1
    drops and the session comes back on i2: i1 reads the claim, then answers the invitation on
    parley.results to i2. The trace shows on i1 (command, result, publication) and on i2 (the
    record read, the result delivered), and the result echoes it to the client on i2. The same
    when i1 answered while the session was nowhere, kept the result, and sent it on to i2 when
    the session came back there: the record carries the invitation's trace, not the claim's."""
    postgres.require_control()
    c = traced_cluster

    async def main():
        alice, bob = c.new_user("tres", on=1), c.new_user("tres-b", on=1)
        session = f"tres-{secrets.token_hex(8)}"
        a = await c.ws(1, alice, session=session)
        room = c.room("tres")
        await a.ok("create_room", room=room)
        tp, trace_id = traceparent()
        await in_thread(postgres.pause)
        try:
            rid = await a.cmd_nowait("invite", room=room, user=bob, traceparent=tp)
            await logged(c.inst(1), "i1", trace_id, "command invite")
            await half_close(a)
            assert rid not in a.results, f"answered with PostgreSQL stopped: {a.results[rid]}"
            back = await c.ws(2, alice, token=c.tokens[alice], session=session)
            # i1 knows the session is on i2 before the invitation is answered.
            await eventually(lambda: any(f"claim of {alice} session {session} by {c.inst(2).name}" in o["msg"]
                                         and o.get("trace_id") for o in log_lines(c.inst(1))), 15,
                             "i1 to read i2's claim (under a trace of its own)")
        finally:
            await in_thread(postgres.resume)
        r = await back.result(rid, timeout=30)
        assert r["ok"] and r["traceparent"].startswith(f"00-{trace_id}-"), r
        await logged(c.inst(1), "i1", trace_id, "result of invite")
        await logged(c.inst(2), "i2", trace_id, f"session bus: result for {alice} session {session}")

        # Kept first: answered while the session is nowhere (i1 keeps the result), then sent on
        # to i2 when the session comes back there. It still carries the invitation's trace, not
        # the claim's.
        carol = c.new_user("tres-c", on=1)
        session = f"tres-{secrets.token_hex(8)}"
        a = await c.ws(1, alice, token=c.tokens[alice], session=session)
        tp, trace_id = traceparent()
        await in_thread(postgres.pause)
        try:
            rid = await a.cmd_nowait("invite", room=room, user=carol, traceparent=tp)
            await logged(c.inst(1), "i1", trace_id, "command invite")
            await half_close(a)
        finally:
            await in_thread(postgres.resume)
        await logged(c.inst(1), "i1", trace_id, "result of invite")
        back = await c.ws(2, alice, token=c.tokens[alice], session=session)
        r = await back.result(rid, timeout=30)
        assert r["ok"] and r["traceparent"].startswith(f"00-{trace_id}-"), r
        await logged(c.inst(2), "i2", trace_id, f"session bus: result for {alice} session {session}")

    run(main(), timeout=90)


def test_events_records_carry_the_trace_of_their_cause(traced_cluster):
    """Typing and a join on i1, each with a client's traceparent: i2 logs the typing record and
    the presence delta under those traces. A connection closed on i1 (no command) makes a delta
    under a new trace, which i2 logs too. Every line either instance logs about an events record
    names a trace (heartbeats, snapshot requests and chunks included)."""
    c = traced_cluster

    async def main():
        alice, bob = c.new_user("tev", on=1), c.new_user("tev-b", on=2)
        a, b = await c.ws(1, alice), await c.ws(2, bob)
        room = c.room("tev")
        await a.ok("create_room", room=room)
        await retry_ok(b, "join", room=room)

        tp, join_trace = traceparent()
        await a.ok("join", room=room, traceparent=tp)
        await logged(c.inst(1), "i1", join_trace, "events: publishing presence delta")
        await logged(c.inst(2), "i2", join_trace, f"events: presence delta ")
        await b.next_frame("event", event="member.joined", room=room, user=alice, timeout=15)

        tp, typing_trace = traceparent()
        await a.ok("typing", room=room, traceparent=tp)
        await logged(c.inst(2), "i2", typing_trace, f"events: typing in {room} by {alice}")
        await b.next_frame("event", event="typing", room=room, user=alice, timeout=15)

        # A connection that closes: its user's leave is no command's.
        before = {o.get("trace_id") for o in log_lines(c.inst(2)) if "events: presence delta" in o["msg"]}
        await half_close(a)
        await b.next_frame("event", event="member.left", room=room, user=alice, timeout=15)
        deltas = [o for o in log_lines(c.inst(2))
                  if "events: presence delta" in o["msg"] and o.get("trace_id") not in before]
        assert deltas and all(TRACE_ID.fullmatch(o.get("trace_id", "")) for o in deltas), msgs(deltas)

        for k in (1, 2):
            about = [o for o in log_lines(c.inst(k)) if o["msg"].startswith("events: ")]
            untraced = [o for o in about if not TRACE_ID.fullmatch(o.get("trace_id", ""))]
            assert about and not untraced, f"i{k}: events lines without a trace:\n{msgs(untraced)}"

    run(main(), timeout=90)


def test_a_dead_letter_carries_its_command_trace(traced_cluster, kafka):
    """Sends with ttl_ms expire while the broker is stopped: an expired one's dead letter on
    parley.dlq has the command's traceparent header, and i1's line about it names the trace."""
    kafka.require_control()
    c = traced_cluster

    async def main():
        alice = c.new_user("tdl", on=1)
        a = await c.ws(1, alice)
        room = c.room("tdl")
        await a.ok("create_room", room=room)
        # While the broker is stopped: sends with a long ttl fill the producer's requests in
        # flight (at most 5), so the next ones wait in its queue; those have a short ttl, and the
        # log purges the queue at the first one's deadline: that one provably never reached a
        # broker and is answered `timeout` (a dead letter). The later ones are purged before
        # their deadlines (`unavailable`, no dead letter).
        await in_thread(kafka.pause)
        try:
            for k in range(6):
                await a.cmd_nowait("send", room=room, text=f"in flight {k}", ttl_ms=10000)
                await asyncio.sleep(0.06)
            sent = []
            for k in range(3):
                tp, trace_id = traceparent()
                sent.append((await a.cmd_nowait("send", room=room, text=f"expires {k}", ttl_ms=300,
                                                traceparent=tp), trace_id))
                await asyncio.sleep(0.06)
            results = [(await a.result(rid, timeout=15), trace_id) for rid, trace_id in sent]
        finally:
            await in_thread(kafka.resume)
        expired = [(r, t) for r, t in results if not r["ok"] and r["error"]["code"] == "timeout"]
        assert expired, f"no send expired: {[r for r, _ in results]}"
        print(f"{len(expired)} of {len(results)} sends expired")
        r, trace_id = expired[-1]
        assert r["traceparent"].startswith(f"00-{trace_id}-"), r
        await logged(c.inst(1), "i1", trace_id, "dead letter: send")

        def header() -> bool:
            # This cluster's dlq topic holds this test's dead letters only: the header is found
            # in kcat's output as a whole (the MAC header's bytes may hold any byte, newlines too).
            p = subprocess.run(["kcat", "-b", c.kafka.bootstrap, "-C", "-t", c.topic("parley.dlq"), "-o",
                                "beginning", "-e", "-q", "-f", "%h %s\\n"], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=T(30))
            return f"traceparent=00-{trace_id}-".encode() in p.stdout and r["id"].encode() in p.stdout
        await eventually(lambda: in_thread(header), 20, f"a record on parley.dlq with traceparent 00-{trace_id}-...")

    run(main(), timeout=60)
