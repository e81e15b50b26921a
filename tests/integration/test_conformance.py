"""RFC 6455 conformance, in the style of the Autobahn testsuite (cases 1-7), over raw sockets:
client libraries refuse to send the broken frames these cases are about.

Every data frame the server processes is a JSON command; `{"type":"ping","id":...}` gets a result,
which is how a case proves a (reassembled) message was processed. Section numbers follow
Autobahn's: 1 framing, 2 pings and pongs, 3 reserved bits, 4 opcodes, 5 fragmentation, 6 UTF-8,
7 close handling. Where the protocol decides (binary frames: 1003; frames over 64 KiB: 1009) the
case says so.

One server serves the whole module (each case opens its own connection): it keeps the file fast.
"""
from __future__ import annotations

import json
import os
import socket
import struct
import time

import pytest

from conftest import ParleyServer, RawWs, T

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = ParleyServer(tmp_path_factory.mktemp("conformance"))
    s.start()
    s.register("alice")
    yield s
    s.kill()


@pytest.fixture(autouse=True)
def _logs_on_failure(request, srv):
    request.node._parley_servers = [srv]  # conftest's report hook appends the server log


# ----------------------------------------------------------------------------------------------
# A raw client
# ----------------------------------------------------------------------------------------------
def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, mask: bool = True,
          length_bytes: int | None = None) -> bytes:
    """One client frame. `rsv` is the RSV bits (0x40, 0x20, 0x10); `length_bytes` forces the
    length encoding (0: 7 bits, 2: 16 bits, 8: 64 bits), otherwise the shortest is used."""
    n = len(payload)
    if length_bytes is None:
        length_bytes = 0 if n < 126 else 2 if n < 65536 else 8
    b0 = (0x80 if fin else 0) | rsv | opcode
    m = 0x80 if mask else 0
    if length_bytes == 0:
        hdr = struct.pack("!BB", b0, m | n)
    elif length_bytes == 2:
        hdr = struct.pack("!BBH", b0, m | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    return hdr + key + bytes(b ^ key[i & 3] for i, b in enumerate(payload))


def command(rid: str, pad: str = "", size: int | None = None) -> bytes:
    """A `ping` command; with `size`, padded (with an ignored field) to exactly `size` bytes."""
    msg = {"type": "ping", "id": rid, "pad": pad}
    raw = json.dumps(msg, ensure_ascii=False).encode()
    if size is not None:
        assert size >= len(raw), size
        msg["pad"] = pad + "a" * (size - len(raw))
        raw = json.dumps(msg, ensure_ascii=False).encode()
        assert len(raw) == size
    return raw


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


class Conn(RawWs):
    def __init__(self, s: ParleyServer):
        super().__init__(s.port, f"/ws?token={s.token('alice')}", rcvbuf=1 << 20)
        op, data = self.read_frame()
        assert op == OP_TEXT and json.loads(data)["type"] == "welcome", (op, data)
        self.pongs: list[bytes] = []
        self.texts: list[dict] = []

    def send(self, *frames: bytes, chunk: int | None = None):
        """Send frames in one write, or `chunk` bytes at a time (frames cut across TCP writes)."""
        data = b"".join(frames)
        if chunk is None:
            self.sock.sendall(data)
            return
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(data), chunk):
            self.sock.sendall(data[i:i + chunk])

    def next(self) -> tuple[int, bytes]:
        op, data = self.read_frame()
        if op == OP_PONG:
            self.pongs.append(data)
        elif op == OP_TEXT:
            self.texts.append(json.loads(data))
        return op, data

    def result(self, rid: str) -> dict:
        """Read until the result of `rid` (pongs and other frames are recorded on the way)."""
        while True:
            op, data = self.next()
            assert op != OP_CLOSE, f"closed ({close_code(data)}) while waiting for result {rid}"
            if op == OP_TEXT and self.texts[-1].get("id") == rid:
                assert self.texts[-1]["type"] == "result", self.texts[-1]
                return self.texts[-1]

    def pong(self) -> bytes:
        while True:
            op, data = self.next()
            assert op != OP_CLOSE, f"closed ({close_code(data)}) while waiting for a pong"
            if op == OP_PONG:
                return data

    def closed_with(self) -> int | None:
        """Read until the server's close frame; then the server must hang up. Returns its code."""
        while True:
            op, data = self.next()
            if op == OP_CLOSE:
                break
        code = close_code(data)
        if len(data) > 2:
            data[2:].decode("utf-8")  # the reason is UTF-8 too
        # Nothing follows a close frame, and the server ends the TCP connection.
        self.sock.settimeout(T(5))
        try:
            rest = self.sock.recv(1 << 16)
        except ConnectionResetError:
            rest = b""
        assert rest == b"" and self.buf == b"", f"data after the close frame: {(self.buf + rest)[:80]!r}"
        return code


def close_code(data: bytes) -> int | None:
    return struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None


@pytest.fixture
def conn(srv):
    c = Conn(srv)
    yield c
    c.close()


# ----------------------------------------------------------------------------------------------
# 1. Framing
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size,length_bytes", [(125, 0), (126, 2), (127, 2), (128, 2), (65535, 2),
                                               (65536, 8)],
                         ids=["1.1.1-125", "1.1.2-126", "1.1.3-127", "1.1.4-128", "1.1.5-65535",
                              "1.1.6-65536"])
def test_1_1_text_of_every_length_encoding(conn, size, length_bytes):
    conn.send(frame(OP_TEXT, command(f"t{size}", size=size), length_bytes=length_bytes))
    assert conn.result(f"t{size}")["ok"] is True


def test_1_1_7_empty_text_is_processed(conn):
    # An empty message is a malformed command: a bad_request result, the connection stays open.
    conn.send(frame(OP_TEXT, b""), frame(OP_TEXT, command("after")))
    op, data = conn.next()
    assert op == OP_TEXT, (op, data)
    first = json.loads(data)
    assert first["type"] == "result" and first["ok"] is False, first
    assert first["error"]["code"] == "bad_request", first
    assert conn.result("after")["ok"] is True


def test_1_1_8_frames_cut_into_single_bytes(conn):
    conn.send(frame(OP_TEXT, command("cut", size=300)), frame(OP_PING, b"cut"), chunk=1)
    assert conn.result("cut")["ok"] is True
    while b"cut" not in conn.pongs:
        conn.pong()


def test_1_1_9_message_over_the_frame_limit_is_1009(conn):
    conn.send(frame(OP_TEXT, command("big", size=65537)))
    assert conn.closed_with() == 1009


def test_1_2_binary_message_is_1003(conn):
    conn.send(frame(OP_BINARY, b"\x00\x01\x02"))
    assert conn.closed_with() == 1003


def test_1_3_unmasked_client_frame_is_1002(conn):
    conn.send(frame(OP_TEXT, command("unmasked"), mask=False))
    assert conn.closed_with() == 1002
    assert not conn.texts


def test_1_4_length_with_top_bit_set_is_1002(conn):
    conn.send(struct.pack("!BBQ", 0x81, 0x80 | 127, 1 << 63) + b"\x00" * 4)
    assert conn.closed_with() == 1002


@pytest.mark.parametrize("size,length_bytes", [(0, 2), (125, 2), (125, 8), (126, 8), (65535, 8)],
                         ids=["1.5.1-0-in-16", "1.5.2-125-in-16", "1.5.3-125-in-64",
                              "1.5.4-126-in-64", "1.5.5-65535-in-64"])
def test_1_5_non_minimal_length_encoding_is_1002(conn, size, length_bytes):
    # RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length".
    payload = command(f"n{size}", size=size) if size else b""
    conn.send(frame(OP_TEXT, command("before")), frame(OP_TEXT, payload, length_bytes=length_bytes),
              frame(OP_PING, b"late"))
    assert conn.result("before")["ok"] is True
    assert conn.closed_with() == 1002
    assert [t.get("id") for t in conn.texts] == ["before"]
    assert not conn.pongs


# ----------------------------------------------------------------------------------------------
# 2. Pings and pongs
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("payload", [b"", b"Hello, world!", bytes(range(256))[:125], b"\x00\xff\xfe\xfd"],
                         ids=["2.1-empty", "2.2-text", "2.4-125-bytes", "2.3-binary"])
def test_2_ping_payload_is_echoed_in_the_pong(conn, payload):
    conn.send(frame(OP_PING, payload))
    assert conn.pong() == payload


def test_2_5_ping_of_126_bytes_is_1002(conn):
    conn.send(frame(OP_PING, b"x" * 126))
    assert conn.closed_with() == 1002
    assert not conn.pongs


def test_2_6_ping_cut_into_single_bytes(conn):
    conn.send(frame(OP_PING, b"p" * 125), chunk=1)
    assert conn.pong() == b"p" * 125


@pytest.mark.parametrize("payload", [b"", b"unsolicited"], ids=["2.7-empty", "2.8-payload"])
def test_2_7_unsolicited_pong_is_ignored(conn, payload):
    conn.send(frame(OP_PONG, payload), frame(OP_TEXT, command("after-pong")))
    assert conn.result("after-pong")["ok"] is True
    assert not conn.pongs


def test_2_9_unsolicited_pong_then_ping(conn):
    conn.send(frame(OP_PONG, b"stale"), frame(OP_PING, b"fresh"))
    assert conn.pong() == b"fresh"


def test_2_10_many_pings_answer_the_newest(conn):
    # RFC 6455 5.5.3: an endpoint may answer only the most recent of several pings. The pongs
    # that do come are in order, and the newest ping is answered.
    payloads = [f"ping-{i:02d}".encode() for i in range(10)]
    conn.send(*(frame(OP_PING, p) for p in payloads))
    while not conn.pongs or conn.pongs[-1] != payloads[-1]:
        conn.pong()
    assert all(p in payloads for p in conn.pongs)
    assert [payloads.index(p) for p in conn.pongs] == sorted({payloads.index(p) for p in conn.pongs})


# ----------------------------------------------------------------------------------------------
# 3. Reserved bits
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rsv,opcode", [(0x40, OP_TEXT), (0x20, OP_TEXT), (0x10, OP_TEXT),
                                        (0x70, OP_TEXT), (0x40, OP_PING), (0x20, OP_CLOSE),
                                        (0x10, OP_BINARY)],
                         ids=["3.1-rsv1", "3.2-rsv2", "3.3-rsv3", "3.4-all", "3.5-ping", "3.6-close",
                              "3.7-binary"])
def test_3_reserved_bits_are_1002(conn, rsv, opcode):
    # A valid message first (answered), then the bad frame, then a ping (never answered).
    payload = command("rsv") if opcode == OP_TEXT else b""
    conn.send(frame(OP_TEXT, command("before")), frame(opcode, payload, rsv=rsv), frame(OP_PING, b"late"))
    assert conn.result("before")["ok"] is True
    assert conn.closed_with() == 1002
    assert not conn.pongs
    assert [t.get("id") for t in conn.texts] == ["before"]


# ----------------------------------------------------------------------------------------------
# 4. Opcodes
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7], ids=[f"4.1-{o:#x}" for o in [3, 4, 5, 6, 7]])
def test_4_1_reserved_data_opcodes_are_1002(conn, opcode):
    conn.send(frame(OP_TEXT, command("before")), frame(opcode, b"reserved"), frame(OP_PING, b"late"))
    assert conn.result("before")["ok"] is True
    assert conn.closed_with() == 1002
    assert not conn.pongs


@pytest.mark.parametrize("opcode", [0xB, 0xC, 0xD, 0xE, 0xF],
                         ids=[f"4.2-{o:#x}" for o in [0xB, 0xC, 0xD, 0xE, 0xF]])
@pytest.mark.parametrize("payload", [b"", b"reserved"], ids=["empty", "payload"])
def test_4_2_reserved_control_opcodes_are_1002(conn, opcode, payload):
    conn.send(frame(OP_TEXT, command("before")), frame(opcode, payload), frame(OP_PING, b"late"))
    assert conn.result("before")["ok"] is True
    assert conn.closed_with() == 1002
    assert not conn.pongs


# ----------------------------------------------------------------------------------------------
# 5. Fragmentation
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("opcode", [OP_PING, OP_PONG, OP_CLOSE], ids=["5.1-ping", "5.2-pong", "5.x-close"])
def test_5_1_fragmented_control_frame_is_1002(conn, opcode):
    conn.send(frame(opcode, b"frag", fin=False), frame(OP_CONT, b"ment"))
    assert conn.closed_with() == 1002
    assert not conn.pongs


def test_5_3_text_in_two_fragments(conn):
    msg = command("two")
    conn.send(frame(OP_TEXT, msg[:10], fin=False), frame(OP_CONT, msg[10:]))
    assert conn.result("two")["ok"] is True


def test_5_5_text_in_one_byte_fragments(conn):
    msg = command("bytes")
    frames = [frame(OP_TEXT if i == 0 else OP_CONT, msg[i:i + 1], fin=i == len(msg) - 1)
              for i in range(len(msg))]
    conn.send(*frames)
    assert conn.result("bytes")["ok"] is True


def test_5_6_ping_between_fragments_is_answered(conn):
    msg = command("interleaved")
    conn.send(frame(OP_TEXT, msg[:7], fin=False), frame(OP_PING, b"between"),
              frame(OP_CONT, msg[7:20], fin=False), frame(OP_PONG, b"ignored"), frame(OP_CONT, msg[20:]))
    assert conn.result("interleaved")["ok"] is True
    while b"between" not in conn.pongs:
        conn.pong()


def test_5_8_fragments_and_pings_cut_into_single_bytes(conn):
    msg = command("chopped")
    conn.send(frame(OP_TEXT, msg[:7], fin=False), frame(OP_PING, b"between"), frame(OP_CONT, msg[7:]),
              chunk=1)
    assert conn.result("chopped")["ok"] is True
    while b"between" not in conn.pongs:
        conn.pong()


@pytest.mark.parametrize("fin", [True, False], ids=["5.9-fin", "5.10-nofin"])
def test_5_9_continuation_without_a_message_is_1002(conn, fin):
    conn.send(frame(OP_CONT, command("orphan"), fin=fin), frame(OP_PING, b"late"))
    assert conn.closed_with() == 1002
    assert not conn.texts and not conn.pongs


def test_5_15_continuation_after_the_final_fragment_is_1002(conn):
    msg = command("done")
    conn.send(frame(OP_TEXT, msg[:5], fin=False), frame(OP_CONT, msg[5:]), frame(OP_CONT, b"more", fin=False),
              frame(OP_CONT, b"and more"))
    assert conn.result("done")["ok"] is True
    assert conn.closed_with() == 1002


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY], ids=["5.18-text", "5.x-binary"])
def test_5_18_new_message_inside_a_fragmented_one_is_1002(conn, opcode):
    conn.send(frame(OP_TEXT, b'{"type":', fin=False), frame(opcode, command("inner")))
    assert conn.closed_with() == 1002
    assert not conn.texts


# ----------------------------------------------------------------------------------------------
# 6. UTF-8
# ----------------------------------------------------------------------------------------------
VALID_UTF8 = "κόσμε — 日本語 — 😀 — \u007f\u0080\u07ff\u0800\uffff\U00010000\U0010ffff"
INVALID_UTF8 = {
    "6.3-lone-continuation": b"\x80",
    "6.4-truncated": b"\xce",
    "6.5-overlong-slash": b"\xc0\xaf",
    "6.6-overlong-nul": b"\xe0\x80\x80",
    "6.7-surrogate": b"\xed\xa0\x80",
    "6.8-above-10ffff": b"\xf4\x90\x80\x80",
    "6.9-ff": b"\xff",
    "6.10-5-byte-form": b"\xf8\x88\x80\x80\x80",
}


def test_6_1_valid_multibyte_text(conn):
    msg = command("utf8", pad=VALID_UTF8)
    conn.send(frame(OP_TEXT, msg))
    assert conn.result("utf8")["ok"] is True


def test_6_2_valid_text_split_inside_code_points(conn):
    msg = command("split", pad=VALID_UTF8)
    # Cut at every byte: most cuts fall inside a multi-byte code point.
    frames = [frame(OP_TEXT if i == 0 else OP_CONT, msg[i:i + 1], fin=i == len(msg) - 1)
              for i in range(len(msg))]
    conn.send(*frames)
    assert conn.result("split")["ok"] is True


@pytest.mark.parametrize("bad", list(INVALID_UTF8.values()), ids=list(INVALID_UTF8))
def test_6_invalid_text_is_1007(conn, bad):
    msg = b'{"type":"ping","id":"bad","pad":"' + bad + b'"}'
    conn.send(frame(OP_TEXT, msg))
    assert conn.closed_with() == 1007
    assert not conn.texts


@pytest.mark.parametrize("bad", [b"\xed\xa0\x80", b"\xf4\x90\x80\x80"], ids=["surrogate", "above-10ffff"])
def test_6_invalid_text_split_across_fragments_is_1007(conn, bad):
    msg = b'{"type":"ping","id":"bad","pad":"ok ' + bad + b' ok"}'
    cut = msg.index(bad) + 1  # inside the bad sequence
    conn.send(frame(OP_TEXT, msg[:cut], fin=False), frame(OP_CONT, msg[cut:]))
    assert conn.closed_with() == 1007
    assert not conn.texts


# ----------------------------------------------------------------------------------------------
# 7. Close handling
# ----------------------------------------------------------------------------------------------
def test_7_1_1_close_is_echoed_and_nothing_after_it_is_processed(conn):
    conn.send(frame(OP_TEXT, command("before")), frame(OP_CLOSE, close_payload(1000, b"bye")),
              frame(OP_TEXT, command("after")), frame(OP_PING, b"after"), frame(OP_CLOSE, close_payload(1000)))
    assert conn.result("before")["ok"] is True
    assert conn.closed_with() == 1000
    assert [t.get("id") for t in conn.texts] == ["before"]
    assert not conn.pongs


def test_7_3_1_empty_close_is_answered_with_1000(conn):
    conn.send(frame(OP_CLOSE))
    assert conn.closed_with() == 1000


def test_7_3_2_one_byte_close_payload_is_1002(conn):
    conn.send(frame(OP_CLOSE, b"\x03"))
    assert conn.closed_with() == 1002


def test_7_3_3_close_with_123_byte_reason_is_echoed(conn):
    conn.send(frame(OP_CLOSE, close_payload(1000, b"r" * 123)))
    assert conn.closed_with() == 1000


def test_7_3_4_close_of_126_bytes_is_1002(conn):
    conn.send(frame(OP_CLOSE, close_payload(1000, b"r" * 124)))
    assert conn.closed_with() == 1002


def test_7_5_1_close_reason_invalid_utf8_is_1007(conn):
    conn.send(frame(OP_CLOSE, close_payload(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80")))
    assert conn.closed_with() == 1007


def test_7_5_2_close_reason_valid_utf8_is_echoed(conn):
    conn.send(frame(OP_CLOSE, close_payload(1000, "κόσμε".encode())))
    assert conn.closed_with() == 1000


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999,
                                  4000, 4999])
def test_7_7_valid_close_codes_are_echoed(conn, code):
    conn.send(frame(OP_CLOSE, close_payload(code, b"reason")))
    assert conn.closed_with() == code


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])
def test_7_9_invalid_close_codes_are_1002(conn, code):
    conn.send(frame(OP_CLOSE, close_payload(code)))
    assert conn.closed_with() == 1002


def test_7_13_close_after_a_protocol_error_survives_data_still_in_flight(srv):
    # The bad frame is followed, in the same write, by ~200 KB the client had already sent. The
    # server must read and drop those bytes before it closes its socket: closing with unread data
    # sends a reset, which can destroy the close frame before the client has read it (Linux keeps
    # data already received, other stacks drop it), so the end must be a FIN, never a reset.
    for attempt in range(5):
        c = Conn(srv)
        try:
            trailing = b"".join(frame(OP_TEXT, command(f"t{i}", size=1000)) for i in range(200))
            try:
                c.send(frame(OP_TEXT, command("unmasked"), mask=False), trailing)
                op, data = c.next()
                while op != OP_CLOSE:
                    op, data = c.next()
                assert close_code(data) == 1002, f"attempt {attempt}: {data!r}"
                assert c.buf == b"" and c.sock.recv(1 << 16) == b"", f"attempt {attempt}: data after the close"
            except (ConnectionResetError, BrokenPipeError, EOFError) as e:
                pytest.fail(f"attempt {attempt}: the connection was reset: {e!r}")
            time.sleep(0.1)  # a reset sent right after the FIN has arrived by now
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            assert err == 0, f"attempt {attempt}: the server reset the connection ({os.strerror(err)})"
            assert not c.texts
        finally:
            c.close()


def test_7_14_close_after_a_protocol_error_is_not_lost_behind_a_stalled_write(srv):
    # As 7.13, but the close frame waits in the server behind output the client has not read yet
    # (results of 3000 commands; a 4 KiB receive buffer): it is still in the server's send queue
    # when its write completes. A socket closed then, with the trailing bytes unread, is reset and
    # the close frame is discarded unsent.
    w = RawWs(srv.port, f"/ws?token={srv.token('alice')}", rcvbuf=4096)
    try:
        op, data = w.read_frame()
        assert op == OP_TEXT and json.loads(data)["type"] == "welcome", (op, data)
        commands = b"".join(frame(OP_TEXT, command(f"s{i}")) for i in range(3000))
        trailing = b"".join(frame(OP_TEXT, command(f"t{i}", size=1000)) for i in range(200))
        try:
            w.sock.sendall(commands + frame(OP_TEXT, command("bad"), mask=False) + trailing)
        except (ConnectionResetError, BrokenPipeError) as e:
            pytest.fail(f"reset while sending: {e!r}")
        results = 0
        try:
            while True:
                op, data = w.read_frame()
                if op == OP_CLOSE:
                    break
                assert op == OP_TEXT, (op, data)
                results += 1
        except (ConnectionResetError, EOFError) as e:
            pytest.fail(f"no close frame after {results} results, the connection was reset: {e!r}")
        assert close_code(data) == 1002
        assert results == 3000, f"{results} results: the close frame did not wait behind them"
    finally:
        w.close()
