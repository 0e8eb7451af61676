"""Chapter 4 test helpers: a watch on a client's socket, to see when the broker ends it.

The link that loses the broker's acks is kata.core.peers.Relay (the `relay`
fixture with pass_back=CONNACK_SIZE); expect_raises is kata.core.expect's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest

from kata.core.fixtures import closed_after


class ConnectionWatch:
    """A second handle on a client's TCP connection, to see when the BROKER ends it.

    paho closing its socket then does not end the connection; only the broker
    can. Mosquitto closes the connection right after it handled DISCONNECT
    (and after it published the will, when there was no DISCONNECT). So once
    this sees the end, anything Mosquitto did about that client is done.
    """

    def __init__(self, client: mqtt.Client) -> None:
        sock = client.socket()
        assert sock is not None, "the client has no open connection to watch"
        self._held = sock.dup()  # type: ignore[union-attr]

    def broker_closed(self, timeout: float) -> bool:
        """True when the broker ended the connection within `timeout`."""
        self._held.settimeout(timeout)
        try:
            while self._held.recv(4096):
                pass  # bytes paho did not read: not ours to judge
        except TimeoutError:
            return False
        except OSError:
            return True  # reset by the broker: ended as well
        return True

    def close(self) -> None:
        self._held.close()


@pytest.fixture
def watch_connection() -> Iterator[Callable[[mqtt.Client], ConnectionWatch]]:
    """watch_connection(client) -> a ConnectionWatch, released after the test."""
    yield from closed_after(ConnectionWatch)
