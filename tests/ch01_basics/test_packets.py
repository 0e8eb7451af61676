"""Chapter 1: the wire format (exercises/ch01_basics/packets.py)."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kata import exercise
from kata.core.brokers import free_port
from kata.core.expect import expect_connack_timeout, expect_raises, nothing_listens
from kata.core.i18n import teach

packets = exercise("ch01_basics.packets")

MAX = 268_435_455

# MQTT 3.1.1 §2.2.3, table 2.4: the edges of 1, 2, 3 and 4 bytes, and the spec's example 321.
BOUNDARIES = [
    (0, "00"),
    (127, "7f"),
    (128, "80 01"),
    (321, "c1 02"),
    (16_383, "ff 7f"),
    (16_384, "80 80 01"),
    (2_097_151, "ff ff 7f"),
    (2_097_152, "80 80 80 01"),
    (MAX, "ff ff ff 7f"),
]


def _hex(data: bytes) -> str:
    return data.hex(" ") if isinstance(data, bytes | bytearray) else repr(data)


# --- the variable byte integer ------------------------------------------------


@pytest.mark.parametrize(("value", "wire"), BOUNDARIES, ids=[str(v) for v, _ in BOUNDARIES])
def test_encode_remaining_length_at_the_byte_boundaries(value, wire) -> None:
    got = packets.encode_remaining_length(value)
    assert got == bytes.fromhex(wire), (
        f"encode_remaining_length({value}) should be {wire}, got {_hex(got)}: 7 bits per byte, "
        "lowest group first, 0x80 on every byte but the last"
    )


@pytest.mark.parametrize(("value", "wire"), BOUNDARIES, ids=[str(v) for v, _ in BOUNDARIES])
def test_decode_remaining_length_at_the_byte_boundaries(value, wire) -> None:
    data = bytes.fromhex(wire)
    got = packets.decode_remaining_length(data + b"\x30\xff")
    assert got == (value, len(data)), (
        f"decode_remaining_length({wire} + more bytes) should be ({value}, {len(data)}): "
        f"the value and how many bytes it took, leaving what follows alone; got {got!r}"
    )


@pytest.mark.parametrize("value", [-1, MAX + 1, 2**32])
def test_encode_rejects_values_outside_the_range(value) -> None:
    error = expect_raises(
        ValueError,
        packets.encode_remaining_length,
        value,
        why=teach(
            en="a remaining length is 0..268435455 (4 bytes of 7 bits)",
            ja="Remaining Length は 0..268435455 です (7 ビットずつ 4 バイト)",
        ),
    )
    assert str(error), "say why: the range is 0..268435455"


@pytest.mark.parametrize(
    "wire",
    ["", "80", "ff ff", "ff ff ff"],
    ids=["empty", "one-byte-says-more", "two-bytes-say-more", "three-bytes-say-more"],
)
def test_decode_rejects_truncated_input(wire) -> None:
    error = expect_raises(
        ValueError,
        packets.decode_remaining_length,
        bytes.fromhex(wire),
        why=teach(
            en="the data ends while 0x80 says more bytes follow",
            ja="0x80 が「まだ続く」と言っているのに、データが終わっています",
        ),
    )
    assert str(error), "say why: the data ends while 0x80 says more bytes follow"


@pytest.mark.parametrize("wire", ["ff ff ff ff 01", "80 80 80 80 00", "ff ff ff ff"])
def test_decode_rejects_a_fifth_byte(wire) -> None:
    error = expect_raises(
        ValueError,
        packets.decode_remaining_length,
        bytes.fromhex(wire),
        why=teach(
            en="a remaining length has at most 4 bytes: the 4th still has 0x80 set",
            ja="Remaining Length は最大 4 バイトですが、4 バイト目にまだ 0x80 が立っています",
        ),
    )
    assert str(error), "say why: a remaining length has at most 4 bytes"


@settings(max_examples=150, deadline=None)
@given(st.integers(0, MAX), st.binary(max_size=3))
def test_remaining_length_round_trips(value, trailing) -> None:
    wire = packets.encode_remaining_length(value)
    assert packets.decode_remaining_length(wire + trailing) == (value, len(wire)), (
        f"decode(encode({value})) must give ({value}, {len(wire)}), whatever bytes follow"
    )


@settings(max_examples=150, deadline=None)
@given(st.integers(0, MAX))
def test_remaining_length_uses_the_fewest_bytes(value) -> None:
    wire = packets.encode_remaining_length(value)
    fewest = next(n for n in (1, 2, 3, 4) if value < 128**n)
    assert len(wire) == fewest, f"{value} fits in {fewest} byte(s); got {_hex(wire)}"
    assert all(b & 0x80 for b in wire[:-1]) and not wire[-1] & 0x80, (
        f"0x80 (more follows) on every byte but the last; got {_hex(wire)}"
    )


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=6))
def test_decode_either_reads_a_value_or_raises_value_error(data) -> None:
    try:
        value, used = packets.decode_remaining_length(data)
    except ValueError:
        # Exactly the inputs that end or run past 4 bytes with 0x80 still set.
        assert all(b & 0x80 for b in data[:4]), f"{_hex(data)} holds a complete integer"
        return
    assert 1 <= used <= 4 and not data[used - 1] & 0x80, f"consumed {used} of {_hex(data)}"
    assert 0 <= value <= MAX


# --- CONNECT and PUBLISH, byte for byte -----------------------------------------


CONNECT_KATA = "10 10  00 04 4d 51 54 54  04  02  00 3c  00 04 6b 61 74 61"


def test_connect_packet_byte_for_byte() -> None:
    got = packets.connect_packet("kata")
    assert got == bytes.fromhex(CONNECT_KATA), (
        f"\nexpected {CONNECT_KATA}\n     got {_hex(got)}\n"
        "(0x10, remaining length 16, the string 'MQTT', level 4, flags 0x02 = clean session, "
        "keep alive 60 as 2 bytes, the client id as a string)"
    )


def test_connect_packet_flags_and_keepalive() -> None:
    got = packets.connect_packet("kata", keepalive=0, clean_session=False)
    want = bytes.fromhex("10 10  00 04 4d 51 54 54  04  00  00 00  00 04 6b 61 74 61")
    assert got == want, (
        f"clean_session=False clears bit 0x02 of the flags byte and keepalive=0 is 00 00; "
        f"expected {_hex(want)}, got {_hex(got)}"
    )
    big = packets.connect_packet("k", keepalive=0x1234)
    assert big[10:12] == b"\x12\x34", (
        "the keep alive is 2 bytes, big-endian (most significant first)"
    )


def test_connect_packet_counts_utf8_bytes_and_long_lengths() -> None:
    client_id = "°" * 100  # 200 UTF-8 bytes: the remaining length needs 2 bytes
    got = packets.connect_packet(client_id)
    assert got[:3] == bytes.fromhex("10 d4 01"), (
        f"remaining length 10 + 2 + 200 = 212 is d4 01; got {_hex(got[:3])}"
    )
    assert got[13:15] == (200).to_bytes(2, "big"), "a string's length counts UTF-8 BYTES"
    assert got[15:] == client_id.encode("utf-8")


KEEPALIVE = (
    "the keep alive is 2 bytes: 0..65535 s",
    "キープアライブは 2 バイト (0..65535 秒) です",
)


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"client_id": "k", "keepalive": -1}, KEEPALIVE),
        ({"client_id": "k", "keepalive": 65_536}, KEEPALIVE),
        (
            {"client_id": "", "clean_session": False},
            (
                "an empty client id needs clean_session=True (MQTT 3.1.1 §3.1.3)",
                "空のクライアント ID には clean_session=True が必要です (MQTT 3.1.1 §3.1.3)",
            ),
        ),
        (
            {"client_id": "x" * 65_536},
            ("an MQTT string is at most 65535 bytes", "MQTT の文字列は最大 65535 バイトです"),
        ),
    ],
    ids=["keepalive-negative", "keepalive-too-big", "empty-id-persistent", "id-too-long"],
)
def test_connect_packet_rejects_what_the_spec_forbids(kwargs, rule) -> None:
    why_en, why_ja = rule
    expect_raises(ValueError, packets.connect_packet, **kwargs, why=teach(en=why_en, ja=why_ja))


def test_publish_packet_byte_for_byte() -> None:
    got = packets.publish_packet("a/b", b"hi")
    assert got == bytes.fromhex("30 07 00 03 61 2f 62 68 69"), (
        f"expected 30 07 00 03 61 2f 62 68 69 (QoS 0 PUBLISH, length 7, topic 'a/b', b'hi'), "
        f"got {_hex(got)}"
    )
    retained = packets.publish_packet("a/b", b"hi", retain=True)
    assert retained[:1] == b"\x31", (
        f"retain sets bit 0 of the first byte: 0x31, got {_hex(retained)}"
    )
    empty = packets.publish_packet("°C", b"")
    assert empty == bytes.fromhex("30 05 00 03 c2 b0 43"), (
        f"an empty payload is allowed; the topic length counts UTF-8 bytes; got {_hex(empty)}"
    )


def test_publish_packet_with_a_large_payload() -> None:
    got = packets.publish_packet("t", bytes(20_000))
    assert got[:4] == b"\x30" + bytes.fromhex("a3 9c 01"), (
        f"3 + 20000 = 20003 bytes follow: a 3-byte remaining length a3 9c 01; got {_hex(got[:4])}"
    )
    assert len(got) == 4 + 20_003


@pytest.mark.parametrize("bad", ["", "a/+", "a/#"])
def test_publish_packet_rejects_invalid_topic_names(bad) -> None:
    expect_raises(
        ValueError,
        packets.publish_packet,
        bad,
        b"x",
        why=teach(
            en="a topic name is not empty and holds no wildcard ('+', '#')",
            ja="トピック名は空ではなく、ワイルドカード ('+'、'#') を含みません",
        ),
    )


# --- on a real broker -------------------------------------------------------------


def _read_connack(sock: socket.socket) -> bytes:
    data = b""
    while len(data) < 4:
        chunk = sock.recv(4 - len(data))
        assert chunk, f"the broker closed the connection instead of a CONNACK (got {_hex(data)})"
        data += chunk
    return data


def test_the_broker_accepts_your_connect_and_routes_your_publish(broker, topic, probe, client_id):
    connect = packets.connect_packet(client_id("raw"))
    publish = packets.publish_packet(f"{topic}/bytes", b"spoken by hand")
    probe.subscribe(f"{topic}/bytes", qos=0)
    with socket.create_connection((broker.host, broker.port), timeout=5) as sock:
        sock.sendall(connect)
        connack = _read_connack(sock)
        assert connack == b"\x20\x02\x00\x00", (
            f"a valid CONNECT is answered 20 02 00 00 (CONNACK, accepted); got {_hex(connack)}"
        )
        sock.sendall(publish + b"\xe0\x00")
    message = probe.get()
    assert (message.topic, message.payload, message.qos) == (f"{topic}/bytes", b"spoken by hand", 0)


@pytest.mark.parametrize(
    "payload",
    [b"hello", b"", b"\x00\xff binary", bytes(range(256)) * 80],
    ids=["text", "empty", "binary", "20480-bytes"],
)
def test_raw_publish_reaches_a_real_subscriber(broker, topic, probe, client_id, payload) -> None:
    probe.subscribe(f"{topic}/raw", qos=0)
    packets.raw_publish(broker.host, broker.port, f"{topic}/raw", payload, client_id("raw"))
    message = probe.get()
    assert message.topic == f"{topic}/raw"
    assert message.payload == payload, (
        f"the subscriber got {len(message.payload)} bytes instead of the {len(payload)} sent"
    )
    assert (message.qos, message.retain) == (0, False), "raw_publish sends QoS 0, not retained"


def test_raw_publish_twice_with_the_same_client_id(broker, topic, probe, client_id) -> None:
    # The first connection ended with DISCONNECT, so the second one is a new session.
    probe.subscribe(f"{topic}/again", qos=0)
    same = client_id("raw")
    packets.raw_publish(broker.host, broker.port, f"{topic}/again", b"1", same)
    packets.raw_publish(broker.host, broker.port, f"{topic}/again", b"2", same)
    assert [m.payload for m in probe.expect(2)] == [b"1", b"2"]


@pytest.mark.needs_listener("auth")
def test_raw_publish_refused_carries_the_connack_return_code(broker, topic, probe, client_id):
    probe.subscribe(f"{topic}/refused", qos=0)
    exc = expect_raises(
        ConnectionRefusedError,
        packets.raw_publish,
        broker.host,
        broker.auth_port,
        f"{topic}/refused",
        b"x",
        client_id("anon"),
        why=teach(
            en="the password listener answers an anonymous CONNECT with return code 5",
            ja="パスワードが必要なリスナーは、匿名の CONNECT に戻りコード 5 で答えます",
        ),
    )
    carried = {getattr(exc, "return_code", None), exc.errno, exc.args[0] if exc.args else None}
    assert 5 in carried, (
        "the password listener answers an anonymous CONNECT with CONNACK return code 5 "
        f"(not authorized): raise ConnectionRefusedError(5, '...'); got {exc!r}"
    )
    assert probe.settle() == [], "a refused client must not PUBLISH"


def test_raw_publish_to_a_closed_port_raises_oserror() -> None:
    expect_raises(
        OSError,
        packets.raw_publish,
        "127.0.0.1",
        free_port(),
        "kata/nowhere",
        b"x",
        "kata-raw",
        2.0,
        why=nothing_listens(),
    )


def test_raw_publish_times_out_naming_connack(silent_server) -> None:
    expect_connack_timeout(
        packets.raw_publish,
        "127.0.0.1",
        silent_server,
        "kata/silent",
        b"x",
        "kata-raw",
        timeout=0.05,
    )
