"""Chapter 5 fixtures: a fake clock, a connected sensor client, a subscribed dashboard."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator

import matplotlib

# Before anything imports pyplot: tests draw into files, never into windows.
matplotlib.use("Agg")

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion


class FakeTime:
    """clock() and sleep() for run_sensor: sleeping advances the clock, instantly."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _client(client_id: str) -> mqtt.Client:
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)


@contextlib.contextmanager
def connected(host: str, port: int, client_id: str) -> Iterator[mqtt.Client]:
    """A paho client whose CONNACK arrived, loop running; stopped on the way out."""
    client = _client(client_id)
    ready = threading.Event()
    client.on_connect = lambda *args: ready.set()
    client.connect(host, port, keepalive=30)
    client.loop_start()
    try:
        if not ready.wait(5.0):
            raise TimeoutError(f"test client: no CONNACK from {host}:{port}")
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


class Delivered:
    """Counts messages after the dashboard's on_message returned, so tests wait, never sleep."""

    def __init__(self) -> None:
        self.seen: queue.Queue[bytes] = queue.Queue()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[bytes]:
        got: list[bytes] = []
        for _ in range(count):
            try:
                got.append(self.seen.get(timeout=timeout))
            except queue.Empty:
                raise AssertionError(
                    f"the dashboard's client received {len(got)} of {count} messages "
                    f"within {timeout} s"
                ) from None
        return got


@contextlib.contextmanager
def subscribed(
    host: str, port: int, client_id: str, topic_filter: str, on_message: Callable
) -> Iterator[Delivered]:
    """A client that hands every message to `on_message` (a dashboard's), from SUBACK on."""
    delivered = Delivered()
    suback = threading.Event()
    client = _client(client_id)

    def forward(client, userdata, msg) -> None:
        on_message(client, userdata, msg)
        delivered.seen.put(bytes(msg.payload))

    client.on_connect = lambda client, *args: client.subscribe(topic_filter, qos=1)
    client.on_subscribe = lambda *args: suback.set()
    client.on_message = forward
    client.connect(host, port, keepalive=30)
    client.loop_start()
    try:
        if not suback.wait(5.0):
            raise TimeoutError(f"test client: no SUBACK for {topic_filter!r}")
        yield delivered
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def dashboard_link(broker, client_id) -> Iterator[Callable[[Callable, str], Delivered]]:
    """dashboard_link(on_message, topic_filter) -> Delivered: a subscribed dashboard client."""
    with contextlib.ExitStack() as stack:

        def link(on_message: Callable, topic_filter: str) -> Delivered:
            return stack.enter_context(
                subscribed(broker.host, broker.port, client_id("dash"), topic_filter, on_message)
            )

        yield link


@pytest.fixture
def sensor_client(broker, client_id) -> Iterator[mqtt.Client]:
    """A connected client for run_sensor (the caller owns the connection)."""
    with connected(broker.host, broker.port, client_id("sensor")) as client:
        yield client
