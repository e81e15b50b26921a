"""/metrics after real traffic, read by prometheus_client's own text parser; and the guard
against reconnect storms (--max-connects-per-sec): 503 with Retry-After before authentication."""
import asyncio
import math

from prometheus_client.parser import text_string_to_metric_families

from conftest import new_id, raw_upgrade, run

SENDS = 25


def scrape(server) -> dict:
    r = server.http("GET", "/metrics")
    assert r.status == 200, r
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers
    # The parser raises on anything that is not Prometheus text (a bad line, a bad value).
    return {f.name: f for f in text_string_to_metric_families(r.text)}


def check_histogram(family):
    """Every series of a histogram: cumulative buckets never decrease, +Inf equals _count,
    _sum is not negative. Returns {labels (without le): (count, sum)}."""
    series: dict = {}
    for s in family.samples:
        labels = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        entry = series.setdefault(labels, {"buckets": [], "count": None, "sum": None})
        if s.name.endswith("_bucket"):
            entry["buckets"].append((float(s.labels["le"]), s.value))
        elif s.name.endswith("_count"):
            entry["count"] = s.value
        elif s.name.endswith("_sum"):
            entry["sum"] = s.value
    assert series, f"{family.name}: no series"
    out = {}
    for labels, e in series.items():
        where = f"{family.name}{dict(labels)}"
        buckets = sorted(e["buckets"])
        assert len(buckets) >= 2 and buckets[-1][0] == math.inf, f"{where}: no +Inf bucket"
        values = [v for _, v in buckets]
        assert values == sorted(values), f"{where}: buckets decrease: {buckets}"
        assert e["count"] is not None and e["sum"] is not None, f"{where}: _count or _sum missing"
        assert values[-1] == e["count"], f"{where}: +Inf {values[-1]} != _count {e['count']}"
        assert e["sum"] >= 0, f"{where}: _sum {e['sum']}"
        out[dict(labels).get("op", "")] = (e["count"], e["sum"])
    return out


def test_histograms_well_formed_after_traffic(server):
    async def scenario():
        a = await server.connect("metrics-a")
        b = await server.connect("metrics-b")
        await a.ok("create_room", room="metered")
        await a.ok("join", room="metered")
        await b.ok("join", room="metered")
        ids = [await a.cmd_nowait("send", room="metered", text=f"m{i}", client_msg_id=new_id("c"))
               for i in range(SENDS)]
        for rid in ids:
            assert (await a.result(rid))["ok"]
        await b.messages("metered", SENDS)
        await a.ok("history", room="metered", limit=10)
        await b.ok("ping")
        return scrape(server)

    families = run(scenario())
    histograms = {n: f for n, f in families.items() if f.type == "histogram"}
    for name in ("parley_command_duration_seconds", "parley_send_fanout_seconds",
                 "parley_storage_commit_seconds", "parley_kafka_produce_ack_seconds",
                 "parley_send_queue_bytes"):
        assert name in histograms, f"{name} missing: {sorted(families)}"
    series = {name: check_histogram(f) for name, f in histograms.items()}

    latency = series["parley_command_duration_seconds"]
    assert latency["send"][0] == SENDS, latency["send"]  # one per send, admission to result
    assert latency["send"][1] > 0
    assert latency["join"][0] == 2 and latency["create_room"][0] == 1
    assert latency["history"][0] == 1 and latency["ping"][0] == 1
    commits = series["parley_storage_commit_seconds"][""][0]
    assert 1 <= commits <= SENDS + 1, commits  # group commits: the room, then the sends
    # Both readers are on some worker: each message was queued there at least once.
    assert series["parley_send_fanout_seconds"][""][0] >= SENDS
    assert series["parley_send_queue_bytes"][""][0] > 0
    assert series["parley_kafka_produce_ack_seconds"][""][0] == 0  # a single node: no Kafka

    for name, f in families.items():
        assert name.startswith("parley_"), name
        assert f.documentation, f"{name}: no HELP"
    assert families["parley_room_subscriptions"].samples[0].value == 2
    assert families["parley_connects_refused"].samples[0].value == 0
    # The counters kept their names.
    assert families["parley_commands"].samples[0].name == "parley_commands_total"
    assert families["parley_connections_open"].type == "gauge"


def test_connect_storm_refused_before_authentication(server_factory):
    rate = 10
    s = server_factory(["--max-connects-per-sec", str(rate)])
    token = s.token("stormer")
    storm = 80

    async def scenario():
        connected = await s.connect("steady")  # takes one token of the burst
        await connected.ok("create_room", room="calm")
        results = await asyncio.gather(*(raw_upgrade(s.port, token) for _ in range(storm)))
        # Mid-storm, the bucket empty: a bad token is refused for the rate, not authenticated.
        bogus = await raw_upgrade(s.port, "not-a-token")
        # Whoever is connected is still served.
        for i in range(5):
            assert (await connected.ok("send", room="calm", text=f"still here {i}"))["seq"] == i + 1
        await connected.ok("ping")
        return results, bogus

    results, bogus = run(scenario())
    statuses = [st for st, _ in results]
    assert set(statuses) <= {101, 503}, statuses  # never 401 or 500
    refused = [h for st, h in results if st == 503]
    # The burst is one second's worth (rate), less the steady client's token, plus what refilled
    # while the storm was sent.
    assert len(refused) >= storm - 2 * rate, statuses
    retry_after = [int(h["retry-after"]) for h in refused]
    assert min(retry_after) >= 1
    # Each refused attempt is given the next free slot: the herd comes back spread out.
    assert max(retry_after) >= (len(refused) // rate) - 1 >= 2, retry_after
    assert bogus[0] == 503 and int(bogus[1]["retry-after"]) >= 1, bogus
    text = s.http("GET", "/metrics").text
    assert f"parley_connects_refused_total {len(refused) + 1}" in text

    # Honouring Retry-After gets through (the storm is over).
    async def retry():
        await asyncio.sleep(min(retry_after))
        status = 503
        for _ in range(max(retry_after) + 2):
            status, headers = await raw_upgrade(s.port, token)
            if status == 101:
                break
            await asyncio.sleep(int(headers["retry-after"]))
        return status

    assert run(retry()) == 101


def test_no_connect_limit_by_default(server):
    token = server.token("many")

    async def burst():
        return await asyncio.gather(*(raw_upgrade(server.port, token) for _ in range(50)))

    assert {st for st, _ in run(burst())} == {101}


def test_grafana_dashboard_uses_exported_names(server):
    """docs/grafana/parley.json queries only metric names /metrics exports."""
    import json
    import re
    from pathlib import Path

    dashboard = json.loads((Path(__file__).resolve().parents[2] / "docs/grafana/parley.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert exprs
    text = server.http("GET", "/metrics").text
    exported = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    for expr in exprs:
        for name in re.findall(r"\bparley_\w+", expr):
            base = re.sub(r"_(bucket|count|sum)$", "", name)
            assert name in exported or base in exported, f"{name} in {expr!r} is not exported"
