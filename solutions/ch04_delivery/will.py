"""Chapter 4 - last will: the broker speaks for a client that died.

The seed called `client.will_set(...)` in passing. The will is part of the
CONNECT packet (MQTT 3.1.1 §3.1.2.5), so will_set() must come BEFORE connect().
The broker publishes it when the connection ends WITHOUT a DISCONNECT packet:
a crash, a pulled cable, or a client silent for 1.5 x keepalive. A clean
disconnect() discards it.

The birth-and-death pattern gives every device a status topic:
- will: "offline", QoS 1, retained  (the death notice, held by the broker)
- once connected: publish "online", QoS 1, retained  (the birth notice)
- leaving on purpose: publish "offline" retained yourself, then disconnect().
A dashboard that subscribes at any moment gets the current state at once.

To crash on purpose, end the TCP connection under paho without DISCONNECT
(client.socket().shutdown(...)), and make sure paho's network thread stops
instead of reconnecting: a dead process does not come back.

Implement connect_with_status, crash and go_offline.
"""

from __future__ import annotations

import socket
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

_ONLINE = b"online"
_OFFLINE = b"offline"
_TIMEOUT = 5.0


def connect_with_status(host: str, port: int, client_id: str, status_topic: str) -> mqtt.Client:
    """A connected client whose status topic says "online", with "offline" as its will."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    # go_offline(client) gets only the client: it finds its topic here.
    client.user_data_set({"status_topic": status_topic})
    client.will_set(status_topic, _OFFLINE, qos=1, retain=True)
    born = threading.Event()
    refused: list[str] = []

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            refused.append(str(reason_code))
            born.set()
            return
        # From on_connect, so a reconnect announces the client again.
        client.publish(status_topic, _ONLINE, qos=1, retain=True)

    def on_publish(client, userdata, mid, reason_code, properties) -> None:
        born.set()

    client.on_connect = on_connect
    client.on_publish = on_publish
    client.connect_timeout = _TIMEOUT
    try:
        client.connect(host, port, keepalive=60)
        client.loop_start()
        if not born.wait(_TIMEOUT):
            raise TimeoutError(
                f"no CONNACK and PUBACK for 'online' within {_TIMEOUT} s from {host}:{port}"
            )
        if refused:
            raise ConnectionRefusedError(f"{host}:{port} refused the connection: {refused[0]}")
    except BaseException:
        client.disconnect()
        client.loop_stop()
        raise
    return client


def crash(client: mqtt.Client) -> None:
    """Drop the connection without DISCONNECT, like a process that dies: the will goes out."""

    def stay_down(client, userdata, flags, reason_code, properties) -> None:
        # On paho's thread, before it decides to reconnect: it stops instead.
        client.loop_stop()

    client.on_disconnect = stay_down
    sock = client.socket()
    if sock is not None:
        # shutdown, not close: it ends the TCP connection at once, even while
        # paho's thread waits on the socket.
        sock.shutdown(socket.SHUT_RDWR)
    client.loop_stop()


def go_offline(client: mqtt.Client) -> None:
    """Leave on purpose: "offline" retained, then a clean disconnect (the will is discarded)."""
    status_topic = client.user_data_get()["status_topic"]
    try:
        info = client.publish(status_topic, _OFFLINE, qos=1, retain=True)
        info.wait_for_publish(_TIMEOUT)
        if not info.is_published():
            raise TimeoutError(f"no PUBACK for 'offline' on {status_topic!r} within {_TIMEOUT} s")
    finally:
        client.disconnect()
        client.loop_stop()
