"""Chapter 4 - retained messages: the broker remembers the last value of a topic.

The seed published with `retain=True` and said a new subscriber "gets it
immediately". Precisely (MQTT 3.1.1 §3.3.1.3): the broker keeps ONE retained
message per topic, replaced by every newer retained publish. Right after a
SUBSCRIBE it sends the matching retained messages with the retain flag set;
live messages arrive with the flag clear. A retained publish with an EMPTY
payload deletes the value. A non-empty "clear" is just a new value, and an
empty publish without the retain flag changes nothing.

Reading a topic that may hold nothing: do not wait "long enough". The broker
queues the retained messages while it handles your SUBSCRIBE, so after the
SUBACK publish a marker to a topic you also subscribed to: whatever is
retained arrives before the marker comes back.

Implement set_retained, clear_retained and read_retained.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

_PUBLISH_TIMEOUT = 5.0


def _no_delay(client, userdata, sock) -> None:
    # paho leaves Nagle's algorithm on: a small packet can wait ~40 ms for the
    # peer's delayed ACK (SUBSCRIBE, then the marker right after the SUBACK).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@contextlib.contextmanager
def _connected(host: str, port: int, timeout: float, role: str) -> Iterator[mqtt.Client]:
    """A client whose CONNACK arrived; disconnected and stopped on the way out."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"kata-{role}-{uuid.uuid4().hex[:8]}"
    )
    connack = threading.Event()
    refused: list[str] = []

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            refused.append(str(reason_code))
        connack.set()

    client.on_connect = on_connect
    client.on_socket_open = _no_delay
    client.connect_timeout = timeout
    try:
        client.connect(host, port, keepalive=60)
        client.loop_start()
        if not connack.wait(timeout):
            raise TimeoutError(f"no CONNACK within {timeout} s from {host}:{port}")
        if refused:
            raise ConnectionRefusedError(f"{host}:{port} refused the connection: {refused[0]}")
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def _publish_retained(host: str, port: int, topic: str, payload: bytes | str) -> None:
    with _connected(host, port, _PUBLISH_TIMEOUT, "retain") as client:
        info = client.publish(topic, payload, qos=1, retain=True)
        info.wait_for_publish(_PUBLISH_TIMEOUT)
        if not info.is_published():
            raise TimeoutError(f"no PUBACK for the retained message on {topic!r}")


def set_retained(host: str, port: int, topic: str, payload: bytes | str) -> None:
    """Make `payload` the topic's retained value (QoS 1, acknowledged before returning)."""
    _publish_retained(host, port, topic, payload)


def clear_retained(host: str, port: int, topic: str) -> None:
    """Delete the topic's retained value: an empty payload WITH the retain flag."""
    _publish_retained(host, port, topic, b"")


def read_retained(host: str, port: int, topic: str, timeout: float = 1.0) -> bytes | None:
    """The topic's retained value, or None when it holds none (proved by a marker)."""
    deadline = time.monotonic() + timeout
    marker = f"kata-retained-marker/{uuid.uuid4().hex}"
    inbox: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
    subscribed = threading.Event()

    def on_message(client, userdata, msg) -> None:
        inbox.put((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def on_subscribe(client, userdata, mid, reason_codes, properties) -> None:
        subscribed.set()

    with _connected(host, port, timeout, "read") as client:
        client.on_message = on_message
        client.on_subscribe = on_subscribe
        # One SUBSCRIBE for both: the retained value is queued before the marker exists.
        client.subscribe([(topic, 1), (marker, 1)])
        if not subscribed.wait(max(0.0, deadline - time.monotonic())):
            raise TimeoutError(f"no SUBACK for {topic!r} within {timeout} s")
        client.publish(marker, b"marker", qos=1)
        value: bytes | None = None
        while True:
            try:
                got_topic, payload, retained = inbox.get(
                    timeout=max(0.0, deadline - time.monotonic())
                )
            except queue.Empty:
                raise TimeoutError(f"the marker did not come back within {timeout} s") from None
            if got_topic == marker:
                return value
            # Live messages that happen to pass by are not the stored value.
            if retained and payload:
                value = payload
