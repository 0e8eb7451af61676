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
Check your work: `kata check retain` (or: pytest tests/ch04_delivery/test_retain.py).
日本語のヒント: `kata hint retain --lang ja`
"""

from __future__ import annotations

import queue
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def set_retained(host: str, port: int, topic: str, payload: bytes | str) -> None:
    """Make `payload` the retained value of `topic`.

    Publish at QoS 1 with retain=True and return once the broker acknowledged
    it (PUBACK), disconnected and with the network loop stopped.
    """
    raise NotImplementedError("TODO: publish(topic, payload, qos=1, retain=True) and wait for it")


def clear_retained(host: str, port: int, topic: str) -> None:
    """Delete the retained value of `topic`: an empty payload, with the retain flag."""
    raise NotImplementedError("TODO: publish an empty payload with retain=True and wait for it")


def read_retained(host: str, port: int, topic: str, timeout: float = 1.0) -> bytes | None:
    """The retained value of `topic` as bytes, or None when it holds none.

    Subscribe, and prove that nothing is retained with a marker instead of
    waiting out `timeout`: it should return in milliseconds either way.
    Only a message with the retain flag is the stored value. TimeoutError
    when the broker does not answer (CONNACK, SUBACK, marker) within `timeout`.
    """
    raise NotImplementedError("TODO: subscribe to the topic and a marker, publish the marker")
