"""`parley chat` used as a person would: two clients in tmux panes against a real `parley serve`.

Each client runs in its own tmux session (tmux new-session -d); the test types with send-keys and
reads the screen with capture-pane. They register, talk both ways, keep a half-typed line intact
while a message arrives, resume after losing the server (a proxy cut for one of them, then kill -9
and a restart of the server on the same port and data), re-send what was typed while offline,
resume after a restart of the client itself (seqs kept in $XDG_STATE_HOME/parley), and print no
escape codes under NO_COLOR. Over https (a server on --tls-cert with a test CA made in the test):
two clients given the CA with --ca-file talk and resume after a restart; a client that does not
trust the certificate, at the start or after a restart brings a certificate of another CA, stops
with exit code 1 and says why on one line.
"""
from __future__ import annotations

import itertools
import os
import shlex
import socket
import subprocess
import threading
import time

import pytest

from conftest import PARLEY_BIN, PASSWORD, T

_n = itertools.count(1)
ESC = "\x1b["


class Pane:
    """One `parley chat` in a detached tmux session of a private tmux server."""

    def __init__(self, socket_name: str, name: str, server_url: str, user: str, state_dir,
                 register: bool, color: bool, password_env: bool = True, extra: tuple = ()):
        self.sock = socket_name
        self.name = name
        env = {"XDG_STATE_HOME": str(state_dir), "TZ": "UTC"}
        if password_env:
            env["PARLEY_PASSWORD"] = PASSWORD
        unset = ["-u", "PARLEY_PASSWORD"] + ([] if not color else ["-u", "NO_COLOR"])
        if not color:
            env["NO_COLOR"] = "1"
        cmd = ["env", *unset, *[f"{k}={v}" for k, v in env.items()], PARLEY_BIN, "chat",
               "--server", server_url, "--user", user, *extra] + (["--register"] if register else [])
        # The pane stays after the client exits, so a failure can still be read.
        shell = " ".join(shlex.quote(c) for c in cmd) + "; echo CHAT-EXITED $?; sleep 600"
        self.tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "50", shell)

    def tmux(self, *args) -> str:
        r = subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, f"tmux {args}: {r.stderr}"
        return r.stdout

    def type(self, text: str):
        self.tmux("send-keys", "-t", self.name, "-l", text)

    def line(self, text: str):
        self.type(text)
        self.tmux("send-keys", "-t", self.name, "Enter")

    def screen(self, escapes: bool = False) -> str:
        """The whole pane, scrollback included; with `escapes`, its colors as SGR sequences."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-", *(["-e"] if escapes else []),
                         "-t", self.name)

    def count(self, text: str) -> int:
        return sum(1 for ln in self.screen().splitlines() if text in ln)

    def wait_for(self, text: str, timeout: float = 10.0, count: int = 1) -> str:
        deadline = time.monotonic() + T(timeout)
        while True:
            screen = self.screen()
            if sum(1 for ln in screen.splitlines() if text in ln) >= count:
                return screen
            if time.monotonic() > deadline or ("CHAT-EXITED" in screen and "CHAT-EXITED" not in text):
                raise AssertionError(f"{self.name}: {text!r} (x{count}) not shown (waited up to {timeout}s); "
                                     f"screen:\n{screen}")
            time.sleep(0.05)

    def wait_until(self, cond, timeout: float = 10.0):
        deadline = time.monotonic() + T(timeout)
        while not cond():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: condition not met; screen:\n{self.screen()}")
            time.sleep(0.05)

    def last_line(self) -> str:
        lines = [ln.rstrip() for ln in self.screen().splitlines() if ln.strip()]
        return lines[-1] if lines else ""


class CutProxy:
    """A TCP relay in front of the server whose connections can be cut: while cut it closes every
    connection it has and hangs up on new ones, so one client loses the server and others do not."""

    def __init__(self, target_port: int):
        self.target = target_port
        self.cut = False
        self.retry_after: int | None = None  # set: answer upgrades 503 with this Retry-After
        self.refused: list[float] = []       # when each 503 was sent (monotonic)
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if self.retry_after is not None:
                threading.Thread(target=self._refuse, args=(c, self.retry_after), daemon=True).start()
                continue
            if self.cut:
                c.close()
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                c.close()
                continue
            u.settimeout(None)
            with self.lock:
                self.pairs.append((c, u))
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _refuse(self, c: socket.socket, retry_after: int):
        c.settimeout(5)
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = c.recv(4096)
                if not data:
                    break
                head += data
            self.refused.append(time.monotonic())
            c.sendall(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: %d\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 58\r\nConnection: close\r\n\r\n"
                      b'{"error":{"code":"unavailable","message":"slow down now!"}}' % retry_after)
        except OSError:
            pass
        c.close()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def set_cut(self, cut: bool):
        self.cut = cut
        if cut:
            with self.lock:
                pairs, self.pairs = self.pairs, []
            for c, u in pairs:
                for s in (c, u):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    s.close()

    def close(self):
        self.set_cut(True)
        self.lsock.close()


@pytest.fixture
def tmux_server():
    name = f"parley-chat-{os.getpid()}-{next(_n)}"
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True)


def test_two_clients_talk_resume_and_keep_the_typed_line(server, tmux_server, tmp_path):
    # From now on the server restarts on the port it got, so the clients find it again.
    server.flags += ["--listen", f"127.0.0.1:{server.port}"]
    proxy = CutProxy(server.port)
    state = tmp_path / "state"
    try:
        # alice goes through the proxy, with colors; bob straight, with NO_COLOR.
        alice = Pane(tmux_server, "alice", f"http://127.0.0.1:{proxy.port}", "alice", state,
                     register=True, color=True)
        bob = Pane(tmux_server, "bob", server.base_url, "bob", state, register=True, color=False)
        alice.wait_for("connected as alice")
        bob.wait_for("connected as bob")

        # They meet in a room and talk both ways.
        alice.line("/create lobby")
        alice.wait_for("joined lobby")
        bob.line("/join lobby")
        bob.wait_for("joined lobby")
        alice.wait_for("bob joined lobby")
        alice.line("hello bob")
        bob.wait_for("alice: hello bob")
        bob.line("hi alice")
        alice.wait_for("bob: hi alice")
        bob.line("/who")
        bob.wait_for("online in lobby: alice, bob")

        # A message arrives while alice is half-way through a line: the line stays as typed.
        alice.type("half a li")
        alice.wait_until(lambda: alice.last_line() == "[lobby]> half a li")
        bob.line("arrives mid-line")
        alice.wait_for("bob: arrives mid-line")
        assert alice.last_line() == "[lobby]> half a li", alice.screen()
        alice.line("ne")
        bob.wait_for("alice: half a line")

        # alice alone loses the server. What bob says meanwhile, and what she types offline, is
        # delivered once the proxy lets her through again: each exactly once.
        proxy.set_cut(True)
        alice.wait_for("connection lost")
        for i in range(1, 4):
            bob.line(f"missed-{i}")
            bob.wait_for(f"bob: missed-{i}")
        alice.line("typed while offline")
        alice.wait_for("will be sent when the connection is back")
        proxy.set_cut(False)
        alice.wait_for("reconnected as alice", timeout=20)
        alice.wait_for("bob: missed-3")
        bob.wait_for("alice: typed while offline")
        time.sleep(0.5)  # room for a duplicate to show up, if one were coming
        for i in range(1, 4):
            assert alice.count(f"bob: missed-{i}") == 1, alice.screen()
        assert alice.count("bob: hi alice") == 1, alice.screen()
        assert bob.count("alice: typed while offline") == 1, bob.screen()
        assert alice.count("alice: typed while offline") == 1, alice.screen()

        # kill -9 and a restart of the server, on the same port and data: both come back.
        server.restart()
        alice.wait_for("reconnected as alice", timeout=20, count=2)
        bob.wait_for("reconnected as bob", timeout=20)
        bob.line("after the restart")
        alice.wait_for("bob: after the restart")

        # A restarted client resumes too: the seqs it kept in $XDG_STATE_HOME/parley.
        alice.line("/quit")
        alice.wait_for("CHAT-EXITED 0")
        assert list((state / "parley").glob("*-alice.seqs")), list(state.rglob("*"))
        bob.line("while alice was away")
        bob.wait_for("bob: while alice was away")
        alice2 = Pane(tmux_server, "alice2", f"http://127.0.0.1:{proxy.port}", "alice", state,
                      register=False, color=True)
        alice2.wait_for("bob: while alice was away")
        time.sleep(0.5)
        assert alice2.count("bob: while alice was away") == 1, alice2.screen()
        assert alice2.count("bob: after the restart") == 0, alice2.screen()  # seen before the quit
        alice2.line("back again")
        bob.wait_for("alice: back again")

        # Colors on a terminal; none at all under NO_COLOR.
        assert ESC in alice2.screen(escapes=True)
        assert ESC not in bob.screen(escapes=True), bob.screen(escapes=True)
    finally:
        proxy.close()


def test_commands_private_rooms_dm_and_history(server, tmux_server, tmp_path):
    state = tmp_path / "state"
    # Without PARLEY_PASSWORD the password is asked for on the terminal, and not echoed.
    carol = Pane(tmux_server, "carol", server.base_url, "carol", state, register=True, color=False,
                 password_env=False)
    carol.wait_for("password for carol:")
    carol.line(PASSWORD)
    carol.wait_for("connected as carol")
    assert PASSWORD not in carol.screen(), carol.screen()
    alice = Pane(tmux_server, "alice", server.base_url, "alice", state, register=True, color=False)
    alice.wait_for("connected as alice")
    alice.line("/join nowhere")
    alice.wait_for("cannot join nowhere: not_found")
    alice.line("/frobnicate")
    alice.wait_for("unknown command: /frobnicate")
    # Printed while readline finishes the line: the typed line, the error, a clean prompt.
    alice.wait_until(lambda: alice.last_line() == ">")
    assert alice.count("/frobnicate") == 2, alice.screen()
    alice.line("/create secret --private")
    alice.wait_for("joined secret")
    for i in range(1, 4):
        alice.line(f"note {i}")
    alice.wait_for("alice: note 3")
    alice.line("/history 2")
    alice.wait_for("history of secret: 2 messages (more before)")
    alice.wait_for("alice: note 3", count=2)
    assert alice.count("alice: note 1") == 1  # outside the page of 2
    alice.line("/invite carol")
    alice.wait_for("invited carol to secret")
    alice.line("/dm carol")
    alice.wait_for("joined dm:alice:carol")
    alice.line("psst")
    carol.line("/dm alice")
    carol.wait_for("joined dm:alice:carol")
    carol.line("/history")
    carol.wait_for("alice: psst")
    alice.line("/rooms")
    alice.wait_for("joined: dm:alice:carol (current), secret")
    alice.line("/leave")
    alice.wait_for("left dm:alice:carol")
    assert alice.last_line().startswith("[secret]>"), alice.screen()
    alice.line("/quit")
    alice.wait_for("CHAT-EXITED 0")


def test_a_refused_upgrade_is_retried_after_retry_after(server, tmux_server, tmp_path):
    proxy = CutProxy(server.port)
    try:
        alice = Pane(tmux_server, "alice", f"http://127.0.0.1:{proxy.port}", "alice", tmp_path / "s",
                     register=True, color=False)
        alice.wait_for("connected as alice")
        # The connection drops and every upgrade is refused with 503 and Retry-After: 2 (what a
        # server shedding a reconnect storm answers): the client waits at least that long.
        proxy.retry_after = 2
        proxy.set_cut(True)
        deadline = time.monotonic() + T(15)
        while len(proxy.refused) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(proxy.refused) >= 2, alice.screen()
        proxy.retry_after = None
        proxy.set_cut(False)
        alice.wait_for("reconnected as alice", timeout=15)
        gaps = [b - a for a, b in zip(proxy.refused, proxy.refused[1:])]
        assert gaps and min(gaps) >= 2.0, gaps
        alice.wait_for("HTTP 503")
    finally:
        proxy.close()


# ----------------------------------------------------------------------------------------------
# Over https
# ----------------------------------------------------------------------------------------------
@pytest.fixture
def tls_chat_server(server_factory, tmp_path):
    """A server on TLS whose certificate (for 127.0.0.1 and localhost) a test CA signed; it
    restarts on the same port, with whatever certificate is then in its live files."""
    from test_tls import Pki  # the throwaway PKI test_tls.py makes with the openssl CLI

    pki = Pki(tmp_path / "pki")
    cert, key = pki.issue("server", "localhost", 1)
    live_cert, live_key = tmp_path / "live.pem", tmp_path / "live.key"
    live_cert.write_bytes(cert.read_bytes())
    live_key.write_bytes(key.read_bytes())
    s = server_factory(["--tls-cert", str(live_cert), "--tls-key", str(live_key)])
    s.flags += ["--listen", f"127.0.0.1:{s.port}"]
    s.pki, s.live_cert, s.live_key = pki, live_cert, live_key
    return s


def test_two_clients_talk_over_https_and_resume(tls_chat_server, tmux_server, tmp_path):
    s = tls_chat_server
    ca = ("--ca-file", str(s.pki.ca))
    state = tmp_path / "state"
    # By name (SNI, the DNS name checked) and by address (the IP address checked).
    alice = Pane(tmux_server, "alice", f"https://localhost:{s.port}", "alice", state,
                 register=True, color=False, extra=ca)
    bob = Pane(tmux_server, "bob", f"https://127.0.0.1:{s.port}", "bob", state,
               register=True, color=False, extra=ca)
    alice.wait_for("connected as alice")
    bob.wait_for("connected as bob")
    alice.line("/create lobby")
    alice.wait_for("joined lobby")
    bob.line("/join lobby")
    bob.wait_for("joined lobby")
    alice.line("hello over tls")
    bob.wait_for("alice: hello over tls")
    bob.line("hi back over tls")
    alice.wait_for("bob: hi back over tls")

    # kill -9 and a restart: both reconnect over wss and resume, what was typed offline included.
    s.kill()
    alice.wait_for("connection lost")
    alice.line("typed while the server was down")
    alice.wait_for("will be sent when the connection is back")
    s.start()
    alice.wait_for("reconnected as alice", timeout=20)
    bob.wait_for("reconnected as bob", timeout=20)
    bob.wait_for("alice: typed while the server was down")
    bob.line("after the restart")
    alice.wait_for("bob: after the restart")
    assert bob.count("alice: typed while the server was down") == 1, bob.screen()
    for p in (alice, bob):
        p.line("/quit")
        p.wait_for("CHAT-EXITED 0")


def test_an_untrusted_certificate_stops_the_client(tls_chat_server, tmux_server, tmp_path):
    s = tls_chat_server
    state = tmp_path / "state"
    # No --ca-file: the test CA is not in the system's store. One line says which name and why,
    # and the client stops instead of retrying.
    eve = Pane(tmux_server, "eve", f"https://127.0.0.1:{s.port}", "eve", state, register=True,
               color=False)
    screen = eve.wait_for("CHAT-EXITED")
    assert "CHAT-EXITED 1" in screen.splitlines(), screen
    assert ("parley chat: the certificate of 127.0.0.1 is not trusted: unable to get local issuer "
            "certificate (certificate /CN=localhost); --ca-file FILE trusts the CA that signed it") in screen
    assert "connected" not in screen and "reconnecting" not in screen, screen

    # Trusted at first; the server comes back with a certificate from another CA: the client
    # does not retry it forever, it stops with exit code 1 and the reason.
    alice = Pane(tmux_server, "alice", f"https://127.0.0.1:{s.port}", "alice", state,
                 register=True, color=False, extra=("--ca-file", str(s.pki.ca)))
    alice.wait_for("connected as alice")
    from test_tls import Pki

    other_cert, other_key = Pki(tmp_path / "other-pki").issue("server", "impostor", 2)
    s.kill()
    s.live_cert.write_bytes(other_cert.read_bytes())
    s.live_key.write_bytes(other_key.read_bytes())
    s.start()
    screen = alice.wait_for("CHAT-EXITED", timeout=20)
    assert "CHAT-EXITED 1" in screen.splitlines(), screen
    assert "the certificate of 127.0.0.1 is not trusted: unable to get local issuer certificate " \
           "(certificate /CN=impostor)" in screen, screen
