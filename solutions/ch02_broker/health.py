"""Chapter 2 - is the broker ready? Ask it in MQTT.

`docker run` or `docker compose up` returns long before Mosquitto listens,
and an open TCP port proves little: a proxy, a half-started container or any
other program may accept the connection and never speak MQTT. The broker's
own signal is the CONNACK it sends back to a CONNECT (MQTT 3.1.1 §3.2). So
"ready" means: connect, send CONNECT, get a CONNACK. Even a CONNACK that
refuses you (return code 5, not authorized) proves the broker is up.

Until then: connection refused (nothing listens yet) means try again after a
short pause; a connection that stays silent must not block you past your
deadline. Reuse your chapter 1 packets.connect_packet for the bytes.
(docker compose has the same idea: a healthcheck runs a command such as
mosquitto_sub -t '$SYS/#' -C 1 inside the container.)

Implement wait_for_broker.
Check your work: kata check health (or: pytest tests/ch02_broker/test_health.py).
"""

from __future__ import annotations

import socket
import time
import uuid

from ..ch01_basics import packets


def _connack(host: str, port: int, timeout: float) -> int:
    """One attempt: CONNECT, then the CONNACK's return code."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(packets.connect_packet(f"kata-health-{uuid.uuid4().hex[:8]}", keepalive=10))
        answer = b""
        while len(answer) < 4:
            chunk = sock.recv(4 - len(answer))
            if not chunk:
                raise ConnectionResetError("the connection closed before a CONNACK")
            answer += chunk
        if answer[:2] != b"\x20\x02":
            raise ConnectionError(f"the answer is not a CONNACK: {answer.hex(' ')}")
        if answer[3] == 0:
            sock.sendall(b"\xe0\x00")  # DISCONNECT: leave politely
        return answer[3]


def wait_for_broker(host: str, port: int, timeout: float = 10.0) -> float:
    """Block until host:port answers CONNECT with a CONNACK; return the seconds waited."""
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
            _connack(host, port, remaining)
            return time.monotonic() - start
        except OSError as exc:  # refused, reset, not MQTT, or silent (socket timeout)
            last = exc
        # Nothing listens yet and there is no event to wait on: pause briefly
        # (growing, capped) before the next attempt, never past the deadline.
        time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
        pause = min(pause * 2, 0.1)
