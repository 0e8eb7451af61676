"""Chapter 8 - a device-sized client: MQTT over one socket, like MicroPython's umqtt.simple.

You write connect, disconnect, ping, publish, subscribe, wait_msg and check_msg
(and _read_packet); the socket helpers are given. It uses your chapter 1 packets.py.
Lesson: kata lesson tiny_client  (tiny_client.md, 日本語: tiny_client.ja.md)
Check: kata check tiny_client
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from ..ch01_basics import packets

PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 0x30, 0x40, 0x82, 0x90
PINGREQ, PINGRESP, DISCONNECT = b"\xc0\x00", 0xD0, b"\xe0\x00"


def _text(value: str | bytes) -> str:
    """Text as str (bytes are decoded as UTF-8)."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _string(value: str | bytes) -> bytes:
    """An MQTT UTF-8 string: two bytes of length, then the bytes (MQTT 3.1.1 §1.5.3)."""
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return len(data).to_bytes(2, "big") + data


class TinyClient:
    """umqtt.simple's MQTTClient surface over one blocking socket: QoS 0 and 1.

    `sock` is None until connect(); `timeout` (5.0 s, CPython only) bounds each
    read. A read that gets nothing in time raises TimeoutError naming the
    packet it waited for; a socket the broker closed raises ConnectionError.
    """

    def __init__(
        self, client_id: str | bytes, server: str, port: int = 1883, keepalive: int = 0
    ) -> None:
        self.client_id = _text(client_id)
        self.server, self.port = server, port
        self.keepalive = keepalive
        self.sock: socket.socket | None = None
        self.cb: Callable[[bytes, bytes], object] | None = None
        self.pid = 0
        # CPython only: how long one read may block (umqtt blocks for ever).
        self.timeout = 5.0

    def set_callback(self, f: Callable[[bytes, bytes], object]) -> None:
        """f(topic, msg) is called with bytes for every PUBLISH that arrives."""
        self.cb = f

    def _send(self, data: bytes) -> None:
        """Write all of `data` to the socket; OSError when not connected."""
        if self.sock is None:
            raise OSError("not connected: call connect() first")
        self.sock.sendall(data)

    def _read(self, count: int, waiting_for: str) -> bytes:
        """Exactly `count` bytes (recv may return fewer: loop); errors name `waiting_for`."""
        assert self.sock is not None
        data = b""
        while len(data) < count:
            try:
                chunk = self.sock.recv(count - len(data))
            except TimeoutError:
                raise TimeoutError(
                    f"no {waiting_for} within {self.timeout} s from {self.server}:{self.port}"
                ) from None
            if not chunk:
                raise ConnectionResetError(
                    f"{self.server}:{self.port} closed the connection while we waited for "
                    f"{waiting_for}"
                )
            data += chunk
        return data

    def _read_packet(self, waiting_for: str, first: bytes = b"") -> tuple[int, bytes]:
        """(first byte, body) of the next packet, waiting at most `timeout` per read.

        `first` is the first byte when the caller has read it already (check_msg).
        """
        raise NotImplementedError("TODO: first byte, Remaining Length bytes, then the body")

    def _next_pid(self) -> int:
        """A fresh packet identifier, 1..65535 (0 is not a valid one)."""
        self.pid = self.pid % 0xFFFF + 1  # 1..65535; 0 is not a valid packet id
        return self.pid

    def connect(self) -> bool:
        """CONNECT (clean session) and check the CONNACK; returns the session-present flag.

        ConnectionRefusedError(code, ...) when the return code is not 0;
        TimeoutError "no CONNACK within ..."; on any failure the socket is
        closed and sock is None again.
        """
        raise NotImplementedError("TODO: create_connection, connect_packet, check the CONNACK")

    def disconnect(self) -> None:
        """DISCONNECT (0xE0 0x00), then close the socket and set sock to None."""
        raise NotImplementedError("TODO: send DISCONNECT, close the socket, sock = None")

    def ping(self) -> None:
        """PINGREQ (0xC0 0x00); wait_msg/check_msg read the PINGRESP. Does not wait."""
        raise NotImplementedError("TODO: send PINGREQ")

    def publish(
        self, topic: str | bytes, msg: str | bytes, retain: bool = False, qos: int = 0
    ) -> None:
        """PUBLISH at QoS 0, or at QoS 1 and return once its PUBACK arrived.

        Text is sent as UTF-8. A message that arrives meanwhile goes to the
        callback, as in wait_msg. ValueError for another QoS.
        """
        raise NotImplementedError("TODO: publish_packet at QoS 0; build QoS 1, wait for PUBACK")

    def subscribe(self, topic: str | bytes, qos: int = 0) -> None:
        """SUBSCRIBE and return once the SUBACK arrived; PermissionError when refused.

        A SUBACK return code 0x80 means refused. ValueError for a QoS other than 0 or 1.
        """
        raise NotImplementedError("TODO: 0x82, length, packet id, topic, qos; wait for the SUBACK")

    def wait_msg(self) -> int | None:
        """Block for the next packet and handle it (a PUBLISH goes to the callback).

        A QoS 1 PUBLISH is answered with PUBACK after the callback. Returns None
        after a PINGRESP, otherwise the packet's first byte, as umqtt.simple does.
        """
        raise NotImplementedError("TODO: read one packet, call the callback, PUBACK QoS 1")

    def check_msg(self) -> int | None:
        """Like wait_msg, but return None at once when nothing is waiting.

        Read the first byte without blocking (sock.setblocking(False);
        BlockingIOError means nothing is there), then the rest with the timeout.
        """
        raise NotImplementedError("TODO: a non-blocking first byte, then as wait_msg")
