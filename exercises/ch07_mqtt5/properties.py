"""Chapter 7 - MQTT 5 properties: metadata beside the payload, and messages that expire.

MQTT 3.1.1 carries a topic and a payload, nothing else: every extra field had
to be squeezed into the payload. MQTT 5 adds properties to the packets
(MQTT 5.0 §3.3.2.3), set in paho with a Properties object:

    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("sensor", "s1")]   # free key/value pairs, as strings
    props.ContentType = "application/json"    # what the payload is (a MIME type)
    props.MessageExpiryInterval = 30          # seconds the message stays valid
    client.publish(topic, payload, qos=1, properties=props)

The client must speak MQTT 5: mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5).
A receiver finds the same names on msg.properties (getattr(props, "ContentType", None):
an absent property is no attribute at all).

Message expiry (§3.3.2.3.3): a message waiting for a session that is away is
dropped once its lifetime has passed; one still within it is delivered, and
its Message Expiry Interval then says how many seconds remain. A session
outlives its connection when CONNECT carries a Session Expiry Interval
(§3.1.2.11) and is resumed with clean_start=False.

Implement publish_with_properties and collect_with_properties.
Check your work: kata check properties (or: pytest tests/ch07_mqtt5/test_properties.py).
日本語のヒント: kata hint properties --lang ja
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

    Every pair of `user_properties` becomes a User Property; `content_type`
    (Content Type) and `message_expiry_s` (Message Expiry Interval, seconds)
    are sent only when given. QoS 1, because a broker keeps messages for a
    session that is away only at QoS 1 or 2. ValueError when message_expiry_s
    is outside 1..4294967295. TimeoutError naming the CONNACK or PUBACK that
    did not come. Disconnect and stop the loop before returning or raising.
    """
    raise NotImplementedError("TODO: a Properties(PacketTypes.PUBLISH), publish at QoS 1, wait")


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
    """Subscribe over MQTT 5 (QoS 1) and return the first `count` messages with their properties.

    Each item is (Message(topic, payload, qos, retain), properties) where
    properties is {"user_properties": dict[str, str] ({} when none),
    "content_type": str | None, "message_expiry_s": int | None (the seconds
    that remain)}.

    session_expiry_s=0 (default) is a clean session that ends with the
    connection. With session_expiry_s > 0 the CONNECT carries that Session
    Expiry Interval and clean_start=False: the session under `client_id`
    is resumed, and what the broker kept for it while it was away arrives.
    count=0 returns [] as soon as the subscription is acknowledged (that
    opens a session). TimeoutError (no SUBACK, or fewer than `count`
    messages, listing what did arrive) after `timeout` seconds. Disconnect
    and stop the loop before returning or raising.
    """
    raise NotImplementedError("TODO: MQTTv5 client, subscribe in on_connect, queue (Message, dict)")
