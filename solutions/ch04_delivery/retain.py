"""Chapter 4 - retained messages: the broker keeps the last value of a topic.

Lesson: kata lesson retain  (retain.md, 日本語: retain.ja.md)
Check: kata check retain

Given: _connected (connect and wait for CONNACK, SUBACK waits) and
_until_marker (read a queue until the marker). You write the three functions.
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

from ..ch03_clients.subscriber import Message

_PUBLISH_TIMEOUT = 5.0


class _Acks:
    """What paho's callbacks report (CONNACK, SUBACK), waited on by the caller's thread."""

    def __init__(self) -> None:
        self.connack = threading.Event()
        self.refused: str | None = None
        self.subscribed = threading.Event()

    def on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.refused = str(reason_code)
        self.connack.set()

    def on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self.subscribed.set()

    def wait_suback(self, what: str, deadline: float) -> None:
        """Wait for the SUBACK of this client's (only) SUBSCRIBE; TimeoutError at `deadline`."""
        if not self.subscribed.wait(max(0.0, deadline - time.monotonic())):
            raise TimeoutError(f"no SUBACK for {what} in time")


def _no_delay(client, userdata, sock) -> None:
    # paho leaves Nagle's algorithm on: a small packet can wait ~40 ms for the
    # peer's delayed ACK (SUBSCRIBE, then the marker right after the SUBACK).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@contextlib.contextmanager
def _connected(client: mqtt.Client, host: str, port: int, timeout: float) -> Iterator[_Acks]:
    """Connect `client` and wait for its CONNACK; disconnect and stop its loop on the way out."""
    acks = _Acks()
    client.on_connect = acks.on_connect
    client.on_subscribe = acks.on_subscribe
    client.on_socket_open = _no_delay
    client.connect_timeout = timeout
    try:
        client.connect(host, port, keepalive=60)
        client.loop_start()
        if not acks.connack.wait(timeout):
            raise TimeoutError(f"no CONNACK within {timeout} s from {host}:{port}")
        if acks.refused:
            raise ConnectionRefusedError(f"{host}:{port} refused the connection: {acks.refused}")
        yield acks
    finally:
        client.disconnect()
        client.loop_stop()


def _until_marker(inbox: queue.Queue[Message], marker: str, deadline: float) -> list[Message]:
    """The messages on `inbox` before the one on topic `marker`; TimeoutError at `deadline`."""
    received: list[Message] = []
    while True:
        try:
            message = inbox.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"the marker {marker!r} did not come back in time") from None
        if message.topic == marker:
            return received
        received.append(message)


def set_retained(host: str, port: int, topic: str, payload: bytes | str) -> None:
    """Make `payload` the retained value of `topic`.

    Publish at QoS 1 with the retain flag, inside _connected, and return once
    the broker acknowledged it (PUBACK); TimeoutError if it did not within
    _PUBLISH_TIMEOUT.
    """
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    with _connected(client, host, port, _PUBLISH_TIMEOUT):
        info = client.publish(topic, payload, qos=1, retain=True)
        info.wait_for_publish(_PUBLISH_TIMEOUT)
        if not info.is_published():
            raise TimeoutError(f"no PUBACK for the retained message on {topic!r}")


def clear_retained(host: str, port: int, topic: str) -> None:
    """Delete the retained value of `topic`: an EMPTY payload, with the retain flag."""
    set_retained(host, port, topic, b"")


def read_retained(host: str, port: int, topic: str, timeout: float = 1.0) -> bytes | None:
    """The retained value of `topic` as bytes, or None when it holds none.

    Subscribe to the topic and a unique marker topic in one SUBSCRIBE; after
    the SUBACK publish to the marker (Mosquitto delivers a client's messages
    in order: the retained one comes first). Only a message with the retain
    flag that came before the marker is the stored value.
    """
    deadline = time.monotonic() + timeout
    marker = f"kata-retained-marker/{uuid.uuid4().hex}"
    inbox: queue.Queue[Message] = queue.Queue()

    def on_message(client, userdata, msg) -> None:
        inbox.put(Message(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain)))

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    with _connected(client, host, port, timeout) as acks:
        # One SUBSCRIBE for both: the retained value is queued before the marker exists.
        client.subscribe([(topic, 1), (marker, 1)])
        acks.wait_suback(repr(topic), deadline)
        client.publish(marker, b"marker", qos=1)
        before = _until_marker(inbox, marker, deadline)
    # A live message that passes by has no retain flag: it is not the stored value.
    stored = [m.payload for m in before if m.retain]
    return stored[-1] if stored else None
