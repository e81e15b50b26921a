#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: tests/fuzz/corpus/<target>/<seed name>.

The seeds are committed; rerun this only to change them (it rewrites these seeds and leaves any
other file in corpus/ alone). Each seed is small and means something: a valid input of every
kind the parser accepts and the classic broken ones, so the fuzzer starts from the interesting
paths instead of finding them by chance.
"""
import base64
import hashlib
import hmac
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- ws_frames_fuzz: raw client bytes after the upgrade -------------------------------------
KEY = b"\x37\xfa\x21\x3d"


def frame(op, payload=b"", fin=True, masked=True, rsv=0, key=KEY, len_form=None):
    b0 = (0x80 if fin else 0) | rsv | op
    n = len(payload)
    form = len_form or (7 if n < 126 else 16 if n < 65536 else 64)
    if form == 7:
        head = bytes([b0, (0x80 if masked else 0) | n])
    elif form == 16:
        head = bytes([b0, (0x80 if masked else 0) | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, (0x80 if masked else 0) | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


TEXT, BIN, CONT, CLOSE, PING, PONG = 1, 2, 0, 8, 9, 10
cmd = b'{"type":"send","id":"1","room":"lobby","text":"hi"}'
ws = {
    "text_masked": frame(TEXT, cmd),
    "text_unmasked": frame(TEXT, b"hello", masked=False),
    "text_empty": frame(TEXT, b""),
    "text_utf8": frame(TEXT, "h\u00e9llo \u2603 \U0001f600".encode()),
    "text_bad_utf8": frame(TEXT, b"bad \xc3\x28 utf8"),
    "text_len16": frame(TEXT, b"x" * 300),
    "text_len64_nonminimal": frame(TEXT, b"abc", len_form=64),
    "fragmented": frame(TEXT, b'{"type":', fin=False) + frame(CONT, b'"ping",', fin=False)
    + frame(CONT, b'"id":"p"}'),
    "fragmented_ping_between": frame(TEXT, b"hel", fin=False) + frame(PING, b"?") + frame(CONT, b"lo"),
    "fragmented_utf8_split": frame(TEXT, b"caf\xc3", fin=False) + frame(CONT, b"\xa9"),
    "continuation_alone": frame(CONT, b"orphan"),
    "text_inside_fragmented": frame(TEXT, b"a", fin=False) + frame(TEXT, b"b"),
    "binary": frame(BIN, b"\x00\x01\x02\xff"),
    "ping_pong": frame(PING, b"ping!") + frame(PONG, b"pong"),
    "ping_fragmented": frame(PING, b"p", fin=False),
    "ping_too_long": frame(PING, b"p" * 126),
    "close_1000": frame(CLOSE, struct.pack(">H", 1000) + b"bye"),
    "close_empty": frame(CLOSE),
    "close_one_byte": frame(CLOSE, b"\x03"),
    "close_bad_code": frame(CLOSE, struct.pack(">H", 1005)),
    "close_bad_utf8_reason": frame(CLOSE, struct.pack(">H", 1000) + b"\xff"),
    "close_then_text": frame(CLOSE, struct.pack(">H", 4001)) + frame(TEXT, b"late"),
    "rsv_bit": frame(TEXT, b"x", rsv=0x40),
    "opcode_reserved_data": frame(3, b"x"),
    "opcode_reserved_control": frame(0xB, b"x"),
    "too_big": frame(TEXT, b"y" * 1001),
    "too_big_fragments": frame(TEXT, b"z" * 600, fin=False) + frame(CONT, b"z" * 600),
    "len64_msb": bytes([0x81, 0xFF]) + b"\x80" + b"\x00" * 7 + KEY,
    "two_and_partial": frame(TEXT, b"one") + frame(TEXT, b"two") + frame(TEXT, b"three")[:5],
}
for name, data in ws.items():
    write("ws_frames_fuzz", name, data)

# ---- codec_fuzz: the text of a command frame --------------------------------------------------
cmds = {
    "join": {"type": "join", "id": "j1", "room": "lobby"},
    "join_since": {"type": "join", "id": "j2", "room": "lobby", "since": 41},
    "leave": {"type": "leave", "id": "l1", "room": "lobby"},
    "send": {"type": "send", "id": "s1", "room": "lobby", "text": "hello \u00e9 \U0001f600"},
    "send_client_msg_id": {"type": "send", "id": "s2", "room": "dm:alice:bob", "text": "hi",
                           "client_msg_id": "c-1", "ttl_ms": 5000},
    "history": {"type": "history", "id": "h1", "room": "lobby", "before": 100, "limit": 20},
    "history_double": {"type": "history", "id": "h2", "room": "lobby", "limit": 5.0, "before": 1e3},
    "create_room": {"type": "create_room", "id": "c1", "room": "general", "private": True},
    "invite": {"type": "invite", "id": "i1", "room": "general", "user": "bob"},
    "dm": {"type": "dm", "id": "d1", "user": "bob"},
    "typing": {"type": "typing", "id": "t1", "room": "lobby"},
    "presence": {"type": "presence", "id": "p1", "room": "lobby"},
    "ping": {"type": "ping", "id": "p"},
    "unknown_op_extra_fields": {"type": "fly", "id": "x", "room": None, "n": [1, {"a": False}]},
    "wrong_types": {"type": "send", "id": "w", "room": 5, "text": ["x"], "private": "yes",
                    "since": "3", "limit": 2.5, "before": 18446744073709551615},
}
for name, obj in cmds.items():
    write("codec_fuzz", name, json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
codec_raw = {
    "malformed_truncated": '{"type":"send","id":"1","room":"lob',
    "not_object": '["type","ping"]',
    "missing_id": '{"type":"ping"}',
    "missing_type": '{"id":"abc"}',
    "id_number": '{"type":"ping","id":7}',
    "id_too_long": '{"type":"ping","id":"' + "i" * 65 + '"}',
    "id_empty": '{"type":"ping","id":""}',
    "ttl_zero": '{"type":"ping","id":"t","ttl_ms":0}',
    "ttl_negative": '{"type":"ping","id":"t","ttl_ms":-5}',
    "ttl_float": '{"type":"ping","id":"t","ttl_ms":1.5}',
    "ttl_huge": '{"type":"ping","id":"t","ttl_ms":18446744073709551615}',
    "duplicate_keys": '{"type":"ping","id":"a","id":"b"}',
    "escapes": '{"type":"send","id":"\\u0041\\n","room":"lobby","text":"\\ud83d\\ude00\\u0000"}',
    "lone_surrogate": '{"type":"send","id":"s","room":"lobby","text":"\\ud800"}',
    "deep_nesting": '{"type":"ping","id":"d","x":' + "[" * 40 + "]" * 40 + "}",
    "bad_utf8": b'{"type":"ping","id":"\xff"}',
    "trailing_garbage": '{"type":"ping","id":"g"} x',
    "empty": "",
    # Boost.JSON reads this as infinity (and would write it back as `Infinity`, not JSON).
    "number_overflow": '{"type":"history","id":"n","room":"lobby","before":1e999,"limit":-1e999}',
}
for name, text in codec_raw.items():
    write("codec_fuzz", name, text)

# ---- jwt_fuzz: a token, or the claims to sign (see jwt_fuzz.cpp) ------------------------------
JWT_KEY = b"parley-fuzz-key-0123456789abcdef"
NOW_S = 1_700_000_000


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


HEADER = b64(b'{"alg":"HS256","typ":"JWT"}')


def token(claims, header=HEADER, key=JWT_KEY):
    payload = claims if isinstance(claims, bytes) else json.dumps(claims, separators=(",", ":")).encode()
    signing_input = header + "." + b64(payload)
    sig = b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())
    return signing_input + "." + sig


jwt = {
    "valid": token({"sub": "alice", "iat": NOW_S, "exp": NOW_S + 3600}),
    "valid_dm_user": token({"sub": "bob.b-2_", "iat": NOW_S, "exp": NOW_S + 1}),
    "expired": token({"sub": "alice", "iat": NOW_S - 7200, "exp": NOW_S - 3600}),
    "expires_now": token({"sub": "alice", "exp": NOW_S}),
    "exp_string": token({"sub": "alice", "exp": str(NOW_S + 3600)}),
    "sub_number": token({"sub": 42, "exp": NOW_S + 3600}),
    "payload_not_json": token(b"not json"),
    "payload_array": token(b'["sub","alice"]'),
    "wrong_key": token({"sub": "alice", "exp": NOW_S + 3600}, key=b"x" * 32),
    "alg_none": b64(b'{"alg":"none","typ":"JWT"}') + "." + b64(b'{"sub":"alice","exp":1800000000}') + ".",
    "other_header": token({"sub": "alice", "exp": NOW_S + 3600},
                          header=b64(b'{"typ":"JWT","alg":"HS256"}')),
    "two_parts": HEADER + "." + b64(b'{"sub":"alice"}'),
    "four_parts": token({"sub": "alice", "exp": NOW_S + 3600}) + ".x",
    "dots": "..",
    "claims_valid": '{"sub":"alice","iat":1700000000,"exp":1700003600}',
    "claims_extra": '{"sub":"carol","exp":1700000001,"aud":["x"],"nested":{"sub":"mallory"}}',
    "claims_negative_exp": '{"sub":"alice","exp":-1}',
    # Found by this target: exp * 1000 overflowed (INT64_MAX / 1000 + 1; and its negative).
    "claims_exp_overflow": '{"sub":"alice","exp":9223372036854776}',
    "claims_exp_underflow": '{"sub":"alice","exp":-9223372036854776}',
    "user_name": "alice",
}
for name, text in jwt.items():
    write("jwt_fuzz", name, text)

# ---- http_query_fuzz: a request target ---------------------------------------------------------
targets = {
    "plain": "/api/rooms/lobby/messages",
    "before_limit": "/api/rooms/lobby/messages?before=10&limit=50",
    "limit_only": "/api/rooms/general.chat/messages?limit=200",
    "dm_encoded": "/api/rooms/dm%3Aalice%3Abob/messages?before=3",
    "dm_lower_hex": "/api/rooms/dm%3abob%3azoe/messages",
    "dm_unsorted": "/api/rooms/dm%3Azoe%3Abob/messages",
    "empty_values": "/api/rooms/lobby/messages?before=&limit=",
    "not_integer": "/api/rooms/lobby/messages?limit=abc&before=1x",
    "negative": "/api/rooms/lobby/messages?before=-1&limit=-0",
    "overflow": "/api/rooms/lobby/messages?before=99999999999999999999",
    "plus_sign": "/api/rooms/lobby/messages?limit=%2B5&before=+5",
    "duplicate_param": "/api/rooms/lobby/messages?limit=1&limit=2",
    "encoded_slash": "/api/rooms/a%2Fb/messages",
    "bad_percent": "/api/rooms/lob%zzby/messages",
    "nul_byte": "/api/rooms/lob%00by/messages",
    "dot_dot": "/api/rooms/../messages",
    "empty_room": "/api/rooms//messages",
    "trailing_slash": "/api/rooms/lobby/messages/",
    "fragment": "/api/rooms/lobby/messages?limit=5#frag",
    "other_endpoint": "/healthz",
    "long_room": "/api/rooms/" + "r" * 65 + "/messages",
}
for name, text in targets.items():
    write("http_query_fuzz", name, text)
