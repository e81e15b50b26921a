"""`parley bench`: each scenario run briefly against a real server, checked through its --json line.

The generator is the binary under test (PARLEY_BIN bench ...), the server a fresh
`PARLEY_BIN serve`. Rates are modest so that every message must arrive: at these rates
delivered == expected is the contract, and a --step against an impossible bound must report
failure (exit code 1, no last good rate).
"""
from __future__ import annotations

import json
import subprocess

import pytest

from conftest import PARLEY_BIN, ParleyServer, T


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = ParleyServer(tmp_path_factory.mktemp("bench"))
    s.start()
    yield s
    s.kill()


def bench(srv: ParleyServer, *args: str, expect_rc: int = 0) -> dict:
    cmd = [PARLEY_BIN, "bench", *args, "--url", srv.base_url, "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=T(60))
    assert p.returncode == expect_rc, f"{cmd} -> {p.returncode}\nstdout:{p.stdout}\nstderr:{p.stderr[-3000:]}"
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    assert len(lines) == 1, f"one JSON line expected on stdout, got {p.stdout!r}"
    out = json.loads(lines[0])
    assert out["scenario"] == args[0]
    return out


def check_latency(out: dict, count: int):
    lat = out["latency_ms"]
    assert lat["count"] == count
    assert 0 <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99.9"] <= lat["max"]
    assert lat["max"] > 0


def test_fanout_delivers_every_message_to_every_member(srv):
    out = bench(srv, "fanout", "--members", "20", "--senders", "4", "--rate", "50",
                "--duration", "1", "--warmup", "0.3")
    assert out["connections"] == 20 and out["senders"] == 4
    assert out["sent"] == 50 and out["acked"] == 50
    assert out["expected"] == 50 * 20
    assert out["delivered"] == out["expected"], out
    assert out["errors"] == {}
    check_latency(out, out["delivered"])


def test_rooms_every_member_sends_and_each_room_gets_only_its_own(srv):
    out = bench(srv, "rooms", "--rooms", "3", "--members", "4", "--rate", "60", "--duration", "1",
                "--warmup", "0", "--conns-per-user", "5")
    assert out["connections"] == 12 and out["senders"] == 12 and out["users"] == 3
    assert out["sent"] == 60 and out["acked"] == 60
    assert out["expected"] == 60 * 4
    assert out["delivered"] == out["expected"], out
    check_latency(out, out["delivered"])


def test_idle_reports_server_memory_per_connection(srv):
    out = bench(srv, "idle", "--connections", "300", "--duration", "0.5")
    assert out["welcomed"] == 300 and out["open_at_end"] == 300
    assert out["server_pid"] == srv.pid  # found by its listening port
    per = out["memory_per_connection_bytes"]
    assert per is not None and 0 < per < 200_000, out


@pytest.mark.parametrize("via", ["ws", "http"])
def test_history_reports_pages(srv, via):
    out = bench(srv, "history", "--via", via, "--connections", "3", "--messages", "120",
                "--page-size", "20", "--rate", "100", "--duration", "1")
    assert out["room_messages"] == 120
    assert out["sent"] == 100 and out["pages"] == 100, out
    assert out["errors"] == {}
    assert 1 <= out["messages_per_page"] <= 20
    assert out["pages_per_s"] > 50
    check_latency(out, 100)


def test_connect_storm_reports_its_rate(srv):
    out = bench(srv, "connect-storm", "--rate", "100", "--duration", "1", "--warmup", "0.3")
    assert out["sent"] == 100 and out["connects"] == 100, out
    assert out["errors"] == {}
    assert 50 < out["connects_per_s"] <= 110
    check_latency(out, 100)


def test_connect_storm_counts_refusals_by_reason(srv):
    # Above --max-connections-per-user (here: held connections of one user) the upgrade is
    # refused: the storm reports the refusals by HTTP status instead of failing.
    limited = ParleyServer(srv.workdir / "limited", ["--max-connections-per-user", "10"])
    limited.start()
    try:
        out = bench(limited, "connect-storm", "--rate", "40", "--duration", "0.5", "--hold",
                    "--conns-per-user", "100", "--background", "0")
    finally:
        limited.kill()
    assert out["sent"] == 20
    assert out["connects"] == 10, out
    assert sum(out["errors"].values()) == 10, out
    assert all(k.startswith("http_") for k in out["errors"]), out


def check_background(out: dict, clients: int):
    # The connected clients' own figures, apart from the storm's: every send delivered to every
    # member of its room, latency measured.
    for phase in ("background_before", "background"):
        bg = out[phase]
        assert bg["clients"] == clients, out
        assert bg["sent"] > 0 and bg["acked"] == bg["sent"], out
        assert bg["delivered"] == bg["expected"] == bg["sent"] * min(clients, 10), out
        assert bg["errors"] == {}, out
        lat = bg["latency_ms"]
        assert lat["count"] == bg["delivered"]
        assert 0 < lat["p50"] <= lat["p99"] <= lat["p99.9"] <= lat["max"], out


def test_reconnect_storm_reports_the_connected_clients_apart(srv):
    # 300 connections opened, dropped at once, reopened at 300/s, while 20 connected clients in
    # two rooms keep sending (100/s in all) before and during the storm.
    out = bench(srv, "connect-storm", "--reconnect", "--rate", "300", "--duration", "1",
                "--background", "20", "--background-rate", "100", "--warmup", "0.5",
                "--conns-per-user", "100")
    assert out["reconnect"] is True and out["hold"] is True
    assert out["sent"] == 300 and out["connects"] == 300, out
    assert out["gave_up"] == 0 and out["errors"] == {} and out["refused_503"] == 0, out
    assert out["attempts"] == 300
    assert 0.5 < out["drain_s"] < 30, out
    check_latency(out, 300)
    assert out["background"]["rooms"] == 2
    check_background(out, 20)


def test_reconnect_storm_against_the_guard_is_refused_then_drains(srv):
    # --max-connects-per-sec 100 (burst 100) against 300 reconnects due within half a second:
    # most attempts get 503 with Retry-After; the clients wait it out (plus jitter) and all of
    # them are back, later than the timetable, with no client giving up.
    guarded = ParleyServer(srv.workdir / "guarded", ["--max-connects-per-sec", "100"])
    guarded.start()
    try:
        out = bench(guarded, "connect-storm", "--reconnect", "--rate", "600", "--duration", "0.5",
                    "--background", "20", "--background-rate", "100", "--warmup", "0.3",
                    "--conns-per-user", "100")
    finally:
        guarded.kill()
    assert out["sent"] == 300 and out["connects"] == 300, out
    assert out["gave_up"] == 0, out
    assert out["refused_503"] > 0, out
    assert set(out["errors"]) == {"http_503_retry_after"}, out
    assert out["attempts"] == 300 + out["refused_503"]
    # 300 at 100/s, less the burst: the last one cannot be back before ~1.5 s.
    assert out["drain_s"] > 1.4, out
    assert out["latency_ms"]["max"] > 1000, out
    check_background(out, 20)


def test_step_raises_the_rate_until_a_step_fails(srv):
    out = bench(srv, "fanout", "--members", "5", "--senders", "2", "--rate", "20", "--duration",
                "0.5", "--warmup", "0", "--step", "--step-factor", "2", "--max-steps", "2",
                "--p99-bound-ms", "5000")
    assert [s["rate"] for s in out["steps"]] == [20, 40]
    assert all(s["passed"] for s in out["steps"])
    assert out["last_good_rate"] == 40 and out["passed"] is True


def test_step_against_an_impossible_bound_reports_failure(srv):
    out = bench(srv, "fanout", "--members", "5", "--senders", "2", "--rate", "20", "--duration",
                "0.5", "--warmup", "0", "--step", "--p99-bound-ms", "0.000001", expect_rc=1)
    assert len(out["steps"]) == 1 and out["steps"][0]["passed"] is False
    assert out["steps"][0]["delivered"] == out["steps"][0]["expected"]  # only latency failed
    assert out["last_good_rate"] is None and out["passed"] is False


def test_an_unreachable_server_is_an_error_not_a_result(srv):
    dead = ParleyServer(srv.workdir / "dead")
    dead.port = 1  # nothing listens there
    out = bench(dead, "fanout", "--members", "2", "--duration", "0.2", expect_rc=2)
    assert "error" in out and out["error"], out


def test_several_urls_spread_the_members(srv):
    # Two URLs (here the same server twice, as a cluster's instances would be): both are used and
    # every member still gets every message.
    out = bench(srv, "fanout", "--url", f"{srv.base_url},{srv.base_url}", "--members", "6",
                "--senders", "2", "--rate", "20", "--duration", "0.5", "--warmup", "0")
    assert len(out["urls"]) == 3
    assert out["delivered"] == out["expected"] == out["sent"] * 6
