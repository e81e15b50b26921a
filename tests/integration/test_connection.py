"""Transport: authentication, sessions, welcome, frame-level errors."""
import json
import os
import re

import pytest

from conftest import run, ws_status


def test_ws_missing_token_is_401(server):
    assert run(ws_status(server.ws_url())) == 401


def test_ws_bad_token_is_401(server):
    server.register("alice")
    assert run(ws_status(server.ws_url("garbage-token"))) == 401
    tok = server.token("alice")
    tampered = tok[:-2] + ("AA" if tok[-2:] != "AA" else "BB")
    assert run(ws_status(server.ws_url(tampered))) == 401
    assert run(ws_status(server.ws_url(None), headers={"Authorization": "Bearer nope"})) == 401


def test_ws_bearer_header_auth(server):
    async def main():
        c = await server.connect("alice", bearer=True)
        assert c.welcome["user"] == "alice"
        r = await c.ok("ping")
        assert r["type"] == "result"

    run(main())


def test_welcome_fields(server):
    async def main():
        c = await server.connect("alice")
        w = c.welcome
        assert w["type"] == "welcome"
        assert w["user"] == "alice"
        for k in ("session", "instance", "epoch"):
            assert isinstance(w[k], str) and w[k], f"welcome.{k}: {w}"
        # a server-made session id is itself a valid session id
        assert 8 <= len(w["session"]) <= 64
        assert all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in w["session"]), w
        c2 = await server.connect("alice")
        assert c2.welcome["session"] != w["session"]
        assert c2.welcome["epoch"] == w["epoch"]
        assert c2.welcome["instance"] == w["instance"]

    run(main())


def test_welcome_instance_name_from_flag(server_factory):
    s = server_factory(["--instance", "node-test-7"])

    async def main():
        c = await s.connect("alice")
        assert c.welcome["instance"] == "node-test-7"

    run(main())


def test_welcome_echoes_client_session(server):
    async def main():
        for sess in ("abcdEFGH", "s" * 64, "my_sess-1234"):
            c = await server.connect("alice", session=sess)
            assert c.welcome["session"] == sess
            await c.close()

    run(main())


@pytest.mark.parametrize("sess", ["short7c", "x" * 65, "bad!chars", "has space1", "dot.not.ok"])
def test_invalid_session_is_400(server, sess):
    tok = server.token("alice")
    assert run(ws_status(server.ws_url(tok, sess))) == 400


def test_session_takeover_closes_older_with_4001(server):
    async def main():
        old = await server.connect("alice", session="takeover-1")
        await old.ok("ping")
        new = await server.connect("alice", session="takeover-1")
        code = await old.wait_closed(timeout=10)
        assert code == 4001
        await new.ok("ping")
        # another session of the same user is untouched
        other = await server.connect("alice", session="other-sess")
        await new.ok("ping")
        await other.ok("ping")

    run(main())


def test_binary_frame_closes_1003(server):
    async def main():
        c = await server.connect("alice")
        await c.send_raw(json.dumps({"type": "ping", "id": "b1"}).encode())
        assert await c.wait_closed() == 1003

    run(main())


def test_invalid_utf8_closes_1007(server):
    async def main():
        c = await server.connect("alice")
        await c.ok("ping")
        await c.send_raw_text_bytes(b'{"type":"ping","id":"u1","x":"\xff\xfe"}')
        assert await c.wait_closed() == 1007

    run(main())


def test_frame_over_limit_closes_1009(server):
    async def main():
        c = await server.connect("alice")
        big = json.dumps({"type": "ping", "id": "big1", "pad": "a" * 70000})  # > 64 KiB default
        try:
            await c.send_raw(big)
        except Exception:
            pass  # the server may already be closing
        assert await c.wait_closed() == 1009

    run(main())


def test_max_frame_bytes_flag(server_factory):
    s = server_factory(["--max-frame-bytes", "2048"])

    async def main():
        c = await s.connect("alice")
        await c.ok("ping", pad="a" * 1500)  # under the limit: fine (unknown fields ignored)
        await c.send_raw(json.dumps({"type": "ping", "id": "big2", "pad": "a" * 3000}))
        assert await c.wait_closed() == 1009

    run(main())


def test_malformed_json_bad_request_connection_stays_open(server):
    async def main():
        c = await server.connect("alice")
        await c.send_raw("{this is not json")
        r = await c.next_frame("result")
        assert r["ok"] is False and r["error"]["code"] == "bad_request", r
        await c.ok("ping")
        # a JSON value that is not an object
        await c.send_raw("[1, 2, 3]")
        r = await c.next_frame("result")
        assert r["ok"] is False and r["error"]["code"] == "bad_request", r
        await c.ok("ping")
        # readable id with an invalid field: the id is echoed
        await c.send_raw(json.dumps({"type": "send", "id": "bad-1", "room": 5, "text": "x"}))
        r = await c.result("bad-1")
        assert r["ok"] is False and r["error"]["code"] == "bad_request", r
        await c.ok("ping")

    run(main())


def test_unknown_op_bad_request(server):
    async def main():
        c = await server.connect("alice")
        await c.err("frobnicate", "bad_request")
        await c.ok("ping")

    run(main())


def test_missing_or_invalid_id_bad_request(server):
    async def main():
        c = await server.connect("alice")
        for frame in ({"type": "ping"},
                      {"type": "ping", "id": ""},
                      {"type": "ping", "id": "x" * 65},
                      {"type": "ping", "id": 17}):
            await c.send_raw(json.dumps(frame))
            r = await c.next_frame("result")
            assert r["ok"] is False and r["error"]["code"] == "bad_request", f"{frame}: {r}"
        await c.send_raw(json.dumps({"id": "no-type-1"}))
        r = await c.result("no-type-1")
        assert r["ok"] is False and r["error"]["code"] == "bad_request", r
        r = await c.ok("ping", id="y" * 64)  # 64 chars is fine
        assert r["id"] == "y" * 64

    run(main())


def test_ping_result(server):
    async def main():
        c = await server.connect("alice")
        r = await c.cmd("ping", id="p-1")
        assert r == {**r, "type": "result", "id": "p-1", "ok": True}

    run(main())


def test_unknown_fields_ignored(server):
    async def main():
        c = await server.connect("alice")
        await c.ok("ping", extra={"nested": [1, 2]}, foo="bar")
        await c.ok("create_room", room="r1", whatever=True)

    run(main())


def test_every_command_gets_exactly_one_result(server):
    async def main():
        c = await server.connect("alice")
        await c.ok("create_room", room="r")
        ids = []
        for i in range(30):
            ids.append(await c.cmd_nowait("send", room="r", text=f"t{i}"))
            ids.append(await c.cmd_nowait("ping"))
        for rid in ids:
            await c.result(rid)
        await c.no_frame("result", within=0.5)

    run(main())


def test_default_workers_follow_cpu_affinity(server_factory):
    """Without --threads, one worker per CPU the process may run on (its affinity mask), not one per
    core of the machine: a server pinned to one CPU runs one worker."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})  # the child inherits the mask
    try:
        srv = server_factory()
    finally:
        os.sched_setaffinity(0, before)
    log = srv.logs[-1].read_text()
    assert re.search(r"serving on 127\.0\.0\.1:\d+ with 1 workers", log), log[-2000:]
    assert os.sched_getaffinity(srv.pid) == {min(before)}
