"""Chapter 4 test helpers: a link that loses the broker's acks, a watch on a client's socket,
and expect_raises (a failure that names the input that should have raised)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest

from kata.core.brokers import LOOPBACK
from kata.core.i18n import teach

# An MQTT 3.1.1 CONNACK is exactly 4 bytes.
CONNACK_SIZE = 4


class LossyLink:
    """A TCP relay to the broker that passes the CONNACK back, then loses all the broker says.

    Everything the client sends reaches the broker; of the broker's answers
    only the CONNACK gets through. A PUBACK or PUBREC is lost on the way back,
    as on a network that fails right after the PUBLISH went out.
    """

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self._server = socket.create_server((LOOPBACK, 0))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads = [self._spawn(self._accept, "accept")]
        self._downstream: list[threading.Thread] = []

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=f"kata-link-{name}", daemon=True)
        thread.start()
        return thread

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client_side, _ = self._server.accept()
            except OSError:  # the 0.2 s accept timeout, or closed
                continue
            client_side.settimeout(None)
            try:
                broker_side = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client_side.close()
                continue
            broker_side.settimeout(None)
            self._sockets += [client_side, broker_side]
            self._threads.append(self._spawn(self._pump, "up", client_side, broker_side, None))
            down = self._spawn(self._pump, "down", broker_side, client_side, CONNACK_SIZE)
            self._downstream.append(down)
            self._threads.append(down)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, pass_only: int | None) -> None:
        passed = 0
        try:
            while data := source.recv(65536):
                if pass_only is None:
                    sink.sendall(data)
                elif passed < pass_only:
                    chunk = data[: pass_only - passed]
                    sink.sendall(chunk)
                    passed += len(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def broker_closed_all(self, timeout: float) -> bool:
        """True once the broker ended every connection made through the link.

        Mosquitto closes a connection after it handled the DISCONNECT, and it
        handles a client's packets in order: by then it has handled everything
        the client sent before.
        """
        deadline = time.monotonic() + timeout
        for thread in list(self._downstream):
            thread.join(max(0.0, deadline - time.monotonic()))
        return bool(self._downstream) and not any(t.is_alive() for t in self._downstream)

    def close(self) -> None:
        self._stop.set()
        for sock in self._sockets:
            # shutdown wakes a recv() blocked on another thread; close alone does not.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes accept() at once on Linux
        self._server.close()
        for thread in self._threads:
            thread.join(2)


@pytest.fixture
def lossy_link() -> Iterator[Callable[[str, int], LossyLink]]:
    """lossy_link(host, port) -> a LossyLink: its .port reaches the broker but loses its acks."""
    links: list[LossyLink] = []

    def make(host: str, port: int) -> LossyLink:
        link = LossyLink(host, port)
        links.append(link)
        return link

    yield make
    for link in links:
        link.close()


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
    watches: list[ConnectionWatch] = []

    def make(client: mqtt.Client) -> ConnectionWatch:
        watch = ConnectionWatch(client)
        watches.append(watch)
        return watch

    yield make
    for watch in watches:
        watch.close()


def _expect_raises(
    expected: type[BaseException] | tuple[type[BaseException], ...],
    call: Callable[[], object],
    *,
    en: str,
    ja: str,
) -> BaseException:
    """Run call(); return the `expected` exception it raised, or fail with en/ja (+ the result).

    Unlike a bare pytest.raises ("DID NOT RAISE"), the failure names the
    input that should have raised and why: pass that in en= and ja=.
    """
    try:
        result = call()
    except expected as error:
        return error
    pytest.fail(
        teach(en=f"{en} It returned {result!r}.", ja=f"{ja}戻り値は {result!r} でした。"),
        pytrace=False,
    )


@pytest.fixture
def expect_raises() -> Callable[..., BaseException]:
    """expect_raises(ValueError, lambda: f(x), en="f(x) should raise ...", ja="...")."""
    return _expect_raises
