"""Chapter 8: the device-sized client (exercises/ch08_scale/tiny_client.py).

TinyClient talks to the real broker on one socket; paho probes are the
other side, so every test is also an interoperability test.
"""

from __future__ import annotations

import select
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kata import exercise
from kata.core.brokers import free_port
from kata.core.expect import expect_connack_timeout, expect_raises
from kata.core.i18n import teach
from kata.core.peers import Inbox

tiny_client = exercise("ch08_scale.tiny_client")


@pytest.fixture
def tiny(broker, client_id):
    """tiny() -> a connected TinyClient with an Inbox callback, disconnected after."""
    made = []

    def make():
        client = tiny_client.TinyClient(client_id("tiny"), broker.host, broker.port)
        made.append(client)
        client.inbox = Inbox()
        client.set_callback(client.inbox)
        client.connect()
        return client

    yield make
    for client in made:
        if client.sock is not None:
            client.disconnect()


def _readable(client, timeout: float = 5.0) -> None:
    """Wait until the client's socket has bytes to read (uselect.poll on a device)."""
    ready, _, _ = select.select([client.sock], [], [], timeout)
    assert ready, f"nothing arrived on the TinyClient's socket within {timeout} s"


def test_connect_opens_a_clean_session(broker, client_id) -> None:
    client = tiny_client.TinyClient(client_id("tiny"), broker.host, broker.port)
    try:
        session_present = client.connect()
        assert client.sock is not None, "connect() keeps the open socket in `sock` (umqtt does)"
        assert session_present is False, (
            "a clean session starts empty: connect() returns the CONNACK's session-present "
            f"flag, False here, not {session_present!r}"
        )
    finally:
        if client.sock is not None:
            client.disconnect()


@pytest.mark.parametrize("qos", [0, 1])
def test_paho_receives_what_tiny_publishes(tiny, topic, probe, qos) -> None:
    client = tiny()
    probe.subscribe(f"{topic}/up", qos=1)
    client.publish(f"{topic}/up", b"21.5", qos=qos)
    got = probe.get()
    assert (got.topic, got.payload, got.qos, got.retain) == (f"{topic}/up", b"21.5", qos, False), (
        f"a QoS {qos} PUBLISH from TinyClient should reach a paho subscriber unchanged"
    )


def test_text_is_sent_as_utf8_and_retain_is_kept(tiny, topic, probe_factory) -> None:
    client = tiny()
    client.publish(f"{topic}/state", "21.5 °C", retain=True, qos=1)
    late = probe_factory()
    late.subscribe(f"{topic}/state", qos=1)
    got = late.get()
    assert (got.payload, got.retain) == ("21.5 °C".encode(), True), (
        "text goes out as UTF-8, and retain=True sets the lowest bit of the first byte"
    )


def test_publish_at_qos_1_returns_after_its_puback(tiny, topic) -> None:
    client = tiny()
    client.timeout = 2.0
    client.publish(f"{topic}/acked", b"x", qos=1)
    client.ping()
    assert client.wait_msg() is None, teach(
        en="after publish(qos=1) the next packet should be the PINGRESP; a PUBACK was still "
        "waiting: read packets in publish() until the PUBACK with your packet id",
        ja="publish(qos=1) のあとの次のパケットは PINGRESP のはずですが、PUBACK が残って"
        "いました: publish() の中で、自分のパケット ID の PUBACK が来るまでパケットを読みます",
    )


def test_wait_msg_hands_a_paho_message_to_the_callback(tiny, topic, probe) -> None:
    client = tiny()
    client.subscribe(f"{topic}/down/#", qos=1)
    probe.publish(f"{topic}/down/lamp", b"on", qos=1)
    op = client.wait_msg()
    assert client.inbox.calls == [(f"{topic}/down/lamp".encode(), b"on")], (
        "wait_msg() reads the PUBLISH and calls the callback with (topic, msg) as bytes, like "
        f"umqtt.simple; the callback got {client.inbox.calls}"
    )
    assert op is not None and op & 0xF0 == 0x30, (
        f"wait_msg() returns the PUBLISH's first byte (0x30-0x3f), not {op!r}"
    )


def test_check_msg_returns_at_once_when_nothing_waits(tiny, topic, probe) -> None:
    client = tiny()
    client.subscribe(f"{topic}/poll", qos=0)
    client.timeout = 1.0
    started = time.monotonic()
    try:
        result = client.check_msg()
    except TimeoutError:
        result = "timed out"
    waited = time.monotonic() - started
    assert result is None and waited < 0.5, (
        f"check_msg() waited {waited:.2f} s with nothing to read ({result!r}): it must return "
        "None at once (sock.setblocking(False) for the first byte)"
    )
    assert client.inbox.calls == []
    probe.publish(f"{topic}/poll", b"now", qos=1)
    _readable(client)
    client.check_msg()
    assert client.inbox.calls == [(f"{topic}/poll".encode(), b"now")], (
        "with a packet waiting, check_msg() handles it like wait_msg()"
    )
    assert client.check_msg() is None, "and after it, returns None at once again"


def test_every_qos_1_message_is_acknowledged(tiny, topic, probe) -> None:
    # mosquitto sends at most 20 QoS 1 messages that are not PUBACKed yet:
    # a client that never answers gets 20 and then nothing.
    client = tiny()
    client.subscribe(f"{topic}/many", qos=1)
    client.timeout = 2.0
    for i in range(25):
        probe.publish(f"{topic}/many", str(i).encode(), qos=1)
    try:
        for _ in range(25):
            client.wait_msg()
    except TimeoutError:
        pass
    got = [msg for _, msg in client.inbox.calls]
    assert got == [str(i).encode() for i in range(25)], teach(
        en=f"{len(got)} of 25 QoS 1 messages arrived: answer each QoS 1 PUBLISH with PUBACK "
        "(0x40 0x02 and its packet id), or Mosquitto stops at its in-flight limit (20)",
        ja=f"QoS 1 のメッセージ 25 個のうち {len(got)} 個が届きました: QoS 1 の PUBLISH には "
        "1 つずつ PUBACK (0x40 0x02 とそのパケット ID) で答えます。答えないと Mosquitto は"
        "送信中の上限 (20) で止まります",
    )


def test_ping_gets_a_pingresp(tiny) -> None:
    client = tiny()
    client.timeout = 2.0
    client.ping()
    assert client.wait_msg() is None, teach(
        en="ping() sends PINGREQ (0xC0 0x00); the broker answers PINGRESP, for which wait_msg() "
        "returns None",
        ja="ping() は PINGREQ (0xC0 0x00) を送り、ブローカーは PINGRESP で答えます。"
        "そのとき wait_msg() は None を返します",
    )


def test_subscribe_sees_a_retained_message(tiny, topic, probe) -> None:
    probe.publish(f"{topic}/cfg", b"interval=5", qos=1, retain=True)
    client = tiny()
    client.subscribe(f"{topic}/cfg", qos=1)
    client.wait_msg()
    assert client.inbox.calls == [(f"{topic}/cfg".encode(), b"interval=5")], (
        "subscribe() returns after the SUBACK; the retained message comes right after it"
    )


_SIZES = st.sampled_from([0, 127, 128, 16383, 16384]) | st.integers(0, 20000)


def test_payloads_of_any_size_cross_both_ways(tiny, topic, probe) -> None:
    # Remaining Length takes 1 byte up to 127, 2 up to 16383, 3 beyond. One
    # direction after the other: a PUBLISH sent right behind our own PUBACK
    # would wait ~40 ms for TCP's delayed ACK (Nagle), for every example.
    client = tiny()
    client.subscribe(f"{topic}/in", qos=1)
    probe.subscribe(f"{topic}/out", qos=1)

    @settings(max_examples=10, deadline=None)
    @given(size=_SIZES)
    def from_tiny(size: int) -> None:
        payload = bytes(i % 251 for i in range(size))
        client.publish(f"{topic}/out", payload, qos=1)
        assert probe.get().payload == payload, f"a {size}-byte payload from TinyClient changed"

    @settings(max_examples=10, deadline=None)
    @given(size=_SIZES)
    def to_tiny(size: int) -> None:
        payload = bytes(i % 251 for i in range(size))
        client.inbox.calls.clear()
        probe.publish(f"{topic}/in", payload, qos=1)
        client.wait_msg()
        assert client.inbox.calls == [(f"{topic}/in".encode(), payload)], teach(
            en=f"a {size}-byte payload to TinyClient changed: read the whole Remaining Length",
            ja=f"TinyClient への {size} バイトのペイロードが変わってしまいました: "
            "Remaining Length のバイトを全部読みます",
        )

    from_tiny()
    to_tiny()


def test_disconnect_closes_the_socket(tiny) -> None:
    client = tiny()
    client.disconnect()
    assert client.sock is None, "disconnect() sends DISCONNECT, closes the socket, sets sock None"


@pytest.mark.needs_listener("auth")
def test_a_refused_connect_raises_with_the_return_code(broker, client_id) -> None:
    client = tiny_client.TinyClient(client_id("tiny"), broker.host, broker.auth_port)
    error = expect_raises(
        ConnectionRefusedError,
        client.connect,
        why=teach(
            en=f"the password listener {broker.host}:{broker.auth_port} refuses a client "
            "without credentials",
            ja=f"パスワード付きのリスナー {broker.host}:{broker.auth_port} は、資格情報のない"
            "クライアントを拒否します",
        ),
    )
    assert 5 in error.args, (
        "the password listener refuses a client without credentials with return code 5 "
        f"(not authorized): raise ConnectionRefusedError(5, ...), got {error.args}"
    )
    assert client.sock is None, "after a refused CONNECT the socket is closed and sock is None"


def test_a_server_that_never_answers_times_out_naming_connack(silent_server) -> None:
    client = tiny_client.TinyClient("kata-tiny-silent", "127.0.0.1", silent_server)
    client.timeout = 0.05
    expect_connack_timeout(client.connect)
    assert client.sock is None, "after a failed connect() the socket is closed and sock is None"


def test_a_closed_port_raises_oserror() -> None:
    port = free_port()
    client = tiny_client.TinyClient("kata-tiny-closed", "127.0.0.1", port)
    expect_raises(
        OSError,
        client.connect,
        why=teach(
            en=f"nothing listens on 127.0.0.1:{port}",
            ja=f"127.0.0.1:{port} では何も待ち受けていません",
        ),
    )
