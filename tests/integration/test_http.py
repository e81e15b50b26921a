"""HTTP endpoints: register, login, room messages, health, metrics, the browser page."""
import json
import time
import urllib.parse

from conftest import PASSWORD, run, ws_status


def test_register_returns_201_and_token(server):
    r = server.http("POST", "/api/register", json_body={"user": "alice", "password": PASSWORD})
    assert r.status == 201, r
    assert isinstance(r.json["token"], str) and len(r.json["token"]) > 0


def test_register_duplicate_is_409_conflict(server):
    server.register("alice")
    r = server.http("POST", "/api/register", json_body={"user": "alice", "password": "another-password"})
    assert r.status == 409, r
    assert r.error_code == "conflict", r
    assert isinstance(r.json["error"]["message"], str)


def test_register_bad_body_is_400(server):
    cases = [
        dict(raw_body=b"{not json"),
        dict(raw_body=b"[1,2,3]"),
        dict(json_body={"user": "alice"}),                        # missing password
        dict(json_body={"password": PASSWORD}),                   # missing user
        dict(json_body={"user": 42, "password": PASSWORD}),       # wrong type
        dict(json_body={"user": "", "password": PASSWORD}),       # empty name
        dict(json_body={"user": "bad name", "password": PASSWORD}),
        dict(json_body={"user": "a/b", "password": PASSWORD}),
        dict(json_body={"user": "x" * 33, "password": PASSWORD}),  # 33 chars > 32
    ]
    for kw in cases:
        r = server.http("POST", "/api/register", **kw)
        assert r.status == 400, f"{kw}: {r}"
        assert r.error_code == "bad_request", f"{kw}: {r}"
    # the boundaries are accepted
    assert server.http("POST", "/api/register",
                       json_body={"user": "x" * 32, "password": PASSWORD}).status == 201
    assert server.http("POST", "/api/register",
                       json_body={"user": "A.b_c-9", "password": PASSWORD}).status == 201


def test_register_password_length_limits(server):
    r = server.http("POST", "/api/register", json_body={"user": "alice", "password": "1234567"})  # 7 bytes
    assert r.status == 400, r
    assert r.error_code == "bad_request", r
    r = server.http("POST", "/api/register", json_body={"user": "alice2", "password": "p" * 1025})
    assert r.status == 400, r
    assert r.error_code == "bad_request", r
    # nothing was created by the refused attempts
    r = server.http("POST", "/api/login", json_body={"user": "alice", "password": "1234567"})
    assert r.status == 401, r
    assert server.http("POST", "/api/register", json_body={"user": "alice", "password": "12345678"}).status == 201
    assert server.http("POST", "/api/register", json_body={"user": "bob", "password": "p" * 1024}).status == 201


def test_login_200_with_token_that_works(server):
    server.register("alice")
    r = server.http("POST", "/api/login", json_body={"user": "alice", "password": PASSWORD})
    assert r.status == 200, r
    token = r.json["token"]
    assert isinstance(token, str) and token

    async def main():
        c = await server.connect(token=token)
        assert c.welcome["user"] == "alice"
        await c.ok("ping")

    run(main())


def test_login_401_on_bad_credentials(server):
    server.register("alice")
    for body in ({"user": "alice", "password": "wrong-password"},
                 {"user": "nobody", "password": PASSWORD}):
        r = server.http("POST", "/api/login", json_body=body)
        assert r.status == 401, f"{body}: {r}"
        assert r.error_code == "unauthenticated", r


def test_login_bad_body_400(server):
    r = server.http("POST", "/api/login", raw_body=b"garbage")
    assert r.status == 400, r
    assert r.error_code == "bad_request", r


def _seed_room(server, room, n, private=False, user="alice"):
    async def main():
        c = await server.connect(user)
        await c.ok("create_room", room=room, private=private)
        for i in range(n):
            await c.ok("send", room=room, text=f"m{i + 1}")

    run(main())


def test_room_messages_http_like_history(server):
    _seed_room(server, "lobby", 5)
    tok = server.token("bob")
    r = server.http("GET", "/api/rooms/lobby/messages", token=tok)
    assert r.status == 200, r
    msgs = r.json["messages"]
    assert [m["seq"] for m in msgs] == [1, 2, 3, 4, 5]
    assert [m["text"] for m in msgs] == ["m1", "m2", "m3", "m4", "m5"]
    assert all(m["from"] == "alice" and m["room"] == "lobby" for m in msgs)
    assert all(isinstance(m["msg_id"], str) and isinstance(m["ts"], int) for m in msgs)
    assert r.json["has_more"] is False

    r = server.http("GET", "/api/rooms/lobby/messages?limit=2", token=tok)
    assert r.status == 200, r
    assert [m["seq"] for m in r.json["messages"]] == [4, 5]
    assert r.json["has_more"] is True
    r = server.http("GET", "/api/rooms/lobby/messages?before=4&limit=2", token=tok)
    assert [m["seq"] for m in r.json["messages"]] == [2, 3]
    assert r.json["has_more"] is True
    r = server.http("GET", "/api/rooms/lobby/messages?before=3&limit=10", token=tok)
    assert [m["seq"] for m in r.json["messages"]] == [1, 2]
    assert r.json["has_more"] is False
    r = server.http("GET", "/api/rooms/lobby/messages?limit=0", token=tok)
    assert r.status == 400 and r.error_code == "bad_request", r


def test_room_messages_http_dm_percent_encoded(server):
    server.register("zoe")

    async def main():
        a = await server.connect("adam")
        r = await a.ok("dm", user="zoe")
        assert r["room"] == "dm:adam:zoe"
        await a.ok("send", room="dm:adam:zoe", text="hello zoe")

    run(main())
    path = "/api/rooms/" + urllib.parse.quote("dm:adam:zoe", safe="") + "/messages"
    assert "%3A" in path
    r = server.http("GET", path, token=server.token("zoe"))
    assert r.status == 200, r
    assert [(m["from"], m["text"]) for m in r.json["messages"]] == [("adam", "hello zoe")]
    r = server.http("GET", path, token=server.token("eve"))
    assert r.status == 403 and r.error_code == "forbidden", r


def test_room_messages_http_401_without_valid_token(server):
    _seed_room(server, "lobby", 1)
    r = server.http("GET", "/api/rooms/lobby/messages")
    assert r.status == 401 and r.error_code == "unauthenticated", r
    r = server.http("GET", "/api/rooms/lobby/messages", token="not-a-token")
    assert r.status == 401 and r.error_code == "unauthenticated", r


def test_room_messages_http_403_private_non_member(server):
    _seed_room(server, "secret", 2, private=True)
    r = server.http("GET", "/api/rooms/secret/messages", token=server.token("mallory"))
    assert r.status == 403 and r.error_code == "forbidden", r
    r = server.http("GET", "/api/rooms/secret/messages", token=server.token("alice"))
    assert r.status == 200 and len(r.json["messages"]) == 2, r


def test_room_messages_http_404_missing_room(server):
    r = server.http("GET", "/api/rooms/nosuchroom/messages", token=server.token("alice"))
    assert r.status == 404 and r.error_code == "not_found", r


def test_healthz_and_readyz(server):
    assert server.http("GET", "/healthz").status == 200
    assert server.http("GET", "/readyz").status == 200


def test_metrics_prometheus_text(server):
    _seed_room(server, "lobby", 3)
    r = server.http("GET", "/metrics")
    assert r.status == 200, r
    lines = [l for l in r.text.splitlines() if l and not l.startswith("#")]
    assert any(l.startswith("parley_") for l in lines), r.text[:2000]
    # every sample line is "<name>[{labels}] <number>"
    for l in lines:
        name_labels, _, value = l.rpartition(" ")
        assert name_labels, l
        float(value)


def test_root_serves_html(server):
    r = server.http("GET", "/")
    assert r.status == 200, r
    assert r.headers.get("Content-Type", "").startswith("text/html"), r.headers.get("Content-Type")
    assert "<html" in r.text.lower() or "<!doctype html" in r.text.lower()


def test_expired_token_rejected(server_factory):
    s = server_factory(["--token-ttl-s", "2"])
    tok = s.register("alice")
    assert s.http("GET", "/api/rooms/x/messages", token=tok).status == 404  # valid: room missing
    time.sleep(3.5)
    r = s.http("GET", "/api/rooms/x/messages", token=tok)
    assert r.status == 401 and r.error_code == "unauthenticated", r
    assert run(ws_status(s.ws_url(tok))) == 401


def test_register_ignores_unknown_fields(server):
    r = server.http("POST", "/api/register",
                    json_body={"user": "alice", "password": PASSWORD, "email": "a@example.com", "x": [1]})
    assert r.status == 201, r


def test_room_messages_http_bad_params(server):
    _seed_room(server, "lobby", 1)
    tok = server.token("alice")
    for q in ("limit=abc", "limit=-1", "before=xyz"):
        r = server.http("GET", f"/api/rooms/lobby/messages?{q}", token=tok)
        assert r.status == 400 and r.error_code == "bad_request", f"{q}: {r}"


def test_http_keep_alive_several_requests_one_connection(server):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
    try:
        for i in range(3):
            body = json.dumps({"user": f"ka{i}", "password": PASSWORD})
            conn.request("POST", "/api/register", body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            assert resp.status == 201, data
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200
    finally:
        conn.close()


def test_http_body_too_large_413(server):
    r = server.http("POST", "/api/register",
                    raw_body=b'{"user":"big","password":"' + b"x" * 100_000 + b'"}')
    assert r.status == 413 and r.error_code == "too_large", r


def test_register_flood_is_refused_with_429_not_queued(server_factory):
    """Password hashing is slow on purpose; a flood of registrations must be refused (429) beyond
    a bounded number in progress, never queued without bound, and the server stays healthy."""
    from concurrent.futures import ThreadPoolExecutor

    s = server_factory(["--argon2-mem-kib", "65536", "--argon2-ops", "3"])

    def reg(i):
        return s.http("POST", "/api/register", json_body={"user": f"flood{i}", "password": PASSWORD}).status

    with ThreadPoolExecutor(max_workers=128) as pool:
        statuses = list(pool.map(reg, range(256)))
    assert set(statuses) <= {201, 429}, statuses
    assert statuses.count(429) > 0
    assert statuses.count(201) > 0
    assert s.http("GET", "/healthz").status == 200
    # Refused users were not created: they can register now.
    refused = [i for i, st in enumerate(statuses) if st == 429][0]
    assert reg(refused) == 201
