"""Transport limits: what a client can make the server hold or do below the protocol.

- Pings never read: pongs count against the send queue and coalesce (RFC 6455 5.5.3 allows
  answering only the newest ping), so a ping flood cannot grow the server.
- Out of file descriptors: the acceptor backs off instead of spinning and logging at full speed,
  and serves again once descriptors are free; the soft descriptor limit is raised to the hard one.
- HTTP heads over the limits: 431 (header fields over 16 KiB) and 414 (target over 8 KiB) with a
  JSON error body, then the connection is closed.
- Malformed HTTP heads (request line, version, header fields): 400 with the JSON error body
  (code `bad_request`), then the connection is closed; a head the client cuts off gets no answer.

Measured on the code before these fixes (Release build): 400,000 unread pings grew RSS by 42 MB
(8.3 -> 50.6 MB); with 64 descriptors and 120 connections waiting the server burnt 2.1 s of CPU and
wrote 91 MB of log in 3 s. After: +0.0 MB (ASan: +2.3 MB); 0.00 s of CPU and 480 bytes of log.
The figures are printed (run with -s to see them).
"""
from __future__ import annotations

import fcntl
import json
import os
import resource
import socket
import stat
import struct
import sys
import termios
import time

from conftest import RawWs, T, run

# RSS a ping flood may add. The server itself needs none of it (the pongs coalesce into one); the
# margin is for the allocator's arenas and, under ASan, its quarantine and shadow memory (measured:
# +0.0 MB in Release, +2.3 MB under ASan; the old code: +42 MB), so one figure serves both builds.
PING_FLOOD_RSS_LIMIT_MB = 20
# CPU the server may burn in 3 s while out of descriptors with connections waiting: the acceptor
# retries every 100 ms, so a few milliseconds, whatever the build.
IDLE_CPU_LIMIT_S = 0.5
LOG_LIMIT_BYTES = 100 * 1024


def _unsent_bytes(sock: socket.socket) -> int:
    """Bytes in our socket's send queue the peer has not acknowledged yet (SIOCOUTQ)."""
    buf = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
    return struct.unpack("i", buf)[0]


def _wait_sent(sock: socket.socket, timeout: float):
    deadline = time.monotonic() + T(timeout)
    while _unsent_bytes(sock) > 0:
        assert time.monotonic() < deadline, f"the server stopped reading ({_unsent_bytes(sock)} bytes unsent)"
        time.sleep(0.02)


class FrameStream:
    """Parses server frames from a socket without copying the whole buffer per frame."""

    def __init__(self, sock: socket.socket, initial: bytes = b""):
        self.sock = sock
        self.buf = bytearray(initial)
        self.pos = 0

    def _need(self, n: int):
        while len(self.buf) - self.pos < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("connection closed by the server")
            del self.buf[:self.pos]
            self.pos = 0
            self.buf += chunk

    def frame(self) -> tuple[int, bytes]:
        self._need(2)
        b0, b1 = self.buf[self.pos], self.buf[self.pos + 1]
        assert b1 & 0x80 == 0, "server frames must not be masked"
        n, hdr = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, hdr = struct.unpack_from("!H", self.buf, self.pos + 2)[0], 4
        elif n == 127:
            self._need(10)
            n, hdr = struct.unpack_from("!Q", self.buf, self.pos + 2)[0], 10
        self._need(hdr + n)
        data = bytes(self.buf[self.pos + hdr:self.pos + hdr + n])
        self.pos += hdr + n
        return b0 & 0x0F, data


# ----------------------------------------------------------------------------------------------
# 1. Pings that are never read
# ----------------------------------------------------------------------------------------------
def test_ping_flood_without_reading_is_bounded(server):
    n = 400_000
    w = RawWs(server.port, f"/ws?token={server.token('flooder')}", rcvbuf=4096)
    stream = FrameStream(w.sock, w.buf)
    op, data = stream.frame()
    assert op == 0x1 and json.loads(data)["type"] == "welcome", data
    # A masked ping with an all-zero mask key carries its payload as is: 8 bytes, the ping's index.
    flood = b"".join(b"\x89\x88\x00\x00\x00\x00" + struct.pack("!Q", i) for i in range(n))
    time.sleep(0.3)
    before_kb = server.rss_kb()
    w.sock.sendall(flood)  # we never read meanwhile: every pong waits in the server
    _wait_sent(w.sock, 30)
    time.sleep(0.5)  # the last bytes read are parsed
    after_kb = server.rss_kb()
    growth_mb = (after_kb - before_kb) / 1024
    print(f"\nping flood: {n} pings unread, RSS {before_kb / 1024:.1f} MB -> {after_kb / 1024:.1f} MB "
          f"(+{growth_mb:.1f} MB, limit {PING_FLOOD_RSS_LIMIT_MB} MB)")
    assert growth_mb < PING_FLOOD_RSS_LIMIT_MB, \
        f"RSS grew by {growth_mb:.1f} MB after {n} unread pings"

    # The server still serves everyone else.
    async def other():
        c = await server.connect("bystander")
        await c.ok("ping")

    run(other(), timeout=30)

    # Reading at last, the flooder gets pongs in order, and the last one answers the newest ping.
    w.sock.settimeout(T(15))
    pongs = []
    while not pongs or pongs[-1] != n - 1:
        op, data = stream.frame()
        assert op == 0xA, f"expected only pongs, got opcode {op:#x} {data[:60]!r}"
        pongs.append(struct.unpack("!Q", data)[0])
    assert pongs == sorted(set(pongs)), "pongs out of order or repeated"
    print(f"ping flood: {len(pongs)} pongs answered {n} pings")
    w.close()


# ----------------------------------------------------------------------------------------------
# 2. Out of file descriptors
# ----------------------------------------------------------------------------------------------
def _start_with_nofile(server_factory, monkeypatch, tmp_path, soft: int, hard: int):
    """Start a server whose RLIMIT_NOFILE is (soft, hard) from its first instruction."""
    s = server_factory(start=False)
    mod = sys.modules[type(s).__module__]  # the conftest that ParleyServer.start reads the binary from
    real = mod.PARLEY_BIN
    wrapper = tmp_path / f"parley-nofile-{soft}-{hard}"
    # UBSan (in the ASan build) checks a vptr it has not seen before by writing the memory to a
    # pipe(); out of descriptors, pipe() fails and UBSan reports a valid object as having an
    # "invalid vptr" and halts. That false report is suppressed here, and only here.
    suppressions = tmp_path / "ubsan-out-of-fds.supp"
    suppressions.write_text("vptr_check:*\n")
    ubsan = ":".join(filter(None, [os.environ.get("UBSAN_OPTIONS"), f"suppressions={suppressions}"]))
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import os, resource, sys\n"
        f"os.environ['UBSAN_OPTIONS'] = {ubsan!r}\n"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard}))\n"
        f"os.execv({real!r}, [{real!r}] + sys.argv[1:])\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(mod, "PARLEY_BIN", str(wrapper))
    s.start()
    monkeypatch.setattr(mod, "PARLEY_BIN", real)
    return s


def _nofile_limits(pid: int) -> tuple[int, int]:
    return resource.prlimit(pid, resource.RLIMIT_NOFILE)


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_soft_fd_limit_is_raised_to_the_hard_limit(server_factory, monkeypatch, tmp_path):
    s = _start_with_nofile(server_factory, monkeypatch, tmp_path, 64, 512)
    assert _nofile_limits(s.pid) == (512, 512)


def test_out_of_fds_backs_off_and_recovers(server_factory, monkeypatch, tmp_path):
    s = _start_with_nofile(server_factory, monkeypatch, tmp_path, 64, 64)
    assert _nofile_limits(s.pid) == (64, 64)
    s.token("alice")  # registered while descriptors are free
    log = s.logs[-1]
    conns = []
    try:
        for _ in range(120):
            conns.append(socket.create_connection(("127.0.0.1", s.port), timeout=T(5)))
        time.sleep(0.5)  # the server accepts until it runs out
        cpu0, log0 = _cpu_seconds(s.pid), log.stat().st_size
        time.sleep(3)
        cpu, log_bytes = _cpu_seconds(s.pid) - cpu0, log.stat().st_size
        text = log.read_text(errors="replace")
        print(f"\nout of fds: {cpu:.2f} s CPU in 3 s, log +{log_bytes - log0} bytes "
              f"({log_bytes} in all)")
        assert "Too many open files" in text, "the server never ran out: the test proves nothing"
        assert cpu < IDLE_CPU_LIMIT_S, f"the server burnt {cpu:.2f} s of CPU in 3 s out of descriptors"
        assert log_bytes < LOG_LIMIT_BYTES, f"{log_bytes} bytes of log"
    finally:
        for c in conns:
            c.close()

    # Descriptors free again: a new client is served.
    async def main():
        c = await s.connect("alice")
        assert c.welcome["user"] == "alice"
        await c.ok("ping")

    run(main(), timeout=30)


# ----------------------------------------------------------------------------------------------
# 4. HTTP heads over the limits
# ----------------------------------------------------------------------------------------------
def _raw_http(port: int, head: bytes) -> tuple[int, dict | None, bytes]:
    """Send a request head, read the response up to the server's close: (status, json, raw)."""
    with socket.create_connection(("127.0.0.1", port), timeout=T(10)) as sock:
        sock.sendall(head)
        raw = b""
        while True:
            try:
                chunk = sock.recv(1 << 16)
            except ConnectionResetError:
                break  # the old behaviour: reset, response lost (if any)
            if not chunk:
                break
            raw += chunk
    if not raw.startswith(b"HTTP/1.1 "):
        return 0, None, raw
    status = int(raw[9:12])
    body = raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else b""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    return status, parsed, raw


def test_target_over_8k_is_414(server):
    for size in (8 * 1024 + 100, 20_000, 100_000):  # under and over the 16 KiB head limit
        head = f"GET /healthz?{'a' * size} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        status, body, raw = _raw_http(server.port, head)
        assert status == 414, f"target of {size} bytes: {raw[:200]!r}"
        assert body["error"]["code"] == "too_large", body
    # Just under the limit is served.
    status, body, raw = _raw_http(
        server.port, f"GET /healthz?{'a' * 8000} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert status == 200, raw[:200]


def test_header_fields_over_16k_are_431(server):
    one_big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n"
    many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(
        f"X-H{i}: {'v' * 90}\r\n".encode() for i in range(300)) + b"\r\n"
    ws_upgrade = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  b"Cookie: " + b"c" * 17_000 + b"\r\n\r\n")
    for name, head in (("one big field", one_big), ("many fields", many), ("upgrade", ws_upgrade)):
        status, body, raw = _raw_http(server.port, head)
        assert status == 431, f"{name}: {raw[:200]!r}"
        assert body["error"]["code"] == "too_large", body
    # The server still serves.
    assert server.http("GET", "/healthz").status == 200


# ----------------------------------------------------------------------------------------------
# 5. Malformed HTTP heads
# ----------------------------------------------------------------------------------------------
MALFORMED_HEADS = {
    "garbage request line": b"\x16\x03\x01 this is not http\r\n\r\n",
    "no version": b"GET /healthz\r\nHost: x\r\n\r\n",
    "HTTP/9.9": b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
    "HTTP/0.9": b"GET /healthz HTTP/0.9\r\nHost: x\r\n\r\n",
    "field without a colon": b"GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
    "NUL in a field value": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "bad content-length": b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
}


def test_malformed_request_heads_are_400(server):
    for name, head in MALFORMED_HEADS.items():
        status, body, raw = _raw_http(server.port, head)
        assert status == 400, f"{name}: {raw[:200]!r}"
        assert body is not None and body["error"]["code"] == "bad_request", f"{name}: {raw[:300]!r}"
        assert b"\r\nConnection: close\r\n" in raw, f"{name}: {raw[:300]!r}"
    # The server still serves.
    assert server.http("GET", "/healthz").status == 200


def test_malformed_head_with_more_data_behind_it_is_400(server):
    # The 400 is lingered after like the other error responses: bytes the client sends behind a
    # bad head are read and dropped, so the response is not lost to a reset.
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n" + b"x" * 100_000
    status, body, raw = _raw_http(server.port, head)
    assert status == 400, raw[:200]
    assert body["error"]["code"] == "bad_request", body


def test_head_cut_off_by_the_client_gets_no_answer(server):
    # Nothing to answer: the client hung up before its head was complete.
    with socket.create_connection(("127.0.0.1", server.port), timeout=T(10)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Half: ab")
        sock.shutdown(socket.SHUT_WR)
        raw = b""
        while True:
            try:
                chunk = sock.recv(1 << 16)
            except ConnectionResetError:
                break
            if not chunk:
                break
            raw += chunk
    assert raw == b"", raw[:200]
