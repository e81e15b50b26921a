"""Fixtures and helpers for the parley black-box integration tests.

The server under test is started as a subprocess:
    $PARLEY_BIN serve --listen 127.0.0.1:0 --data <fresh dir> --argon2-mem-kib 1024 [extra flags]
and announces its port on stdout with one line `ready http://127.0.0.1:<port>`.

Only the standard library, pytest and websockets (10.x, asyncio API) are used.
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import re
import signal
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import websockets
import websockets.exceptions

REPO = Path(__file__).resolve().parents[2]
PARLEY_BIN = os.environ.get("PARLEY_BIN", str(REPO / "build" / "parley"))
IS_ASAN = "asan" in PARLEY_BIN.lower() or os.environ.get("PARLEY_ASAN") == "1"
# Every timeout in the suite is multiplied by this (ASan builds are ~3x slower).
SCALE = float(os.environ.get("PARLEY_TIMEOUT_SCALE", "3" if IS_ASAN else "1"))
READY_TIMEOUT = 20.0 * max(1.0, SCALE / 2)
DEFAULT_FLAGS = ["--argon2-mem-kib", "1024"]
PASSWORD = "correct-horse-9"


def T(seconds: float) -> float:
    """Scale a timeout for slow (sanitizer) builds."""
    return seconds * SCALE


# ----------------------------------------------------------------------------------------------
# HTTP
# ----------------------------------------------------------------------------------------------
class HttpResponse:
    def __init__(self, status: int, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body
        self.text = body.decode("utf-8", "replace")
        try:
            self.json = json.loads(self.text) if self.text.strip() else None
        except ValueError:
            self.json = None

    @property
    def error_code(self):
        if isinstance(self.json, dict) and isinstance(self.json.get("error"), dict):
            return self.json["error"].get("code")
        return None

    def __repr__(self):
        return f"<HTTP {self.status} {self.text[:300]!r}>"


def http_request(base_url: str, method: str, path: str, *, json_body=None, raw_body: bytes | None = None,
                 token: str | None = None, headers: dict | None = None, timeout: float = 15.0) -> HttpResponse:
    hdrs = dict(headers or {})
    data = None
    if json_body is not None:
        data = json.dumps(json_body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    elif raw_body is not None:
        data = raw_body
        hdrs.setdefault("Content-Type", "application/json")
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base_url + path, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=T(timeout)) as r:
            return HttpResponse(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        body = e.read() if e.fp is not None else b""
        return HttpResponse(e.code, e.headers, body)


# ----------------------------------------------------------------------------------------------
# WebSocket client
# ----------------------------------------------------------------------------------------------
_ids = itertools.count(1)
_open_clients: list["Client"] = []


def new_id(prefix: str = "r") -> str:
    return f"{prefix}{next(_ids)}"


class Closed(Exception):
    pass


class Client:
    """A pull-based protocol client.

    Frames are only read while a test awaits something (cmd/result/next_frame/...), so a test can
    deliberately stop reading. Results are matched by id; every other frame is queued (in arrival
    order) for next_frame().
    """

    def __init__(self, ws, user: str | None):
        self.ws = ws
        self.user = user
        self.welcome: dict | None = None
        self.queue: list[dict] = []          # non-result frames and unclaimed results, arrival order
        self.results: dict[str, dict] = {}   # results by id, not yet claimed
        self.closed_code: int | None = None
        self.all_frames = 0

    # -- low level -------------------------------------------------------------------------
    async def _recv(self, timeout: float) -> dict:
        if self.closed_code is not None:
            raise Closed(self.closed_code)
        try:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
        except websockets.exceptions.ConnectionClosed:
            self.closed_code = self.ws.close_code
            raise Closed(self.closed_code)
        self.all_frames += 1
        assert isinstance(raw, str), f"server sent a non-text frame: {raw!r}"
        frame = json.loads(raw)
        assert isinstance(frame, dict), f"frame is not a JSON object: {raw!r}"
        return frame

    def _stash(self, frame: dict):
        if frame.get("type") == "result" and isinstance(frame.get("id"), str) and frame["id"] not in self.results:
            self.results[frame["id"]] = frame
        self.queue.append(frame)

    async def send_raw(self, data):
        """Send a str (text frame) or bytes (binary frame) as is."""
        await self.ws.send(data)

    async def send_raw_text_bytes(self, payload: bytes):
        """Send a TEXT frame with arbitrary (possibly invalid UTF-8) payload bytes."""
        await self.ws.write_frame(True, 0x1, payload)

    async def cmd_nowait(self, op: str, **fields) -> str:
        rid = fields.pop("id", None) or new_id()
        msg = {"type": op, "id": rid}
        msg.update(fields)
        await self.ws.send(json.dumps(msg))
        return rid

    async def result(self, rid: str, timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + T(timeout)
        while True:
            if rid in self.results:
                frame = self.results.pop(rid)
                self.queue.remove(frame)
                return frame
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no result for id {rid!r} within {T(timeout):.1f}s "
                                     f"(queued: {self.queue[-5:]!r})")
            try:
                frame = await self._recv(left)
            except asyncio.TimeoutError:
                continue
            except Closed as e:
                raise AssertionError(f"connection closed (code {e.args[0]}) while waiting for result {rid!r}")
            self._stash(frame)

    async def cmd(self, op: str, timeout: float = 15.0, **fields) -> dict:
        rid = await self.cmd_nowait(op, **fields)
        res = await self.result(rid, timeout)
        assert res.get("type") == "result", res
        assert res.get("id") == rid, res
        return res

    async def ok(self, op: str, timeout: float = 15.0, **fields) -> dict:
        """Run a command and assert it succeeded."""
        res = await self.cmd(op, timeout=timeout, **fields)
        assert res.get("ok") is True, f"{op} {fields} failed: {res}"
        return res

    async def err(self, op: str, code: str, timeout: float = 15.0, **fields) -> dict:
        """Run a command and assert it failed with `code`."""
        res = await self.cmd(op, timeout=timeout, **fields)
        assert res.get("ok") is False, f"{op} {fields}: expected error {code}, got {res}"
        assert isinstance(res.get("error"), dict), res
        assert res["error"].get("code") == code, f"{op} {fields}: expected {code}, got {res}"
        assert isinstance(res["error"].get("message"), str), res
        return res

    @staticmethod
    def _matches(frame: dict, type_, pred, match) -> bool:
        if type_ is not None and frame.get("type") != type_:
            return False
        for k, v in match.items():
            if frame.get(k) != v:
                return False
        return pred is None or pred(frame)

    async def next_frame(self, type: str | None = None, timeout: float = 10.0, pred=None, **match) -> dict:
        """Return (and remove) the first frame, queued or incoming, matching type/fields/pred."""
        for i, f in enumerate(self.queue):
            if self._matches(f, type, pred, match):
                del self.queue[i]
                if f.get("type") == "result" and self.results.get(f.get("id")) is f:
                    del self.results[f["id"]]
                return f
        deadline = time.monotonic() + T(timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no frame type={type} {match} within {T(timeout):.1f}s "
                                     f"(queued tail: {self.queue[-5:]!r})")
            try:
                f = await self._recv(left)
            except asyncio.TimeoutError:
                continue
            except Closed as e:
                raise AssertionError(f"connection closed (code {e.args[0]}) waiting for type={type} {match}")
            if self._matches(f, type, pred, match):
                return f
            self._stash(f)

    async def no_frame(self, type: str | None = None, within: float = 0.8, pred=None, **match):
        """Assert that no frame matching arrives within `within` seconds (also checks the queue)."""
        for f in self.queue:
            assert not self._matches(f, type, pred, match), f"unexpected frame {f}"
        deadline = time.monotonic() + T(within)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                f = await self._recv(left)
            except asyncio.TimeoutError:
                return
            except Closed:
                return
            assert not self._matches(f, type, pred, match), f"unexpected frame {f}"
            self._stash(f)

    async def messages(self, room: str, count: int, timeout: float = 15.0) -> list[dict]:
        """Collect `count` message frames of `room` in arrival order (timeout for the whole batch)."""
        out = []
        deadline = time.monotonic() + T(timeout)
        while len(out) < count:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise AssertionError("deadline")
                out.append(await self.next_frame("message", timeout=left / SCALE, room=room))
            except AssertionError as e:
                raise AssertionError(f"got only {len(out)}/{count} messages of {room!r}; "
                                     f"last seqs {[m.get('seq') for m in out[-5:]]} ({e})") from None
        return out

    def queued(self, type: str | None = None, **match) -> list[dict]:
        return [f for f in self.queue if self._matches(f, type, None, match)]

    async def wait_closed(self, timeout: float = 15.0) -> int:
        """Read (and queue) frames until the server closes; return the close code."""
        deadline = time.monotonic() + T(timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"connection not closed within {T(timeout):.1f}s")
            try:
                f = await self._recv(left)
            except asyncio.TimeoutError:
                continue
            except Closed as e:
                return e.args[0]
            self._stash(f)

    async def close(self):
        try:
            await asyncio.wait_for(self.ws.close(), T(5))
        except Exception:
            pass

    def abort(self):
        """Drop the TCP connection without a closing handshake."""
        self.ws.transport.abort()


async def ws_connect(url: str, *, headers: dict | None = None, **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("close_timeout", T(5))
    kw.setdefault("open_timeout", T(15))
    return await websockets.connect(url, extra_headers=headers, **kw)


# ----------------------------------------------------------------------------------------------
# Raw (non-reading) WebSocket client, for the slow-consumer test
# ----------------------------------------------------------------------------------------------
class RawWs:
    """A minimal blocking WebSocket client over a plain socket with a tiny receive buffer."""

    def __init__(self, port: int, path: str, rcvbuf: int = 4096):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(T(15))
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(req.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError(f"handshake failed: {self.buf!r}")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        assert b" 101 " in status + b" ", f"handshake refused: {head!r}"

    def send_frame(self, fin: bool, opcode: int, payload: bytes):
        mask = os.urandom(4)
        n = len(payload)
        b0 = (0x80 if fin else 0) | opcode
        if n < 126:
            hdr = struct.pack("!BB", b0, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", b0, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", b0, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(hdr + mask + masked)

    def send_text(self, text: str):
        self.send_frame(True, 0x1, text.encode())

    def send_fragmented(self, parts: list[bytes]):
        """One text message split into len(parts) frames (TEXT then CONTINUATIONs)."""
        for i, p in enumerate(parts):
            self.send_frame(i == len(parts) - 1, 0x1 if i == 0 else 0x0, p)

    def _read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("connection closed by peer")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self):
        """Return (opcode, payload)."""
        b0, b1 = self._read_exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read_exact(8))[0]
        if b1 & 0x80:
            mask = self._read_exact(4)
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(self._read_exact(n)))
        else:
            data = self._read_exact(n)
        return b0 & 0x0F, data

    def read_until_close(self, timeout: float = 30.0):
        """Drain everything; return (close_code or None, number of text frames, error string or None)."""
        self.sock.settimeout(T(timeout))
        texts = 0
        try:
            while True:
                op, data = self.read_frame()
                if op == 0x8:
                    code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                    return code, texts, None
                if op == 0x1:
                    texts += 1
        except (EOFError, OSError) as e:
            return None, texts, repr(e)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ----------------------------------------------------------------------------------------------
# Server process
# ----------------------------------------------------------------------------------------------
class ParleyServer:
    _n = itertools.count(1)

    def __init__(self, workdir: Path, flags: list[str] | None = None, data_dir: Path | None = None):
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir or (workdir / "data")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.flags = list(DEFAULT_FLAGS) + list(flags or [])
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.tokens: dict[str, str] = {}
        self.logs: list[Path] = []
        self.starts = 0

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self):
        if not Path(PARLEY_BIN).exists():
            pytest.fail(f"parley binary not found at {PARLEY_BIN} (set PARLEY_BIN)")
        self.starts += 1
        tag = f"{next(self._n)}"
        out_path = self.workdir / f"stdout-{tag}.log"
        err_path = self.workdir / f"stderr-{tag}.log"
        self.logs.append(err_path)
        self.stdout_path = out_path
        cmd = [PARLEY_BIN, "serve", "--listen", "127.0.0.1:0", "--data", str(self.data_dir), *self.flags]
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_TIMEOUT
        pat = re.compile(rb"^ready https?://127\.0\.0\.1:(\d+)\s*$", re.M)
        while True:
            data = out_path.read_bytes()
            m = pat.search(data)
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                pytest.fail(f"parley exited with {self.proc.returncode} before ready: cmd={cmd}\n"
                            f"stdout: {data[-2000:]!r}\nstderr tail:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"parley not ready within {READY_TIMEOUT}s: cmd={cmd}\n"
                            f"stdout: {data[-2000:]!r}\nstderr tail:\n{self.log_tail()}")
            time.sleep(0.02)
        return self

    def kill(self):
        """kill -9 and reap."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def stop(self):
        """SIGTERM, then SIGKILL after a grace period."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=T(10))
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self, hard: bool = True):
        """Kill (-9 by default) and start again on the same data dir with the same flags."""
        if hard:
            self.kill()
        else:
            self.stop()
        return self.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss_kb(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def log_tail(self, n: int = 60) -> str:
        parts = []
        for p in self.logs[-2:]:
            try:
                lines = p.read_text(errors="replace").splitlines()
            except OSError:
                continue
            parts.append(f"--- {p.name} (last {n} lines) ---\n" + "\n".join(lines[-n:]))
        return "\n".join(parts)

    # -- HTTP -----------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def http(self, method: str, path: str, **kw) -> HttpResponse:
        return http_request(self.base_url, method, path, **kw)

    def register(self, user: str, password: str = PASSWORD) -> str:
        r = self.http("POST", "/api/register", json_body={"user": user, "password": password})
        assert r.status == 201, f"register {user}: {r}"
        assert isinstance(r.json, dict) and isinstance(r.json.get("token"), str) and r.json["token"], r
        self.tokens[user] = r.json["token"]
        return r.json["token"]

    def login(self, user: str, password: str = PASSWORD) -> str:
        r = self.http("POST", "/api/login", json_body={"user": user, "password": password})
        assert r.status == 200, f"login {user}: {r}"
        assert isinstance(r.json, dict) and isinstance(r.json.get("token"), str) and r.json["token"], r
        self.tokens[user] = r.json["token"]
        return r.json["token"]

    def token(self, user: str) -> str:
        if user not in self.tokens:
            self.register(user)
        return self.tokens[user]

    # -- WebSocket ------------------------------------------------------------------------------
    def ws_url(self, token: str | None = None, session: str | None = None) -> str:
        q = {}
        if token is not None:
            q["token"] = token
        if session is not None:
            q["session"] = session
        qs = ("?" + urllib.parse.urlencode(q)) if q else ""
        return f"ws://127.0.0.1:{self.port}/ws{qs}"

    async def connect(self, user: str | None = None, *, token: str | None = None, session: str | None = None,
                      bearer: bool = False, expect_welcome: bool = True, **ws_kw) -> Client:
        """Open a WebSocket as `user` (registered on first use) and read the welcome frame."""
        if token is None:
            assert user is not None
            token = self.token(user)
        if bearer:
            ws = await ws_connect(self.ws_url(None, session), headers={"Authorization": f"Bearer {token}"}, **ws_kw)
        else:
            ws = await ws_connect(self.ws_url(token, session), **ws_kw)
        c = Client(ws, user)
        _open_clients.append(c)
        if expect_welcome:
            try:
                first = await c._recv(T(15))
            except Closed as e:
                raise AssertionError(f"connection closed with {e.args[0]} before welcome")
            assert first.get("type") == "welcome", f"first frame is not welcome: {first}"
            c.welcome = first
        return c


def run(coro, timeout: float = 120.0):
    """Run a test coroutine with an overall timeout; close every client it opened."""

    async def wrapper():
        try:
            return await asyncio.wait_for(coro, T(timeout))
        finally:
            clients = list(_open_clients)
            _open_clients.clear()
            await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)

    return asyncio.run(wrapper())


def expect_http_status(exc_info, status: int):
    e = exc_info.value
    assert isinstance(e, websockets.exceptions.InvalidStatusCode), repr(e)
    assert e.status_code == status, f"expected HTTP {status}, got {e.status_code}"


async def raw_upgrade(port: int, token: str) -> tuple[int, dict]:
    """One raw WebSocket upgrade: (status, headers), then the connection is dropped."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    writer.close()
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers


async def ws_status(url: str, headers: dict | None = None) -> int:
    """Try to open a WebSocket; return 101 on success or the HTTP status of the refusal."""
    try:
        ws = await ws_connect(url, headers=headers)
    except websockets.exceptions.InvalidStatusCode as e:
        return e.status_code
    await ws.close()
    return 101


async def read_history(c: Client, room: str) -> list[dict]:
    """Read a room's whole history, oldest first, through paginated `history` commands."""
    out: list[dict] = []
    before = None
    while True:
        fields = {"room": room, "limit": 200}
        if before is not None:
            fields["before"] = before
        r = await c.ok("history", timeout=30, **fields)
        msgs = r["messages"]
        out[:0] = msgs
        if not r["has_more"] or not msgs:
            return out
        before = msgs[0]["seq"]


# ----------------------------------------------------------------------------------------------
# pytest plumbing
# ----------------------------------------------------------------------------------------------
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        for i, s in enumerate(getattr(item, "_parley_servers", [])):
            state = "running" if s.alive() else f"exited {s.proc.returncode if s.proc else None}"
            rep.sections.append((f"parley server {i} ({state}) log", s.log_tail()))


@pytest.fixture
def server_factory(tmp_path, request):
    """Start extra servers: server_factory(flags=[...]) -> started ParleyServer."""
    servers: list[ParleyServer] = []
    request.node._parley_servers = servers

    def make(flags: list[str] | None = None, start: bool = True) -> ParleyServer:
        s = ParleyServer(tmp_path / f"srv{len(servers)}", flags)
        servers.append(s)
        return s.start() if start else s

    yield make
    for s in servers:
        s.kill()


@pytest.fixture
def server(server_factory) -> ParleyServer:
    """A fresh server (fresh data dir) with the default test flags."""
    return server_factory()


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running scenario (still part of the default run)")


# ----------------------------------------------------------------------------------------------
# Sessions: commands surely in flight at a drop, and a drop that loses nothing in transit
# ----------------------------------------------------------------------------------------------
async def fill_room(c: Client, room: str, n: int = 200, size: int = 4000):
    """Create `room` (public) and store `n` messages of `size` bytes in it."""
    await c.ok("create_room", room=room)
    for start in range(0, n, 100):  # in chunks: the bytes of commands in flight are capped
        ids = [await c.cmd_nowait("send", room=room, text=f"{i:06d}".ljust(size, "x"))
               for i in range(start, min(n, start + 100))]
        for rid in ids:
            r = await c.result(rid, timeout=30)
            assert r["ok"], r


async def busy_reader(server: ParleyServer, room: str, n: int):
    """Queue `n` history reads of `room` (limit 200) on the server's storage reader, which runs
    them one at a time in order, from a connection of its own that then drops with a half-close.
    Returns once the server hung up on it: by then it had read and queued every one of them, so
    a read queued after this call waits behind them (each costs the reader about a millisecond
    per MB of result). Nobody reads their results: the dropped session keeps what the caps allow."""
    loader = await server.connect("busy-reader")
    for _ in range(n):
        await loader.cmd_nowait("history", room=room, limit=200)
    await half_close(loader)


async def commands_idle(server: ParleyServer, timeout: float = 120.0):
    """Return once no command of any connection awaits its result (`parley_commands_inflight`
    in /metrics). Commands of a dropped connection still run: each gets its result, for the
    session; a connection has at most 4 reads in flight, the rest wait their turn."""
    deadline = time.monotonic() + T(timeout)
    while True:
        text = server.http("GET", "/metrics").text
        value = next(int(line.split()[-1]) for line in text.splitlines()
                     if line.startswith("parley_commands_inflight "))
        if value == 0:
            return
        assert time.monotonic() < deadline, f"{value} commands still in flight"
        await asyncio.sleep(0.05)


async def reader_idle(server: ParleyServer, room: str):
    """Return once every command admitted before this call is answered and the storage reader
    has done everything queued before this call."""
    await commands_idle(server)
    probe = await server.connect("reader-probe")
    await probe.ok("history", room=room, limit=1, timeout=120)
    await probe.close()


async def half_close(c: Client, timeout: float = 15.0) -> int:
    """Drop `c` by closing our sending side (TCP FIN) and read until the server hangs up. The
    server reads every command before the FIN and then sees the drop; we still read every frame
    it wrote until then (queued on `c`), so no result is lost in transit. Returns the close code."""
    c.ws.transport.write_eof()
    return await c.wait_closed(timeout)
