"""Harder edges of the contract: races, fan-out, large frames, RFC 6455 details, text round trips."""
import asyncio
import json
import os
import threading

import pytest

from conftest import PASSWORD, RawWs, read_history, run


def test_text_round_trip_exotic_characters(server):
    texts = [
        'quotes " and \\ backslash',
        "line\nbreak\ttab\r",
        "nul \u0000 inside",
        "emoji 😀🎉 and CJK 漢字 and rtl שלום",
        "\u2028\u2029 separators",
        "<script>alert(1)</script>&amp;",
        " leading and trailing spaces ",
    ]

    async def main():
        a = await server.connect("alice")
        b = await server.connect("bob")
        await a.ok("create_room", room="lobby")
        await b.ok("join", room="lobby")
        for t in texts:
            await a.ok("send", room="lobby", text=t)
        live = await b.messages("lobby", len(texts))
        assert [m["text"] for m in live] == texts
        hist = (await a.ok("history", room="lobby", limit=50))["messages"]
        assert [m["text"] for m in hist] == texts
        r = server.http("GET", "/api/rooms/lobby/messages", token=server.token("bob"))
        assert [m["text"] for m in r.json["messages"]] == texts

    run(main())


def test_text_limit_counts_utf8_bytes_4byte_chars(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="lobby")
        await a.ok("send", room="lobby", text="😀" * 1024)            # 4096 bytes
        await a.err("send", "too_large", room="lobby", text="😀" * 1025)

    run(main())


def test_large_history_and_replay_frames(server):
    """200 messages of 4096 bytes: an ~850 KB history result and replay reach the client intact."""
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="big")
        ids = [await a.cmd_nowait("send", room="big", text=f"{i:04d}" + "z" * 4092) for i in range(200)]
        for rid in ids:
            assert (await a.result(rid, timeout=30))["ok"]
        h = await a.ok("history", room="big", limit=200, timeout=30)
        assert len(h["messages"]) == 200 and h["has_more"] is False
        assert all(len(m["text"]) == 4096 for m in h["messages"])
        b = await server.connect("bob")
        await b.ok("join", room="big", since=0)
        got = await b.messages("big", 200, timeout=30)
        assert [m["seq"] for m in got] == list(range(1, 201))
        assert all(len(m["text"]) == 4096 for m in got)

    run(main(), timeout=180)


def test_replay_larger_than_send_queue_is_paced(server_factory):
    """A client that reads promptly must receive a replay bigger than its send queue in full (the
    server pages the replay as the queue drains instead of dumping it all and cutting the client)."""
    # a 256 KiB send queue and a ~3.3 MB replay of 1 KB messages
    s = server_factory(["--send-queue-bytes", "262144", "--rate-per-sec", "100000", "--rate-burst", "100000"])
    N = 3000

    async def main():
        a = await s.connect("alice")
        await a.ok("create_room", room="lobby")
        for start in range(0, N, 100):
            ids = [await a.cmd_nowait("send", room="lobby", text=f"{start + i}:" + "r" * 1000) for i in range(100)]
            for rid in ids:
                assert (await a.result(rid, timeout=30))["ok"]
        b = await s.connect("bob")
        r = await b.ok("join", room="lobby", since=0)
        assert r["head"] == N
        got = await b.messages("lobby", N, timeout=60)
        assert [m["seq"] for m in got] == list(range(1, N + 1))

    run(main(), timeout=240)


def test_resume_under_concurrent_pipelined_senders(server_factory):
    """join with since during heavy concurrent sending: no gap, no duplicate, room order."""
    server = server_factory(["--rate-per-sec", "100000", "--rate-burst", "100000"])

    async def main():
        setup = await server.connect("setup")
        await setup.ok("create_room", room="busy")
        for start in range(0, 300, 100):
            ids = [await setup.cmd_nowait("send", room="busy", text=f"pre{start + i}") for i in range(100)]
            for rid in ids:
                assert (await setup.result(rid))["ok"]
        senders = [await server.connect(f"s{i}") for i in range(3)]
        stop = asyncio.Event()
        acked = []

        async def pump(c):
            n = 0
            while not stop.is_set():
                ids = [await c.cmd_nowait("send", room="busy", text=f"{c.user}-{n + k}") for k in range(10)]
                n += 10
                for rid in ids:
                    r = await c.result(rid, timeout=30)
                    assert r["ok"], r
                    acked.append(r["seq"])

        tasks = [asyncio.create_task(pump(c)) for c in senders]
        await asyncio.sleep(0.1)
        joiners = []
        for i, since in enumerate((0, 150, 299)):
            j = await server.connect(f"j{i}")
            await j.ok("join", room="busy", since=since)
            joiners.append((j, since))
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(*tasks)
        final = max(acked)
        hist = await read_history(setup, "busy")
        assert [m["seq"] for m in hist] == list(range(1, final + 1))
        for j, since in joiners:
            got = await j.messages("busy", final - since, timeout=60)
            seqs = [m["seq"] for m in got]
            assert seqs == list(range(since + 1, final + 1)), f"joiner since={since}: gap/dup/out of order"
            assert [m["msg_id"] for m in got] == [m["msg_id"] for m in hist[since:]]
            await j.no_frame("message", within=0.3)

    run(main(), timeout=180)


def test_fan_out_same_frames_to_all_members(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="fan")
        members = []
        for i in range(12):
            for k in range(2):  # two connections per user
                c = await server.connect(f"m{i}")
                await c.ok("join", room="fan")
                members.append(c)
        for i in range(20):
            await a.cmd_nowait("send", room="fan", text=f"f{i}")
        ref = None
        for c in members:
            got = await c.messages("fan", 20, timeout=30)
            assert [m["seq"] for m in got] == list(range(1, 21))
            if ref is None:
                ref = got
            assert got == ref, "members saw different message frames"
        p = await a.ok("presence", room="fan")
        assert sorted(p["online"]) == sorted(f"m{i}" for i in range(12))

    run(main())


def test_join_twice_no_duplicate_delivery(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="lobby")
        b = await server.connect("bob")
        await b.ok("join", room="lobby")
        await b.ok("join", room="lobby")
        await a.ok("send", room="lobby", text="once")
        m = await b.next_frame("message", room="lobby")
        assert m["text"] == "once"
        await b.no_frame("message", within=0.7)

    run(main())


def test_multiple_rooms_on_one_connection(server):
    async def main():
        a = await server.connect("alice")
        b = await server.connect("bob")
        for r in ("r1", "r2", "r3"):
            await a.ok("create_room", room=r)
        await b.ok("join", room="r1")
        await b.ok("join", room="r3")
        for r in ("r1", "r2", "r3", "r1"):
            await a.ok("send", room=r, text=f"to {r}")
        got1 = await b.messages("r1", 2)
        got3 = await b.messages("r3", 1)
        assert [(m["seq"], m["text"]) for m in got1] == [(1, "to r1"), (2, "to r1")]
        assert [(m["seq"], m["text"]) for m in got3] == [(1, "to r3")]
        await b.no_frame("message", within=0.5, room="r2")

    run(main())


def test_concurrent_create_room_exactly_one_wins(server):
    async def main():
        clients = [await server.connect(f"u{i}") for i in range(8)]
        ids = [(c, await c.cmd_nowait("create_room", room="contested")) for c in clients]
        res = [await c.result(rid) for c, rid in ids]
        oks = [r for r in res if r["ok"]]
        assert len(oks) == 1, res
        assert all(r["error"]["code"] == "conflict" for r in res if not r["ok"]), res

    run(main())


def test_concurrent_register_exactly_one_wins(server):
    statuses = []

    def reg():
        statuses.append(server.http("POST", "/api/register",
                                    json_body={"user": "racer", "password": PASSWORD}).status)

    threads = [threading.Thread(target=reg) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] + [409] * 5, statuses


def test_ttl_timeout_create_room_never_applied(server):
    async def main():
        a = await server.connect("alice")
        outcome = {}
        ids = {await a.cmd_nowait("create_room", room=f"t{i}", ttl_ms=1): f"t{i}" for i in range(60)}
        for rid, room in ids.items():
            r = await a.result(rid)
            outcome[room] = "ok" if r["ok"] else r["error"]["code"]
            assert outcome[room] in ("ok", "timeout"), r
        await asyncio.sleep(1.0)
        for room, o in outcome.items():
            r = await a.cmd("create_room", room=room)
            if o == "ok":
                assert r["ok"] is False and r["error"]["code"] == "conflict", f"{room} was ok but is missing"
            else:
                assert r["ok"] is True, f"{room} got timeout but was applied: {r}"

    run(main())


def test_websocket_ping_pong(server):
    async def main():
        c = await server.connect("alice")
        waiter = await c.ws.ping(b"hello")
        await asyncio.wait_for(waiter, 10)
        await c.ok("ping")

    run(main())


def test_fragmented_text_message(server):
    async def main():
        c = await server.connect("alice")
        await c.ws.send(['{"type":"create_', 'room","id":"frag-1",', '"room":"fragged"}'])
        r = await c.result("frag-1")
        assert r["ok"] is True and r["room"] == "fragged", r
        await c.ok("ping")

    run(main())


def test_fragmented_message_over_limit_1009(server_factory):
    """The size limit applies to the whole message, not to each fragment (raw socket: the websockets
    library fails the connection itself if the server closes while it is still sending fragments)."""
    s = server_factory(["--max-frame-bytes", "4096"])
    w = RawWs(s.port, f"/ws?token={s.token('alice')}")
    try:
        op, data = w.read_frame()
        assert json.loads(data)["type"] == "welcome"
        w.send_fragmented([b'{"type":"ping","id":"f1","pad":"', b"a" * 1000, b'"}'])  # 1.04 KB: fine
        op, data = w.read_frame()
        r = json.loads(data)
        assert r["id"] == "f1" and r["ok"] is True, r
        w.send_fragmented([b'{"type":"ping","id":"f2","pad":"'] + [b"a" * 1500] * 4 + [b'"}'])  # 6 KB
        code, frames, err = w.read_until_close(15)
        assert code == 1009, f"close code {code} (error {err})"
    finally:
        w.close()


def test_session_takeover_moves_membership(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="lobby")
        b1 = await server.connect("bob", session="bob-session-1")
        await b1.ok("join", room="lobby")
        await a.ok("join", room="lobby")
        b2 = await server.connect("bob", session="bob-session-1")
        assert await b1.wait_closed() == 4001
        # the new connection has not joined: presence eventually forgets bob
        ev = await a.next_frame("event", event="member.left", user="bob")
        assert ev["room"] == "lobby"
        p = await a.ok("presence", room="lobby")
        assert p["online"] == ["alice"], p
        await b2.ok("join", room="lobby", since=0)
        await a.next_frame("event", event="member.joined", user="bob")

    run(main())


def test_deeply_nested_json_does_not_kill_connection(server):
    async def main():
        c = await server.connect("alice")
        depth = 30000
        bomb = '{"type":"ping","id":"deep-1","x":' + "[" * depth + "]" * depth + "}"
        await c.send_raw(bomb)
        r = await c.next_frame("result", timeout=15)
        assert r.get("id") in ("deep-1", None, "") or "id" not in r, r
        if not r["ok"]:
            assert r["error"]["code"] == "bad_request", r
        await c.ok("ping")
        assert server.alive()

    run(main())


def test_many_connections(server):
    async def main():
        clients = await asyncio.gather(*(server.connect(f"user{i % 20}") for i in range(150)))
        assert len({c.welcome["session"] for c in clients}) == 150
        res = await asyncio.gather(*(c.ok("ping") for c in clients))
        assert all(r["ok"] for r in res)

    for i in range(20):
        server.register(f"user{i}")
    run(main())


def test_concurrent_dm_from_both_sides(server):
    async def main():
        for i in range(5):
            a = await server.connect(f"a{i}")
            b = await server.connect(f"b{i}")
            ra, rb = await asyncio.gather(a.cmd("dm", user=f"b{i}"), b.cmd("dm", user=f"a{i}"))
            assert ra["ok"] and rb["ok"], (ra, rb)
            assert ra["room"] == rb["room"] == f"dm:a{i}:b{i}"

    run(main())


def test_ttl_timeout_invite_never_applied(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="secret", private=True)
        users = [f"guest{i}" for i in range(30)]
        for u in users:
            server.register(u)
        ids = {await a.cmd_nowait("invite", room="secret", user=u, ttl_ms=1): u for u in users}
        outcome = {}
        for rid, u in ids.items():
            r = await a.result(rid)
            outcome[u] = "ok" if r["ok"] else r["error"]["code"]
            assert outcome[u] in ("ok", "timeout"), r
        await asyncio.sleep(1.0)
        for u, o in outcome.items():
            g = await server.connect(u)
            r = await g.cmd("history", room="secret")
            if o == "ok":
                assert r["ok"] is True, f"{u}: invite ok but not a member: {r}"
            else:
                assert r["ok"] is False and r["error"]["code"] == "forbidden", f"{u}: invite timed out but applied"
            await g.close()

    run(main())


def test_member_events_and_presence_consistent_under_flapping(server):
    """Users with two connections each (likely on different workers) join and leave at random; the
    observer's member.joined/member.left events per user follow the first-join/last-leave rule exactly
    and presence agrees at the end."""
    import random
    rnd = random.Random(int(os.environ.get("PARLEY_FLAP_SEED", "1234")))

    async def main():
        o = await server.connect("observer")
        await o.ok("create_room", room="flap")
        await o.ok("join", room="flap")
        users = [f"u{i}" for i in range(4)]
        conns = [(u, await server.connect(u)) for u in users for _ in range(2)]
        joined = {id(c): False for _, c in conns}
        count = {u: 0 for u in users}
        expected = {u: [] for u in users}
        for _ in range(200):
            u, c = rnd.choice(conns)
            if joined[id(c)]:
                await c.ok("leave", room="flap")
                joined[id(c)] = False
                count[u] -= 1
                if count[u] == 0:
                    expected[u].append("member.left")
            else:
                await c.ok("join", room="flap")
                joined[id(c)] = True
                count[u] += 1
                if count[u] == 1:
                    expected[u].append("member.joined")
        total = sum(len(v) for v in expected.values())
        got = {u: [] for u in users}
        is_member_ev = lambda f: f.get("event") in ("member.joined", "member.left") and f.get("user") != "observer"
        await o.ok("ping")
        await asyncio.sleep(0.5)
        while True:
            try:
                ev = await o.next_frame("event", pred=is_member_ev, timeout=0.5)
            except AssertionError:
                break
            assert ev["room"] == "flap"
            got[ev["user"]].append(ev["event"])
        # The walk must have made events to check, and the model must be consistent: each user's
        # expected events alternate, starting with member.joined, ending where its count is.
        assert total > 0, "the random walk produced no member events: nothing was tested"
        for u in users:
            want = ["member.joined", "member.left"] * len(expected[u])
            assert expected[u] == want[:len(expected[u])], f"counting bug in the test: {u}: {expected[u]}"
            assert (count[u] > 0) == (expected[u][-1:] == ["member.joined"]), f"counting bug in the test: {u}"
        # The observer got every event, and only those (none lost, none extra, none duplicated).
        n_got = sum(len(v) for v in got.values())
        assert n_got == total, f"observer got {n_got} member events, expected {total}: {got} vs {expected}"
        for u in users:
            assert got[u] == expected[u], f"{u}: events {got[u]} != expected {expected[u]}"
        p = await o.ok("presence", room="flap")
        assert sorted(p["online"]) == sorted(["observer"] + [u for u in users if count[u] > 0]), p

    run(main())


def test_client_msg_id_concurrent_from_two_connections(server):
    async def main():
        a1 = await server.connect("alice")
        a2 = await server.connect("alice")
        await a1.ok("create_room", room="lobby")
        for k in range(5):
            ids = []
            for _ in range(5):
                ids.append((a1, await a1.cmd_nowait("send", room="lobby", text="dup", client_msg_id=f"x{k}")))
                ids.append((a2, await a2.cmd_nowait("send", room="lobby", text="dup", client_msg_id=f"x{k}")))
            res = [await c.result(rid) for c, rid in ids]
            assert all(r["ok"] for r in res), res
            assert len({(r["seq"], r["msg_id"], r["ts"]) for r in res}) == 1, res
        hist = (await a1.ok("history", room="lobby"))["messages"]
        assert [m["client_msg_id"] for m in hist] == [f"x{k}" for k in range(5)]
        assert [m["seq"] for m in hist] == [1, 2, 3, 4, 5]

    run(main())


def test_no_spurious_member_events_when_connections_overlap(server):
    """alice has two connections; the second joins, then the first leaves: she never stopped being
    present, so the observer must see no member.left/member.joined for that hand-over."""
    async def main():
        o = await server.connect("observer")
        await o.ok("create_room", room="handover")
        await o.ok("join", room="handover")
        a = await server.connect("alice")
        b = await server.connect("alice")
        await a.ok("join", room="handover")
        await o.next_frame("event", event="member.joined", user="alice")
        holder, other = a, b
        for _ in range(250):
            await other.ok("join", room="handover")
            await holder.ok("leave", room="handover")
            holder, other = other, holder
        await o.ok("ping")
        await o.no_frame("event", within=0.7, user="alice",
                         pred=lambda f: f.get("event") in ("member.joined", "member.left"))
        assert (await o.ok("presence", room="handover"))["online"] == ["alice", "observer"]

    run(main())


def test_presence_includes_user_as_soon_as_join_result_arrives(server):
    async def main():
        o = await server.connect("observer")
        users = [await server.connect(f"p{i}") for i in range(2)]
        for i in range(150):
            room = f"pres{i}"
            await o.ok("create_room", room=room)
            c = users[i % 2]
            await c.ok("join", room=room)
            r = await o.ok("presence", room=room)
            assert r["online"] == [c.user], f"after {c.user}'s join result, presence is {r['online']}"
            await c.ok("leave", room=room)
            r = await o.ok("presence", room=room)
            assert r["online"] == [], f"after {c.user}'s leave result, presence is {r['online']}"

    run(main())


@pytest.mark.parametrize("threads", [1, 3])
def test_threads_flag_smoke(server_factory, threads):
    s = server_factory(["--threads", str(threads)])

    async def main():
        clients = [await s.connect(f"t{i}") for i in range(6)]
        await clients[0].ok("create_room", room="lobby")
        for c in clients:
            await c.ok("join", room="lobby")
        for i, c in enumerate(clients):
            await c.ok("send", room="lobby", text=f"from {i}")
        for c in clients:
            got = await c.messages("lobby", 6)
            assert [m["seq"] for m in got] == [1, 2, 3, 4, 5, 6]
        p = await clients[0].ok("presence", room="lobby")
        assert p["online"] == sorted(f"t{i}" for i in range(6))

    run(main())
