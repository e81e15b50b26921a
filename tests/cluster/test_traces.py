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
"""
from __future__ import annotations

import json
import re
import secrets

import pytest
from parley_cluster_harness import eventually, retry_ok, run

pytestmark = pytest.mark.cluster

LOG_FLAGS = ["--log-level", "debug", "--log-format", "json"]
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


def test_a_send_is_followed_across_instances_and_the_persister(cluster_factory):
    c = cluster_factory(n=2, serve_flags=LOG_FLAGS, persist_flags=LOG_FLAGS)

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
