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


def _v5_client(client_id: str | None = None) -> mqtt.Client:
    return mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"kata-v5-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )


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
    _check_interval("message_expiry_s", message_expiry_s, 1)
    props = Properties(PacketTypes.PUBLISH)
    if user_properties:
        props.UserProperty = [(str(k), str(v)) for k, v in user_properties.items()]
    if content_type is not None:
        props.ContentType = content_type
    if message_expiry_s is not None:
        props.MessageExpiryInterval = message_expiry_s

    connected = threading.Event()
    refused: list[str] = []

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            refused.append(str(reason_code))
        connected.set()

    client = _v5_client()
    client.on_connect = on_connect
    deadline = time.monotonic() + timeout
    client.connect_timeout = timeout
    client.connect(host, port, keepalive=60)
    client.loop_start()
    try:
        if not connected.wait(timeout):
            raise TimeoutError(f"no CONNACK within {timeout} s from {host}:{port}")
        if refused:
            raise ConnectionRefusedError(f"{host}:{port} refused the connection: {refused[0]}")
        # QoS 1: the broker keeps messages for a session that is away only at QoS 1 or 2.
        info = client.publish(topic, payload, qos=1, properties=props)
        info.wait_for_publish(max(0.0, deadline - time.monotonic()))
        if not info.is_published():
            raise TimeoutError(f"no PUBACK within {timeout} s for {topic!r} from {host}:{port}")
    finally:
        client.disconnect()
        client.loop_stop()


def _properties_of(props: Properties | None) -> dict:
    return {
        "user_properties": dict(getattr(props, "UserProperty", None) or []),
        "content_type": getattr(props, "ContentType", None),
        "message_expiry_s": getattr(props, "MessageExpiryInterval", None),
    }


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
    _check_interval("session_expiry_s", session_expiry_s, 0)
    inbox: queue.Queue[tuple[Message, dict]] = queue.Queue()
    subscribed = threading.Event()
    refused: list[str] = []

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            refused.append(str(reason_code))
            subscribed.set()
            return
        client.subscribe(topic_filter, qos=1)

    def on_subscribe(client, userdata, mid, reason_codes, properties) -> None:
        if reason_codes and reason_codes[0].is_failure:
            refused.append(f"subscription refused: {reason_codes[0]}")
        subscribed.set()

    def on_message(client, userdata, msg) -> None:
        message = Message(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain))
        inbox.put((message, _properties_of(msg.properties)))

    client = _v5_client(client_id)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    connect_props = None
    if session_expiry_s:
        connect_props = Properties(PacketTypes.CONNECT)
        connect_props.SessionExpiryInterval = session_expiry_s
    deadline = time.monotonic() + timeout
    client.connect_timeout = timeout
    # A session that should outlive the connection is resumed, not wiped: clean_start=False.
    client.connect(
        host, port, keepalive=60, clean_start=not session_expiry_s, properties=connect_props
    )
    client.loop_start()
    received: list[tuple[Message, dict]] = []
    try:
        if not subscribed.wait(timeout):
            raise TimeoutError(f"no SUBACK within {timeout} s from {host}:{port}")
        if refused:
            raise ConnectionRefusedError(f"{host}:{port}: {refused[0]}")
        while len(received) < count:
            try:
                received.append(inbox.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                got = ", ".join(f"{m.topic}={m.payload!r}" for m, _ in received) or "nothing"
                raise TimeoutError(
                    f"{len(received)} of {count} messages on {topic_filter!r} "
                    f"within {timeout} s; received: {got}"
                ) from None
        return received
    finally:
        client.disconnect()
        client.loop_stop()
