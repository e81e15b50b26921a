"""Fixtures and helpers for the parley cluster tests: several `parley serve` instances and a
`parley persist` sharing a real Apache Kafka (3 KRaft brokers, scripts/kafka) and a throwaway
PostgreSQL (scripts/postgres).

The engines are started once per pytest session (about 10 s for Kafka) and shared; each Cluster
gets its own topics (a unique --topic-prefix) and its own database (CREATE DATABASE on the shared
server), so clusters never see each other's data. The processes under test:

    $PARLEY_BIN serve --listen 127.0.0.1:<free port> --kafka <bootstrap> --postgres <conninfo>
                      --instance i<k> --topic-prefix <prefix> [$PARLEY_CLUSTER_SERVE_FLAGS]
    $PARLEY_BIN persist --kafka <bootstrap> --postgres <conninfo> --topic-prefix <prefix>
                      [$PARLEY_CLUSTER_PERSIST_FLAGS]

`serve` prints `ready http://127.0.0.1:<port>` and `persist` prints `ready` on stdout.

Environment:
    PARLEY_BIN                    the binary (default build/parley), as in tests/integration
    PARLEY_TEST_KAFKA             bootstrap of a running Kafka to use instead of starting one
    PARLEY_TEST_KAFKA_DIR         its scripts/kafka --dir, if any (needed by the broker-fault tests)
    PARLEY_TEST_KAFKA_BROKERS     brokers to start (3; 1 for a light run: the broker-kill test skips)
    PARLEY_TEST_POSTGRES          conninfo of a running PostgreSQL to use instead of starting one
    PARLEY_TEST_POSTGRES_DIR      its scripts/postgres --dir, if any (needed by the outage test)
    PARLEY_CLUSTER_SERVE_FLAGS    extra `serve` flags (default: cheap argon2, no send quota)
    PARLEY_CLUSTER_PERSIST_FLAGS  extra `persist` flags (default: consumer-group timings that a
                                  real broker accepts and that make a kill -9 cost 6 s, not 45 s)
    PARLEY_TEST_KEEP=1            keep the engines' folders (/tmp/parley-ct-*) and the clusters' databases
    PARLEY_TIMEOUT_SCALE          multiplies every timeout (as in tests/integration)

The WebSocket client, HTTP helpers and timeouts come from tests/integration/conftest.py. It is
loaded under its own module name (not put on sys.path as `conftest`): pytest already imports THIS
file as `conftest`, and two modules of that name would shadow each other. For the same reason
test_cluster.py imports this file as `parley_cluster_harness`.
"""
from __future__ import annotations

import asyncio
import atexit
import csv
import importlib.util
import io
import itertools
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest
import websockets.exceptions

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCRIPTS = REPO / "scripts"


def _load_integration_harness():
    path = REPO / "tests" / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location("parley_integration_harness", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


harness = _load_integration_harness()
Client = harness.Client
Closed = harness.Closed
HttpResponse = harness.HttpResponse
PASSWORD = harness.PASSWORD
PARLEY_BIN = harness.PARLEY_BIN
SCALE = harness.SCALE
T = harness.T
half_close = harness.half_close
http_request = harness.http_request
new_id = harness.new_id
read_history = harness.read_history
run = harness.run
ws_connect = harness.ws_connect

KEEP = os.environ.get("PARLEY_TEST_KEEP") == "1"
RUN_ID = secrets.token_hex(3)  # names this run's topics and databases
DEFAULT_SERVE_FLAGS = "--argon2-mem-kib 1024 --rate-per-sec 100000 --rate-burst 100000"
DEFAULT_PERSIST_FLAGS = "--kafka-config session.timeout.ms=6000 --kafka-config heartbeat.interval.ms=500"
SERVE_FLAGS = shlex.split(os.environ.get("PARLEY_CLUSTER_SERVE_FLAGS", DEFAULT_SERVE_FLAGS))
PERSIST_FLAGS = shlex.split(os.environ.get("PARLEY_CLUSTER_PERSIST_FLAGS", DEFAULT_PERSIST_FLAGS))
START_TIMEOUT = 60.0  # one process to its `ready` line (first start creates topics and schema)
READY_TIMEOUT = 60.0  # /readyz to 200 (catching up)


# ----------------------------------------------------------------------------------------------
# Waiting, always with a deadline and a message that says what was awaited
# ----------------------------------------------------------------------------------------------
def wait_until(pred, timeout: float, what: str, *, interval: float = 0.1, detail=None):
    """Poll pred() until it returns something truthy (returned); fail after T(timeout) seconds
    with `what` and, if given, detail() (the state seen last)."""
    deadline = time.monotonic() + T(timeout)
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"; last seen: {detail()}" if detail else ""
            raise AssertionError(f"timed out after {T(timeout):.1f}s waiting for {what}{extra}")
        time.sleep(interval)


async def eventually(pred, timeout: float, what: str, *, interval: float = 0.2, detail=None):
    """Async wait_until: pred may be a coroutine function or a plain one."""
    deadline = time.monotonic() + T(timeout)
    while True:
        value = pred()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = ""
            if detail:
                d = detail()
                extra = f"; last seen: {(await d) if asyncio.iscoroutine(d) else d}"
            raise AssertionError(f"timed out after {T(timeout):.1f}s waiting for {what}{extra}")
        await asyncio.sleep(interval)


async def within(aw, timeout: float, what: str, detail=None):
    """Await aw for at most T(timeout) s; past that, fail saying what did not finish."""
    try:
        return await asyncio.wait_for(aw, T(timeout))
    except asyncio.TimeoutError:
        extra = f"; {detail()}" if detail else ""
        raise AssertionError(f"{what} did not finish within {T(timeout):.0f}s{extra}") from None


async def in_thread(fn, *args, **kw):
    """Run a blocking harness call (kill, restart, scripts/kafka ...) without stalling the
    event loop, so that the clients keep reading meanwhile."""
    return await asyncio.to_thread(fn, *args, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _script(argv: list[str], timeout: float, what: str) -> str:
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, text=True)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{what}: no answer within {timeout:.0f}s ({' '.join(argv)}): {e.stderr!r}")
    if p.returncode != 0:
        raise AssertionError(f"{what} failed (exit {p.returncode}): {' '.join(argv)}\n"
                             f"stdout: {p.stdout[-2000:]}\nstderr: {p.stderr[-4000:]}")
    return p.stdout


# ----------------------------------------------------------------------------------------------
# Kafka (scripts/kafka)
# ----------------------------------------------------------------------------------------------
class Kafka:
    """A Kafka cluster: started here with scripts/kafka (owned) or given by PARLEY_TEST_KAFKA.
    The fault helpers need its scripts/kafka folder (dir); without one the tests that use them
    are skipped."""

    def __init__(self, bootstrap: str, dir: Path | None, owned: bool):
        self.bootstrap = bootstrap
        self.dir = dir
        self.owned = owned
        self.brokers = len(bootstrap.split(","))

    @classmethod
    def start(cls, dir: Path, brokers: int) -> "Kafka":
        out = _script([str(SCRIPTS / "kafka"), "start", "--brokers", str(brokers), "--dir", str(dir)],
                      timeout=600, what="scripts/kafka start")
        bootstrap = out.strip().splitlines()[-1].strip()
        assert re.fullmatch(r"127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+)*", bootstrap), f"bad bootstrap {bootstrap!r}"
        return cls(bootstrap, dir, owned=True)

    def _run(self, *args: str, timeout: float = 120) -> str:
        self.require_control()
        return _script([str(SCRIPTS / "kafka"), *args, "--dir", str(self.dir)], timeout=timeout,
                       what=f"scripts/kafka {' '.join(args)}")

    def require_control(self, brokers: int = 1):
        if self.dir is None:
            pytest.skip("needs a Kafka whose scripts/kafka folder is known (PARLEY_TEST_KAFKA_DIR)")
        if self.brokers < brokers:
            pytest.skip(f"needs {brokers} Kafka brokers, the test Kafka has {self.brokers}")

    def nodes(self) -> list[int]:
        return list(range(1, self.brokers + 1))

    def status(self) -> dict[int, str]:
        """node -> running | paused | dead"""
        out = self._run("status", timeout=30)
        st = {}
        for line in out.splitlines():
            m = re.match(r"node (\d+) pid \S* port \d+ (\w+)", line)
            if m:
                st[int(m.group(1))] = m.group(2)
        return st

    def pause(self, node: int | None = None):
        """SIGSTOP one broker, or every broker (node=None)."""
        for n in ([node] if node else self.nodes()):
            self._run("pause", str(n), timeout=30)

    def resume(self, node: int | None = None):
        for n in ([node] if node else self.nodes()):
            self._run("resume", str(n), timeout=30)

    def kill(self, node: int):
        """SIGKILL one broker (returns once it is gone)."""
        self._run("kill", str(node), timeout=30)

    def restart(self, node: int):
        """Start a killed broker again on its ports and log dir; returns once it accepts TCP."""
        self._run("restart", str(node), timeout=180)

    def heal(self):
        """Every broker running again: resume the paused, restart the dead."""
        if self.dir is None:
            return
        for n, st in self.status().items():
            if st == "paused":
                self.resume(n)
            elif st == "dead":
                self.restart(n)

    def consume(self, topic: str, timeout: float = 30) -> list[str]:
        """Every value of `topic` from the beginning (kcat); [] if the topic does not exist."""
        p = subprocess.run(["kcat", "-b", self.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
                            "-f", "%s\\n"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=T(timeout))
        if p.returncode != 0:
            if "Unknown topic" in p.stderr or "UNKNOWN_TOPIC" in p.stderr:
                return []
            raise AssertionError(f"kcat -C -t {topic} failed ({p.returncode}): {p.stderr[-2000:]}")
        return [line for line in p.stdout.splitlines() if line]

    def stop(self):
        if self.owned and self.dir is not None:
            subprocess.run([str(SCRIPTS / "kafka"), "stop", "--dir", str(self.dir)], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=120)
            self.owned = False


# ----------------------------------------------------------------------------------------------
# PostgreSQL (scripts/postgres, psql)
# ----------------------------------------------------------------------------------------------
_NULL = "\\N"


def conninfo_with_db(conninfo: str, dbname: str) -> str:
    if re.match(r"^postgres(ql)?://", conninfo):
        u = urllib.parse.urlsplit(conninfo)
        return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + dbname, u.query, u.fragment))
    # keyword=value form: the last occurrence of a keyword wins in libpq
    return f"{conninfo} dbname={dbname}"


def sql_quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class Postgres:
    """A PostgreSQL server: started here with scripts/postgres (owned) or given by
    PARLEY_TEST_POSTGRES. SQL goes through psql (python3-psycopg2 is not installed)."""

    def __init__(self, conninfo: str, dir: Path | None, owned: bool):
        self.conninfo = conninfo
        self.dir = dir
        self.owned = owned

    @classmethod
    def start(cls, dir: Path) -> "Postgres":
        out = _script([str(SCRIPTS / "postgres"), "start", "--dir", str(dir)], timeout=120,
                      what="scripts/postgres start")
        return cls(out.strip().splitlines()[-1].strip(), dir, owned=True)

    def require_control(self):
        if self.dir is None:
            pytest.skip("needs a PostgreSQL whose scripts/postgres folder is known (PARLEY_TEST_POSTGRES_DIR)")

    def _run(self, *args: str, timeout: float = 60) -> str:
        self.require_control()
        return _script([str(SCRIPTS / "postgres"), *args, "--dir", str(self.dir)], timeout=timeout,
                       what=f"scripts/postgres {' '.join(args)}")

    # -- SQL --------------------------------------------------------------------------------------
    def sql(self, query: str, db: str | None = None, timeout: float = 30) -> list[list[str | None]]:
        """Run one or more statements; the rows of the last one, every value a str (None for NULL)."""
        ci = conninfo_with_db(self.conninfo, db) if db else self.conninfo
        p = subprocess.run(["psql", "-X", "-q", "--csv", "-t", "-P", f"null={_NULL}", "-v", "ON_ERROR_STOP=1",
                            "-d", ci, "-c", query], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=T(timeout), env={**os.environ, "PGCONNECT_TIMEOUT": "5"})
        if p.returncode != 0:
            raise AssertionError(f"psql failed ({p.returncode}) on {db or 'default db'}: {query}\n{p.stderr[-2000:]}")
        return [[None if v == _NULL else v for v in row] for row in csv.reader(io.StringIO(p.stdout))]

    def scalar(self, query: str, db: str | None = None):
        rows = self.sql(query, db)
        return rows[0][0] if rows and rows[0] else None

    def create_database(self, name: str) -> str:
        self.sql(f'create database "{name}"')
        return conninfo_with_db(self.conninfo, name)

    def drop_database(self, name: str):
        self.sql(f'drop database if exists "{name}" with (force)')

    def accepts(self) -> bool:
        p = subprocess.run(["psql", "-X", "-q", "-t", "-d", self.conninfo, "-c", "select 1"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=15,
                           env={**os.environ, "PGCONNECT_TIMEOUT": "3"})
        return p.returncode == 0

    # -- faults -----------------------------------------------------------------------------------
    def stop(self):
        """pg_ctl stop -m fast (clients are disconnected, the port closes)."""
        self._run("stop")

    def start_again(self):
        """Start the same data dir on the same port (also the recovery after kill)."""
        self._run("restart")

    def kill(self):
        self._run("kill")

    def pause(self):
        self._run("pause")

    def resume(self):
        self._run("resume")

    def state(self) -> str:
        out = self._run("status", timeout=30).strip()
        if out.startswith("running"):
            pid = int(out.split()[2])
            with open(f"/proc/{pid}/status") as f:
                if any(line.startswith("State:") and line.split()[1] == "T" for line in f):
                    return "paused"
            return "running"
        return "stopped"

    def heal(self):
        if self.dir is None:
            return
        st = self.state()
        if st == "paused":
            self.resume()
        elif st == "stopped":
            self.start_again()

    def shutdown(self):
        if self.owned and self.dir is not None:
            subprocess.run([str(SCRIPTS / "postgres"), "stop", "--dir", str(self.dir)], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60)
            self.owned = False


# ----------------------------------------------------------------------------------------------
# parley processes
# ----------------------------------------------------------------------------------------------
class StartFailed(AssertionError):
    pass


class Proc:
    """One parley process (an instance or the persister), logs in workdir/<name>-<n>.{out,log}."""

    def __init__(self, name: str, workdir: Path, ready: re.Pattern):
        self.name = name
        self.workdir = workdir
        self.ready = ready
        self.proc: subprocess.Popen | None = None
        self.cmd: list[str] = []
        self.logs: list[Path] = []
        self.starts = 0
        self.stdout_path: Path | None = None

    def launch(self, cmd: list[str]):
        if not Path(cmd[0]).exists():
            pytest.fail(f"parley binary not found at {cmd[0]} (set PARLEY_BIN)")
        assert not self.alive(), f"{self.name} is already running (pid {self.proc.pid})"
        self.starts += 1
        tag = f"{self.name}-{self.starts}"
        self.stdout_path = self.workdir / f"{tag}.out"
        err_path = self.workdir / f"{tag}.log"
        self.logs.append(err_path)
        self.cmd = cmd
        with open(self.stdout_path, "wb") as out, open(err_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)

    def wait_started(self, timeout: float = START_TIMEOUT) -> re.Match:
        deadline = time.monotonic() + T(timeout)
        while True:
            data = self.stdout_path.read_bytes()
            m = self.ready.search(data)
            if m:
                return m
            if self.proc.poll() is not None:
                raise StartFailed(f"{self.name} exited with {self.proc.returncode} before its ready line\n"
                                  f"cmd: {shlex.join(self.cmd)}\nstdout: {data[-1000:]!r}\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.kill9()
                raise StartFailed(f"{self.name}: no ready line within {T(timeout):.0f}s\ncmd: {shlex.join(self.cmd)}\n"
                                  f"stdout: {data[-1000:]!r}\n{self.log_tail()}")
            time.sleep(0.02)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill9(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM, SIGKILL after `grace` s; returns the exit code."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=T(grace))
            except subprocess.TimeoutExpired:
                self.kill9()
        return self.proc.returncode if self.proc else None

    def log_tail(self, n: int = 40) -> str:
        parts = []
        for p in self.logs[-2:]:
            try:
                lines = p.read_text(errors="replace").splitlines()
            except OSError:
                continue
            parts.append(f"--- {p} (last {n} of {len(lines)} lines) ---\n" + "\n".join(lines[-n:]))
        return "\n".join(parts)


class Instance(Proc):
    READY = re.compile(rb"^ready http://[0-9.]+:(\d+)\s*$", re.M)

    def __init__(self, index: int, workdir: Path):
        super().__init__(f"i{index}", workdir, self.READY)
        self.index = index
        self.port = free_port()
        self.host = "127.0.0.1"  # another address in the network-namespace tests (netns.py)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class Persister(Proc):
    READY = re.compile(rb"^ready\s*$", re.M)

    def __init__(self, workdir: Path):
        super().__init__("persister", workdir, self.READY)


_LIVE_CLUSTERS: list["Cluster"] = []


class Cluster:
    """N gateway instances (`i1`..`iN`, addressed 1-based) and a persister, on their own topics
    (prefix) and their own database. Blocking methods (start, kill9, restart, the db_*): call them
    through `await in_thread(...)` where clients must keep reading meanwhile."""

    _seq = itertools.count(1)

    def __init__(self, kafka: Kafka, pg: Postgres, workdir: Path, n: int = 3, *,
                 serve_flags: list[str] | None = None, persist_flags: list[str] | None = None):
        self.kafka = kafka
        self.pg = pg
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.tag = f"c{RUN_ID}n{next(self._seq)}"
        self.prefix = f"{self.tag}-"  # topics: <prefix>parley.messages, ...
        self.dbname = f"parley_{self.tag}"
        self.conninfo: str | None = None
        self.serve_flags = SERVE_FLAGS + list(serve_flags or [])
        self.persist_flags = PERSIST_FLAGS + list(persist_flags or [])
        self.instances = [Instance(k, workdir) for k in range(1, n + 1)]
        self.persister = Persister(workdir)
        self.tokens: dict[str, str] = {}
        self._names = itertools.count(1)

    # -- lifecycle --------------------------------------------------------------------------------
    def inst(self, i: int) -> Instance:
        assert 1 <= i <= len(self.instances), f"no instance {i} (1..{len(self.instances)})"
        return self.instances[i - 1]

    @property
    def n(self) -> int:
        return len(self.instances)

    def serve_cmd(self, inst: Instance) -> list[str]:
        return [PARLEY_BIN, "serve", "--listen", f"{inst.host}:{inst.port}", "--kafka", self.kafka.bootstrap,
                "--postgres", self.conninfo, "--instance", inst.name, "--topic-prefix", self.prefix,
                *self.serve_flags]

    def persist_cmd(self) -> list[str]:
        return [PARLEY_BIN, "persist", "--kafka", self.kafka.bootstrap, "--postgres", self.conninfo,
                "--topic-prefix", self.prefix, *self.persist_flags]

    def start(self, persister: bool = True) -> "Cluster":
        """Fresh database, then i1 alone (it makes the topics and the schema on a fresh cluster),
        then the other instances and the persister together; returns once every /readyz is 200."""
        if self.conninfo is None:
            self.conninfo = self.pg.create_database(self.dbname)
        _LIVE_CLUSTERS.append(self)
        self._launch_instance(self.instances[0])
        self._wait_instance_started(self.instances[0])
        for inst in self.instances[1:]:
            self._launch_instance(inst)
        if persister:
            self.persister.launch(self.persist_cmd())
        for inst in self.instances[1:]:
            self._wait_instance_started(inst)
        if persister:
            self.persister.wait_started()
        self.wait_ready()
        return self

    def _launch_instance(self, inst: Instance):
        inst.launch(self.serve_cmd(inst))

    def _wait_instance_started(self, inst: Instance):
        m = inst.wait_started()
        assert int(m.group(1)) == inst.port, f"{inst.name} announced port {m.group(1)}, asked for {inst.port}"

    def start_instance(self, i: int):
        """Start instance i (dead) on its port; if that port was taken meanwhile, on a new one."""
        inst = self.inst(i)
        self._launch_instance(inst)
        try:
            self._wait_instance_started(inst)
        except StartFailed as e:
            if "in use" not in str(e).lower():
                raise
            inst.port = free_port()
            self._launch_instance(inst)
            self._wait_instance_started(inst)
        self.wait_ready(i)

    def kill9(self, i: int):
        """kill -9 instance i; returns once it is reaped."""
        inst = self.inst(i)
        assert inst.alive(), f"{inst.name} is not running"
        inst.kill9()

    def stop_instance(self, i: int):
        self.inst(i).stop()

    def restart(self, i: int):
        """kill -9 instance i if it is alive, start it again, wait for /readyz 200."""
        self.inst(i).kill9()
        self.start_instance(i)

    def stop_persister(self):
        """SIGTERM: a graceful stop (it leaves the consumer group)."""
        code = self.persister.stop()
        assert code is not None, "persister did not exit"

    def kill9_persister(self):
        assert self.persister.alive(), "persister is not running"
        self.persister.kill9()

    def start_persister(self):
        self.persister.launch(self.persist_cmd())
        self.persister.wait_started()

    def alive(self) -> list[int]:
        return [inst.index for inst in self.instances if inst.alive()]

    def next_alive(self, i: int) -> int:
        """The next live instance after i (round robin), i itself if it is the only one."""
        for k in range(1, self.n + 1):
            j = (i - 1 + k) % self.n + 1
            if self.inst(j).alive():
                return j
        raise AssertionError("no instance is alive")

    def close(self):
        """SIGTERM to every process at once, SIGKILL to those still alive 5 s later."""
        procs = [p for p in [*self.instances, self.persister] if p.alive()]
        for p in procs:
            p.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + T(5)
        for p in procs:
            try:
                p.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill9()
        if self in _LIVE_CLUSTERS:
            _LIVE_CLUSTERS.remove(self)
        if self.conninfo and not KEEP:
            try:
                self.pg.drop_database(self.dbname)
            except AssertionError:
                pass

    def log_tails(self) -> list[tuple[str, str]]:
        out = []
        for p in [*self.instances, self.persister]:
            if p.proc is None:
                continue
            state = "running" if p.alive() else f"exited {p.proc.returncode}"
            out.append((f"{self.tag} {p.name} ({state})", p.log_tail()))
        return out

    # -- readiness --------------------------------------------------------------------------------
    def readyz(self, i: int, timeout: float = 3.0) -> int:
        """HTTP status of GET /readyz on instance i; 0 if nothing answered."""
        try:
            return http_request(self.inst(i).url, "GET", "/readyz", timeout=timeout / SCALE).status
        except OSError:
            return 0

    def wait_ready(self, i: int | None = None, timeout: float = READY_TIMEOUT):
        for k in ([i] if i else range(1, self.n + 1)):
            inst = self.inst(k)
            wait_until(lambda: (not inst.alive() and _dead(inst)) or self.readyz(k) == 200, timeout,
                       f"{inst.name} /readyz 200", interval=0.1, detail=lambda: self.readyz(k))

    # -- HTTP / accounts --------------------------------------------------------------------------
    def url(self, i: int) -> str:
        return self.inst(i).url

    def http(self, i: int, method: str, path: str, **kw) -> HttpResponse:
        return http_request(self.url(i), method, path, **kw)

    def user(self, base: str) -> str:
        """A user name unique in this cluster (max 32 chars)."""
        return f"{base[:18]}-{next(self._names)}"

    def room(self, base: str) -> str:
        return f"{base[:40]}-{next(self._names)}"

    def register(self, i: int, user: str, password: str = PASSWORD) -> str:
        r = self.http(i, "POST", "/api/register", json_body={"user": user, "password": password})
        assert r.status == 201, f"register {user} on i{i}: {r}"
        token = r.json["token"]
        assert isinstance(token, str) and token, r
        self.tokens.setdefault(user, token)
        return token

    def login(self, i: int, user: str, password: str = PASSWORD) -> str:
        r = self.http(i, "POST", "/api/login", json_body={"user": user, "password": password})
        assert r.status == 200, f"login {user} on i{i}: {r}"
        token = r.json["token"]
        assert isinstance(token, str) and token, r
        return token

    def new_user(self, base: str, on: int = 1) -> str:
        """Register a fresh user on instance `on`; returns its name (token in self.tokens)."""
        name = self.user(base)
        self.register(on, name)
        return name

    def token(self, user: str) -> str:
        if user not in self.tokens:
            self.register(self.alive()[0], user)
        return self.tokens[user]

    def history_http(self, i: int, room: str, token: str, before: int | None = None,
                     limit: int | None = None) -> HttpResponse:
        q = {}
        if before is not None:
            q["before"] = before
        if limit is not None:
            q["limit"] = limit
        qs = ("?" + urllib.parse.urlencode(q)) if q else ""
        return self.http(i, "GET", f"/api/rooms/{urllib.parse.quote(room, safe='')}/messages{qs}", token=token)

    def history_all_http(self, i: int, room: str, token: str) -> list[dict]:
        """A room's whole history over HTTP from instance i, oldest first (pages of 200)."""
        out: list[dict] = []
        before = None
        while True:
            r = self.history_http(i, room, token, before=before, limit=200)
            assert r.status == 200, f"history of {room} on i{i}: {r}"
            msgs = r.json["messages"]
            out[:0] = msgs
            if not r.json["has_more"] or not msgs:
                return out
            before = msgs[0]["seq"]

    # -- WebSocket --------------------------------------------------------------------------------
    def ws_url(self, i: int, token: str | None, session: str | None = None) -> str:
        q = {}
        if token is not None:
            q["token"] = token
        if session is not None:
            q["session"] = session
        return f"ws://{self.inst(i).host}:{self.inst(i).port}/ws" + (("?" + urllib.parse.urlencode(q)) if q else "")

    async def ws(self, i: int, user: str, token: str | None = None, session: str | None = None) -> Client:
        """Open a WebSocket to instance i as `user` (registered on first use), read the welcome,
        check that it names instance i. Closed at the end of run()."""
        if token is None:
            token = await in_thread(self.token, user)
        ws = await ws_connect(self.ws_url(i, token, session))
        c = Client(ws, user)
        harness._open_clients.append(c)
        try:
            first = await c._recv(T(15))
        except Closed as e:
            raise AssertionError(f"connection to i{i} closed with {e.args[0]} before the welcome")
        assert first.get("type") == "welcome", f"first frame from i{i} is not a welcome: {first}"
        assert first.get("user") == user, first
        assert first.get("instance") == self.inst(i).name, f"welcome from i{i} names {first.get('instance')!r}"
        if session is not None:
            assert first.get("session") == session, first
        c.welcome = first
        c.instance = i
        return c

    # -- PostgreSQL -------------------------------------------------------------------------------
    def db(self, query: str) -> list[list[str | None]]:
        return self.pg.sql(query, db=self.dbname)

    def db_messages(self, room: str) -> list[dict]:
        rows = self.db("select seq, msg_id, sender, text, client_msg_id from messages "
                       f"where room = {sql_quote(room)} order by seq")
        return [{"seq": int(r[0]), "msg_id": r[1], "from": r[2], "text": r[3], "client_msg_id": r[4]} for r in rows]

    def db_dead_letters(self) -> list[dict]:
        rows = self.db('select id, source, session, "user", op, payload::text, reason from dead_letters order by id')
        keys = ["id", "source", "session", "user", "op", "payload", "reason"]
        return [dict(zip(keys, r)) for r in rows]

    def wait_db_matches_history(self, room: str, token: str, i: int | None = None, timeout: float = 60) -> list[dict]:
        """Wait until the messages table holds exactly the room's history as instance i serves it
        (the persister caught up); returns the rows."""
        state = {}

        def check():
            k = i or self.alive()[0]
            hist = [(m["seq"], m["msg_id"]) for m in self.history_all_http(k, room, token)]
            rows = self.db_messages(room)
            state["hist"], state["rows"] = hist, rows
            return hist == [(r["seq"], r["msg_id"]) for r in rows] and rows

        def detail():
            h, r = state.get("hist", []), [(x["seq"], x["msg_id"]) for x in state.get("rows", [])]
            return (f"history has {len(h)}, table has {len(r)}; only in history: {sorted(set(h) - set(r))[:5]}, "
                    f"only in table: {sorted(set(r) - set(h))[:5]}")

        rows = wait_until(check, timeout, f"the messages table of {room} to match its history", interval=0.5,
                          detail=detail)
        return rows if isinstance(rows, list) else []

    # -- Kafka ------------------------------------------------------------------------------------
    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"


def _dead(inst: Instance):
    raise AssertionError(f"{inst.name} exited with {inst.proc.returncode} while waiting for /readyz\n{inst.log_tail()}")


# ----------------------------------------------------------------------------------------------
# Checks shared by the tests
# ----------------------------------------------------------------------------------------------
def assert_strictly_increasing(seqs: list[int], what: str):
    bad = [(a, b) for a, b in zip(seqs, seqs[1:]) if not b > a]
    assert not bad, f"{what}: seqs not strictly increasing at {bad[:5]} (of {len(seqs)})"


def assert_exactly_once(rows: list[dict], acked: dict[str, dict], what: str):
    """rows: the messages table of one room; acked: client_msg_id -> ok send result.
    Every acknowledged message is stored once, at its seq with its msg_id; no message and no
    (sender, client_msg_id) is stored twice."""
    ids = [r["msg_id"] for r in rows]
    dup_ids = sorted({x for x in ids if ids.count(x) > 1})
    assert not dup_ids, f"{what}: msg_ids stored more than once: {dup_ids[:5]}"
    keys = [(r["from"], r["client_msg_id"]) for r in rows if r["client_msg_id"] is not None]
    dup_keys = sorted({k for k in keys if keys.count(k) > 1})
    assert not dup_keys, f"{what}: (sender, client_msg_id) stored more than once: {dup_keys[:5]}"
    by_id = {r["msg_id"]: r for r in rows}
    missing = [(cmid, r["seq"], r["msg_id"]) for cmid, r in acked.items() if r["msg_id"] not in by_id]
    assert not missing, f"{what}: {len(missing)} of {len(acked)} acknowledged sends are not stored: {missing[:5]}"
    moved = [(cmid, r["seq"], by_id[r["msg_id"]]["seq"]) for cmid, r in acked.items()
             if by_id[r["msg_id"]]["seq"] != r["seq"]]
    assert not moved, f"{what}: stored at another seq than acknowledged (cmid, acked, stored): {moved[:5]}"
    wrong = [cmid for cmid, r in acked.items() if by_id[r["msg_id"]]["client_msg_id"] not in (None, cmid)]
    assert not wrong, f"{what}: stored with another client_msg_id: {wrong[:5]}"


# ----------------------------------------------------------------------------------------------
# The outcome of Senders' sends
# ----------------------------------------------------------------------------------------------
async def resolve(senders: list["Sender"]):
    """Send again, with the same client_msg_id, every send that failed: each must now succeed
    (the first result if it had been applied, a new message if not), so every send made by the
    test ends up acknowledged exactly once."""
    for s in senders:
        for cmid in list(s.failed):
            r = await s.client.ok("send", room=s.room, text=cmid, client_msg_id=cmid, timeout=60)
            s.acked[cmid] = r
            del s.failed[cmid]


def acked_of(senders: list["Sender"]) -> dict[str, dict]:
    return {cmid: r for s in senders for cmid, r in s.acked.items()}


def senders_state(senders: list["Sender"]) -> list[str]:
    return [f"{s.user} on i{s.instance}: {len(s.acked)} acked, {len(s.failed)} failed" for s in senders]


def failure_codes(senders: list["Sender"]) -> dict[str, int]:
    codes: dict[str, int] = {}
    for s in senders:
        for r in s.failed.values():
            code = (r.get("error") or {}).get("code")
            codes[code] = codes.get(code, 0) + 1
    return codes


# ----------------------------------------------------------------------------------------------
# Clients that survive an instance's death
# ----------------------------------------------------------------------------------------------
def _lost(c: Client) -> bool:
    return c.closed_code is not None or c.ws.closed


async def retry_cmd(c: Client, op: str, *, within: float = 5.0, retry_on=("not_found", "forbidden"), **fields) -> dict:
    """A command whose success depends on another instance's change having reached this
    instance's view: retried while it fails with a code in retry_on, for up to `within` s.
    Returns the last result (the caller asserts on it)."""
    deadline = time.monotonic() + T(within)
    while True:
        r = await c.cmd(op, **fields)
        code = (r.get("error") or {}).get("code")
        if r.get("ok") or code not in retry_on or time.monotonic() >= deadline:
            return r
        await asyncio.sleep(0.1)


async def retry_ok(c: Client, op: str, *, within: float = 5.0, retry_on=("not_found", "forbidden"), **fields) -> dict:
    r = await retry_cmd(c, op, within=within, retry_on=retry_on, **fields)
    assert r.get("ok") is True, f"{op} {fields} on i{getattr(c, 'instance', '?')} still failing after {T(within):.0f}s: {r}"
    return r


async def retry_err(c: Client, op: str, code: str, *, within: float = 5.0, **fields) -> dict:
    """Expect `code`, allowing `not_found` while the instance has not seen the room yet."""
    r = await retry_cmd(c, op, within=within, retry_on=("not_found",) if code != "not_found" else (), **fields)
    assert r.get("ok") is False and (r.get("error") or {}).get("code") == code, \
        f"{op} {fields} on i{getattr(c, 'instance', '?')}: expected {code}, got {r}"
    return r


async def send_many(c: Client, room: str, texts: list[str], *, window: int = 50, cmids: list[str] | None = None,
                    timeout: float = 60) -> list[dict]:
    """Send texts in order, up to `window` in flight; rate_limited sends are sent again (they were
    not applied). Returns the ok results, in the order of texts."""
    out: list[dict | None] = [None] * len(texts)
    todo = list(range(len(texts)))
    while todo:
        batch, todo = todo[:window], todo[window:]
        rids = []
        for k in batch:
            f = {"room": room, "text": texts[k]}
            if cmids:
                f["client_msg_id"] = cmids[k]
            rids.append((k, await c.cmd_nowait("send", **f)))
        retry = []
        for k, rid in rids:
            r = await c.result(rid, timeout=timeout)
            if r.get("ok"):
                out[k] = r
            elif (r.get("error") or {}).get("code") == "rate_limited":
                retry.append(k)
            else:
                raise AssertionError(f"send {texts[k][:40]!r} to {room}: {r}")
        if retry:
            await asyncio.sleep(0.2)
            todo = retry + todo
    return out  # type: ignore[return-value]


class Sender:
    """Keeps `window` sends in flight (each with a unique client_msg_id = its text) until stopped.
    When its instance dies it reconnects to the next live one with the same session and sends
    again, with the same client_msg_id, every send whose result it did not get, so that every
    send ends with a known outcome."""

    def __init__(self, cluster: Cluster, user: str, room: str, instance: int, *, window: int = 4,
                 ttl_ms: int | None = None, pause: float = 0.0):
        self.cluster = cluster
        self.user = user
        self.room = room
        self.instance = instance
        self.window = window
        self.ttl_ms = ttl_ms
        self.pause = pause
        self.session = f"s-{secrets.token_hex(6)}"
        self.client: Client | None = None
        self.acked: dict[str, dict] = {}   # cmid -> ok result
        self.failed: dict[str, dict] = {}  # cmid -> error result (not rate_limited)
        self.sent: list[str] = []
        self.failovers = 0
        self.lost_in_flight = 0  # sends whose connection died before their result
        self._n = itertools.count(1)

    async def connect(self):
        self.client = await self.cluster.ws(self.instance, self.user, session=self.session)
        return self

    async def _failover(self):
        self.failovers += 1
        deadline = time.monotonic() + T(30)
        last = None
        while time.monotonic() < deadline:
            self.instance = self.cluster.next_alive(self.instance)
            try:
                self.client = await self.cluster.ws(self.instance, self.user, session=self.session)
                return
            except (OSError, AssertionError, websockets.exceptions.WebSocketException, asyncio.TimeoutError) as e:
                last = e
                await asyncio.sleep(0.3)
        raise AssertionError(f"{self.user}: could not reconnect to any instance within {T(30):.0f}s: {last!r}")

    async def run(self, stop: asyncio.Event):
        resend: list[str] = []
        while resend or not stop.is_set():
            if resend:
                batch, resend = resend, []
            else:
                batch = [f"{self.user}-{next(self._n):05d}" for _ in range(self.window)]
                self.sent.extend(batch)
            pending: dict[str, str] = {}
            c = self.client
            try:
                for cmid in batch:
                    f = {"room": self.room, "text": cmid, "client_msg_id": cmid}
                    if self.ttl_ms:
                        f["ttl_ms"] = self.ttl_ms
                    pending[await c.cmd_nowait("send", **f)] = cmid
                for rid, cmid in list(pending.items()):
                    r = await c.result(rid, timeout=90)
                    del pending[rid]
                    code = (r.get("error") or {}).get("code")
                    if r.get("ok"):
                        self.acked[cmid] = r
                    elif code == "rate_limited":
                        resend.append(cmid)
                    else:
                        self.failed[cmid] = r
            except (AssertionError, websockets.exceptions.ConnectionClosed, OSError):
                if not _lost(c):
                    raise
                self.lost_in_flight += len(pending)
                resend = list(pending.values()) + resend
                await self._failover()
            if self.pause:
                await asyncio.sleep(self.pause)


async def owned_room(c, name: str) -> tuple[str, str]:
    """A fresh public room, created by a new user on instance 1: (room, the owner's token)."""
    owner = c.new_user("owner")
    o = await c.ws(1, owner)
    room = c.room(name)
    await o.ok("create_room", room=room)
    return room, c.tokens[owner]


async def start_senders(senders: list["Sender"]):
    """Connects each sender and starts it; returns (stop, tasks): set stop, then gather tasks."""
    for s in senders:
        await s.connect()
    stop = asyncio.Event()
    return stop, [asyncio.create_task(s.run(stop)) for s in senders]


async def start_load(c, room: str, on: tuple[int, ...], **kw):
    """One Sender per instance in @p on, each a new user of its own: (senders, stop, tasks)."""
    senders = [Sender(c, c.new_user(f"load{k}", on=k), room, k, **kw) for k in on]
    stop, tasks = await start_senders(senders)
    return senders, stop, tasks


class TtlSender:
    """`window` sends in flight with ttl_ms, each timed from its send to its result."""

    def __init__(self, client, room: str, user: str, ttl_ms: int, window: int = 8):
        self.client = client
        self.room = room
        self.user = user
        self.ttl_ms = ttl_ms
        self.window = window
        self.results: dict[str, tuple[float, float, dict]] = {}  # cmid -> (sent, latency, result)
        self.n = 0

    async def run(self, stop: asyncio.Event):
        while not stop.is_set():
            pending = {}
            for _ in range(self.window):
                self.n += 1
                cmid = f"{self.user}-{self.n:05d}"
                sent = time.monotonic()
                rid = await self.client.cmd_nowait("send", room=self.room, text=cmid, client_msg_id=cmid,
                                                   ttl_ms=self.ttl_ms)
                pending[rid] = (cmid, sent)
            for rid, (cmid, sent) in pending.items():
                r = await self.client.result(rid, timeout=90)
                self.results[cmid] = (sent, time.monotonic() - sent, r)
            await asyncio.sleep(0.02)


class Reader:
    """Joined to one room from the start (since=0); checks that seqs only go up; when its
    instance dies it reconnects elsewhere with the same session and joins with since=<last seq>."""

    def __init__(self, cluster: Cluster, user: str, room: str, instance: int):
        self.cluster = cluster
        self.user = user
        self.room = room
        self.instance = instance
        self.session = f"r-{secrets.token_hex(6)}"
        self.client: Client | None = None
        self.seen: list[dict] = []
        self.failovers = 0
        self.problems: list[str] = []

    @property
    def last(self) -> int:
        return self.seen[-1]["seq"] if self.seen else 0

    async def connect(self):
        self.client = await self.cluster.ws(self.instance, self.user, session=self.session)
        await retry_ok(self.client, "join", room=self.room, since=self.last)
        return self

    async def run(self, stop: asyncio.Event, until_seq=lambda: 0):
        """Read until stop is set and the last seq seen reaches until_seq()."""
        while not (stop.is_set() and self.last >= until_seq()):
            c = self.client
            try:
                m = await c.next_frame("message", timeout=0.5 / SCALE, room=self.room)
            except AssertionError:
                if not _lost(c):
                    continue
                self.failovers += 1
                deadline = time.monotonic() + T(30)
                while True:
                    self.instance = self.cluster.next_alive(self.instance)
                    try:
                        await self.connect()
                        break
                    except (OSError, AssertionError, websockets.exceptions.WebSocketException,
                            asyncio.TimeoutError) as e:
                        assert time.monotonic() < deadline, f"reader {self.user} could not resume: {e!r}"
                        await asyncio.sleep(0.3)
                continue
            if m["seq"] <= self.last:
                self.problems.append(f"seq {m['seq']} after {self.last} on i{self.instance}")
                continue
            self.seen.append(m)


# ----------------------------------------------------------------------------------------------
# Fixtures
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def engines_dir():
    """A short folder under /tmp that the postgres system user can reach (scripts/postgres)."""
    base = Path(tempfile.mkdtemp(prefix="parley-ct-", dir="/tmp"))
    base.chmod(0o755)
    yield base
    if not KEEP:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def kafka(engines_dir):
    external = os.environ.get("PARLEY_TEST_KAFKA")
    if external:
        d = os.environ.get("PARLEY_TEST_KAFKA_DIR")
        yield Kafka(external, Path(d) if d else None, owned=False)
        return
    k = Kafka.start(engines_dir / "kafka", int(os.environ.get("PARLEY_TEST_KAFKA_BROKERS", "3")))
    atexit.register(k.stop)  # also on an interrupted run
    try:
        yield k
    finally:
        k.stop()


@pytest.fixture(scope="session")
def postgres(engines_dir):
    external = os.environ.get("PARLEY_TEST_POSTGRES")
    if external:
        d = os.environ.get("PARLEY_TEST_POSTGRES_DIR")
        yield Postgres(external, Path(d) if d else None, owned=False)
        return
    pg = Postgres.start(engines_dir / "pg")
    atexit.register(pg.shutdown)
    try:
        yield pg
    finally:
        pg.shutdown()


@pytest.fixture(autouse=True)
def _heal_engines(request):
    """After every test: brokers paused or killed by it run again, PostgreSQL runs again."""
    engines = [request.getfixturevalue(name) for name in ("kafka", "postgres") if name in request.fixturenames]
    yield
    for e in engines:
        e.heal()


@pytest.fixture
def cluster_factory(kafka, postgres, tmp_path):
    """make(n=3, start=True, **kw) -> a fresh Cluster (own topics, own database), closed after the test."""
    made: list[Cluster] = []

    def make(n: int = 3, start: bool = True, **kw) -> Cluster:
        c = Cluster(kafka, postgres, tmp_path / f"cluster{len(made) + 1}", n, **kw)
        made.append(c)
        return c.start() if start else c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def cluster(cluster_factory) -> Cluster:
    """A fresh 3-instance cluster with its persister, every instance ready."""
    return cluster_factory()


@pytest.fixture(scope="class")
def class_cluster(kafka, postgres, tmp_path_factory):
    """One 3-instance cluster for every test of a class (tests there must use fresh names)."""
    c = Cluster(kafka, postgres, tmp_path_factory.mktemp("shared-cluster"))
    try:
        c.start()
        yield c
    finally:
        c.close()


@pytest.fixture
def shared(class_cluster) -> Cluster:
    """The class's cluster, checked healthy before the test (a previous test may have paused
    the brokers): every instance alive and ready, the persister running."""
    c = class_cluster
    for inst in c.instances:
        if not inst.alive():
            c.start_instance(inst.index)
    if not c.persister.alive():
        c.start_persister()
    c.wait_ready()
    return c


# ----------------------------------------------------------------------------------------------
# pytest plumbing
# ----------------------------------------------------------------------------------------------
# test_cluster.py imports its helpers under this name: `conftest` in sys.modules is whichever
# conftest.py pytest loaded last (tests/integration's, when both folders are collected at once).
sys.modules["parley_cluster_harness"] = sys.modules[__name__]


def _give_back_conftest_name():
    """When pytest collects tests/integration and tests/cluster in one run, it loaded the
    integration conftest first and then replaced it with this one as `conftest` in sys.modules;
    the integration tests do `from conftest import ...`: give that name back to their module."""
    import gc
    import types
    target = str(REPO / "tests" / "integration" / "conftest.py")
    for o in gc.get_objects():
        if isinstance(o, types.ModuleType) and o.__name__ == "conftest" and getattr(o, "__file__", None) == target:
            sys.modules["conftest"] = o
            return



def pytest_configure(config):
    _give_back_conftest_name()  # not at import: pytest checks sys.modules["conftest"] right after
    config.addinivalue_line("markers", "cluster: needs Kafka and PostgreSQL and the cluster-mode binary")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when in ("setup", "call") and rep.failed:
        for c in list(_LIVE_CLUSTERS):
            for title, text in c.log_tails():
                rep.sections.append((title, text))

