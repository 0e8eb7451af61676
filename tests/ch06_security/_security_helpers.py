"""Chapter 6 test helpers: a relay that can cut the network, an MQTT 5 publisher."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from kata.core.brokers import LOOPBACK


class Relay:
    """A TCP relay in front of a broker: counts connection attempts, can cut the network.

    While cut, the relay accepts each new connection and closes it at once,
    as a load balancer in front of a dead broker does. The client sees a
    failed attempt; the relay records when it came, so tests can measure the
    client's backoff without sleeping.
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._server = socket.create_server((LOOPBACK, 0))
        self._server.settimeout(0.1)  # lets close() end the accept loop
        self.port: int = self._server.getsockname()[1]
        self.attempts: list[float] = []  # time.monotonic() of every accepted connection
        self._cond = threading.Condition()
        self._down = False
        self._cut_at_attempt = 0
        self._closed = False
        self._live: list[tuple[socket.socket, socket.socket]] = []
        self._sockets: list[socket.socket] = []
        self._pumps: list[threading.Thread] = []
        self._hung_up = threading.Event()
        self._accepter = threading.Thread(target=self._accept, name="kata-relay", daemon=True)
        self._accepter.start()

    # --- test side ---------------------------------------------------------
    def cut(self) -> None:
        """Drop every live connection and turn new ones away until restore()."""
        with self._cond:
            self._down = True
            self._cut_at_attempt = len(self.attempts)
            self._hung_up.clear()
            live, self._live = self._live, []
        for client, upstream in live:
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_RDWR)
            # Half-close towards the client: it reads EOF, and we see when it
            # closes its end, i.e. when it noticed the loss.
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_WR)

    def restore(self) -> None:
        with self._cond:
            self._down = False

    def wait_hung_up(self, timeout: float = 5.0) -> None:
        """Block until the client closed a connection that cut() dropped."""
        if not self._hung_up.wait(timeout):
            raise AssertionError(f"the client did not notice the cut within {timeout} s")

    def wait_attempts(self, count: int, timeout: float, why: str = "") -> list[float]:
        """The times of the first `count` connection attempts since the last cut()."""
        with self._cond:
            first = self._cut_at_attempt
            if not self._cond.wait_for(lambda: len(self.attempts) - first >= count, timeout):
                got = len(self.attempts) - first
                raise AssertionError(
                    f"{got} connection attempts within {timeout} s of the cut, "
                    f"expected {count}{': ' + why if why else ''}"
                )
            return list(self.attempts[first : first + count])

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes accept() at once on Linux
        self.cut()
        self._accepter.join(2)
        self._server.close()
        # Whatever is still open ends now; each pump closes the socket it reads.
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for pump in self._pumps:
            pump.join(2)

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- relay threads -----------------------------------------------------
    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._cond:
                self.attempts.append(time.monotonic())
                self._cond.notify_all()
                down = self._down
            if down:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._cond:
                self._live.append((client, upstream))
                self._sockets += [client, upstream]
            for src, dst, from_client in ((client, upstream, True), (upstream, client, False)):
                pump = threading.Thread(
                    target=self._pump, args=(src, dst, from_client), name="kata-relay", daemon=True
                )
                self._pumps.append(pump)
                pump.start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        if from_client:
            # The client closed its end (or reset it): it noticed.
            self._hung_up.set()
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
        src.close()


def publish_v5(
    host: str, port: int, username: str, password: str, topic: str, payload: bytes
) -> ReasonCode:
    """Publish once at QoS 1 with MQTT 5 and return the PUBACK's reason code."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"kata-v5-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(username, password)
    connected, acked = threading.Event(), threading.Event()
    got: dict[str, ReasonCode] = {}

    def on_publish(client, userdata, mid, reason_code, properties) -> None:
        got["reason"] = reason_code
        acked.set()

    client.on_connect = lambda *args: connected.set()
    client.on_publish = on_publish
    client.connect(host, port)
    client.loop_start()
    try:
        assert connected.wait(5), f"no CONNACK from {host}:{port}"
        client.publish(topic, payload, qos=1)
        assert acked.wait(5), f"no PUBACK for {topic!r}"
        return got["reason"]
    finally:
        client.disconnect()
        client.loop_stop()


def assert_publishes_then_close(client: object, probe, topic: str) -> None:
    """Publish one QoS 1 message through `client`; `probe` must receive it. Closes the client.

    Proves that a client returned by an exercise is really connected (and,
    for TLS, that the handshake was real: a TLS listener drops plain MQTT).
    """
    try:
        assert isinstance(client, mqtt.Client), (
            f"return the connected paho client, not {type(client).__name__}"
        )
        assert client.is_connected(), "the returned client should be connected (CONNACK received)"
        probe.subscribe(topic, qos=1)
        payload = f"hello from {uuid.uuid4().hex[:6]}".encode()
        info = client.publish(topic, payload, qos=1)
        info.wait_for_publish(5)
        assert info.is_published(), (
            "a QoS 1 publish through the returned client was not acknowledged: "
            "is its network loop running (loop_start())?"
        )
        got = probe.get()
        assert (got.topic, got.payload) == (topic, payload)
    finally:
        if isinstance(client, mqtt.Client):
            client.disconnect()
            client.loop_stop()


def leaves_a_failed_tls_socket(test):
    """Mark a test whose TLS handshake fails on purpose (see collect_failed_tls_sockets)."""
    test = pytest.mark.filterwarnings("ignore:unclosed <ssl.SSLSocket:ResourceWarning")(test)
    return pytest.mark.usefixtures("collect_failed_tls_sockets")(test)


def expect_error(expected, why: str, call, *args, **kwargs) -> BaseException:
    """Call the exercise; return the `expected` exception, or fail explaining `why`.

    Other exceptions pass through (a stub's NotImplementedError stays "not
    done yet"). A client returned by mistake is closed first.
    """
    try:
        result = call(*args, **kwargs)
    except expected as exc:
        return exc
    if isinstance(result, mqtt.Client):
        result.disconnect()
        result.loop_stop()
    names = " or ".join(
        e.__name__ for e in (expected if isinstance(expected, tuple) else (expected,))
    )
    name = getattr(call, "__name__", "the call")
    pytest.fail(f"{name} returned {result!r} instead of raising {names}: {why}", pytrace=False)
