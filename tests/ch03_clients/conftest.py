"""Chapter 3 test helpers: a broker that accepts the connection and then acknowledges nothing."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from kata.core.brokers import LOOPBACK

# An MQTT 3.1.1 CONNACK: session present 0, return code 0 (accepted).
CONNACK_ACCEPTED = b"\x20\x02\x00\x00"


@contextlib.contextmanager
def connack_only_server() -> Iterator[int]:
    """A port where a fake broker answers CONNECT with CONNACK, then never answers again.

    No PUBACK, PUBREC or SUBACK ever comes back: a client that waits for
    them must give up at its timeout; one that does not wait never notices.
    """
    server = socket.create_server((LOOPBACK, 0))
    server.settimeout(0.2)
    stop = threading.Event()
    accepted: list[socket.socket] = []

    def serve(conn: socket.socket) -> None:
        conn.settimeout(0.2)
        answered = False
        while not stop.is_set():
            try:
                data = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            if not answered:  # the first bytes a client sends are its CONNECT
                conn.sendall(CONNACK_ACCEPTED)
                answered = True

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:  # the 0.2 s accept timeout, or closed
                continue
            accepted.append(conn)
            threading.Thread(
                target=serve, args=(conn,), name="kata-connack-only", daemon=True
            ).start()

    thread = threading.Thread(target=accept, name="kata-connack-only-accept", daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        server.close()


@pytest.fixture
def connack_only() -> Iterator[int]:
    """The port of a fake broker that sends CONNACK and then acknowledges nothing."""
    with connack_only_server() as port:
        yield port
