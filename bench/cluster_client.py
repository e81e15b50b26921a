#!/usr/bin/python3
"""The client of scripts/bench-cluster (python3 + websockets, one asyncio loop, one process).

  cluster_client.py latency --ports P1,P2,P3 --rate R --duration D [--warmup W] [--receivers K]
                            [--size 100] [--pg CONNINFO] [--tag T]
      One sender connected to the first port sends to one room at a steady rate (open loop:
      message k is due at t0 + k/R); K receivers on each other port are members of the room.
      Every time is time.monotonic_ns() of this one process (same host, same clock):
        cross  = send -> the message frame on a receiver on another instance
        origin = send -> the message frame on the sender's own connection (instance 1)
        ack    = send -> the send's result
      With --pg it also samples the persister: every 0.5 s, acknowledged sends minus the rows of
      the room in PostgreSQL (messages not yet persisted), and after the last ack the time until
      PostgreSQL has them all.
  cluster_client.py flood --ports P1[,P2..] --count N [--conns C] [--window W] [--tag T]
      C connections (spread over the ports), each in its own room, send N 100-byte messages in
      all, W sends in flight per connection, as fast as the cluster acknowledges them.
  cluster_client.py history --ports P1[,P2..] --tag T --rooms R [--limit 50]
      After a flood with tag T (its rooms and users): scrolls back through the whole history of
      R of its rooms over HTTP (GET /api/rooms/<room>/messages?before=<oldest seen>&limit=L,
      newest page first, each room on the next port), timing every page; p50/p99 per page.
  With one port only (a single node), the receivers connect to it too: the same client against
  one node, for calibration.

Prints one JSON object on stdout. The client's own CPU (user+sys over the measured window) and
how late it sent against the schedule (send_lag) say how much of the latency is the client's.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import secrets
import subprocess
import sys
import time
import urllib.request

import websockets

PASSWORD = "benchpass1"
TEXT_RE = re.compile(r'"text":"lt:(\d+):')
ID_RE = re.compile(r'"id":"s(\d+)"')


def http_token(port: int, user: str) -> str:
    body = json.dumps({"user": user, "password": PASSWORD}).encode()
    for path in ("/api/register", "/api/login"):
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read())["token"]
        except urllib.error.HTTPError as e:
            if path == "/api/login":
                raise RuntimeError(f"{path} {user}: {e.code} {e.read()[:200]!r}")
    raise RuntimeError("unreachable")


async def connect(port: int, user: str, max_queue: int | None = None):
    """A connection past its welcome. max_queue bounds the frames the client buffers: past it,
    it stops reading the socket, and the server's send queue (its back-pressure) takes over."""
    token = await asyncio.to_thread(http_token, port, user)
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws?token={token}", max_size=None,
                                  ping_interval=None, max_queue=max_queue)
    welcome = json.loads(await ws.recv())
    assert welcome.get("type") == "welcome", welcome
    return ws


async def request(ws, frame: dict, timeout: float = 30.0) -> dict:
    """Send a command and wait for its result (other frames before it are skipped)."""
    await ws.send(json.dumps(frame))
    deadline = time.monotonic() + timeout
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
        if msg.get("type") == "result" and msg.get("id") == frame["id"]:
            return msg


async def join(ws, room: str, timeout: float = 30.0) -> dict:
    """join, retried while this instance has not folded the room's creation yet."""
    deadline = time.monotonic() + timeout
    n = 0
    while True:
        n += 1
        r = await request(ws, {"type": "join", "id": f"j{n}", "room": room})
        if r.get("ok") or time.monotonic() > deadline:
            return r
        await asyncio.sleep(0.1)


def pct(values: list[int]) -> dict:
    if not values:
        return {"count": 0}
    v = sorted(values)
    n = len(v)
    q = lambda p: v[min(n - 1, int(p * n))] / 1e6  # ms
    return {"count": n, "p50": q(0.50), "p90": q(0.90), "p99": q(0.99), "p999": q(0.999),
            "max": v[-1] / 1e6, "mean": sum(v) / n / 1e6}


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def proc_cpu_s(pids: list[int]) -> float:
    """utime + stime of the given processes, in seconds (those that are gone count 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def machine_cpu_s() -> float:
    """Busy CPU seconds of the whole machine (all CPUs), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = v
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def psql_count(conninfo: str, room: str) -> int:
    out = subprocess.run(["psql", "-X", "-At", conninfo, "-c",
                          f"select count(*) from messages where room = '{room}'"],
                         capture_output=True, text=True, timeout=30)
    return int(out.stdout.strip() or 0)


# ------------------------------------------------------------------------------------ latency
async def latency(a) -> dict:
    ports = [int(p) for p in a.ports.split(",")]
    tag = a.tag or secrets.token_hex(3)
    room = f"lat-{tag}"
    sender = await connect(ports[0], f"ls{tag}")
    r = await request(sender, {"type": "create_room", "id": "c", "room": room})
    assert r.get("ok"), r
    r = await join(sender, room)
    assert r.get("ok"), r
    receivers = []  # (instance index, ws)
    for i, p in (enumerate(ports[1:], start=2) if len(ports) > 1 else [(1, ports[0])]):
        for k in range(a.receivers):
            ws = await connect(p, f"lr{tag}i{i}k{k}")
            r = await join(ws, room)
            assert r.get("ok"), (p, r)
            receivers.append((i, ws))

    total = int((a.warmup + a.duration) * a.rate)
    first_measured = int(a.warmup * a.rate)
    sent_ns = [0] * total
    lag_ns = []
    cross, origin, ack = [], [], []
    per_instance = {i: [] for i, _ in receivers}
    got = {"cross": 0, "origin": 0, "ack": 0, "ack_fail": 0}
    errors: list[str] = []
    acked_at: list[float] = []  # wall time of each measured ack (for the persister lag)
    done = asyncio.Event()

    async def read_sender():
        async for msg in sender:
            now = time.monotonic_ns()
            if msg.startswith('{"type":"message"'):
                m = TEXT_RE.search(msg)
                if m:
                    k = int(m.group(1))
                    got["origin"] += 1
                    if k >= first_measured:
                        origin.append(now - sent_ns[k])
            elif msg.startswith('{"type":"result"'):
                m = ID_RE.search(msg)
                if m:
                    k = int(m.group(1))
                    if '"ok":true' in msg:
                        got["ack"] += 1
                        acked_at.append(time.time())
                        if k >= first_measured:
                            ack.append(now - sent_ns[k])
                    else:
                        got["ack_fail"] += 1
                        if len(errors) < 5:
                            errors.append(msg[:300])

    async def read_receiver(i, ws):
        async for msg in ws:
            now = time.monotonic_ns()
            if msg.startswith('{"type":"message"'):
                m = TEXT_RE.search(msg)
                if m:
                    k = int(m.group(1))
                    got["cross"] += 1
                    if k >= first_measured:
                        d = now - sent_ns[k]
                        cross.append(d)
                        per_instance[i].append(d)

    pg_samples = []  # (t, acked, rows)

    async def sample_pg():
        while not done.is_set():
            rows = await asyncio.to_thread(psql_count, a.pg, room)
            # acks counted once the count is back: an upper bound of the lag at that moment
            pg_samples.append((time.time(), got["ack"], rows))
            try:
                await asyncio.wait_for(done.wait(), 0.5)
            except asyncio.TimeoutError:
                pass

    readers = [asyncio.create_task(read_sender())]
    readers += [asyncio.create_task(read_receiver(i, ws)) for i, ws in receivers]
    pg_task = asyncio.create_task(sample_pg()) if a.pg else None

    server_pids = [int(x) for x in a.server_pids.split(",")] if a.server_pids else []
    pad = a.size
    t0 = time.monotonic_ns() + 100_000_000
    cpu0 = None
    t_measure = None
    for k in range(total):
        due = t0 + int(k * 1e9 / a.rate)
        now = time.monotonic_ns()
        if due > now:
            await asyncio.sleep((due - now) / 1e9)
        if k == first_measured:
            cpu0, t_measure = cpu_s(), time.monotonic()
            srv0, mach0 = proc_cpu_s(server_pids), machine_cpu_s()
        head = f"lt:{k}:"
        text = head + "x" * max(0, pad - len(head))
        now = time.monotonic_ns()
        sent_ns[k] = now
        if k >= first_measured:
            lag_ns.append(now - due)
        await sender.send('{"type":"send","id":"s%d","room":"%s","text":"%s"}' % (k, room, text))
    cpu1, t_end = cpu_s(), time.monotonic()
    srv1, mach1 = proc_cpu_s(server_pids), machine_cpu_s()
    t_last_send = time.time()
    expect_cross = total * len(receivers)
    deadline = time.monotonic() + a.drain
    while time.monotonic() < deadline and (got["cross"] < expect_cross or got["ack"] + got["ack_fail"] < total
                                           or got["origin"] < got["ack"]):
        await asyncio.sleep(0.05)

    persist = None
    if a.pg:
        # after the last send: until PostgreSQL holds every acknowledged message
        t_caught = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = await asyncio.to_thread(psql_count, a.pg, room)
            if rows >= got["ack"]:
                t_caught = time.time()
                break
            await asyncio.sleep(0.1)
        done.set()
        await pg_task
        window = pg_samples
        lags = [max(0, acked - rows) for _, acked, rows in window]
        persist = {
            "samples": len(window),
            "lag_msgs_max": max(lags) if lags else None,
            "lag_msgs_mean": (sum(lags) / len(lags)) if lags else None,
            "lag_s_max_at_rate": (max(lags) / a.rate) if lags else None,
            "caught_up_after_last_send_s": (t_caught - t_last_send) if t_caught else None,
            "rows": rows,
        }
    done.set()
    for t in readers:
        t.cancel()
    for _, ws in receivers:
        await ws.close()
    await sender.close()
    measured = total - first_measured
    return {
        "kind": "latency", "rate": a.rate, "duration_s": a.duration, "warmup_s": a.warmup,
        "size": a.size, "ports": ports, "receivers_per_instance": a.receivers,
        "sent": total, "measured_sent": measured,
        "acked": got["ack"], "refused": got["ack_fail"], "errors": errors,
        "cross_expected": expect_cross, "cross_received": got["cross"],
        "origin_received": got["origin"],
        "cross_ms": pct(cross), "origin_ms": pct(origin), "ack_ms": pct(ack),
        "per_instance_ms": {f"i{i}": pct(v) for i, v in per_instance.items()},
        "send_lag_ms": pct(lag_ns),
        "client_cpu_pct": 100 * (cpu1 - cpu0) / (t_end - t_measure) if cpu0 is not None else None,
        # % of one CPU over the measured window: the server processes (--server-pids), the whole
        # machine, and the rest (machine - server - this client; psql samples land there)
        "server_cpu_pct": 100 * (srv1 - srv0) / (t_end - t_measure) if server_pids else None,
        "machine_cpu_pct": 100 * (mach1 - mach0) / (t_end - t_measure),
        "other_cpu_pct": 100 * ((mach1 - mach0) - (srv1 - srv0) - (cpu1 - cpu0)) / (t_end - t_measure),
        "persister": persist,
    }


# ------------------------------------------------------------------------------------ flood
async def send_window(ws, n: int, window: int, frame_of, on_result) -> None:
    """Sends frame_of(k) for k in 0..n-1 on ws (each with id "s<k>"), at most `window` unanswered,
    and calls on_result(k, raw result frame) for each answer; returns once all n are answered."""
    slots = asyncio.Semaphore(window)
    finished = asyncio.Event()
    answered = 0

    async def reader():
        nonlocal answered
        async for msg in ws:
            if not msg.startswith('{"type":"result"'):
                continue
            m = ID_RE.search(msg)
            if not m:
                continue
            on_result(int(m.group(1)), msg)
            answered += 1
            slots.release()
            if answered == n:
                finished.set()
                return

    rt = asyncio.create_task(reader())
    for k in range(n):
        await slots.acquire()
        await ws.send(frame_of(k))
    await finished.wait()
    rt.cancel()


async def flood(a) -> dict:
    ports = [int(p) for p in a.ports.split(",")]
    tag = a.tag or secrets.token_hex(3)
    conns = []
    for c in range(a.conns):
        p = ports[c % len(ports)]
        ws = await connect(p, f"fl{tag}c{c}")
        room = f"fl-{tag}-{c}"
        r = await request(ws, {"type": "create_room", "id": "c", "room": room})
        assert r.get("ok"), r
        r = await join(ws, room)
        assert r.get("ok"), r
        conns.append((ws, room))
    per = [a.count // a.conns + (1 if c < a.count % a.conns else 0) for c in range(a.conns)]
    stats = {"ok": 0, "fail": 0}
    errors: list[str] = []
    text = "f" * a.size

    def on_result(k: int, msg: str):
        if '"ok":true' in msg:
            stats["ok"] += 1
        else:
            stats["fail"] += 1
            if len(errors) < 5:
                errors.append(msg[:300])

    async def one(ws, room, n):
        await send_window(ws, n, a.window, lambda k: '{"type":"send","id":"s%d","room":"%s","text":"%s"}'
                          % (k, room, text), on_result)

    t0 = time.monotonic()
    c0 = cpu_s()
    await asyncio.gather(*(one(ws, room, n) for (ws, room), n in zip(conns, per)))
    t1 = time.monotonic()
    c1 = cpu_s()
    for ws, _ in conns:
        await ws.close()
    return {"kind": "flood", "count": a.count, "conns": a.conns, "window": a.window, "ports": ports,
            "ok": stats["ok"], "refused": stats["fail"], "errors": errors,
            "seconds": t1 - t0, "acked_per_s": stats["ok"] / (t1 - t0),
            "client_cpu_pct": 100 * (c1 - c0) / (t1 - t0),
            "rooms": [room for _, room in conns]}


# ------------------------------------------------------------------------------------ history
def http_page(port: int, token: str, room: str, before: int, limit: int) -> tuple[float, dict]:
    q = f"?limit={limit}" + (f"&before={before}" if before else "")
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/rooms/{room}/messages{q}",
                                 headers={"Authorization": f"Bearer {token}"})
    t0 = time.monotonic_ns()
    with urllib.request.urlopen(req, timeout=30) as r:
        body = json.loads(r.read())
    return (time.monotonic_ns() - t0) / 1e6, body


def history(a) -> dict:
    ports = [int(p) for p in a.ports.split(",")]
    times: list[float] = []
    first: list[float] = []
    read = 0
    for c in range(a.rooms):
        port = ports[c % len(ports)]
        token = http_token(port, f"fl{a.tag}c{c}")
        room = f"fl-{a.tag}-{c}"
        before = 0
        while True:
            ms, body = http_page(port, token, room, before, a.limit)
            (first if before == 0 else times).append(ms)
            msgs = body["messages"]
            read += len(msgs)
            if not msgs or not body["has_more"]:
                break
            before = msgs[0]["seq"]
    both = times + first
    return {"kind": "history", "rooms": a.rooms, "limit": a.limit, "pages": len(both), "messages": read,
            "page_ms": pct([round(x * 1e6) for x in both]), "newest_page_ms": pct([round(x * 1e6) for x in first])}


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    la = sub.add_parser("latency")
    la.add_argument("--ports", required=True)
    la.add_argument("--rate", type=float, default=100)
    la.add_argument("--duration", type=float, default=30)
    la.add_argument("--warmup", type=float, default=3)
    la.add_argument("--drain", type=float, default=10)
    la.add_argument("--receivers", type=int, default=2)
    la.add_argument("--size", type=int, default=100)
    la.add_argument("--pg")
    la.add_argument("--tag")
    la.add_argument("--server-pids", help="pids whose CPU is reported as server_cpu_pct")
    fl = sub.add_parser("flood")
    fl.add_argument("--ports", required=True)
    fl.add_argument("--count", type=int, default=50000)
    fl.add_argument("--conns", type=int, default=16)
    fl.add_argument("--window", type=int, default=64)
    fl.add_argument("--size", type=int, default=100)
    fl.add_argument("--tag")
    hi = sub.add_parser("history")
    hi.add_argument("--ports", required=True)
    hi.add_argument("--tag", required=True)
    hi.add_argument("--rooms", type=int, default=4)
    hi.add_argument("--limit", type=int, default=50)
    a = ap.parse_args()
    if a.cmd == "history":
        print(json.dumps(history(a)))
        return
    res = asyncio.run(latency(a) if a.cmd == "latency" else flood(a))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
