"""Chapter 1 - the wire format: speak MQTT 3.1.1 over a bare socket.

Build CONNECT and PUBLISH byte by byte; raw_publish sends them to a broker.
Lesson: kata lesson packets  (packets.md, 日本語: packets.ja.md)
Check: kata check packets
"""

from __future__ import annotations

import socket

MAX_REMAINING_LENGTH = 268_435_455
MAX_STRING_BYTES = 65_535

CONNACK_CODES = {
    1: "unacceptable protocol version",
    2: "identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


def _string(text: str, what: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) > MAX_STRING_BYTES:
        raise ValueError(
            f"{what} is {len(data)} UTF-8 bytes; an MQTT string holds at most {MAX_STRING_BYTES}"
        )
    return len(data).to_bytes(2, "big") + data


def encode_remaining_length(n: int) -> bytes:
    """The variable byte integer for n (0..268435455), in the fewest bytes.

    7 bits per byte, lowest group first, 0x80 on every byte but the last:
    0 -> 00, 127 -> 7f, 128 -> 80 01, 321 -> c1 02. ValueError outside the range.
    """
    if not 0 <= n <= MAX_REMAINING_LENGTH:
        raise ValueError(
            f"the remaining length must be within 0..{MAX_REMAINING_LENGTH} "
            f"(at most 4 bytes of 7 bits), not {n}"
        )
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        if n:
            out.append(digit | 0x80)
        else:
            out.append(digit)
            return bytes(out)


def decode_remaining_length(data: bytes) -> tuple[int, int]:
    """(value, bytes consumed) of the variable byte integer at the start of data.

    Bytes after it are left alone: b"\\x7f\\x00" -> (127, 1). ValueError when
    data ends while 0x80 says more follows, or when a 4th byte still has 0x80.
    """
    value = 0
    for index, byte in enumerate(data[:4]):
        value += (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value, index + 1
    if len(data) >= 4:
        raise ValueError(
            f"a remaining length has at most 4 bytes; byte 4 ({data[3]:#04x}) still has "
            "the continuation bit 0x80 set"
        )
    raise ValueError(
        f"truncated remaining length: {bytes(data)!r} ends while the continuation bit says "
        "more bytes follow"
    )


def connect_packet(client_id: str, keepalive: int = 60, clean_session: bool = True) -> bytes:
    """An MQTT 3.1.1 CONNECT packet with no user name, password or will.

    connect_packet("kata") == bytes.fromhex("10 10 00 04 4d 51 54 54 04 02 00 3c 00 04 6b 61 74 61")
    ValueError: keepalive outside 0..65535, a client id over 65535 UTF-8
    bytes, or an empty client id with clean_session=False.
    """
    if not 0 <= keepalive <= 0xFFFF:
        raise ValueError(f"keepalive is 2 bytes: 0..65535 seconds, not {keepalive}")
    if not client_id and not clean_session:
        # MQTT 3.1.1 §3.1.3-7: the server cannot keep a session for a nameless client.
        raise ValueError("an empty client id needs clean_session=True (MQTT 3.1.1 §3.1.3)")
    flags = 0x02 if clean_session else 0x00
    variable_header = _string("MQTT", "protocol name") + bytes([4, flags])
    variable_header += keepalive.to_bytes(2, "big")
    body = variable_header + _string(client_id, "the client id")
    return b"\x10" + encode_remaining_length(len(body)) + body


def publish_packet(topic: str, payload: bytes, retain: bool = False) -> bytes:
    """A QoS 0 PUBLISH packet of payload to topic.

    publish_packet("a/b", b"hi") == bytes.fromhex("30 07 00 03 61 2f 62 68 69");
    retain=True makes the first byte 0x31. ValueError for an empty topic or
    one with '+' or '#'.
    """
    if not topic:
        raise ValueError("a topic name must not be empty (MQTT 3.1.1 §4.7.3)")
    if "+" in topic or "#" in topic:
        raise ValueError(f"wildcards '+' and '#' are for filters, not topic names: {topic!r}")
    body = _string(topic, "the topic") + bytes(payload)
    return bytes([0x30 | (0x01 if retain else 0x00)]) + encode_remaining_length(len(body)) + body


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionResetError(
                f"the server closed the connection after {len(data)} of {count} CONNACK bytes"
            )
        data += chunk
    return data


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
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(connect_packet(client_id))
        try:
            connack = _read_exactly(sock, 4)
        except TimeoutError:
            raise TimeoutError(f"no CONNACK within {timeout} s from {host}:{port}") from None
        if connack[:2] != b"\x20\x02":
            raise ConnectionError(
                f"expected a CONNACK (20 02 ...) from {host}:{port}, got {connack.hex(' ')}"
            )
        code = connack[3]
        if code != 0:
            why = CONNACK_CODES.get(code, "unknown reason")
            raise ConnectionRefusedError(code, f"CONNACK return code {code}: {why}")
        sock.sendall(publish_packet(topic, payload))
        sock.sendall(b"\xe0\x00")
