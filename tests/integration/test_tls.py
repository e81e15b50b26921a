"""TLS without a proxy: `--tls-cert FILE --tls-key FILE` serve https and wss on --listen.

A test CA is made in each test with the openssl CLI, and a server certificate for 127.0.0.1 and
localhost signed by it; the clients (Python's ssl, http.client, websockets) verify against that
CA only. Covered: https and wss end to end; ALPN http/1.1; TLS 1.1 refused, 1.2 and 1.3 served;
plain HTTP to the TLS port answered with a plain 400 and the server unharmed; a client that never
handshakes is closed after --tls-handshake-timeout-ms, and past --tls-max-handshakes in progress
a new connection is closed at once; SIGHUP reloads the certificate for new connections while an
open WebSocket goes on, and a reload of a bad file keeps the old certificate; a key that does
not match, a missing file, or one flag without the other stop the start with a message.
"""
from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from conftest import DEFAULT_FLAGS, PARLEY_BIN, PASSWORD, Client, T, run, ws_connect


# ----------------------------------------------------------------------------------------------
# A throwaway PKI (openssl CLI)
# ----------------------------------------------------------------------------------------------
def _openssl(*args: str, cwd: Path):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class Pki:
    """A test CA in `dir`, and server certificates it signs."""

    def __init__(self, dir: Path):
        self.dir = dir
        dir.mkdir(parents=True, exist_ok=True)
        self.ca = dir / "ca.pem"
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=parley test CA",
                 cwd=dir)
        (dir / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                                     "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")

    def issue(self, name: str, cn: str, serial: int) -> tuple[Path, Path]:
        """A new key and a certificate for 127.0.0.1/localhost: (cert, key)."""
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=self.dir)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-set_serial", str(serial), "-days", "2", "-extfile", "ext.cnf", "-out", f"{name}.pem",
                 cwd=self.dir)
        return self.dir / f"{name}.pem", self.dir / f"{name}.key"

    def client_context(self, **versions) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca))
        for attr, v in versions.items():
            setattr(ctx, attr, v)
        return ctx


@pytest.fixture
def pki(tmp_path) -> Pki:
    return Pki(tmp_path / "pki")


def _copy(src: Path, dst: Path):
    tmp = dst.with_suffix(".tmp")
    tmp.write_bytes(src.read_bytes())
    os.replace(tmp, dst)  # what a certificate renewal does: the whole file at once


@pytest.fixture
def tls_server(server_factory, pki, tmp_path):
    """A server on TLS with the certificate files at fixed paths (live.pem/live.key) so a test
    can replace them and send SIGHUP."""

    def make(extra: list[str] | None = None):
        cert, key = pki.issue("first", "localhost", 1)
        live_cert, live_key = tmp_path / "live.pem", tmp_path / "live.key"
        _copy(cert, live_cert)
        _copy(key, live_key)
        s = server_factory(["--tls-cert", str(live_cert), "--tls-key", str(live_key), *(extra or [])])
        s.live_cert, s.live_key = live_cert, live_key
        return s

    return make


# ----------------------------------------------------------------------------------------------
# Clients
# ----------------------------------------------------------------------------------------------
def https(server, ctx: ssl.SSLContext, method: str, path: str, body: dict | None = None):
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx, timeout=T(10))
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def peer_cert(server, ctx: ssl.SSLContext) -> dict:
    """The certificate a new connection is served, verified against the CA."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=T(10)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.getpeercert()


def common_name(cert: dict) -> str:
    return dict(x[0] for x in cert["subject"])["commonName"]


async def wss_client(server, ctx: ssl.SSLContext, token: str) -> Client:
    ws = await ws_connect(f"wss://127.0.0.1:{server.port}/ws?token={token}", ssl=ctx)
    c = Client(ws, None)
    first = await c._recv(T(15))
    assert first.get("type") == "welcome", first
    return c


def register(server, ctx, user: str) -> str:
    status, body = https(server, ctx, "POST", "/api/register", {"user": user, "password": PASSWORD})
    assert status == 201, body
    return json.loads(body)["token"]


# ----------------------------------------------------------------------------------------------
# Tests
# ----------------------------------------------------------------------------------------------
def test_https_and_wss_end_to_end(tls_server, pki):
    s = tls_server()
    ctx = pki.client_context()
    status, body = https(s, ctx, "GET", "/")
    assert status == 200 and b"<html" in body.lower()
    alice = register(s, ctx, "alice")
    bob = register(s, ctx, "bob")
    status, body = https(s, ctx, "POST", "/api/login", {"user": "alice", "password": PASSWORD})
    assert status == 200 and json.loads(body)["token"]

    async def main():
        a = await wss_client(s, ctx, alice)
        b = await wss_client(s, ctx, bob)
        await a.ok("create_room", room="lobby")
        await a.ok("join", room="lobby")
        await b.ok("join", room="lobby")
        # Enough bytes to need more than one TLS record per write and per read.
        texts = [f"{i}-" + "x" * 3000 for i in range(40)]
        for t in texts:
            await a.ok("send", room="lobby", text=t)
        got = await b.messages("lobby", len(texts))
        assert [m["text"] for m in got] == texts
        await b.ok("send", room="lobby", text="back over wss")
        assert (await a.messages("lobby", len(texts) + 1))[-1]["text"] == "back over wss"
        await a.close()
        await b.close()

    run(main())
    # ALPN: http/1.1 is chosen from what a browser offers.
    alpn = pki.client_context()
    alpn.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", s.port), timeout=T(10)) as raw:
        with alpn.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.selected_alpn_protocol() == "http/1.1"


def test_tls_1_1_refused_1_2_and_1_3_served(tls_server, pki):
    s = tls_server()
    old = pki.client_context(minimum_version=ssl.TLSVersion.TLSv1_1, maximum_version=ssl.TLSVersion.TLSv1_1)
    old.set_ciphers("DEFAULT:@SECLEVEL=0")  # let our client offer TLS 1.1 at all
    with pytest.raises((ssl.SSLError, ConnectionError)):
        https(s, old, "GET", "/")
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = pki.client_context(minimum_version=v, maximum_version=v)
        with socket.create_connection(("127.0.0.1", s.port), timeout=T(10)) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                assert tls.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[v]
                name, _, bits = tls.cipher()
                assert bits >= 128 and ("GCM" in name or "CHACHA20" in name), name
    assert s.alive()


def test_plain_http_to_the_tls_port(tls_server, pki):
    s = tls_server()
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", s.port), timeout=T(10)) as raw:
            raw.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            reply = b""
            while chunk := raw.recv(4096):
                reply += chunk
            assert reply.startswith(b"HTTP/1.1 400 "), reply
            assert b"https" in reply, reply
    assert s.alive()
    assert https(s, pki.client_context(), "GET", "/")[0] == 200


def test_handshake_timeout_and_bound(tls_server, pki):
    timeout_ms = int(T(1) * 1000)
    s = tls_server(["--tls-handshake-timeout-ms", str(timeout_ms), "--tls-max-handshakes", "2"])
    ctx = pki.client_context()
    # Two clients open TCP and never handshake: they hold both places.
    idle = [socket.create_connection(("127.0.0.1", s.port), timeout=T(10)) for _ in range(2)]
    started = time.monotonic()
    time.sleep(0.1)
    # A third is closed at once, before any TLS work.
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        peer_cert(s, ctx)
    assert time.monotonic() - started < timeout_ms / 1000, "refused only after the timeout"
    # The idle ones are closed when their time is up, not before.
    for sock in idle:
        assert sock.recv(1) == b""
    waited = time.monotonic() - started
    assert timeout_ms / 1000 * 0.9 <= waited <= timeout_ms / 1000 + T(3), waited
    for sock in idle:
        sock.close()
    # Their places are free again.
    assert common_name(peer_cert(s, ctx)) == "localhost"
    assert "--tls-max-handshakes" in "".join(p.read_text() for p in s.logs)


def test_sighup_reloads_the_certificate_and_keeps_connections(tls_server, pki):
    s = tls_server()
    ctx = pki.client_context()
    assert peer_cert(s, ctx)["serialNumber"] == "01"
    alice = register(s, ctx, "alice")

    async def main():
        old = await wss_client(s, ctx, alice)
        await old.ok("create_room", room="lobby")
        await old.ok("join", room="lobby")
        await old.ok("send", room="lobby", text="before")

        # A renewed certificate (new key, serial and name) replaces the files; SIGHUP.
        cert, key = pki.issue("second", "parley-renewed", 2)
        _copy(cert, s.live_cert)
        _copy(key, s.live_key)
        os.kill(s.pid, signal.SIGHUP)
        deadline = time.monotonic() + T(10)
        while peer_cert(s, ctx)["serialNumber"] != "02":
            assert time.monotonic() < deadline, "the new certificate was never served"
            await asyncio.sleep(0.05)
        assert common_name(peer_cert(s, ctx)) == "parley-renewed"

        # The WebSocket opened before the reload goes on, both ways.
        await old.ok("send", room="lobby", text="after")
        new = await wss_client(s, ctx, alice)
        await new.ok("join", room="lobby")
        await new.ok("send", room="lobby", text="from the new connection")
        got = await old.messages("lobby", 3)
        assert [m["text"] for m in got] == ["before", "after", "from the new connection"]

        # A bad renewal (a key that is not the certificate's) is refused: the old one stays.
        _copy(pki.issue("third", "never-served", 3)[0], s.live_cert)
        os.kill(s.pid, signal.SIGHUP)
        deadline = time.monotonic() + T(10)
        while "TLS reload failed" not in s.log_tail(200):
            assert time.monotonic() < deadline, "no error logged for the bad reload"
            await asyncio.sleep(0.05)
        assert peer_cert(s, ctx)["serialNumber"] == "02"
        await old.ok("send", room="lobby", text="still here")
        # A file that is not PEM at all: the same.
        s.live_cert.write_text("not a certificate\n")
        os.kill(s.pid, signal.SIGHUP)
        await asyncio.sleep(0.3)
        assert peer_cert(s, ctx)["serialNumber"] == "02"
        await new.ok("send", room="lobby", text="and here")
        assert [m["text"] for m in await old.messages("lobby", 2)] == ["still here", "and here"]
        await old.close()
        await new.close()

    run(main())
    assert s.alive()
    log = s.log_tail(200)
    assert "is not the private key of the certificate" in log and "not a PEM certificate chain" in log, log


def _start_fails(tmp_path, flags: list[str]) -> str:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    proc = subprocess.run([PARLEY_BIN, "serve", "--listen", "127.0.0.1:0", "--data", str(data),
                           *DEFAULT_FLAGS, *flags], capture_output=True, timeout=T(20))
    assert proc.returncode > 0, proc  # an exit with a status, not a crash
    assert b"ready" not in proc.stdout
    return (proc.stdout + proc.stderr).decode(errors="replace")


def test_bad_tls_files_stop_the_start(tmp_path, pki):
    cert, _ = pki.issue("one", "localhost", 1)
    _, other_key = pki.issue("two", "localhost", 2)
    out = _start_fails(tmp_path, ["--tls-cert", str(cert), "--tls-key", str(other_key)])
    assert f"--tls-key {other_key} is not the private key of the certificate in --tls-cert {cert}" in out, out
    out = _start_fails(tmp_path, ["--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", str(other_key)])
    assert "missing.pem: No such file or directory" in out, out
    out = _start_fails(tmp_path, ["--tls-cert", str(other_key), "--tls-key", str(other_key)])
    assert "not a PEM certificate chain" in out, out
    out = _start_fails(tmp_path, ["--tls-cert", str(cert)])
    assert "--tls-key" in out, out
