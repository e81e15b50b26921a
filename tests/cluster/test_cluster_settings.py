"""Cluster-wide settings are stored once (PostgreSQL, by the first role) and checked by every role
at start: a role that would fold the log differently, or a producer weaker than acks=all, refuses
to start with a message that names the setting, instead of deciding otherwise than the others."""
from __future__ import annotations

import subprocess

import pytest
from parley_cluster_harness import PARLEY_BIN, T, free_port

pytestmark = pytest.mark.cluster


def start_fails(cmd: list[str], what: str) -> str:
    """Run a role that must refuse to start: it exits non-zero within a while; returns stderr."""
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=T(90))
    assert p.returncode != 0, f"{what}: started anyway\nstdout: {p.stdout[-500:]}\nstderr: {p.stderr[-2000:]}"
    assert "ready" not in p.stdout, p.stdout
    return p.stderr


def test_roles_that_disagree_with_the_cluster_refuse_to_start(cluster_factory):
    c = cluster_factory(n=1)  # the first instance stored the settings: window 100000, 8 partitions
    stored = c.db("select value from settings where key = 'cluster'")
    assert stored and '"dedupe_window":100000' in stored[0][0], stored

    err = start_fails([*c.persist_cmd(), "--dedupe-window", "5000"], "a persister with another window")
    assert "dedupe_window" in err and "100000" in err and "5000" in err, err[-2000:]

    serve = [PARLEY_BIN, "serve", "--listen", f"127.0.0.1:{free_port()}", "--kafka", c.kafka.bootstrap,
             "--postgres", c.conninfo, "--instance", "i9", "--topic-prefix", c.prefix, *c.serve_flags]
    err = start_fails([*serve, "--dedupe-window", "7"], "an instance with another window")
    assert "dedupe_window" in err, err[-2000:]

    for bad in ("acks=1", "producer.acks=0", "enable.idempotence=false"):
        err = start_fails([*serve, "--kafka-config", bad], f"an instance with {bad}")
        assert bad.split("=")[0] in err, err[-2000:]

    # An instance's own setting is checked too: a fetch wait outside 1-1000 ms is named.
    for bad in ("0", "5000"):
        err = start_fails([*serve, "--log-fetch-wait-ms", bad], f"an instance with a fetch wait of {bad}")
        assert "--log-fetch-wait-ms" in err and "1 to 1000" in err, err[-2000:]

    # The refused roles changed nothing: the running instance still serves.
    assert c.readyz(1) == 200
