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
Check your work: `kata check will` (or: pytest tests/ch04_delivery/test_will.py).
日本語のヒント: `kata hint will --lang ja`
"""

from __future__ import annotations

import socket
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def connect_with_status(host: str, port: int, client_id: str, status_topic: str) -> mqtt.Client:
    """Connect `client_id` with the birth-and-death pattern; return the running client.

    Before connect(): will "offline" on `status_topic`, QoS 1, retained. Once
    connected: publish "online", QoS 1, retained, and return when the broker
    acknowledged it, with the network loop still running. Remember the status
    topic on the client for go_offline (e.g. client.user_data_set(...)).
    Wait at most 5 s; on failure stop the loop and raise.
    """
    raise NotImplementedError("TODO: will_set, connect, loop_start, publish 'online', wait")


def crash(client: mqtt.Client) -> None:
    """Die like a crashed process: the connection ends without DISCONNECT.

    The broker must notice at once and publish the will (not 1.5 x keepalive
    later), and paho must not reconnect: stop its network thread too.
    """
    raise NotImplementedError("TODO: shut the socket down, stop the loop without reconnecting")


def go_offline(client: mqtt.Client) -> None:
    """Leave on purpose: publish "offline" (QoS 1, retained), then disconnect cleanly.

    Wait for the PUBACK before disconnect(); a clean DISCONNECT makes the
    broker discard the will. Stop the network loop.
    """
    raise NotImplementedError("TODO: publish 'offline' retained, wait, disconnect, loop_stop")
