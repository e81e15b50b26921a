"""One test (or more) per protocol operation, happy paths and their documented errors."""
import asyncio
import time

from conftest import read_history, run

MSG_FIELDS = {"type", "room", "seq", "msg_id", "from", "text", "ts"}


def check_message(m, room, frm, text):
    assert m["type"] == "message", m
    assert m["room"] == room and m["from"] == frm and m["text"] == text, m
    assert isinstance(m["seq"], int) and m["seq"] >= 1, m
    assert isinstance(m["msg_id"], str) and m["msg_id"], m
    assert isinstance(m["ts"], int), m


# ---------------------------------------------------------------------------------------- join
def test_join_result_has_head(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="lobby")
        r = await a.ok("join", room="lobby")
        assert r["room"] == "lobby" and r["head"] == 0, r
        for i in range(3):
            await a.ok("send", room="lobby", text=f"m{i}")
        b = await server.connect("bob")
        r = await b.ok("join", room="lobby")
        assert r["head"] == 3, r

    run(main())


def test_join_without_since_replays_nothing_then_live(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="lobby")
        for i in range(3):
            await a.ok("send", room="lobby", text=f"old{i}")
        b = await server.connect("bob")
        r = await b.ok("join", room="lobby")
        assert r["head"] == 3
        await b.no_frame("message", within=0.5)
        await a.ok("send", room="lobby", text="new")
        m = await b.next_frame("message", room="lobby")
        check_message(m, "lobby", "alice", "new")
        assert m["seq"] == 4

    run(main())


def test_join_with_since_replays_then_live(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="lobby")
        for i in range(5):
            await a.ok("send", room="lobby", text=f"m{i + 1}")
        b = await server.connect("bob")
        r = await b.ok("join", room="lobby", since=2)
        assert r["head"] == 5
        # replayed frames come after the result
        assert b.queued("message") == [], "message frames arrived before the join result"
        got = await b.messages("lobby", 3)
        assert [m["seq"] for m in got] == [3, 4, 5]
        assert [m["text"] for m in got] == ["m3", "m4", "m5"]
        await a.ok("send", room="lobby", text="m6")
        m = await b.next_frame("message", room="lobby")
        assert (m["seq"], m["text"]) == (6, "m6")
        await b.no_frame("message", within=0.5)

        c = await server.connect("carol")
        await c.ok("join", room="lobby", since=0)
        got = await c.messages("lobby", 6)
        assert [m["seq"] for m in got] == [1, 2, 3, 4, 5, 6]
        await c.no_frame("message", within=0.5)

        d = await server.connect("dave")
        await d.ok("join", room="lobby", since=6)  # up to date: nothing to replay
        await d.no_frame("message", within=0.5)

    run(main())


def test_join_missing_room_not_found(server):
    async def main():
        a = await server.connect("alice")
        await a.err("join", "not_found", room="nope")
        await a.err("join", "not_found", room="nope", since=0)

    run(main())


def test_join_bad_fields(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="lobby")
        await a.err("join", "bad_request")                    # no room
        await a.err("join", "bad_request", room=7)
        await a.err("join", "bad_request", room="lobby", since="x")

    run(main())


# --------------------------------------------------------------------------------------- leave
def test_leave_stops_delivery(server):
    async def main():
        a = await server.connect("alice")
        b = await server.connect("bob")
        await a.ok("create_room", room="lobby")
        await b.ok("join", room="lobby")
        await a.ok("send", room="lobby", text="one")
        assert (await b.next_frame("message", room="lobby"))["text"] == "one"
        r = await b.ok("leave", room="lobby")
        assert r["room"] == "lobby"
        await a.ok("send", room="lobby", text="two")
        await b.no_frame("message", within=0.7)
        # leave of a room not joined is ok
        r = await b.ok("leave", room="lobby")
        assert r["room"] == "lobby"
        await a.ok("create_room", room="other")
        await a.ok("leave", room="other")

    run(main())


# ---------------------------------------------------------------------------------------- send
def test_send_result_fields_and_echo(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="lobby")
        await a.ok("join", room="lobby")
        before = int(time.time() * 1000)
        r = await a.ok("send", room="lobby", text="hello wörld ✓")
        after = int(time.time() * 1000)
        assert r["room"] == "lobby" and r["seq"] == 1, r
        assert isinstance(r["msg_id"], str) and r["msg_id"], r
        assert isinstance(r["ts"], int) and before - 5000 <= r["ts"] <= after + 5000, r
        m = await a.next_frame("message", room="lobby")
        check_message(m, "lobby", "alice", "hello wörld ✓")
        assert (m["seq"], m["msg_id"], m["ts"]) == (r["seq"], r["msg_id"], r["ts"])
        assert "client_msg_id" not in m

    run(main())


def test_send_without_join_not_echoed(server):
    async def main():
        a = await server.connect("alice")
        b = await server.connect("bob")
        await a.ok("create_room", room="lobby")
        await b.ok("join", room="lobby")
        r = await a.ok("send", room="lobby", text="x")  # public: no join needed
        assert r["seq"] == 1
        assert (await b.next_frame("message", room="lobby"))["text"] == "x"
        await a.no_frame("message", within=0.5)

    run(main())


def test_send_seqs_consecutive_per_room(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="r1")
        await a.ok("create_room", room="r2")
        seqs1 = [(await a.ok("send", room="r1", text=str(i)))["seq"] for i in range(3)]
        seqs2 = [(await a.ok("send", room="r2", text=str(i)))["seq"] for i in range(2)]
        seqs1 += [(await a.ok("send", room="r1", text="x"))["seq"]]
        assert seqs1 == [1, 2, 3, 4]
        assert seqs2 == [1, 2]
        # pipelined from two users: still consecutive, and results agree with history
        b = await server.connect("bob")
        ids = []
        for i in range(20):
            ids.append((a, await a.cmd_nowait("send", room="r2", text=f"a{i}")))
            ids.append((b, await b.cmd_nowait("send", room="r2", text=f"b{i}")))
        res = [await c.result(rid) for c, rid in ids]
        assert all(r["ok"] for r in res), res
        assert sorted(r["seq"] for r in res) == list(range(3, 43))
        hist = await read_history(a, "r2")
        assert [m["seq"] for m in hist] == list(range(1, 43))
        by_seq = {m["seq"]: m for m in hist}
        for r in res:
            assert by_seq[r["seq"]]["msg_id"] == r["msg_id"]
            assert by_seq[r["seq"]]["ts"] == r["ts"]

    run(main())


def test_send_missing_room_not_found(server):
    async def main():
        a = await server.connect("alice")
        await a.err("send", "not_found", room="ghost", text="hi")

    run(main())


def test_send_bad_fields(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="lobby")
        await a.err("send", "bad_request", room="lobby")             # no text
        await a.err("send", "bad_request", room="lobby", text=12)
        await a.err("send", "bad_request", text="hi")                # no room
        hist = await a.ok("history", room="lobby")
        assert hist["messages"] == []

    run(main())


def test_send_text_too_large(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="lobby")
        await a.ok("send", room="lobby", text="a" * 4096)
        await a.err("send", "too_large", room="lobby", text="a" * 4097)
        await a.ok("send", room="lobby", text="é" * 2048)            # 4096 bytes of UTF-8
        await a.err("send", "too_large", room="lobby", text="é" * 2049)  # 2049 chars, 4098 bytes
        hist = await a.ok("history", room="lobby")
        assert [len(m["text"]) for m in hist["messages"]] == [4096, 2048]
        await a.ok("ping")

    run(main())


def test_max_text_bytes_flag(server_factory):
    s = server_factory(["--max-text-bytes", "10"])

    async def main():
        a = await s.connect("alice")
        await a.ok("create_room", room="lobby")
        await a.ok("send", room="lobby", text="0123456789")
        await a.err("send", "too_large", room="lobby", text="0123456789A")

    run(main())


# ----------------------------------------------------------------------------- client_msg_id
def test_client_msg_id_idempotent(server):
    async def main():
        a = await server.connect("alice")
        b = await server.connect("bob")
        await a.ok("create_room", room="lobby")
        await a.ok("create_room", room="other")
        await b.ok("join", room="lobby")
        r1 = await a.ok("send", room="lobby", text="once", client_msg_id="cm-1")
        m = await b.next_frame("message", room="lobby")
        assert m["client_msg_id"] == "cm-1"
        assert m["seq"] == r1["seq"] and m["msg_id"] == r1["msg_id"]
        r2 = await a.ok("send", room="lobby", text="once", client_msg_id="cm-1")
        r3 = await a.ok("send", room="lobby", text="different text", client_msg_id="cm-1")
        for r in (r2, r3):
            assert {k: r[k] for k in ("room", "seq", "msg_id", "ts")} == \
                   {k: r1[k] for k in ("room", "seq", "msg_id", "ts")}
        await b.no_frame("message", within=0.5)  # nothing new fanned out
        # from another connection of the same user: still the same
        a2 = await server.connect("alice")
        r4 = await a2.ok("send", room="lobby", text="once", client_msg_id="cm-1")
        assert r4["msg_id"] == r1["msg_id"] and r4["seq"] == r1["seq"]
        hist = (await a.ok("history", room="lobby"))["messages"]
        assert len(hist) == 1 and hist[0]["client_msg_id"] == "cm-1" and hist[0]["text"] == "once"
        # another user, or another room: a new message
        rb = await b.ok("send", room="lobby", text="bob's", client_msg_id="cm-1")
        assert rb["seq"] == 2 and rb["msg_id"] != r1["msg_id"]
        ro = await a.ok("send", room="other", text="other room", client_msg_id="cm-1")
        assert ro["seq"] == 1 and ro["room"] == "other"
        r5 = await a.ok("send", room="lobby", text="next", client_msg_id="cm-2")
        assert r5["seq"] == 3

    run(main())


def test_client_msg_id_concurrent_duplicates(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="lobby")
        ids = [await a.cmd_nowait("send", room="lobby", text="dup", client_msg_id="same") for _ in range(10)]
        res = [await a.result(i) for i in ids]
        assert all(r["ok"] for r in res), res
        assert len({(r["seq"], r["msg_id"]) for r in res}) == 1, res
        hist = (await a.ok("history", room="lobby"))["messages"]
        assert len(hist) == 1

    run(main())


# ------------------------------------------------------------------------------------- history
def test_history_oldest_first_with_message_fields(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="lobby")
        empty = await a.ok("history", room="lobby")
        assert empty["room"] == "lobby" and empty["messages"] == [] and empty["has_more"] is False
        sent = [await a.ok("send", room="lobby", text=f"t{i}", **({"client_msg_id": "c1"} if i == 1 else {}))
                for i in range(3)]
        h = await a.ok("history", room="lobby")
        msgs = h["messages"]
        assert [m["seq"] for m in msgs] == [1, 2, 3]
        for m, r, i in zip(msgs, sent, range(3)):
            assert MSG_FIELDS - {"type"} <= set(m), m
            assert m["room"] == "lobby" and m["from"] == "alice" and m["text"] == f"t{i}"
            assert m["msg_id"] == r["msg_id"] and m["ts"] == r["ts"]
        assert msgs[1]["client_msg_id"] == "c1"
        assert "client_msg_id" not in msgs[0]
        assert h["has_more"] is False

    run(main())


def test_history_before_limit_has_more(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="lobby")
        for i in range(10):
            await a.ok("send", room="lobby", text=f"t{i + 1}")
        h = await a.ok("history", room="lobby", limit=3)
        assert [m["seq"] for m in h["messages"]] == [8, 9, 10] and h["has_more"] is True
        h = await a.ok("history", room="lobby", before=8, limit=3)
        assert [m["seq"] for m in h["messages"]] == [5, 6, 7] and h["has_more"] is True
        h = await a.ok("history", room="lobby", before=4, limit=10)
        assert [m["seq"] for m in h["messages"]] == [1, 2, 3] and h["has_more"] is False
        h = await a.ok("history", room="lobby", before=4, limit=3)
        assert [m["seq"] for m in h["messages"]] == [1, 2, 3] and h["has_more"] is False
        h = await a.ok("history", room="lobby", before=1)
        assert h["messages"] == [] and h["has_more"] is False
        h = await a.ok("history", room="lobby", limit=10)
        assert [m["seq"] for m in h["messages"]] == list(range(1, 11)) and h["has_more"] is False

    run(main())


def test_history_default_50_and_cap_200(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="big")
        ids = [await a.cmd_nowait("send", room="big", text=f"n{i}") for i in range(230)]
        for rid in ids:
            assert (await a.result(rid, timeout=30))["ok"]
        h = await a.ok("history", room="big")
        assert [m["seq"] for m in h["messages"]] == list(range(181, 231)) and h["has_more"] is True
        h = await a.ok("history", room="big", limit=1000)
        assert [m["seq"] for m in h["messages"]] == list(range(31, 231)) and h["has_more"] is True
        h = await a.ok("history", room="big", limit=200, before=31)
        assert [m["seq"] for m in h["messages"]] == list(range(1, 31)) and h["has_more"] is False

    run(main(), timeout=180)


def test_history_bad_limit(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="lobby")
        await a.err("history", "bad_request", room="lobby", limit=0)
        await a.err("history", "bad_request", room="lobby", limit=-1)
        await a.err("history", "bad_request", room="lobby", limit="ten")
        await a.err("history", "bad_request", room="lobby", before="x")
        await a.ok("history", room="lobby", limit=1)

    run(main())


def test_history_missing_room_not_found(server):
    async def main():
        a = await server.connect("alice")
        await a.err("history", "not_found", room="ghost")

    run(main())


# --------------------------------------------------------------------------------- create_room
def test_create_room_public_and_private(server):
    async def main():
        a = await server.connect("alice")
        b = await server.connect("bob")
        r = await a.ok("create_room", room="pub")
        assert r["room"] == "pub"
        r = await a.ok("create_room", room="priv", private=True)
        assert r["room"] == "priv"
        r = await a.ok("create_room", room="pub2", private=False)
        # public: anyone can join, send, read; private: only members (the creator is one)
        await b.ok("join", room="pub")
        await b.ok("send", room="pub2", text="hi")
        await b.ok("history", room="pub")
        await a.ok("join", room="priv")
        await a.ok("send", room="priv", text="hi")
        await a.ok("history", room="priv")
        await b.err("join", "forbidden", room="priv")

    run(main())


def test_create_room_conflict(server):
    async def main():
        a = await server.connect("alice")
        b = await server.connect("bob")
        await a.ok("create_room", room="lobby")
        await a.err("create_room", "conflict", room="lobby")
        await b.err("create_room", "conflict", room="lobby", private=True)
        await a.ok("create_room", room="secret", private=True)
        await b.err("create_room", "conflict", room="secret")

    run(main())


def test_create_room_invalid_names(server):
    async def main():
        a = await server.connect("alice")
        for name in ("", "x" * 65, "has space", "a/b", "dm:alice:bob", "tab\there", "ünï", "q?x", "a:b"):
            await a.err("create_room", "bad_request", room=name)
        await a.err("create_room", "bad_request")
        await a.err("create_room", "bad_request", room=5)
        await a.err("create_room", "bad_request", room="okname", private="yes")
        for name in ("x" * 64, "A.b_c-9", "1"):
            await a.ok("create_room", room=name)

    run(main())


def test_room_created_event_public_only(server):
    async def main():
        a = await server.connect("alice")
        b = await server.connect("bob")
        a2 = await server.connect("alice")
        await a.ok("create_room", room="hidden", private=True)
        await a.ok("create_room", room="open")
        ev = await b.next_frame("event", event="room.created")
        assert ev["room"] == "open", f"private room announced (or wrong room): {ev}"
        ev = await a2.next_frame("event", event="room.created")
        assert ev["room"] == "open", ev
        await b.no_frame("event", event="room.created", within=0.5)

    run(main())


# -------------------------------------------------------------------------------------- invite
def test_invite_private_room(server):
    async def main():
        a = await server.connect("alice")
        b = await server.connect("bob")
        await a.ok("create_room", room="secret", private=True)
        await b.err("join", "forbidden", room="secret")
        r = await a.ok("invite", room="secret", user="bob")
        assert r["room"] == "secret" and r["user"] == "bob", r
        await b.ok("join", room="secret")
        await b.ok("send", room="secret", text="thanks")
        assert [m["text"] for m in (await b.ok("history", room="secret"))["messages"]] == ["thanks"]
        # a member who was invited can invite in turn
        server.register("carol")
        await b.ok("invite", room="secret", user="carol")
        c = await server.connect("carol")
        await c.ok("history", room="secret")

    run(main())


def test_invite_by_non_member_forbidden(server):
    async def main():
        a = await server.connect("alice")
        m = await server.connect("mallory")
        server.register("eve")
        await a.ok("create_room", room="secret", private=True)
        await m.err("invite", "forbidden", room="secret", user="eve")
        await m.err("invite", "forbidden", room="secret", user="mallory")
        e = await server.connect("eve")
        await e.err("join", "forbidden", room="secret")

    run(main())


def test_invite_unknown_user_or_room_not_found(server):
    async def main():
        a = await server.connect("alice")
        server.register("bob")
        await a.ok("create_room", room="secret", private=True)
        await a.err("invite", "not_found", room="secret", user="nobody")
        await a.err("invite", "not_found", room="ghost", user="bob")
        await a.err("invite", "bad_request", room="secret")

    run(main())


# ------------------------------------------------------------------------------------------ dm
def test_dm_room_id_sorted_same_both_sides(server):
    async def main():
        z = await server.connect("zoe")
        a = await server.connect("adam")
        r1 = await z.ok("dm", user="adam")
        assert r1["room"] == "dm:adam:zoe", r1
        r2 = await a.ok("dm", user="zoe")
        assert r2["room"] == "dm:adam:zoe", r2
        await z.ok("join", room="dm:adam:zoe")
        await a.ok("join", room="dm:adam:zoe")
        sr = await a.ok("send", room="dm:adam:zoe", text="hey")
        assert sr["seq"] == 1
        m = await z.next_frame("message", room="dm:adam:zoe")
        check_message(m, "dm:adam:zoe", "adam", "hey")
        assert (await z.ok("dm", user="adam"))["room"] == "dm:adam:zoe"  # again: same room, kept
        assert len((await z.ok("history", room="dm:adam:zoe"))["messages"]) == 1

    run(main())


def test_dm_errors(server):
    async def main():
        a = await server.connect("alice")
        await a.err("dm", "not_found", user="nobody")
        await a.err("dm", "bad_request", user="alice")
        await a.err("dm", "bad_request")

    run(main())


def test_dm_third_user_forbidden(server):
    async def main():
        a = await server.connect("alice")
        server.register("bob")
        room = (await a.ok("dm", user="bob"))["room"]
        assert room == "dm:alice:bob"
        await a.ok("send", room=room, text="private")
        e = await server.connect("eve")
        await e.err("join", "forbidden", room=room)
        await e.err("send", "forbidden", room=room, text="x")
        await e.err("history", "forbidden", room=room)
        await e.err("typing", "forbidden", room=room)
        await e.err("presence", "forbidden", room=room)
        await e.err("invite", "forbidden", room=room, user="eve")
        assert len((await a.ok("history", room=room))["messages"]) == 1

    run(main())


def test_dm_room_must_exist(server):
    async def main():
        a = await server.connect("alice")
        server.register("bob")
        await a.err("join", "not_found", room="dm:alice:bob")
        await a.err("send", "not_found", room="dm:alice:bob", text="x")

    run(main())


# -------------------------------------------------------------------------------------- typing
def test_typing_event_to_joined_members_not_stored(server):
    async def main():
        a = await server.connect("alice")
        b = await server.connect("bob")
        c = await server.connect("carol")  # connected but not joined
        await a.ok("create_room", room="lobby")
        await a.ok("join", room="lobby")
        await b.ok("join", room="lobby")
        r = await a.ok("typing", room="lobby")
        assert r["room"] == "lobby" and "seq" not in r, r
        ev = await b.next_frame("event", event="typing")
        assert ev["room"] == "lobby" and ev["user"] == "alice" and "seq" not in ev, ev
        await c.no_frame("event", event="typing", within=0.5)
        h = await a.ok("history", room="lobby")
        assert h["messages"] == []
        assert (await a.ok("send", room="lobby", text="x"))["seq"] == 1
        assert (await b.ok("join", room="lobby"))["head"] == 1

    run(main())


def test_typing_errors(server):
    async def main():
        a = await server.connect("alice")
        await a.err("typing", "not_found", room="ghost")
        await a.err("typing", "bad_request")

    run(main())


# ------------------------------------------------------------------------------------ presence
def test_presence_online_each_user_once(server):
    async def main():
        a1 = await server.connect("alice")
        a2 = await server.connect("alice")
        b = await server.connect("bob")
        c = await server.connect("carol")
        await a1.ok("create_room", room="lobby")
        r = await c.ok("presence", room="lobby")
        assert r["room"] == "lobby" and r["online"] == [], r
        await a1.ok("join", room="lobby")
        await a2.ok("join", room="lobby")
        await b.ok("join", room="lobby")
        r = await c.ok("presence", room="lobby")  # not joined itself: still allowed (public)
        assert sorted(r["online"]) == ["alice", "bob"], r
        await a1.ok("leave", room="lobby")
        r = await c.ok("presence", room="lobby")
        assert sorted(r["online"]) == ["alice", "bob"], r  # a2 still joined
        await a2.close()
        await asyncio.sleep(0.3)
        deadline = time.monotonic() + 10
        while True:
            r = await c.ok("presence", room="lobby")
            if r["online"] == ["bob"] or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert r["online"] == ["bob"], r

    run(main())


def test_presence_errors(server):
    async def main():
        a = await server.connect("alice")
        await a.err("presence", "not_found", room="ghost")
        await a.err("presence", "bad_request")

    run(main())


# ------------------------------------------------------------------------------ member events
def test_member_joined_and_left_events(server):
    async def main():
        b = await server.connect("bob")
        await b.ok("create_room", room="lobby")
        await b.ok("join", room="lobby")
        a1 = await server.connect("alice")
        a2 = await server.connect("alice")
        await a1.ok("join", room="lobby")
        ev = await b.next_frame("event", event="member.joined", user="alice")
        assert ev["room"] == "lobby" and ev["user"] == "alice", ev
        await a2.ok("join", room="lobby")           # not the first connection: no event
        await b.no_frame("event", event="member.joined", user="alice", within=0.5)
        await a2.ok("leave", room="lobby")          # not the last: no event
        await b.no_frame("event", event="member.left", user="alice", within=0.5)
        await a1.ok("leave", room="lobby")          # last one leaves
        ev = await b.next_frame("event", event="member.left", user="alice")
        assert ev["room"] == "lobby" and ev["user"] == "alice", ev
        # join again, then drop the connection: member.left
        await a1.ok("join", room="lobby")
        ev = await b.next_frame("event", event="member.joined", user="alice")
        assert ev["user"] == "alice"
        a1.abort()
        ev = await b.next_frame("event", event="member.left", user="alice", timeout=15)
        assert ev["room"] == "lobby" and ev["user"] == "alice", ev

    run(main())


def test_member_events_only_to_joined(server):
    async def main():
        b = await server.connect("bob")
        c = await server.connect("carol")
        await b.ok("create_room", room="lobby")
        await b.ok("join", room="lobby")
        a = await server.connect("alice")
        await a.ok("join", room="lobby")
        await b.next_frame("event", event="member.joined", user="alice")
        await c.no_frame("event", within=0.5, pred=lambda f: f.get("event") in ("member.joined", "member.left"))

    run(main())


# ------------------------------------------------------------------------------------- ttl_ms
def test_ttl_generous_succeeds(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="lobby", ttl_ms=60000)
        r = await a.ok("send", room="lobby", text="in time", ttl_ms=60000)
        assert r["seq"] == 1
        await a.ok("history", room="lobby", ttl_ms=60000)
        await a.ok("ping", ttl_ms=60000)

    run(main())


def test_ttl_invalid_values_bad_request(server):
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="lobby")
        await a.err("send", "bad_request", room="lobby", text="x", ttl_ms=0)
        await a.err("send", "bad_request", room="lobby", text="x", ttl_ms=-5)
        await a.err("send", "bad_request", room="lobby", text="x", ttl_ms="soon")
        assert (await a.ok("history", room="lobby"))["messages"] == []

    run(main())


def test_ttl_above_the_cap_is_a_bad_request(server):
    """ttl_ms is capped at 24 h (docs/protocol.md): above it, and near INT64_MAX where a deadline
    `now + ttl` would overflow, the command is refused and nothing is stored."""
    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="lobby")
        r = await a.ok("send", room="lobby", text="a day", ttl_ms=86_400_000)
        assert r["seq"] == 1
        for ttl in (86_400_001, 2**62, 2**63 - 1, 2**64 - 1):
            e = await a.err("send", "bad_request", room="lobby", text=f"x{ttl}", ttl_ms=ttl)
            assert "86400000" in e["error"]["message"], e
            await a.err("ping", "bad_request", ttl_ms=ttl)
        assert [m["text"] for m in (await a.ok("history", room="lobby"))["messages"]] == ["a day"]

    run(main())


def test_ttl_timeout_never_applied(server):
    """Each send with ttl_ms=1 is either ok (and stored) or timeout (and never stored)."""

    async def main():
        a = await server.connect("alice")
        await a.ok("create_room", room="lobby")
        sent = {}
        for i in range(300):
            text = f"ttl-{i}"
            sent[await a.cmd_nowait("send", room="lobby", text=text, ttl_ms=1)] = text
        ok, timed_out = {}, set()
        for rid, text in sent.items():
            r = await a.result(rid, timeout=30)
            if r["ok"]:
                ok[text] = r
            else:
                assert r["error"]["code"] in ("timeout", "rate_limited"), r
                if r["error"]["code"] == "timeout":
                    timed_out.add(text)
        await asyncio.sleep(1.0)  # anything wrongly applied late would be visible now
        hist = await read_history(a, "lobby")
        stored = [m["text"] for m in hist]
        assert len(stored) == len(set(stored)), "duplicates in history"
        assert set(stored) == set(ok), (f"ok-but-missing={sorted(set(ok) - set(stored))[:10]} "
                                        f"stored-but-not-ok={sorted(set(stored) - set(ok))[:10]}")
        assert not (set(stored) & timed_out)
        for m in hist:
            assert m["seq"] == ok[m["text"]]["seq"]
        assert [m["seq"] for m in hist] == list(range(1, len(hist) + 1))
        print(f"ttl_ms=1: {len(ok)} ok, {len(timed_out)} timeout")

    run(main())
