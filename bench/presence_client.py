#!/usr/bin/env python3
"""Presence at size on a cluster (scripts/bench-cluster presence; docs/benchmarks.md).

USERS users on i1 (one WebSocket each) join ROOMS_PER_USER of ROOMS rooms (USERS x ROOMS_PER_USER
(room, user) pairs), JOIN_RATE joins/s in all. Measured:
- CPU % of one core of i1 and i2 during the joins and in the 8 s after them;
- how long after the last join i2's `presence` of 40 sample rooms is exact;
- the events topic's bytes/s per publishing instance (kcat: record key = instance for presence),
  idle, IDLE seconds with every pair online; and the CPU of i1 and i2 then;
- then a snapshot request to every instance (what a new instance sends): the bytes each
  publishes and the CPU of i1 and i2 in the 5 s after it.
Prints one JSON object."""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import websockets

CLK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / CLK


class Cpu:
    def __init__(self, pids):
        self.pids = pids
        self.mark()

    def mark(self):
        self.t = time.monotonic()
        self.c = [cpu_s(p) for p in self.pids]

    def pct(self) -> list[float]:
        dt = time.monotonic() - self.t
        return [round(100 * (cpu_s(p) - c) / dt, 1) for p, c in zip(self.pids, self.c)]


def http(port: int, method: str, path: str, body: dict | None = None, token: str | None = None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


class BareWs:
    """Sends commands, counts results in the byte stream (as tests/cluster/test_presence_scale.py)."""
    RESULT = b'"type":"result"'

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.results = 0
        self.tail = b""
        self.ids = 0
        self.task = asyncio.create_task(self.drain())

    @classmethod
    async def connect(cls, port: int, token: str):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        w.write((f"GET /ws?{urllib.parse.urlencode({'token': token})} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await r.readuntil(b"\r\n\r\n")
        assert b" 101 " in head.split(b"\r\n")[0], head[:200]
        return cls(r, w)

    async def drain(self):
        while chunk := await self.reader.read(1 << 16):
            data = self.tail + chunk
            self.results += data.count(self.RESULT)
            self.tail = data[-(len(self.RESULT) - 1):]

    def send(self, op: str, **f):
        self.ids += 1
        p = json.dumps({"type": op, "id": f"b{self.ids}", **f}, separators=(",", ":")).encode()
        n = len(p)
        head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
        self.writer.write(head + b"\0\0\0\0" + p)

    async def until(self, n: int, timeout: float = 120):
        deadline = time.monotonic() + timeout
        while self.results < n:
            assert time.monotonic() < deadline, f"{self.results}/{n} results"
            await asyncio.sleep(0.05)


class Topic:
    """kcat on the events topic from its end: bytes per (second, key)."""

    def __init__(self, bootstrap: str, topic: str):
        self.rows: list[tuple[float, str, int]] = []
        self.p = subprocess.Popen(["kcat", "-C", "-q", "-u", "-b", bootstrap, "-t", topic, "-o", "end",
                                   "-f", "%k %S\n"], stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.p.stdout:
            k, _, s = line.rstrip("\n").rpartition(" ")
            self.rows.append((time.monotonic(), k, int(s) if s.isdigit() else 0))

    def per_key(self, t0: float, t1: float) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for t, k, s in self.rows:
            if t0 <= t < t1:
                d = out.setdefault(k, {"records": 0, "bytes": 0})
                d["records"] += 1
                d["bytes"] += s
        for d in out.values():
            d["bytes_per_s"] = round(d["bytes"] / (t1 - t0), 1)
            d["records_per_s"] = round(d["records"] / (t1 - t0), 2)
        return out


async def main(a):
    p1, p2 = a.ports
    pids = a.pids
    topic = Topic(a.bootstrap, a.topic)
    run = f"pb{os.getpid()}"
    rooms = [f"{run}-r{k}" for k in range(a.rooms)]
    users = [f"{run}-u{k}" for k in range(a.users)]
    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(lambda u: http(p1, "POST", "/api/register", {"user": u, "password": "pw-12345678"})["token"],
                               users + [f"{run}-c", f"{run}-w"]))
    creator, watch_token = tokens[-2], tokens[-1]
    tokens = dict(zip(users, tokens))
    # Five creators side by side (20 were slower, not faster, in one run on a busy machine).
    creators = [await BareWs.connect(p1, creator) for _ in range(5)]

    async def create(b: BareWs, names: list[str]):
        for k in range(0, len(names), 250):
            for r in names[k:k + 250]:
                b.send("create_room", room=r)
            await b.until(k + len(names[k:k + 250]))

    await asyncio.gather(*(create(b, rooms[k::5]) for k, b in enumerate(creators)))
    for b in creators:
        b.writer.transport.abort()
    plan = {u: [rooms[(i * a.rooms_per_user + k) % a.rooms] for k in range(a.rooms_per_user)] for i, u in enumerate(users)}
    conns = {}
    for k in range(0, len(users), 200):
        got = await asyncio.gather(*(BareWs.connect(p1, tokens[u]) for u in users[k:k + 200]))
        conns.update(zip(users[k:k + 200], got))
    await asyncio.sleep(3)

    # The join storm: JOIN_RATE joins/s over all connections, in 10 ms steps.
    cpu = Cpu(pids)
    t_storm = time.monotonic()
    order = [(u, r) for k in range(a.rooms_per_user) for u in users for r in [plan[u][k]]]
    step = max(1, int(a.join_rate / 100))
    for k in range(0, len(order), step):
        for u, r in order[k:k + step]:
            conns[u].send("join", room=r)
        due = t_storm + (k + step) / a.join_rate
        await asyncio.sleep(max(0, due - time.monotonic()))
    for u in users:
        await conns[u].until(a.rooms_per_user)
    storm_s = time.monotonic() - t_storm
    storm_cpu = cpu.pct()
    t_last = time.monotonic()

    # How soon i2 is exact for 40 sample rooms.
    members: dict[str, set[str]] = {}
    for u, rs in plan.items():
        for r in rs:
            members.setdefault(r, set()).add(u)
    sample = random.Random(3).sample(rooms, 40)
    exact_after = None
    async with websockets.connect(f"ws://127.0.0.1:{p2}/ws?{urllib.parse.urlencode({'token': watch_token})}",
                                  max_size=None, ping_interval=None) as w:
        ids = iter(range(1, 10**9))

        async def presence(room: str) -> set[str]:
            rid = f"p{next(ids)}"
            await w.send(json.dumps({"type": "presence", "id": rid, "room": room}))
            while True:
                f = json.loads(await w.recv())
                if f.get("type") == "result" and f.get("id") == rid:
                    return set(f.get("online", []))

        while time.monotonic() - t_last < 30:
            ok = True
            for r in sample:
                if await presence(r) != members[r]:
                    ok = False
                    break
            if ok:
                exact_after = round(time.monotonic() - t_last, 2)
                break
            await asyncio.sleep(0.1)
    cpu.mark()
    await asyncio.sleep(max(0, 8 - (time.monotonic() - t_last)))
    after_cpu = cpu.pct()

    # Idle with every pair online.
    await asyncio.sleep(2)
    cpu.mark()
    t0 = time.monotonic()
    await asyncio.sleep(a.idle)
    t1 = time.monotonic()
    idle_cpu = cpu.pct()
    idle = topic.per_key(t0, t1)
    storm = topic.per_key(t_storm, t_last + 0.5)
    # What a newcomer costs: a snapshot request to everyone ("*"), as a new instance sends.
    cpu.mark()
    t0 = time.monotonic()
    subprocess.run(["kcat", "-P", "-b", a.bootstrap, "-t", a.topic, "-k", "bench"],
                   input=json.dumps({"t": "q", "o": "bench-newcomer", "i": "*"}).encode(), check=True)
    await asyncio.sleep(5)
    snap = topic.per_key(t0, time.monotonic())
    snap_cpu = cpu.pct()
    for cn in conns.values():
        cn.writer.transport.abort()
    topic.p.terminate()
    print(json.dumps({
        "pairs": a.users * a.rooms_per_user, "users": a.users, "rooms": a.rooms, "join_rate": a.join_rate,
        "storm_s": round(storm_s, 1), "storm_cpu_pct": storm_cpu, "after_8s_cpu_pct": after_cpu,
        "i2_exact_after_last_join_s": exact_after,
        "idle_s": a.idle, "idle_cpu_pct": idle_cpu, "idle_events_per_key": idle, "storm_events_per_key": storm,
        "snapshot_request_5s_cpu_pct": snap_cpu, "snapshot_request_5s_events_per_key": snap,
    }, indent=1))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", type=lambda s: [int(x) for x in s.split(",")], required=True, help="i1,i2")
    ap.add_argument("--pids", type=lambda s: [int(x) for x in s.split(",")], required=True, help="i1,i2")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--rooms-per-user", type=int, default=50)
    ap.add_argument("--rooms", type=int, default=5000)
    ap.add_argument("--join-rate", type=float, default=1000)
    ap.add_argument("--idle", type=float, default=30)
    asyncio.run(main(ap.parse_args()))
