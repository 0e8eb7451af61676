"""Chapter 7 - MQTT 5 properties: metadata beside the payload, and messages that expire.

You write publish_with_properties and collect_with_properties; _check_interval is given.
Lesson: kata lesson properties  (properties.md, 日本語: properties.ja.md)
Check: kata check properties
"""

from __future__ import annotations

import queue
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..ch03_clients.subscriber import Message

# Both are four-byte integers on the wire (MQTT 5.0 §2.2.2.2).
MAX_INTERVAL_S = 4_294_967_295


def _check_interval(name: str, seconds: int | None, lowest: int) -> None:
    """ValueError unless `seconds` is None or within lowest..MAX_INTERVAL_S."""
    if seconds is not None and not lowest <= seconds <= MAX_INTERVAL_S:
        raise ValueError(f"{name} must be within {lowest}..{MAX_INTERVAL_S} s, not {seconds}")


def publish_with_properties(
    host: str,
    port: int,
    topic: str,
    payload: bytes | str,
    *,
    user_properties: dict[str, str],
    content_type: str | None = None,
    message_expiry_s: int | None = None,
    timeout: float = 5.0,
) -> None:
    """Publish one QoS 1 message over MQTT 5 with these properties; return once PUBACKed.

    Each user_properties pair becomes a User Property; content_type and
    message_expiry_s are sent only when given (ValueError outside
    1..MAX_INTERVAL_S). TimeoutError naming the CONNACK or PUBACK that did
    not come.
    """
    raise NotImplementedError("TODO: Properties(PacketTypes.PUBLISH), publish at QoS 1, wait")


def collect_with_properties(
    host: str,
    port: int,
    topic_filter: str,
    count: int,
    timeout: float = 5.0,
    *,
    client_id: str | None = None,
    session_expiry_s: int = 0,
) -> list[tuple[Message, dict]]:
    """Subscribe over MQTT 5 at QoS 1; return the first `count` messages with their properties.

    Items: (Message, {"user_properties": dict, "content_type": str | None,
    "message_expiry_s": int | None}). session_expiry_s > 0 resumes the session
    of `client_id` (clean_start=False) and keeps it that long after the
    connection. TimeoutError (no SUBACK, or too few messages, listing them).
    """
    raise NotImplementedError("TODO: MQTTv5 client, subscribe in on_connect, queue (Message, dict)")
