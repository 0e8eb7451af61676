"""Chapter 4 - the will (LWT): the broker speaks for a client that died.

Lesson: kata lesson will  (will.md, 日本語: will.ja.md)
Check: kata check will

Given: _start (connect, loop, wait for CONNACK), _acked (wait for a PUBACK)
and _stay_down (no reconnect after crash). You write the three functions.
"""

from __future__ import annotations

import socket
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

_ONLINE = b"online"
_OFFLINE = b"offline"
_TIMEOUT = 5.0


def _start(client: mqtt.Client, host: str, port: int) -> None:
    """connect() and loop_start(); return once the CONNACK came and YOUR on_connect ran.

    Set client.on_connect before: _start calls it after every accepted CONNACK.
    TimeoutError or ConnectionRefusedError otherwise, with the loop stopped.
    """
    ready = threading.Event()
    refused: list[str] = []
    your_on_connect = client.on_connect

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            refused.append(str(reason_code))
        elif your_on_connect is not None:
            your_on_connect(client, userdata, flags, reason_code, properties)
        ready.set()

    client.on_connect = on_connect
    client.connect_timeout = _TIMEOUT
    try:
        client.connect(host, port, keepalive=60)
        client.loop_start()
        if not ready.wait(_TIMEOUT):
            raise TimeoutError(f"no CONNACK within {_TIMEOUT} s from {host}:{port}")
        if refused:
            raise ConnectionRefusedError(f"{host}:{port} refused the connection: {refused[0]}")
    except BaseException:
        client.disconnect()
        client.loop_stop()
        raise


def _acked(client: mqtt.Client, info: mqtt.MQTTMessageInfo, what: str) -> None:
    """Wait for the PUBACK of `info`; without it: disconnect, stop the loop, TimeoutError."""
    try:
        info.wait_for_publish(_TIMEOUT)
        if not info.is_published():
            raise TimeoutError(f"no PUBACK for {what} within {_TIMEOUT} s")
    except BaseException:
        client.disconnect()
        client.loop_stop()
        raise


def _stay_down(client, userdata, flags, reason_code, properties) -> None:
    """An on_disconnect for crash(): paho's thread stops instead of reconnecting."""
    # It runs on that thread, before the thread decides to reconnect.
    client.loop_stop()


def connect_with_status(host: str, port: int, client_id: str, status_topic: str) -> mqtt.Client:
    """Connect `client_id` with the birth-and-death pattern; return it with its loop running.

    Before connecting: will "offline" on `status_topic` (QoS 1, retained), and
    keep the topic in the user data for go_offline. On every connect publish
    "online" (QoS 1, retained); return once the first one is acknowledged.
    """
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.user_data_set({"status_topic": status_topic})
    client.will_set(status_topic, _OFFLINE, qos=1, retain=True)

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        # On every (re)connect: after a drop the broker has published the will.
        userdata["birth"] = client.publish(status_topic, _ONLINE, qos=1, retain=True)

    client.on_connect = on_connect
    _start(client, host, port)
    _acked(client, client.user_data_get()["birth"], f"'online' on {status_topic!r}")
    return client


def crash(client: mqtt.Client) -> None:
    """Die like a crashed process: the connection ends without DISCONNECT.

    Set on_disconnect to _stay_down, end the TCP connection under paho
    (client.socket().shutdown(...)), then stop the loop.
    """
    client.on_disconnect = _stay_down
    sock = client.socket()
    if sock is not None:
        # shutdown, not close: it ends the connection at once, even while
        # paho's thread waits on the socket.
        sock.shutdown(socket.SHUT_RDWR)
    client.loop_stop()


def go_offline(client: mqtt.Client) -> None:
    """Leave on purpose: publish "offline" (QoS 1, retained), then disconnect cleanly.

    Wait for the PUBACK (_acked) before disconnect(): a clean DISCONNECT makes
    the broker discard the will. Then stop the loop.
    """
    status_topic = client.user_data_get()["status_topic"]
    info = client.publish(status_topic, _OFFLINE, qos=1, retain=True)
    _acked(client, info, f"'offline' on {status_topic!r}")
    client.disconnect()
    client.loop_stop()
