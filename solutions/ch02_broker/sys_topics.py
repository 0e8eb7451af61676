"""Chapter 2 - the broker reports on itself under $SYS.

Mosquitto publishes its own state as retained messages under `$SYS/broker/`
every sys_interval seconds (10 by default; the kata's test broker uses 1):

    $SYS/broker/version            "mosquitto version 2.0.18"
    $SYS/broker/uptime             "4211 seconds"
    $SYS/broker/clients/connected  "3"

Try it by hand: mosquitto_sub -h localhost -v -t '$SYS/broker/#'
Topics that start with '$' are the broker's: a filter starting with a
wildcard ('#', '+/...') never matches them (chapter 1), so subscribe to each
name, or to '$SYS/broker/#'. They are retained, so they arrive right after
the SUBACK, no need to wait for the next interval.

With paho-mqtt 2.x: mqtt.Client(CallbackAPIVersion.VERSION2), subscribe in
on_connect, collect in on_message (it runs on paho's network thread: hand
the values over with a queue.Queue or a threading.Event), loop_start(), and
always loop_stop() and disconnect() before you return or raise.

Implement broker_info.
Check your work: kata check sys_topics (or: pytest tests/ch02_broker/test_sys_topics.py).
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


def broker_info(host: str, port: int, timeout: float = 5.0) -> dict:
    """{"version": str, "uptime_s": int, "clients_connected": int} from $SYS/broker/."""
    wanted = (VERSION, UPTIME, CONNECTED)
    inbox: queue.Queue[tuple[str, str]] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"kata-sys-{uuid.uuid4().hex[:8]}")

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            inbox.put(("", f"refused: {reason_code}"))
            return
        client.subscribe([(name, 0) for name in wanted])

    def on_message(client, userdata, msg) -> None:
        inbox.put((msg.topic, msg.payload.decode("utf-8", errors="replace")))

    client.on_connect = on_connect
    client.on_message = on_message
    deadline = time.monotonic() + timeout
    values: dict[str, str] = {}
    client.connect_timeout = timeout
    client.connect(host, port, keepalive=60)
    client.loop_start()
    try:
        while len(values) < len(wanted):
            try:
                name, text = inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                missing = ", ".join(name for name in wanted if name not in values)
                raise TimeoutError(
                    f"no {missing} from {host}:{port} within {timeout} s "
                    "(is $SYS enabled? sys_interval 0 turns it off)"
                ) from None
            if not name:
                raise ConnectionRefusedError(f"{host}:{port} {text}")
            values[name] = text
    finally:
        client.disconnect()
        client.loop_stop()
    return {
        "version": values[VERSION],
        "uptime_s": int(values[UPTIME].split()[0]),
        "clients_connected": int(values[CONNECTED]),
    }
