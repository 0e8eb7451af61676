"""Chapter 4 - QoS and persistent sessions: what each level really promises.

Lesson: kata lesson qos  (qos.md, 日本語: qos.ja.md)
Check: kata check qos

Given: _Acks, _connected (connect and wait for CONNACK) and _until_marker
(read a queue until the marker). You write the four public functions.
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


class _Acks:
    """What paho's callbacks report (CONNACK, SUBACK, UNSUBACK), waited on by the caller."""

    def __init__(self) -> None:
        self.connack = threading.Event()
        self.session_present = False
        self.refused: str | None = None
        self.codes: dict[int, list] = {}
        self.done: dict[int, threading.Event] = {}
        self.lock = threading.Lock()

    def on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.session_present = bool(flags.session_present)
        if reason_code.is_failure:
            self.refused = str(reason_code)
        self.connack.set()

    def _ack(self, mid: int, reason_codes: list) -> None:
        with self.lock:
            self.codes[mid] = list(reason_codes)
            event = self.done.setdefault(mid, threading.Event())
        event.set()

    def on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self._ack(mid, reason_codes)

    def on_unsubscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self._ack(mid, reason_codes)

    def wait(self, mid: int, what: str, timeout: float) -> None:
        """Wait for the SUBACK/UNSUBACK of `mid`; TimeoutError, or PermissionError if refused."""
        with self.lock:
            event = self.done.setdefault(mid, threading.Event())
        if not event.wait(max(0.0, timeout)):
            raise TimeoutError(f"no {what} within the time limit")
        if any(code.is_failure for code in self.codes[mid]):
            raise PermissionError(f"the broker refused: {what} says {self.codes[mid]}")


def _no_delay(client, userdata, sock) -> None:
    # paho leaves Nagle's algorithm on: a small packet (PUBREC, PUBREL) can
    # then wait ~40 ms for the peer's delayed ACK, once per QoS 2 exchange.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@contextlib.contextmanager
def _connected(client: mqtt.Client, host: str, port: int, timeout: float) -> Iterator[_Acks]:
    """Connect `client` and wait for its CONNACK; disconnect and stop its loop on the way out.

    Set client.on_message BEFORE this: a resumed session's messages come right after CONNACK.
    """
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


def _until_marker(inbox: queue.Queue[Message], marker: str, deadline: float) -> list[Message]:
    """The messages on `inbox` before the one on topic `marker`; TimeoutError at `deadline`."""
    received: list[Message] = []
    while True:
        try:
            message = inbox.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(
                f"the marker {marker!r} did not come back in time; "
                f"received {len(received)} messages before giving up"
            ) from None
        if message.topic == marker:
            return received
        received.append(message)


def delivered_qos(publish_qos: int, subscribe_qos: int) -> int:
    """The QoS at which a subscriber receives a message: the lower of the two.

    ValueError when either is not 0, 1 or 2 (say which one).
    """
    raise NotImplementedError("TODO: check both are 0, 1 or 2, then return the lower one")


def publish_confirmed(
    host: str, port: int, topic: str, payload: bytes | str, qos: int, timeout: float = 5.0
) -> bool:
    """Publish one message; True once the broker confirmed it (QoS 1 PUBACK, QoS 2 PUBCOMP).

    QoS 0 has no ack: True once written. False when the confirmation did not
    come within `timeout` (the message may still have arrived!).
    Use _connected: it raises TimeoutError "no CONNACK ..." and cleans up.
    """
    raise NotImplementedError("TODO: publish inside _connected, wait_for_publish, is_published()")


def open_session(host: str, port: int, client_id: str, topic_filter: str, qos: int = 1) -> None:
    """Create a persistent session (clean_session=False) that holds a subscription, then leave.

    Subscribe to `topic_filter` at `qos` and disconnect only after the SUBACK
    (acks.wait). Wait at most _SESSION_TIMEOUT for each answer.
    """
    raise NotImplementedError("TODO: clean_session=False, subscribe, wait for the SUBACK, leave")


def resume_session(host: str, port: int, client_id: str, timeout: float = 2.0) -> list[Message]:
    """Reconnect the session of `client_id`; return what the broker queued for it, in order.

    [] when the broker kept no session (acks.session_present). Otherwise
    subscribe to a unique marker topic, publish a marker to it at QoS 2 and
    return the Message records that came before it (_until_marker): Mosquitto
    delivers a client's messages in order, so the marker comes after the queue.
    """
    raise NotImplementedError("TODO: on_message, same session, a QoS 2 marker, _until_marker")
