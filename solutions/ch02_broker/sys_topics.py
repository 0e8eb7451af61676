"""The broker reports on itself under $SYS: read three of its topics with paho.

Lesson: kata lesson sys_topics  (sys_topics.md, 日本語: sys_topics.ja.md)
Check: kata check sys_topics
"""

from __future__ import annotations

import queue
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

VERSION = "$SYS/broker/version"
UPTIME = "$SYS/broker/uptime"
CONNECTED = "$SYS/broker/clients/connected"
TOPICS = (VERSION, UPTIME, CONNECTED)


def wait_for_topics(inbox: queue.Queue, timeout: float, where: str) -> dict[str, str]:
    """Take (topic, text) pairs from inbox until each of TOPICS has one; return them.

    Other topics are skipped. TimeoutError naming the topics that did not
    arrive from `where` (host:port) within timeout seconds.
    """
    deadline = time.monotonic() + timeout
    values: dict[str, str] = {}
    while len(values) < len(TOPICS):
        try:
            topic, text = inbox.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            missing = ", ".join(name for name in TOPICS if name not in values)
            raise TimeoutError(
                f"no {missing} from {where} within {timeout} s (subscribe to these names: "
                "'#' never matches a $SYS topic; sys_interval 0 turns $SYS off)"
            ) from None
        if topic in TOPICS:
            values[topic] = text
    return values


def to_info(values: dict[str, str]) -> dict:
    """{"version": str, "uptime_s": int, "clients_connected": int} from the three texts."""
    return {
        "version": values[VERSION],
        "uptime_s": int(values[UPTIME].split()[0]),  # "4211 seconds"
        "clients_connected": int(values[CONNECTED]),
    }


def broker_info(host: str, port: int, timeout: float = 5.0) -> dict:
    """{"version", "uptime_s", "clients_connected"} read from $SYS/broker/ on host:port.

    A VERSION2 paho client subscribes to TOPICS from on_connect; on_message puts
    (msg.topic, payload as text) on a queue.Queue; wait_for_topics(inbox,
    timeout, f"{host}:{port}") collects them; to_info(values) is the result.
    Stop the loop and disconnect before returning or raising.
    """
    inbox: queue.Queue[tuple[str, str]] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"kata-sys-{uuid.uuid4().hex[:8]}")

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        client.subscribe([(name, 0) for name in TOPICS])

    def on_message(client, userdata, msg) -> None:
        inbox.put((msg.topic, msg.payload.decode("utf-8", errors="replace")))

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect_timeout = timeout
    client.connect(host, port)
    client.loop_start()
    try:
        values = wait_for_topics(inbox, timeout, f"{host}:{port}")
    finally:
        client.disconnect()
        client.loop_stop()
    return to_info(values)
