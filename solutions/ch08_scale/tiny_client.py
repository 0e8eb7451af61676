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

    # --- the socket ----------------------------------------------------------
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
        assert self.sock is not None
        self.sock.settimeout(self.timeout)  # `timeout` may have changed since connect()
        header = first or self._read(1, waiting_for)
        length_bytes = b""
        while True:
            length_bytes += self._read(1, waiting_for)
            if not length_bytes[-1] & 0x80 or len(length_bytes) == 4:
                break
        length, _ = packets.decode_remaining_length(length_bytes)
        return header[0], self._read(length, waiting_for) if length else b""

    def _next_pid(self) -> int:
        """A fresh packet identifier, 1..65535 (0 is not a valid one)."""
        self.pid = self.pid % 0xFFFF + 1  # 1..65535; 0 is not a valid packet id
        return self.pid

    # --- umqtt.simple's surface ----------------------------------------------
    def connect(self) -> bool:
        """CONNECT (clean session) and check the CONNACK; returns the session-present flag.

        ConnectionRefusedError(code, ...) when the return code is not 0;
        TimeoutError "no CONNACK within ..."; on any failure the socket is
        closed and sock is None again.
        """
        self.sock = socket.create_connection((self.server, self.port), timeout=self.timeout)
        try:
            self._send(packets.connect_packet(self.client_id, keepalive=self.keepalive))
            op, body = self._read_packet("CONNACK")
            if op != 0x20 or len(body) != 2:
                raise ConnectionError(f"expected a CONNACK, got packet {op:#04x} {body.hex()}")
            if body[1] != 0:
                raise ConnectionRefusedError(
                    body[1], f"CONNACK return code {body[1]} from {self.server}:{self.port}"
                )
            return bool(body[0] & 0x01)
        except BaseException:
            self.sock.close()
            self.sock = None
            raise

    def disconnect(self) -> None:
        """DISCONNECT (0xE0 0x00), then close the socket and set sock to None."""
        if self.sock is None:
            return
        try:
            self._send(DISCONNECT)
        finally:
            self.sock.close()
            self.sock = None

    def ping(self) -> None:
        """PINGREQ (0xC0 0x00); wait_msg/check_msg read the PINGRESP. Does not wait."""
        self._send(PINGREQ)

    def publish(
        self, topic: str | bytes, msg: str | bytes, retain: bool = False, qos: int = 0
    ) -> None:
        """PUBLISH at QoS 0, or at QoS 1 and return once its PUBACK arrived.

        Text is sent as UTF-8. A message that arrives meanwhile goes to the
        callback, as in wait_msg. ValueError for another QoS.
        """
        payload = msg.encode("utf-8") if isinstance(msg, str) else bytes(msg)
        if qos == 0:
            self._send(packets.publish_packet(_text(topic), payload, retain))
            return
        if qos != 1:
            raise ValueError(f"TinyClient publishes at QoS 0 or 1, not {qos}")
        name = _text(topic)
        if not name or "+" in name or "#" in name:
            raise ValueError(f"publish to a topic name without wildcards, not {name!r}")
        pid = self._next_pid()
        body = _string(name) + pid.to_bytes(2, "big") + payload
        header = bytes([PUBLISH | 0x02 | (0x01 if retain else 0x00)])
        self._send(header + packets.encode_remaining_length(len(body)) + body)
        self._wait_for(PUBACK, pid, "PUBACK")

    def subscribe(self, topic: str | bytes, qos: int = 0) -> None:
        """SUBSCRIBE and return once the SUBACK arrived; PermissionError when refused.

        A SUBACK return code 0x80 means refused. ValueError for a QoS other than 0 or 1.
        """
        if qos not in (0, 1):
            raise ValueError(f"TinyClient subscribes at QoS 0 or 1, not {qos}")
        pid = self._next_pid()
        body = pid.to_bytes(2, "big") + _string(topic) + bytes([qos])
        self._send(bytes([SUBSCRIBE]) + packets.encode_remaining_length(len(body)) + body)
        granted = self._wait_for(SUBACK, pid, "SUBACK")
        if granted[:1] == b"\x80":
            raise PermissionError(f"the broker refused the subscription to {_text(topic)!r}")

    def _wait_for(self, ack: int, pid: int, name: str) -> bytes:
        """Read packets until the `ack` for `pid`; messages that come first are handled."""
        while True:
            op, body = self._read_packet(name)
            if op == ack and body[:2] == pid.to_bytes(2, "big"):
                return body[2:]
            self._handle(op, body)

    def _handle(self, op: int, body: bytes) -> int | None:
        if op == PINGRESP:
            return None
        if op & 0xF0 != PUBLISH:
            return op
        topic_len = int.from_bytes(body[:2], "big")
        topic, rest = body[2 : 2 + topic_len], body[2 + topic_len :]
        qos = (op >> 1) & 0x03
        if qos:
            pid, rest = rest[:2], rest[2:]
        if self.cb is not None:
            self.cb(topic, rest)
        if qos == 1:
            self._send(bytes([PUBACK, 0x02]) + pid)
        return op

    def wait_msg(self) -> int | None:
        """Block for the next packet and handle it (a PUBLISH goes to the callback).

        A QoS 1 PUBLISH is answered with PUBACK after the callback. Returns None
        after a PINGRESP, otherwise the packet's first byte, as umqtt.simple does.
        """
        op, body = self._read_packet("a packet")
        return self._handle(op, body)

    def check_msg(self) -> int | None:
        """Like wait_msg, but return None at once when nothing is waiting.

        Read the first byte without blocking (sock.setblocking(False);
        BlockingIOError means nothing is there), then the rest with the timeout.
        """
        if self.sock is None:
            raise OSError("not connected: call connect() first")
        self.sock.setblocking(False)
        try:
            first = self.sock.recv(1)
        except BlockingIOError:
            return None
        finally:
            self.sock.settimeout(self.timeout)
        if not first:
            raise ConnectionResetError(f"{self.server}:{self.port} closed the connection")
        op, body = self._read_packet("the rest of a packet", first)
        return self._handle(op, body)
