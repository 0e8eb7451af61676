"""Is the broker ready? Ask it in MQTT: ready means a CONNACK, not an open TCP port.

Lesson: kata lesson health  (health.md, 日本語: health.ja.md)
Check: kata check health
"""

from __future__ import annotations

import socket
import time

# MQTT 3.1.1 CONNECT: protocol "MQTT" level 4, clean session, keep alive 10 s
# and an empty client id (the broker makes one up). Chapter 1's packets
# exercise builds the same bytes.
CONNECT = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x0a\x00\x00"
DISCONNECT = b"\xe0\x00"


def read_exactly(sock: socket.socket, count: int) -> bytes:
    """count bytes from sock; recv() may return fewer. ConnectionResetError if it closes."""
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionResetError(f"the connection closed after {len(data)} bytes")
        data += chunk
    return data


def connack_code(host: str, port: int, timeout: float) -> int:
    """One attempt: send CONNECT, read the 4-byte CONNACK, return its return code (byte 3).

    The socket's timeout bounds the connect and every recv (socket.timeout,
    an OSError). ConnectionError when the 4 bytes do not start 0x20 0x02.
    When the code is 0 (accepted), send DISCONNECT before closing.
    """
    raise NotImplementedError("TODO: connect, sendall(CONNECT), read 4 bytes, check 0x20 0x02")


def wait_for_broker(host: str, port: int, timeout: float = 10.0) -> float:
    """Block until host:port answers CONNECT with a CONNACK; return the seconds waited.

    Tries connack_code again after any OSError (refused, closed, silent, not
    MQTT) with a short growing pause; TimeoutError naming the missing CONNACK
    when the time is up.
    """
    start = time.monotonic()
    deadline = start + timeout
    pause = 0.01
    last: Exception | None = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            why = f"; last attempt: {type(last).__name__}: {last}" if last else ""
            raise TimeoutError(f"no CONNACK from {host}:{port} within {timeout} s{why}")
        try:
            connack_code(host, port, remaining)  # any code: even a refusal proves it runs
            return time.monotonic() - start
        except OSError as exc:
            last = exc
        # Nothing listens yet and there is no event to wait on: pause briefly
        # (growing, capped) before the next attempt, never past the deadline.
        time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
        pause = min(pause * 2, 0.1)
