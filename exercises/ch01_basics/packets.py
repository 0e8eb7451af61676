"""Chapter 1 - the wire format: speak MQTT 3.1.1 over a bare socket.

Build CONNECT and PUBLISH byte by byte; raw_publish sends them to a broker.
Lesson: kata lesson packets  (packets.md, 日本語: packets.ja.md)
Check: kata check packets
"""

from __future__ import annotations

import socket


def encode_remaining_length(n: int) -> bytes:
    """The variable byte integer for n (0..268435455), in the fewest bytes.

    7 bits per byte, lowest group first, 0x80 on every byte but the last:
    0 -> 00, 127 -> 7f, 128 -> 80 01, 321 -> c1 02. ValueError outside the range.
    """
    raise NotImplementedError("TODO: divmod by 128, set 0x80 while more follows")


def decode_remaining_length(data: bytes) -> tuple[int, int]:
    """(value, bytes consumed) of the variable byte integer at the start of data.

    Bytes after it are left alone: b"\\x7f\\x00" -> (127, 1). ValueError when
    data ends while 0x80 says more follows, or when a 4th byte still has 0x80.
    """
    raise NotImplementedError("TODO: add (byte & 0x7f) << 7*i until a byte without 0x80")


def connect_packet(client_id: str, keepalive: int = 60, clean_session: bool = True) -> bytes:
    """An MQTT 3.1.1 CONNECT packet with no user name, password or will.

    connect_packet("kata") == bytes.fromhex("10 10 00 04 4d 51 54 54 04 02 00 3c 00 04 6b 61 74 61")
    ValueError: keepalive outside 0..65535, a client id over 65535 UTF-8
    bytes, or an empty client id with clean_session=False.
    """
    raise NotImplementedError("TODO: header, flags, keepalive, client id; 0x10 and length first")


def publish_packet(topic: str, payload: bytes, retain: bool = False) -> bytes:
    """A QoS 0 PUBLISH packet of payload to topic.

    publish_packet("a/b", b"hi") == bytes.fromhex("30 07 00 03 61 2f 62 68 69");
    retain=True makes the first byte 0x31. ValueError for an empty topic or
    one with '+' or '#'.
    """
    raise NotImplementedError("TODO: 0x30 | retain, the length, the topic string, the payload")


def raw_publish(
    host: str,
    port: int,
    topic: str,
    payload: bytes,
    client_id: str,
    timeout: float = 5.0,
) -> None:
    """CONNECT, check the CONNACK, PUBLISH (QoS 0), DISCONNECT on one plain socket.

    Return code not 0: ConnectionRefusedError(code, "CONNACK return code 5: ...").
    No CONNACK in time: TimeoutError("no CONNACK within 5.0 s from host:port").
    Close the socket in every case.
    """
    raise NotImplementedError("TODO: connect, read CONNACK, send PUBLISH and DISCONNECT")
