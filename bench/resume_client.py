#!/usr/bin/python3
"""The client of `scripts/bench-cluster resume` (python3 + websockets, one asyncio loop).

  resume_client.py flood --ports P1,P2[,..] --count N [--rooms R] [--conns C] [--window W]
                         [--drop-after K] [--tag T] [--pids PIDS] --state FILE
      A member connects to the first port and joins R public rooms. C sender connections
      (spread over the ports, never joined: a public room takes sends from anyone) send N
      100-byte messages in all, connection c into room c % R, W sends in flight each, as fast
      as they are acknowledged. The member reads its live messages; once it has seen K of room 0
      it drops its connection (TCP abort, no close frame), remembering the last seq it saw of
      each room (S0). Every acknowledged (connection, k) -> seq is written to FILE for `resume`.
  resume_client.py resume --port P --state FILE [--pid PID] [--label L]
      The member connects to P (another instance) and joins each room with since=S0. It checks
      every message frame as it arrives: the seqs must be exactly the acknowledged seqs past S0,
      in order (hole: one was skipped; dup: a seq not above the last one; unexpected: a seq
      nobody was acknowledged), and each text must be the one sent with that seq. Then one live
      send must arrive next. Meanwhile PID's VmRSS and VmHWM are sampled every 20 ms.

Prints one JSON object on stdout.
"""
from __future__ import annotations

import argparse
import array
import asyncio
import json
import os
import pickle
import re
import resource
import secrets
import sys
import threading
import time

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_client  # noqa: E402

SEQ_RE = re.compile(r'"seq":(\d+)')
ROOM_RE = re.compile(r'"room":"([^"]+)"')
TEXT_RE = re.compile(r'"text":"r:(\d+):(\d+):')
LIVE_TEXT = '"text":"lv:'


async def connect(port: int, user: str, max_queue: int | None = 64):
    return await cluster_client.connect(port, user, max_queue)


async def request(ws, frame: dict, timeout: float = 60.0) -> dict:
    return await cluster_client.request(ws, frame, timeout)


def status_kb(pid: int) -> dict:
    """VmRSS and VmHWM of a process, in kB (empty if it is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        pass
    return out


class RssSampler(threading.Thread):
    """Samples a process's VmRSS every `period` s on its own thread (the loop may be busy)."""

    def __init__(self, pid: int, period: float = 0.02):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.peak = 0
        self.samples = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            rss = status_kb(self.pid).get("VmRSS", 0)
            self.peak = max(self.peak, rss)
            self.samples += 1
            self.stop.wait(self.period)


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ------------------------------------------------------------------------------------ flood
async def flood(a) -> dict:
    ports = [int(p) for p in a.ports.split(",")]
    tag = a.tag or secrets.token_hex(3)
    pids = [int(p) for p in a.pids.split(",")] if a.pids else []
    rss_before = {str(p): status_kb(p) for p in pids}
    member_user = f"rm{tag}"
    member = await connect(ports[0], member_user, max_queue=None)
    rooms = [f"rs-{tag}-{r}" for r in range(a.rooms)]
    for r, room in enumerate(rooms):
        res = await request(member, {"type": "create_room", "id": f"c{r}", "room": room})
        assert res.get("ok"), res
        res = await request(member, {"type": "join", "id": f"j{r}", "room": room})
        assert res.get("ok"), res
    senders = []
    for c in range(a.conns):
        senders.append(await connect(ports[c % len(ports)], f"rs{tag}c{c}", max_queue=None))
    per = [a.count // a.conns + (1 if c < a.count % a.conns else 0) for c in range(a.conns)]
    seq_of = [array.array("q", [-1]) * n for n in per]
    stats = {"ok": 0, "fail": 0}
    errors: list[str] = []

    # The member: live messages until K of room 0, then its connection drops.
    last_seen = {room: 0 for room in rooms}
    seen = {room: 0 for room in rooms}
    dropped = asyncio.Event()
    drop_info: dict = {}

    async def member_reader():
        async for msg in member:
            if not msg.startswith('{"type":"message"'):
                continue
            room = ROOM_RE.search(msg).group(1)
            seq = int(SEQ_RE.search(msg).group(1))
            if seq <= last_seen[room]:
                drop_info["live_dup"] = drop_info.get("live_dup", 0) + 1
            last_seen[room] = max(last_seen[room], seq)
            seen[room] += 1
            if seen[rooms[0]] >= a.drop_after:
                member.transport.abort()
                drop_info["at_s"] = time.monotonic() - t0
                drop_info["acked_at_drop"] = stats["ok"]
                dropped.set()
                return

    async def one(c: int, ws, n: int):
        room = rooms[c % len(rooms)]

        def frame_of(k: int) -> str:
            head = f"r:{c}:{k}:"
            return ('{"type":"send","id":"s%d","room":"%s","text":"%s"}'
                    % (k, room, head + "x" * max(0, a.size - len(head))))

        def on_result(k: int, msg: str):
            if '"ok":true' in msg:
                seq_of[c][k] = int(SEQ_RE.search(msg).group(1))
                stats["ok"] += 1
            else:
                stats["fail"] += 1
                if len(errors) < 5:
                    errors.append(msg[:300])

        await cluster_client.send_window(ws, n, a.window, frame_of, on_result)

    t0 = time.monotonic()
    c0 = cpu_s()
    mt = asyncio.create_task(member_reader())
    await asyncio.gather(*(one(c, ws, n) for c, (ws, n) in enumerate(zip(senders, per))))
    t1 = time.monotonic()
    c1 = cpu_s()
    if not dropped.is_set():
        raise SystemExit(f"the member saw only {seen[rooms[0]]} messages of {rooms[0]}: lower --drop-after")
    await mt
    for ws in senders:
        await ws.close()
    since = {room: last_seen[room] for room in rooms}
    # Every acknowledged seq at or below S0 must have reached the member live (no hole there).
    live_missed = 0
    for c, seqs in enumerate(seq_of):
        room = rooms[c % len(rooms)]
        live_missed += sum(1 for s in seqs if 0 < s <= since[room])
    live_missed -= sum(seen[r] for r in rooms)
    with open(a.state, "wb") as f:
        pickle.dump({"tag": tag, "member": member_user, "rooms": rooms, "since": since,
                     "seq_of": [s.tobytes() for s in seq_of], "size": a.size}, f)
    return {"kind": "resume-flood", "count": a.count, "rooms": a.rooms, "conns": a.conns,
            "window": a.window, "ports": ports, "ok": stats["ok"], "refused": stats["fail"],
            "errors": errors, "seconds": t1 - t0, "acked_per_s": stats["ok"] / (t1 - t0),
            "client_cpu_pct": 100 * (c1 - c0) / (t1 - t0), "since": since,
            "member_seen_live": seen, "member_live_missed": live_missed,
            "member_live_dup": drop_info.get("live_dup", 0),
            "dropped_at_s": drop_info.get("at_s"), "acked_at_drop": drop_info.get("acked_at_drop"),
            "rss_kb_before": rss_before, "rss_kb_after": {str(p): status_kb(p) for p in pids}}


# ------------------------------------------------------------------------------------ resume
async def resume(a) -> dict:
    with open(a.state, "rb") as f:
        st = pickle.load(f)
    rooms, since = st["rooms"], st["since"]
    seq_of = []
    for b in st["seq_of"]:
        s = array.array("q")
        s.frombytes(b)
        seq_of.append(s)
    # What each room must replay: the acknowledged seqs past S0, ascending.
    expected = {}
    for r, room in enumerate(rooms):
        want = [s for c in range(r, len(seq_of), len(rooms)) for s in seq_of[c] if s > since[room]]
        want += [s for s in st.get("extra", {}).get(room, []) if s > since[room]]
        want.sort()
        expected[room] = array.array("q", want)
    del want
    total = sum(len(v) for v in expected.values())

    sampler = RssSampler(a.pid) if a.pid else None
    before = status_kb(a.pid) if a.pid else {}
    ws = await connect(a.port, st["member"], max_queue=a.max_queue)
    if sampler:
        sampler.start()
    idx = {room: 0 for room in rooms}
    last = {room: since[room] for room in rooms}
    got = {"ok": 0, "hole": 0, "dup": 0, "unexpected": 0, "body_mismatch": 0, "other_frames": 0,
           "live_before_replay_end": 0}
    examples: list[str] = []
    heads = {}
    t0 = time.monotonic()
    c0 = cpu_s()
    s0 = proc_cpu_s(a.pid) if a.pid else 0.0
    # Where the time goes: the gaps between two message frames longer than 5 ms (a page read
    # the stream waited for, or a stall), counted and summed.
    gaps = {"count": 0, "total_s": 0.0, "max_s": 0.0}
    t_prev = None
    for r, room in enumerate(rooms):
        await ws.send(json.dumps({"type": "join", "id": f"j{r}", "room": room, "since": since[room]}))
    t_first = None
    remaining = total
    pending_joins = len(rooms)
    stalled = False
    # --live-rate: another user keeps sending to room 0 during the replay (texts "lv:<k>"):
    # they must follow the replayed ones, each once and in order. A connection closed meanwhile
    # (1008, its held live frames passed the send queue's size) resumes from the last seq seen.
    live = {"acked": [], "seen": set(), "refused": 0, "done": asyncio.Event(), "stop": False}
    closes: list[str] = []
    live_task = asyncio.create_task(live_sender(a, rooms[0], live)) if a.live_rate > 0 else None
    if live_task is None:
        live["done"].set()

    def finished() -> bool:
        if remaining > 0 or pending_joins:
            return False
        live["stop"] = True
        return live["done"].is_set() and all(s in live["seen"] for s in live["acked"])

    while not finished():
        try:
            msg = await asyncio.wait_for(ws.recv(), a.stall)
        except asyncio.TimeoutError:
            stalled = True
            break
        except websockets.ConnectionClosed as e:
            closes.append(f"{time.monotonic() - t0:.1f}s code {e.code} {e.reason}")
            ws = await connect(a.port, st["member"], max_queue=a.max_queue)
            pending_joins = len(rooms)
            for r, room in enumerate(rooms):
                await ws.send(json.dumps({"type": "join", "id": f"j{r}", "room": room, "since": last[room]}))
            continue
        if msg.startswith('{"type":"message"'):
            now = time.monotonic()
            if t_first is None:
                t_first = now
            elif now - t_prev > 0.005:
                gaps["count"] += 1
                gaps["total_s"] += now - t_prev
                gaps["max_s"] = max(gaps["max_s"], now - t_prev)
            t_prev = now
            room = ROOM_RE.search(msg).group(1)
            seq = int(SEQ_RE.search(msg).group(1))
            want = expected[room]
            i = idx[room]
            if seq <= last[room]:
                got["dup"] += 1
                if len(examples) < 5:
                    examples.append(f"dup {room} {seq} after {last[room]}")
                continue
            last[room] = seq
            if LIVE_TEXT in msg:
                live["seen"].add(seq)
                if i < len(want):
                    got["live_before_replay_end"] += 1
                continue
            while i < len(want) and want[i] < seq:
                got["hole"] += 1
                if len(examples) < 5:
                    examples.append(f"hole {room} {want[i]} (next came {seq})")
                i += 1
                remaining -= 1
            if i < len(want) and want[i] == seq:
                m = TEXT_RE.search(msg)
                if m is None and '"text":"live"' in msg:
                    pass  # an earlier resume's live send (state "extra")
                elif not m or seq_of[int(m.group(1))][int(m.group(2))] != seq:
                    got["body_mismatch"] += 1
                    if len(examples) < 5:
                        examples.append(f"body {room} {seq}: {msg[:160]}")
                got["ok"] += 1
                i += 1
                remaining -= 1
            else:
                got["unexpected"] += 1
            idx[room] = i
        elif msg.startswith('{"type":"result"'):
            res = json.loads(msg)
            if res.get("id", "").startswith("j"):
                assert res.get("ok"), res
                heads[res["room"]] = res["head"]
                pending_joins -= 1
        else:
            got["other_frames"] += 1
    t_done = time.monotonic()
    if live_task:
        live["stop"] = True
        await asyncio.wait_for(live_task, 30)
    c1 = cpu_s()
    s1 = proc_cpu_s(a.pid) if a.pid else 0.0
    if sampler:
        sampler.stop.set()
        sampler.join()
    after = status_kb(a.pid) if a.pid else {}
    # Then live: one send must come next, right after the replay.
    live_ok = None
    if not stalled:
        room = rooms[0]
        # The message frame may come before the send's result: read both, in any order.
        await ws.send(json.dumps({"type": "send", "id": "live", "room": room, "text": "live"}))
        res, first_msg = None, None
        while res is None or (res.get("ok") and first_msg is None):
            msg = json.loads(await asyncio.wait_for(ws.recv(), 15))
            if msg.get("type") == "result" and msg.get("id") == "live":
                res = msg
            elif msg.get("type") == "message" and first_msg is None:
                first_msg = msg
        live_ok = False
        if res.get("ok"):
            live_ok = first_msg["room"] == room and first_msg["seq"] == res["seq"]
            # A later resume of the same state replays it too.
            st.setdefault("extra", {}).setdefault(room, []).append(res["seq"])
            with open(a.state, "wb") as f:
                pickle.dump(st, f)
    await ws.close()
    wall = t_done - t0
    return {
        "kind": "resume", "label": a.label, "port": a.port, "pid": a.pid, "rooms": len(rooms),
        "since": since, "heads": heads, "expected": total, **got, "missing_at_end": remaining,
        "stalled": stalled, "examples": examples, "closes": closes,
        "live_rate": a.live_rate, "live_acked": len(live["acked"]), "live_refused": live["refused"],
        "live_missing": sum(1 for s in live["acked"] if s not in live["seen"]), "live_after_replay_ok": live_ok,
        "wall_s": wall, "first_message_s": (t_first - t0) if t_first else None,
        "msgs_per_s": got["ok"] / wall if wall > 0 else None,
        "client_cpu_pct": 100 * (c1 - c0) / wall if wall > 0 else None,
        "server_cpu_pct": 100 * (s1 - s0) / wall if wall > 0 and a.pid else None,
        "server_cpu_us_per_msg": 1e6 * (s1 - s0) / got["ok"] if got["ok"] and a.pid else None,
        "gaps_over_5ms": gaps,
        "client_max_queue_frames": a.max_queue,
        "client_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "server_rss_kb_before": before.get("VmRSS"), "server_hwm_kb_before": before.get("VmHWM"),
        "server_rss_kb_peak": sampler.peak if sampler else None,
        "server_rss_samples": sampler.samples if sampler else 0,
        "server_rss_kb_after": after.get("VmRSS"), "server_hwm_kb_after": after.get("VmHWM"),
    }


async def live_sender(a, room: str, live: dict):
    """Sends to @p room at --live-rate until live["stop"], then waits for every result."""
    ws = await connect(a.live_port, f"rl{secrets.token_hex(3)}", max_queue=None)
    pending = 0
    all_sent = asyncio.Event()

    async def reader():
        nonlocal pending
        async for msg in ws:
            if msg.startswith('{"type":"result"'):
                res = json.loads(msg)
                if res.get("ok"):
                    live["acked"].append(res["seq"])
                else:
                    live["refused"] += 1
                pending -= 1
                if pending == 0 and all_sent.is_set():
                    return

    rt = asyncio.create_task(reader())
    t0 = time.monotonic()
    k = 0
    while not live["stop"]:
        due = t0 + k / a.live_rate
        # Always yield: a send that does not block never lets the resume's reader run. Late
        # sends are not made up for beyond 1000 awaiting results.
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        if pending >= 1000:
            await asyncio.sleep(0.01)
            continue
        pending += 1
        await ws.send('{"type":"send","id":"l%d","room":"%s","text":"lv:%d:%s"}' % (k, room, k, "y" * 90))
        k += 1
    all_sent.set()
    if pending > 0:
        await asyncio.wait_for(rt, 30)
    rt.cancel()
    await ws.close()
    live["done"].set()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    fl = sub.add_parser("flood")
    fl.add_argument("--ports", required=True)
    fl.add_argument("--count", type=int, default=1000000)
    fl.add_argument("--rooms", type=int, default=1)
    fl.add_argument("--conns", type=int, default=8)
    fl.add_argument("--window", type=int, default=256)
    fl.add_argument("--size", type=int, default=100)
    fl.add_argument("--drop-after", type=int, default=1000)
    fl.add_argument("--tag")
    fl.add_argument("--pids", help="pids whose VmRSS/VmHWM are reported before and after")
    fl.add_argument("--state", required=True)
    rs = sub.add_parser("resume")
    rs.add_argument("--port", type=int, required=True)
    rs.add_argument("--state", required=True)
    rs.add_argument("--pid", type=int)
    rs.add_argument("--label", default="")
    rs.add_argument("--max-queue", type=int, default=64)
    rs.add_argument("--live-rate", type=float, default=0, help="sends/s into room 0 during the resume")
    rs.add_argument("--live-port", type=int, help="where the live sender connects")
    rs.add_argument("--stall", type=float, default=60, help="give up after this long without a frame")
    a = ap.parse_args()
    print(json.dumps(asyncio.run(flood(a) if a.cmd == "flood" else resume(a))))


if __name__ == "__main__":
    main()
