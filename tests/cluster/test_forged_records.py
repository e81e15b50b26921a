"""Records are authenticated: anyone who can write to parley's Kafka topics, but has not the
cluster's key, can put nothing into a socket, the fold, the history or PostgreSQL.

Records are forged with kcat, as such a writer would, on every topic parley reads:
parley.messages (a send, an invitation, a room creation, acting as a real user), parley.results
(a result addressed to a live session, a claim that would take the session over) and
parley.events (typing, a presence snapshot and a delta from an instance that does not exist, a
goodbye in the name of a real instance). Each is written twice: with no `parley-mac` header, and
with one of the right length but the wrong bytes. The forged records of the messages topic are
in the room's own partition (murmur2, as parley's producer), ahead of genuine traffic that must
keep flowing. parley.dlq is written by parley and read by nobody in it.

Every forged record is dropped and counted (parley_records_rejected_total{topic=...} on each
instance that reads its partition, a log line on the persister). With the binary of before this check (no MAC at all),
the forged send reaches the member on the other instance first.
"""
from __future__ import annotations

import json
import re
import secrets
import subprocess
import tempfile
import threading

import pytest
from parley_cluster_harness import T, eventually, in_thread, retry_ok, run

pytestmark = pytest.mark.cluster

# The two kinds of forgery: no MAC header at all, and a MAC of the right size that is not the key's.
FORGERIES = (None, "A" * 32)


def produce(c, topic: str, key: str, value: dict, mac: str | None):
    """One record written with kcat, keyed like parley's own (murmur2 partitioner)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        f.write(json.dumps(value))
        f.flush()
        cmd = ["kcat", "-b", c.kafka.bootstrap, "-P", "-t", c.topic(topic), "-k", key,
               "-X", "partitioner=murmur2_random"]
        if mac is not None:
            cmd += ["-H", f"parley-mac={mac}"]
        p = subprocess.run(cmd + [f.name], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=T(30))
        assert p.returncode == 0, f"kcat -P -t {topic} failed ({p.returncode}): {p.stderr[-2000:]}"


async def forge(c, topic: str, records: list[tuple[str, dict]]):
    for mac in FORGERIES:
        for key, value in records:
            await in_thread(produce, c, topic, key, value, mac)


def rejected(c, i: int) -> dict[str, int]:
    """Instance i's parley_records_rejected_total, by topic ({} from a binary without it)."""
    r = c.http(i, "GET", "/metrics")
    assert r.status == 200, r
    out = {}
    for line in r.text.splitlines():
        m = re.fullmatch(r'parley_records_rejected_total\{topic="([^"]+)"\} (\d+)', line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


async def counted(c, topic: str, before: dict[int, dict[str, int]], at_least: int, on=None):
    """Every instance (or those of `on`) counted at least `at_least` more rejected records of
    `topic`."""
    for k in on or range(1, c.n + 1):
        await eventually(lambda: rejected(c, k).get(topic, 0) - before[k].get(topic, 0) >= at_least, 10,
                         f"i{k} to count {at_least} rejected records of {topic}",
                         detail=lambda: rejected(c, k))


def origins(c, topic: str, pred) -> list[str]:
    """The origin ("o") of each record of `topic` whose JSON value satisfies pred, oldest first."""
    out = []
    for line in c.kafka.consume(c.topic(topic)):
        try:
            v = json.loads(line)
        except ValueError:
            continue
        if isinstance(v, dict) and pred(v):
            out.append(v.get("o"))
    return out


def counters(c) -> dict[int, dict[str, int]]:
    return {k: rejected(c, k) for k in range(1, c.n + 1)}


class TestForgedRecords:
    def test_forged_log_records_reach_no_socket_history_or_postgres(self, shared):
        """A forged send into a room with a member connected on another instance, a forged
        invitation into a private room, a forged room creation: none reaches the member's
        socket, the history of any instance, the fold's decisions or PostgreSQL; a genuine send
        written after them is delivered, stored and is the room's only message."""
        c = shared

        async def main():
            alice = c.new_user("alice", on=1)
            bob = c.new_user("bob", on=2)
            mallory = c.new_user("mallory", on=1)
            a1 = await c.ws(1, alice)
            b2 = await c.ws(2, bob)
            room, private, unclaimed = c.room("forged"), c.room("private"), c.room("unclaimed")
            await a1.ok("create_room", room=room)
            await a1.ok("join", room=room)
            await retry_ok(b2, "join", room=room)
            await a1.ok("create_room", room=private, private=True)
            # i1 reads the partitions of its clients' rooms: a refused join (not_found is
            # confirmed against the log) makes it read the unclaimed name's partition too.
            await a1.err("join", "not_found", room=unclaimed)
            before = counters(c)

            ghost = "i1/" + secrets.token_hex(6)  # an origin no process has
            await forge(c, "parley.messages", [
                (room, {"k": "s", "r": room, "u": alice, "t": "forged send", "m": "forged00000000000001",
                        "c": "forged-1", "o": ghost, "q": 1}),
                (private, {"k": "i", "r": private, "u": alice, "g": mallory, "o": ghost, "q": 2}),
                (unclaimed, {"k": "c", "r": unclaimed, "u": mallory, "o": ghost, "q": 3}),
            ])

            sent = await a1.ok("send", room=room, text="genuine")
            m = await b2.next_frame("message", room=room, timeout=15)
            assert (m["msg_id"], m["text"]) == (sent["msg_id"], "genuine"), \
                f"bob on i2 got a forged message before the genuine one: {m}"
            m = await a1.next_frame("message", room=room, timeout=15)
            assert m["msg_id"] == sent["msg_id"], f"alice on i1 got a forged message: {m}"
            await b2.no_frame("message", within=0.5, room=room)

            for k in range(1, c.n + 1):
                hist = await in_thread(c.history_all_http, k, room, c.tokens[alice])
                assert [(h["seq"], h["text"]) for h in hist] == [(sent["seq"], "genuine")], f"history on i{k}: {hist}"
            mk = await c.ws(2, mallory)
            await mk.err("join", "forbidden", room=private)  # the forged invitation did nothing
            await a1.ok("create_room", room=unclaimed)  # nor the forged creation: the name is free

            rows = await in_thread(c.wait_db_matches_history, room, c.tokens[alice])
            assert [r["text"] for r in rows] == ["genuine"], rows
            assert await in_thread(c.db, f"select created_by from rooms where name = '{unclaimed}'") == [[alice]]
            members = await in_thread(c.db, f"select \"user\" from members where room = '{private}'")
            assert [r[0] for r in members] == [alice], members
            forged_rows = await in_thread(c.db, "select count(*) from messages where text = 'forged send'")
            assert forged_rows == [["0"]], forged_rows

            # An instance reads only the partitions its clients use: i1 read all three before
            # the forgery, so it drops every forged record.
            await counted(c, "parley.messages", before, 2 * 3, on=[1])
            await eventually(lambda: "record dropped" in c.persister.log_tail(400), 10,
                             "the persister to log the records it dropped")

        run(main(), timeout=120)

    def test_forged_results_reach_no_session(self, shared):
        """A forged result addressed to a live session (to its instance, as a genuine one is) and
        a forged claim of that session by another instance: neither reaches the socket nor takes
        the session over; the connection stays open and answers."""
        c = shared

        async def main():
            carol = c.new_user("carol", on=1)
            session = "forged-" + secrets.token_hex(4)
            c1 = await c.ws(1, carol, session=session)
            # Where a result for the session goes: its claim on the results topic names i1's origin.
            home = await eventually(
                lambda: origins(c, "parley.results", lambda v: v.get("t") == "c" and v.get("u") == carol
                                and v.get("s") == session), 15, "carol's claim on the results topic")
            before = counters(c)
            frame = json.dumps({"type": "result", "id": "forged-1", "ok": True, "room": "anything"})
            key = f"{carol}\n{session}"
            await forge(c, "parley.results", [
                (key, {"t": "r", "to": home[-1], "f": frame, "o": "i2/" + secrets.token_hex(6), "u": carol,
                       "s": session}),
                (key, {"t": "c", "id": 1, "n": "forged", "o": "i2/" + secrets.token_hex(6), "u": carol,
                       "s": session}),
            ])
            await c1.no_frame("result", within=1.0, id="forged-1")
            r = await c1.cmd("ping", timeout=10)  # not taken over (4001): still open and answering
            assert r.get("ok") is True, r
            await counted(c, "parley.results", before, 2 * 2)

        run(main(), timeout=90)

    def test_forged_events_change_no_presence(self, shared):
        """Forged typing, a presence snapshot and a delta from instances that do not exist, and a
        goodbye in the name of a live instance: no event reaches a socket and presence is
        unchanged on every instance; genuine typing still crosses instances."""
        c = shared

        async def main():
            dave = c.new_user("dave", on=2)
            erin = c.new_user("erin", on=1)
            room = c.room("presence")
            e1 = await c.ws(1, erin)
            await e1.ok("create_room", room=room)
            await e1.ok("join", room=room)
            d2 = await c.ws(2, dave)
            await retry_ok(d2, "join", room=room)
            everyone = {dave, erin}

            async def online(k: int) -> set[str]:
                cl = await c.ws(k, c.new_user("looker", on=k))
                await retry_ok(cl, "join", room=room)
                r = await cl.ok("presence", room=room)
                await cl.close()
                return {u for u in r["online"] if not u.startswith("looker")}  # lookers leave late

            async def all_online(k: int) -> bool:
                return await online(k) == everyone

            for k in range(1, c.n + 1):
                await eventually(lambda: all_online(k), 10, f"presence on i{k} to be {everyone}")
            await e1.next_frame("event", event="member.joined", user=dave, timeout=10)
            i2 = await eventually(lambda: origins(c, "parley.events",
                                                  lambda v: str(v.get("o", "")).startswith("i2/")), 15,
                                  "a record of i2 on the events topic")
            i2 = i2[-1]
            before = counters(c)
            ghost = "i3/" + secrets.token_hex(6)
            await forge(c, "parley.events", [
                (room, {"t": "y", "o": ghost, "r": room, "u": dave}),
                (ghost, {"t": "s", "o": ghost, "s": 1, "n": 1, "i": 0, "c": 1, "p": [[room, ["ghost-user"]]]}),
                (ghost + "x", {"t": "d", "o": ghost + "x", "s": 1, "j": [[room, ["ghost-user2"]]]}),
                (i2, {"t": "b", "o": i2}),
            ])
            # (lookers come and go meanwhile: their own events are not what is looked for)
            await e1.no_frame("event", within=1.0,
                              pred=lambda f: f.get("event") == "typing" or f.get("user") == dave
                              or str(f.get("user", "")).startswith("ghost-user"))
            for k in range(1, c.n + 1):
                assert await online(k) == everyone, f"presence on i{k} changed"
            await counted(c, "parley.events", before, 2 * 4)
            await d2.ok("typing", room=room)  # genuine events still flow
            t = await e1.next_frame("event", event="typing", timeout=10)
            assert t["user"] == dave, t

        run(main(), timeout=120)

    def test_the_key_is_the_clusters_and_a_role_with_another_refuses_to_start(self, shared, tmp_path):
        """The first role stored a random key in PostgreSQL; a role given --cluster-key-file with
        that key starts, one with another key (or a malformed file) refuses to start and says
        why, rather than dropping every record of the others."""
        c = shared
        stored = c.db("select value from settings where key = 'record_key'")
        assert stored and re.fullmatch(r"[0-9a-f]{64}", stored[0][0] or ""), stored
        same, other, bad = tmp_path / "same.key", tmp_path / "other.key", tmp_path / "bad.key"
        same.write_text(stored[0][0] + "\n")
        other.write_text(secrets.token_hex(32))
        bad.write_text("not a key")
        for f in (same, other, bad):
            f.chmod(0o600)

        for path, why in ((other, "is not the cluster's"), (bad, "not a key")):
            p = subprocess.run([*c.persist_cmd(), "--cluster-key-file", str(path)], stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=T(90))
            assert p.returncode != 0 and "ready" not in p.stdout, f"started with {path.name}: {p.stderr[-2000:]}"
            assert why in p.stderr, p.stderr[-2000:]

        p = subprocess.Popen([*c.persist_cmd(), "--cluster-key-file", str(same)], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        watchdog = threading.Timer(T(60), p.kill)  # a hung start fails the test, not the run
        watchdog.start()
        try:
            line = p.stdout.readline()  # "ready", or "" if it exited
            assert line.strip() == "ready", f"a persister with the cluster's key: {line!r} {p.stderr.read()[-2000:]}"
        finally:
            watchdog.cancel()
            p.terminate()
            p.wait(timeout=T(30))
