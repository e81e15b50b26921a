#!/usr/bin/python3
"""The client of `scripts/bench-cluster scale`: what each process of a cluster pays per message,
and what an instance that serves nobody pays (python3 + websockets, one asyncio loop).

  scale_client.py --ports P1[,P2..] --serve K --pids NAME=PID[+PID..],... [--rooms 50]
                  [--members 4] [--rate 500] [--idle 10] [--warmup 25] [--duration 20]
                  [--events-topic T --bootstrap B]

ROOMS public rooms of MEMBERS members each; every member connects to one of the first K ports
(member j of room r to port (j + r) mod K: with K = 1 every client is on the first instance, and
the others are bystanders; with K > 1 the senders too are spread). Member 0 of each room sends; the sends go round the rooms at RATE per
second in all (open loop). Phases:
  idle     IDLE s after every client joined, nothing sent: CPU % of a core per process;
  warm-up  WARMUP s at RATE, not measured;
  measure  DURATION s at RATE: CPU % of a core per process, and CPU microseconds per message.
Latency: send -> the message on a member connected to another instance ("cross") and to the
sender's own ("origin"), p50/p99. With --events-topic, kcat counts the events topic's bytes/s in
both phases. Prints one JSON object on stdout.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_client import connect, cpu_s, join, pct, proc_cpu_s, request  # noqa: E402


def parse_pids(spec: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for item in filter(None, spec.split(",")):
        name, pids = item.split("=", 1)
        out[name] = [int(p) for p in pids.split("+") if p]
    return out


class TopicBytes:
    """kcat from the topic's end: bytes and records seen, read at the phase boundaries."""

    def __init__(self, bootstrap: str, topic: str):
        self.bytes = 0
        self.records = 0
        self.p = subprocess.Popen(["kcat", "-C", "-q", "-u", "-b", bootstrap, "-t", topic, "-o", "end",
                                   "-f", "%S\n"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        os.set_blocking(self.p.stdout.fileno(), False)

    def drain(self) -> tuple[int, int]:
        while True:
            try:
                chunk = self.p.stdout.read()
            except (BlockingIOError, TypeError):
                chunk = None
            if not chunk:
                break
            for line in chunk.splitlines():
                if line.strip().isdigit():
                    self.bytes += int(line)
                    self.records += 1
        return self.bytes, self.records

    def close(self):
        self.p.terminate()


class Cpu:
    def __init__(self, pids: dict[str, list[int]]):
        self.pids = pids

    def sample(self) -> dict[str, float]:
        s = {name: proc_cpu_s(p) for name, p in self.pids.items()}
        s["client"] = cpu_s()
        return s


def delta_pct(a: dict, b: dict, seconds: float) -> dict[str, float]:
    return {k: round(100 * (b[k] - a[k]) / seconds, 2) for k in a}


async def main(a) -> dict:
    ports = [int(p) for p in a.ports.split(",")]
    serve = ports[: a.serve]
    pids = parse_pids(a.pids)
    cpu = Cpu(pids)
    tag = os.urandom(3).hex()
    rooms = [f"sc-{tag}-{r}" for r in range(a.rooms)]
    members: list[list[tuple[int, object]]] = []  # per room: (port index, ws)
    for r, room in enumerate(rooms):
        conns = []
        for j in range(a.members):
            k = (j + r) % len(serve)
            ws = await connect(serve[k], f"sc{tag}r{r}m{j}")
            conns.append((k, ws))
        owner = conns[0][1]
        res = await request(owner, {"type": "create_room", "id": "c", "room": room})
        assert res.get("ok"), res
        for _, ws in conns:
            res = await join(ws, room)
            assert res.get("ok"), res
        members.append(conns)

    cross: list[int] = []
    origin: list[int] = []
    measuring = False
    received = 0
    acked = 0
    refused = 0
    errors: list[str] = []

    async def reader(r: int, k: int, ws, is_sender: bool):
        nonlocal received, acked, refused
        async for msg in ws:
            if msg.startswith('{"type":"message"'):
                i = msg.find('"text":"lt:')
                if i < 0:
                    continue
                t = int(msg[i + 11: msg.index(":", i + 11)])
                if measuring:
                    received += 1
                    (origin if k == members[r][0][0] else cross).append(time.monotonic_ns() - t)
            elif is_sender and msg.startswith('{"type":"result"'):
                if '"ok":true' in msg:
                    acked += 1
                else:
                    refused += 1
                    if len(errors) < 5:
                        errors.append(msg[:300])

    tasks = [asyncio.create_task(reader(r, k, ws, j == 0))
             for r, conns in enumerate(members) for j, (k, ws) in enumerate(conns)]
    events = TopicBytes(a.bootstrap, a.events_topic) if a.events_topic else None

    # idle: everyone online, nothing sent
    await asyncio.sleep(2)
    if events:
        events.drain()
    c0, t0 = cpu.sample(), time.monotonic()
    e0 = events.drain() if events else (0, 0)
    await asyncio.sleep(a.idle)
    c1, t1 = cpu.sample(), time.monotonic()
    e1 = events.drain() if events else (0, 0)
    idle = {"cpu_pct": delta_pct(c0, c1, t1 - t0),
            "events_bytes_per_s": round((e1[0] - e0[0]) / (t1 - t0), 1),
            "events_records_per_s": round((e1[1] - e0[1]) / (t1 - t0), 2)}

    # load: open loop at a.rate over the rooms, member 0 of each room sends
    start = time.monotonic()
    total = a.warmup + a.duration
    n = 0
    lag: list[int] = []
    sent_measured = 0
    c2 = e2 = t2 = None
    while True:
        now = time.monotonic()
        if now - start >= total:
            break
        if not measuring and now - start >= a.warmup:
            measuring = True
            c2, t2 = cpu.sample(), now
            e2 = events.drain() if events else (0, 0)
        due = start + n / a.rate
        if due > now:
            await asyncio.sleep(due - now)
            continue
        lag.append(int((now - due) * 1e9))
        r = n % a.rooms
        ws = members[r][0][1]
        await ws.send('{"type":"send","id":"s%d","room":"%s","text":"lt:%d:%s"}'
                      % (n, rooms[r], time.monotonic_ns(), "x" * a.size))
        n += 1
        if measuring:
            sent_measured += 1
    c3, t3 = cpu.sample(), time.monotonic()
    e3 = events.drain() if events else (0, 0)
    await asyncio.sleep(2)  # late deliveries still count for latency (not for CPU)
    measuring = False
    for t in tasks:
        t.cancel()
    for conns in members:
        for _, ws in conns:
            await ws.close()
    if events:
        events.close()
    seconds = t3 - t2
    load_pct = delta_pct(c2, c3, seconds)
    us_per_msg = {k: round(1e6 * (c3[k] - c2[k]) / max(1, sent_measured), 1) for k in c2}
    # What the load adds to each process: its CPU under load less its CPU idle, per message.
    rate = max(1, sent_measured) / seconds
    added_us = {k: round(1e4 * (load_pct[k] - idle["cpu_pct"].get(k, 0.0)) / rate, 1) for k in load_pct}
    return {"kind": "scale", "instances": len(ports), "serving": len(serve), "rooms": a.rooms,
            "members": a.members, "rate": a.rate, "size": a.size, "idle_s": a.idle,
            "warmup_s": a.warmup, "duration_s": round(seconds, 2), "sent": sent_measured,
            "acked_total": acked, "refused_total": refused, "errors": errors,
            "received": received, "expected": sent_measured * a.members,
            "idle": idle,
            "load": {"cpu_pct": load_pct, "cpu_us_per_msg": us_per_msg, "added_us_per_msg": added_us,
                     "events_bytes_per_s": round((e3[0] - e2[0]) / seconds, 1),
                     "events_records_per_s": round((e3[1] - e2[1]) / seconds, 2)},
            "cross_ms": pct(cross), "origin_ms": pct(origin), "send_lag_ms": pct(lag)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ports", required=True)
    ap.add_argument("--serve", type=int, default=1, help="clients on the first K ports")
    ap.add_argument("--pids", required=True, help="NAME=PID[+PID..],... whose CPU is reported")
    ap.add_argument("--rooms", type=int, default=50)
    ap.add_argument("--members", type=int, default=4)
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--idle", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=25)
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--events-topic")
    ap.add_argument("--bootstrap")
    print(json.dumps(asyncio.run(main(ap.parse_args()))))
