"""Chapter 1 - the wire format: speak MQTT 3.1.1 over a bare socket.

paho hides the bytes; here you write them. Every MQTT packet starts with a
fixed header: one byte (packet type in the high 4 bits, flags in the low 4),
then the Remaining Length, the number of bytes that follow, as a variable
byte integer (MQTT 3.1.1 §2.2.3): 7 bits per byte, least significant group
first, the high bit (0x80) set on every byte but the last. 0..127 takes one
byte, 128..16383 two, up to 268435455 in four; a fifth byte is an error.
Strings are UTF-8 with a 2-byte big-endian length in front (§1.5.3).

CONNECT (§3.1): 0x10, length, "\\x00\\x04MQTT", level 4, connect flags
(0x02 = clean session), keep alive (2 bytes), then the client id string.
The broker answers CONNACK (§3.2): 0x20 0x02, session present, return code
(0 accepted, 1-5 refused: 5 = not authorized).
PUBLISH at QoS 0 (§3.3): 0x30 (| 0x01 when retained), length, topic string,
payload (no packet id at QoS 0). DISCONNECT (§3.14): 0xE0 0x00.

Implement the five functions; raw_publish puts the others on a socket.
Check your work: kata check packets (or: pytest tests/ch01_basics/test_packets.py).
日本語のヒント: kata hint packets --lang ja
"""

from __future__ import annotations

import socket


def encode_remaining_length(n: int) -> bytes:
    """The variable byte integer for n (0..268435455), in the fewest bytes.

    7 bits per byte, least significant group first; set 0x80 on every byte
    but the last: 0 -> 00, 127 -> 7f, 128 -> 80 01, 321 -> c1 02,
    268435455 -> ff ff ff 7f. ValueError (saying the allowed range) for a
    negative n or one above 268435455.
    """
    raise NotImplementedError("TODO: divmod by 128, set 0x80 while more follows")


def decode_remaining_length(data: bytes) -> tuple[int, int]:
    """(value, bytes consumed) of the variable byte integer at the start of data.

    Bytes after the integer are not yours: decode_remaining_length(b"\\x7f\\x00")
    is (127, 1). ValueError when data ends while 0x80 says more follows
    (truncated), or when a 4th byte still has 0x80 set (there is no 5th).
    """
    raise NotImplementedError("TODO: add (byte & 0x7f) << 7*i until a byte without 0x80")


def connect_packet(client_id: str, keepalive: int = 60, clean_session: bool = True) -> bytes:
    """An MQTT 3.1.1 CONNECT packet with no user name, password or will.

    connect_packet("kata") ==
        bytes.fromhex("10 10  00 04 4d 51 54 54  04  02  00 3c  00 04 6b 61 74 61")
    (type, length, "MQTT", level 4, flags: clean session, keep alive 60, "kata").
    ValueError for a keepalive outside 0..65535, a client id over 65535
    UTF-8 bytes, or an empty client id with clean_session=False (§3.1.3).
    """
    raise NotImplementedError("TODO: header, flags, keepalive, client id; 0x10 and length first")


def publish_packet(topic: str, payload: bytes, retain: bool = False) -> bytes:
    """A QoS 0 PUBLISH packet of payload to topic.

    publish_packet("a/b", b"hi") == bytes.fromhex("30 07 00 03 61 2f 62 68 69");
    retain sets the lowest bit of the first byte (0x31). ValueError for an
    empty topic or one with a wildcard ('+', '#').
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

    socket.create_connection((host, port), timeout=timeout), then sendall()
    the packets and recv() the 4 CONNACK bytes (recv may return fewer: loop).
    A CONNACK with a return code other than 0 raises
    ConnectionRefusedError(code, "CONNACK return code 5: not authorized").
    No CONNACK within timeout: TimeoutError "no CONNACK within 5.0 s from host:port".
    Close the socket in every case (a with block).
    """
    raise NotImplementedError("TODO: connect, read CONNACK, send PUBLISH and DISCONNECT")
