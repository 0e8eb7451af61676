"""Chapter 8 - a device-sized client: MQTT over one socket, like MicroPython's umqtt.simple.

A microcontroller has no room for paho: no threads, a few hundred KB of
RAM. MicroPython ships umqtt.simple, one small class that writes the
packets of chapter 1 on one socket and reads the answers itself, when the
program asks. This is that class, on CPython, built on ch01_basics.packets.

    c = TinyClient("esp32-kitchen", "192.168.1.10")
    c.set_callback(lambda topic, msg: print(topic, msg))   # both bytes
    c.connect()
    c.subscribe("kitchen/lamp", qos=1)
    c.publish("kitchen/temp", b"21.5", qos=1)   # returns after the PUBACK
    while True:
        c.check_msg()      # handles a waiting packet, or returns None at once
        ...                # read a sensor, sleep, ping() now and then

Packets you add to chapter 1's (MQTT 3.1.1 §3): PUBLISH at QoS 1 (0x32,
topic, a 2-byte packet id, payload) answered by PUBACK (0x40 0x02 id);
SUBSCRIBE (0x82, id, topic, requested QoS) answered by SUBACK (0x90 0x03
id granted; 0x80 = refused); PINGREQ 0xC0 0x00 -> PINGRESP 0xD0 0x00;
DISCONNECT 0xE0 0x00. A QoS 1 PUBLISH that arrives must be PUBACKed, or
the broker stops sending after its in-flight limit (mosquitto: 20).

On an ESP32: flash MicroPython, join Wi-Fi with network.WLAN, copy this
file and packets.py with `mpremote cp`, and drop the type hints and the
relative import. MicroPython's socket has the same recv/sendall/setblocking
(a non-blocking read with nothing there raises OSError EAGAIN, not
BlockingIOError); connect with socket.getaddrinfo(server, port)[0][-1] and
sock.connect(). Or use umqtt.simple itself: the surface here is its own.

Implement the TinyClient class (it uses your chapter 1 packets.py: finish that first).
Check your work: kata check tiny_client (or: pytest tests/ch08_scale/test_tiny_client.py).
日本語のヒント: kata hint tiny_client --lang ja
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from ..ch01_basics import packets


class TinyClient:
    """umqtt.simple's MQTTClient surface over one blocking socket: QoS 0 and 1.

    Attributes: `sock` (the socket, None until connect()), `timeout` (5.0:
    the seconds one read may block; CPython only, umqtt blocks for ever).
    Use packets.connect_packet, packets.publish_packet (QoS 0) and
    packets.encode_remaining_length / decode_remaining_length from chapter
    1; build PUBLISH QoS 1, PUBACK, SUBSCRIBE, PINGREQ and DISCONNECT here.
    A read that gets nothing within `timeout` raises TimeoutError naming the
    packet it waited for; a socket the broker closed raises ConnectionError.
    """

    def __init__(
        self, client_id: str | bytes, server: str, port: int = 1883, keepalive: int = 0
    ) -> None:
        raise NotImplementedError("TODO: keep the settings; sock = None, timeout = 5.0, pid = 0")

    def set_callback(self, f: Callable[[bytes, bytes], object]) -> None:
        """f(topic, msg) is called with bytes for every PUBLISH that arrives."""
        raise NotImplementedError("TODO: keep f for wait_msg and check_msg")

    def connect(self) -> bool:
        """CONNECT (clean session) and check the CONNACK; returns the session-present flag.

        Open the socket with socket.create_connection((server, port), timeout).
        ConnectionRefusedError(code, ...) when the CONNACK return code is not
        0; TimeoutError "no CONNACK within ..." when none comes; the socket is
        closed (and sock None again) on any failure.
        """
        raise NotImplementedError("TODO: socket, connect_packet, read the 4 CONNACK bytes")

    def disconnect(self) -> None:
        """DISCONNECT (0xE0 0x00), then close the socket and set sock to None."""
        raise NotImplementedError("TODO: send DISCONNECT, close the socket")

    def ping(self) -> None:
        """PINGREQ (0xC0 0x00); wait_msg/check_msg read the PINGRESP. Does not wait."""
        raise NotImplementedError("TODO: send PINGREQ")

    def publish(
        self, topic: str | bytes, msg: str | bytes, retain: bool = False, qos: int = 0
    ) -> None:
        """PUBLISH at QoS 0, or at QoS 1 and return once its PUBACK arrived.

        Text is sent as UTF-8. At QoS 1 give the packet a fresh id
        (1..65535) and read packets until the PUBACK with that id; a message
        that arrives meanwhile goes to the callback, as in wait_msg. ValueError
        for another QoS.
        """
        raise NotImplementedError("TODO: publish_packet for QoS 0; build QoS 1 and wait for PUBACK")

    def subscribe(self, topic: str | bytes, qos: int = 0) -> None:
        """SUBSCRIBE and return once the SUBACK arrived; PermissionError when refused.

        A SUBACK's return code 0x80 means refused. ValueError for a QoS
        other than 0 or 1.
        """
        raise NotImplementedError("TODO: 0x82, length, packet id, topic, qos; wait for SUBACK")

    def wait_msg(self) -> int | None:
        """Block for the next packet and handle it (a PUBLISH goes to the callback).

        A QoS 1 PUBLISH is answered with PUBACK after the callback. Returns
        None after a PINGRESP, otherwise the packet's first byte (0x30-0x3F
        for a PUBLISH), as umqtt.simple does.
        """
        raise NotImplementedError("TODO: read one packet, call the callback, PUBACK QoS 1")

    def check_msg(self) -> int | None:
        """Like wait_msg, but return None at once when nothing is waiting.

        Read the first byte without blocking (sock.setblocking(False);
        BlockingIOError means nothing is there), then the rest of the packet
        with the timeout again.
        """
        raise NotImplementedError("TODO: a non-blocking first byte, then as wait_msg")
