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
Check your work: `kata check qos` (or: pytest tests/ch04_delivery/test_qos.py).
日本語のヒント: `kata hint qos --lang ja`
"""

from __future__ import annotations

import queue
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ..ch03_clients.subscriber import Message


def delivered_qos(publish_qos: int, subscribe_qos: int) -> int:
    """The QoS at which a subscriber receives a message.

    A message published at `publish_qos` reaches a subscription granted at
    `subscribe_qos` at the lower of the two. Each must be 0, 1 or 2:
    ValueError otherwise.
    """
    raise NotImplementedError("TODO: check both are 0, 1 or 2, then return the lower one")


def publish_confirmed(
    host: str, port: int, topic: str, payload: bytes | str, qos: int, timeout: float = 5.0
) -> bool:
    """Publish one message; True once the broker has confirmed it.

    QoS 1 is confirmed by PUBACK, QoS 2 by PUBCOMP; QoS 0 has no ack, so it is
    "confirmed" once written to the socket. False when the confirmation did
    not come within `timeout` (the message may or may not have arrived!).
    TimeoutError "no CONNACK ..." when the broker does not answer at all.
    Disconnect and stop the loop before returning, also on errors.
    """
    raise NotImplementedError("TODO: connect, publish, wait_for_publish(timeout), is_published()")


def open_session(host: str, port: int, client_id: str, topic_filter: str, qos: int = 1) -> None:
    """Create a persistent session that holds a subscription, then disconnect.

    Connect with clean_session=False and this client_id, subscribe to
    `topic_filter` at `qos`, and disconnect only after the SUBACK: the
    broker then keeps the session and queues what matches for later. Wait
    at most 5 s for CONNACK and SUBACK (TimeoutError otherwise).
    """
    raise NotImplementedError("TODO: clean_session=False, subscribe, wait for SUBACK, disconnect")


def resume_session(host: str, port: int, client_id: str, timeout: float = 2.0) -> list[Message]:
    """Reconnect the session of `client_id` and return what was queued for it, in order.

    The broker sends the queued messages right after CONNACK (CONNACK's
    session_present flag says whether it kept a session at all). To know
    when they are all in without waiting, subscribe to a unique marker topic,
    publish a marker to it at QoS 2, and stop when it comes back: it was
    queued behind them (QoS 2, so that it cannot overtake a QoS 2 message).
    Return Message records (not the marker); TimeoutError if the marker does
    not come back within `timeout`.
    """
    raise NotImplementedError("TODO: clean_session=False, collect messages until your marker")
