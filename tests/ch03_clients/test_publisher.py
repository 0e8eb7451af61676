"""Chapter 3: the publisher (exercises/ch03_clients/publisher.py)."""

from __future__ import annotations

import pytest
from paho.mqtt.enums import CallbackAPIVersion

from kata import exercise
from kata.core.brokers import free_port
from kata.core.peers import Peer, mosquitto_tool, silent_server

publisher = exercise("ch03_clients.publisher")


def test_make_client_uses_the_version2_callback_api() -> None:
    client = publisher.make_client("kata-api-check")
    assert client.callback_api_version == CallbackAPIVersion.VERSION2, (
        "make_client must create mqtt.Client(CallbackAPIVersion.VERSION2, ...): the seed's "
        "mqtt.Client() uses the 1.x callback API, deprecated in paho-mqtt 2.x"
    )


def test_make_client_keeps_the_given_id() -> None:
    # paho keeps the id as bytes in _client_id; it has no public getter.
    assert publisher.make_client("kata-given-id")._client_id == b"kata-given-id"


def test_make_client_gives_each_client_its_own_id() -> None:
    first, second = publisher.make_client(), publisher.make_client()
    assert first._client_id and second._client_id, (
        "make_client() without an id should make one up (e.g. with uuid): "
        "an empty id only works for clean sessions and hides who is who in the broker log"
    )
    assert first._client_id != second._client_id, (
        "two clients with the same id throw each other off the broker (session takeover)"
    )


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_messages_arrive_in_order_with_the_requested_qos(broker, topic, probe, qos) -> None:
    probe.subscribe(f"{topic}/data", qos=2)
    sent = publisher.publish_messages(
        broker.host, broker.port, f"{topic}/data", ["one", "two", "three"], qos=qos
    )
    assert sent == 3, f"publish_messages should return how many it sent (3), not {sent!r}"
    got = probe.expect(3)
    assert [m.payload for m in got] == [b"one", b"two", b"three"], "order must be kept"
    assert [m.qos for m in got] == [qos] * 3, (
        f"published at QoS {qos} to a QoS 2 subscription, each message should arrive at QoS {qos}"
    )


@pytest.mark.parametrize("qos", [1, 2])
def test_every_message_is_confirmed_before_the_disconnect(broker, topic, probe, qos) -> None:
    # paho keeps at most 20 QoS>0 messages in flight and queues the rest;
    # disconnecting right after publish() drops whatever is still queued.
    messages = [f"m{i}" for i in range(200)]
    probe.subscribe(f"{topic}/bulk", qos=qos)
    sent = publisher.publish_messages(broker.host, broker.port, f"{topic}/bulk", messages, qos=qos)
    got = probe.settle()
    assert sent == 200
    assert len(got) == 200, (
        f"only {len(got)} of 200 QoS {qos} messages reached the broker: wait for every "
        "MQTTMessageInfo (wait_for_publish) before disconnect()"
    )
    assert [m.payload.decode() for m in got] == messages


def test_the_retain_flag_reaches_the_broker(broker, topic, probe_factory) -> None:
    publisher.publish_messages(
        broker.host, broker.port, f"{topic}/state", ["old", "last"], qos=1, retain=True
    )
    late = probe_factory()
    late.subscribe(f"{topic}/state", qos=1)
    message = late.get()
    assert (message.payload, message.retain) == (b"last", True), (
        "a subscriber that arrives later gets the last retained message, with the retain flag"
    )


def test_bytes_and_text_payloads_arrive_unchanged(broker, topic, probe) -> None:
    probe.subscribe(f"{topic}/raw", qos=1)
    payloads = [b"\x00\xff binary", "21.5 °C", ""]
    publisher.publish_messages(broker.host, broker.port, f"{topic}/raw", payloads, qos=1)
    got = [m.payload for m in probe.expect(3)]
    assert got == [b"\x00\xff binary", "21.5 °C".encode(), b""], (
        "bytes are sent as they are and text as UTF-8"
    )


def test_no_network_thread_outlives_the_call(broker, topic, no_thread_leak) -> None:
    publisher.publish_messages(broker.host, broker.port, f"{topic}/t", ["x"], qos=1)
    no_thread_leak()


def test_a_closed_port_raises_at_once(no_thread_leak) -> None:
    port = free_port()
    with pytest.raises(OSError):
        publisher.publish_messages("127.0.0.1", port, "kata/nowhere", ["x"], timeout=2.0)
    no_thread_leak()


def test_a_server_that_never_answers_times_out_naming_connack(no_thread_leak) -> None:
    with silent_server() as port, pytest.raises(TimeoutError) as raised:
        publisher.publish_messages("127.0.0.1", port, "kata/silent", ["x"], timeout=0.5)
    assert "CONNACK" in str(raised.value), (
        f"say what did not happen, e.g. 'no CONNACK within 0.5 s from 127.0.0.1:{port}'; "
        f"got {raised.value!r}"
    )
    no_thread_leak()


def _cli(broker, topic: str, count: int, qos: int = 1) -> list[str]:
    return [
        "--host", broker.host, "--port", str(broker.port), "--topic", topic,
        "--count", str(count), "--qos", str(qos), "--interval", "0",
    ]  # fmt: skip


def test_main_prints_a_sent_line_per_message(broker, topic, probe, capsys) -> None:
    probe.subscribe(f"{topic}/cli", qos=1)
    assert publisher.main(_cli(broker, f"{topic}/cli", 3)) == 0
    printed = capsys.readouterr().out.splitlines()
    received = [m.payload.decode() for m in probe.expect(3)]
    assert printed == [f"Sent: {text}" for text in received], (
        "print one 'Sent: <message>' line for each message the broker received"
    )
    assert received == [f"Hello MQTT #{i}" for i in range(3)]


def test_main_says_error_when_no_broker_listens(capsys) -> None:
    code = publisher.main(["--host", "127.0.0.1", "--port", str(free_port()), "--count", "1"])
    out = capsys.readouterr().out
    assert code == 1 and "error" in out.lower(), (
        "with no broker, main prints 'error: ...' and returns 1 instead of a traceback"
    )


@pytest.mark.skipif(mosquitto_tool("mosquitto_sub") is None, reason="mosquitto_sub not installed")
def test_main_is_heard_by_mosquitto_sub(broker, topic, probe) -> None:
    # mosquitto_sub prints each message at once: a retained "ready" message
    # tells us that its subscriptions are in place.
    probe.publish(f"{topic}/ready", b"ready", qos=1, retain=True)
    sub = [mosquitto_tool("mosquitto_sub"), "-h", broker.host, "-p", str(broker.port)]
    argv = [*sub, "-v", "-q", "1", "-C", "3", "-t", f"{topic}/ready", "-t", f"{topic}/cli"]
    with Peer(argv) as peer:  # type: ignore[arg-type]
        peer.wait_for_line(lambda line: line == f"{topic}/ready ready")
        assert publisher.main(_cli(broker, f"{topic}/cli", 2)) == 0
        assert peer.wait() == 0
    assert peer.all_lines[1:] == [f"{topic}/cli Hello MQTT #0", f"{topic}/cli Hello MQTT #1"]
