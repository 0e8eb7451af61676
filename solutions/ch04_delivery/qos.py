"""Chapter 4 - QoS and persistent sessions: what each level really promises.

The seed's chapter 4 showed `client.publish(topic, msg, qos=1)`. The level is a
deal between two neighbours only (MQTT 3.1.1 §4.3): publisher -> broker, then
broker -> subscriber, and a subscriber gets min(published QoS, granted QoS).

| QoS | packets for one message          | lost?             | duplicated?     | cost          |
|-----|----------------------------------|-------------------|-----------------|---------------|
| 0   | PUBLISH                          | yes, on any drop  | never           | 1 packet      |
| 1   | PUBLISH, PUBACK                  | no: resent        | if PUBACK lost  | 1 round trip  |
| 2   | PUBLISH, PUBREC, PUBREL, PUBCOMP | no                | never           | 2 round trips |

The sender stores each QoS 1/2 message until its ack; QoS 2 keeps state on both sides.
A message is safe only once the broker acknowledged it: disconnect earlier and
a QoS 2 message dies half-way (Mosquitto forwards it only at PUBREL). A persistent
session (3.1.1 clean_session=False, same client id) keeps subscriptions and
queues QoS 1/2 messages while the client is away; QoS 0 ones are not queued.
Order holds per QoS level: paho hands a QoS 2 message to on_message at PUBREL,
so a QoS 1 message sent just after it can overtake it.

Implement delivered_qos, publish_confirmed, open_session and resume_session.
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

# open_session has no timeout parameter: this bounds each of its waits.
_SESSION_TIMEOUT = 5.0


def delivered_qos(publish_qos: int, subscribe_qos: int) -> int:
    """The QoS a subscriber receives: the lower of the published and the granted QoS."""
    for name, value in (("publish_qos", publish_qos), ("subscribe_qos", subscribe_qos)):
        if value not in (0, 1, 2):
            raise ValueError(f"{name} must be 0, 1 or 2, not {value!r}")
    return min(publish_qos, subscribe_qos)


class _Acks:
    """Events set by paho's callbacks, waited on by the caller's thread."""

    def __init__(self) -> None:
        self.connack = threading.Event()
        self.session_present = False
        self.refused: str | None = None
        self.suback: dict[int, list] = {}
        self.done: dict[int, threading.Event] = {}
        self.lock = threading.Lock()

    def on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.session_present = bool(flags.session_present)
        if reason_code.is_failure:
            self.refused = str(reason_code)
        self.connack.set()

    def _ack(self, mid: int, reason_codes: list) -> None:
        with self.lock:
            self.suback[mid] = list(reason_codes)
            event = self.done.setdefault(mid, threading.Event())
        event.set()

    def on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self._ack(mid, reason_codes)

    def on_unsubscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self._ack(mid, reason_codes)

    def wait(self, mid: int, what: str, timeout: float) -> list:
        with self.lock:
            event = self.done.setdefault(mid, threading.Event())
        if not event.wait(max(0.0, timeout)):
            raise TimeoutError(f"no {what} within the time limit")
        return self.suback[mid]


def _no_delay(client, userdata, sock) -> None:
    # paho leaves Nagle's algorithm on: a small packet (PUBREC, PUBREL) can
    # then wait ~40 ms for the peer's delayed ACK, once per QoS 2 exchange.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@contextlib.contextmanager
def _connected(client: mqtt.Client, host: str, port: int, timeout: float) -> Iterator[_Acks]:
    """Connect `client`, wait for its CONNACK; disconnect and stop its loop on the way out."""
    acks = _Acks()
    client.on_socket_open = _no_delay
    client.on_connect = acks.on_connect
    client.on_subscribe = acks.on_subscribe
    client.on_unsubscribe = acks.on_unsubscribe
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


def publish_confirmed(
    host: str, port: int, topic: str, payload: bytes | str, qos: int, timeout: float = 5.0
) -> bool:
    """True once the broker confirmed the message (PUBACK / PUBCOMP); QoS 0: once written."""
    deadline = time.monotonic() + timeout
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"kata-qos-{uuid.uuid4().hex[:8]}")
    with _connected(client, host, port, timeout):
        info = client.publish(topic, payload, qos=qos)
        # Disconnecting before this returns is the classic loss: a QoS 2
        # message whose PUBREL was never sent is never forwarded.
        info.wait_for_publish(max(0.0, deadline - time.monotonic()))
        return info.is_published()


def open_session(host: str, port: int, client_id: str, topic_filter: str, qos: int = 1) -> None:
    """Create a persistent session that holds a subscription, then go away."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    deadline = time.monotonic() + _SESSION_TIMEOUT
    with _connected(client, host, port, _SESSION_TIMEOUT) as acks:
        _, mid = client.subscribe(topic_filter, qos)
        granted = acks.wait(mid, f"SUBACK for {topic_filter!r}", deadline - time.monotonic())
        if granted[0].is_failure:
            raise PermissionError(f"the broker refused the subscription to {topic_filter!r}")


def resume_session(host: str, port: int, client_id: str, timeout: float = 2.0) -> list[Message]:
    """Reconnect the session and return what the broker queued for it, in order."""
    deadline = time.monotonic() + timeout
    # The broker sends the queued messages right after CONNACK. A marker we
    # publish to ourselves is queued behind them: once it is back, so is
    # everything the broker kept for us. At QoS 2, because paho hands a QoS 2
    # message to on_message only at PUBREL: a QoS 1 marker would overtake it.
    marker = f"kata-resume-marker/{uuid.uuid4().hex}"
    inbox: queue.Queue[Message] = queue.Queue()

    def on_message(client, userdata, msg) -> None:
        inbox.put(Message(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain)))

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.on_message = on_message
    with _connected(client, host, port, timeout) as acks:
        if not acks.session_present:
            return []  # a new session has nothing queued
        _, mid = client.subscribe(marker, 2)
        acks.wait(mid, "SUBACK for the marker", deadline - time.monotonic())
        client.publish(marker, b"marker", qos=2)
        received: list[Message] = []
        while True:
            try:
                message = inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(
                    f"the marker did not come back within {timeout} s; "
                    f"received {len(received)} queued messages"
                ) from None
            if message.topic == marker:
                break
            received.append(message)
        # Leave the session as we found it: only the caller's subscription.
        _, mid = client.unsubscribe(marker)
        acks.wait(mid, "UNSUBACK for the marker", deadline - time.monotonic())
        return received
