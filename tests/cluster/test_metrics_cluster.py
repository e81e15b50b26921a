"""The cluster's metrics: an instance's Kafka produce acknowledgement histogram and its fold lag
per partition, and the persister's own /metrics (`persist --metrics-listen`): its PostgreSQL
batch histogram and its lag per partition, caught up to 0 once everything is stored. Every
endpoint parses as Prometheus text (prometheus_client's parser) with well-formed histograms."""
from __future__ import annotations

import math
import re
import urllib.request

import pytest
from parley_cluster_harness import T, eventually, run, send_many
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.cluster

SENDS = 60


def families(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        text = r.read().decode()
    out = {f.name: f for f in text_string_to_metric_families(text)}
    for f in out.values():
        if f.type == "histogram":
            well_formed(f)
    return out


def well_formed(family):
    series: dict = {}
    for s in family.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        e = series.setdefault(key, {"b": [], "count": None, "sum": None})
        if s.name.endswith("_bucket"):
            e["b"].append((float(s.labels["le"]), s.value))
        elif s.name.endswith("_count"):
            e["count"] = s.value
        else:
            e["sum"] = s.value
    for key, e in series.items():
        b = sorted(e["b"])
        values = [v for _, v in b]
        assert b[-1][0] == math.inf and values == sorted(values), (family.name, key, b)
        assert values[-1] == e["count"] and e["sum"] >= 0, (family.name, key, e)


def count_of(fams: dict, name: str) -> float:
    return next(s.value for s in fams[name].samples if s.name == name + "_count")


def lags(fams: dict, name: str) -> dict[int, float]:
    return {int(s.labels["partition"]): s.value for s in fams[name].samples}


def test_produce_ack_fold_lag_and_persister_metrics(cluster_factory):
    c = cluster_factory(n=2, persist_flags=["--metrics-listen", "127.0.0.1:0"])
    m = re.search(rb"^metrics (http://\S+)\s*$", c.persister.stdout_path.read_bytes(), re.M)
    assert m, "the persister printed no metrics address"
    persister_url = m.group(1).decode()

    async def main():
        alice = c.new_user("alice", on=1)
        bob = c.new_user("bob", on=2)
        a1 = await c.ws(1, alice)
        room = c.room("metered")
        await a1.ok("create_room", room=room)
        b2 = await c.ws(2, bob)
        await b2.ok("join", room=room, timeout=T(30))
        sent = await send_many(a1, room, [f"m{k}" for k in range(SENDS)])
        assert len(sent) == SENDS
        await b2.messages(room, SENDS, timeout=T(30))

        i1 = families(c.inst(1).url + "/metrics")
        assert count_of(i1, "parley_kafka_produce_ack_seconds") >= SENDS + 1
        sends = [s for s in i1["parley_command_duration_seconds"].samples
                 if s.name.endswith("_count") and s.labels["op"] == "send"]
        assert sends[0].value == SENDS
        assert lags(i1, "parley_fold_lag_records"), "i1 reports no fold lag"
        i2 = families(c.inst(2).url + "/metrics")
        # bob's messages came from Kafka to i2's sockets: the cross-instance fan-out.
        assert count_of(i2, "parley_send_fanout_seconds") >= SENDS

        async def stored():
            p = families(persister_url)
            lag = lags(p, "parley_persister_lag_records")
            return count_of(p, "parley_storage_commit_seconds") >= 1 and lag and max(lag.values()) == 0

        await eventually(stored, 30, "the persister's metrics: a batch stored, lag 0",
                         detail=lambda: families(persister_url).get("parley_persister_lag_records"))

    run(main())
