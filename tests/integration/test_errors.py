"""Error codes across operations: forbidden, not_found, rate_limited, unauthenticated."""
import asyncio
import time

from conftest import run


def test_forbidden_private_room_non_member_every_op(server):
    async def main():
        a = await server.connect("alice")
        m = await server.connect("mallory")
        await a.ok("create_room", room="secret", private=True)
        await a.ok("join", room="secret")
        await a.ok("send", room="secret", text="classified")
        await m.err("join", "forbidden", room="secret")
        await m.err("join", "forbidden", room="secret", since=0)
        await m.err("send", "forbidden", room="secret", text="let me in")
        await m.err("history", "forbidden", room="secret")
        await m.err("typing", "forbidden", room="secret")
        await m.err("presence", "forbidden", room="secret")
        # nothing leaked to the outsider, nothing stored
        await m.no_frame("message", within=0.5)
        h = await a.ok("history", room="secret")
        assert [x["text"] for x in h["messages"]] == ["classified"]

    run(main())


def test_not_found_missing_room_every_op(server):
    async def main():
        a = await server.connect("alice")
        await a.err("join", "not_found", room="ghost")
        await a.err("send", "not_found", room="ghost", text="boo")
        await a.err("history", "not_found", room="ghost")
        await a.err("typing", "not_found", room="ghost")
        await a.err("presence", "not_found", room="ghost")
        await a.err("invite", "not_found", room="ghost", user="alice")
        await a.ok("ping")

    run(main())


def test_rate_limited(server_factory):
    s = server_factory(["--rate-per-sec", "5", "--rate-burst", "5"])

    async def main():
        a = await s.connect("alice")
        await a.ok("create_room", room="lobby")
        t0 = time.monotonic()
        ids = [await a.cmd_nowait("send", room="lobby", text=f"r{i}") for i in range(20)]
        res = [await a.result(i) for i in ids]
        elapsed = time.monotonic() - t0
        oks = [r for r in res if r["ok"]]
        errs = [r for r in res if not r["ok"]]
        assert all(r["error"]["code"] == "rate_limited" for r in errs), errs
        assert len(oks) >= 5, f"burst of 5 not honoured: {len(oks)} ok"
        assert len(errs) >= 1, "no rate_limited among 20 instant sends with burst 5"
        assert len(oks) <= 5 + 5 * elapsed + 1, f"{len(oks)} ok in {elapsed:.2f}s"
        h = await a.ok("history", room="lobby")
        assert len(h["messages"]) == len(oks)  # refused sends are not stored
        assert sorted(r["seq"] for r in oks) == list(range(1, len(oks) + 1))
        # the bucket refills
        await asyncio.sleep(1.5)
        await a.ok("send", room="lobby", text="later")
        # other commands are not rate limited as sends
        for _ in range(10):
            await a.ok("ping")

    run(main())


def test_rate_limit_is_per_user(server_factory):
    s = server_factory(["--rate-per-sec", "1", "--rate-burst", "5"])

    async def main():
        a1 = await s.connect("alice")
        a2 = await s.connect("alice")
        b = await s.connect("bob")
        await a1.ok("create_room", room="lobby")
        for i in range(5):
            await a1.ok("send", room="lobby", text=f"a{i}")
        ids = [await a2.cmd_nowait("send", room="lobby", text=f"a2-{i}") for i in range(3)]
        res = [await a2.result(i) for i in ids]
        assert any((not r["ok"]) and r["error"]["code"] == "rate_limited" for r in res), \
            f"second connection of the same user not limited: {res}"
        for i in range(5):  # another user has its own bucket
            await b.ok("send", room="lobby", text=f"b{i}")

    run(main())


def test_unauthenticated_http_error_body(server):
    r = server.http("GET", "/api/rooms/lobby/messages", headers={"Authorization": "Bearer x.y.z"})
    assert r.status == 401, r
    assert r.json["error"]["code"] == "unauthenticated" and isinstance(r.json["error"]["message"], str), r
    r = server.http("GET", "/api/rooms/lobby/messages", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert r.status == 401 and r.error_code == "unauthenticated", r
