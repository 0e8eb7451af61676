"""Chapter 5 fixtures: a fake clock, a connected sensor client, a dashboard's feed."""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator

# Tests draw into files, never into windows. matplotlib reads MPLBACKEND when it
# is first imported, by the tests that draw (not at collection: the other
# chapters' runs never load it).
os.environ["MPLBACKEND"] = "Agg"
if "matplotlib" in sys.modules:
    sys.modules["matplotlib"].use("Agg")

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from kata import exercise
from kata.core.i18n import teach


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
        self.seen: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.client: mqtt.Client | None = None  # what subscribe_feed returned

    def wait_for(self, count: int, timeout: float = 5.0) -> list[mqtt.MQTTMessage]:
        got: list[mqtt.MQTTMessage] = []
        for _ in range(count):
            try:
                got.append(self.seen.get(timeout=timeout))
            except queue.Empty:
                raise AssertionError(
                    teach(
                        en=f"the client of subscribe_feed handed {len(got)} of {count} "
                        f"messages to on_message within {timeout} s",
                        ja=f"subscribe_feed のクライアントが {timeout} 秒以内に on_message へ"
                        f"渡したメッセージは {count} 件中 {len(got)} 件でした",
                    )
                ) from None
        return got


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def dashboard_link(broker) -> Iterator[Callable[..., Delivered]]:
    """dashboard_link(on_message, topic_filter) -> Delivered, through the learner's subscribe_feed.

    Called inside the test (never at setup), so a stub is reported as "not done yet".
    """
    dashboard = exercise("ch05_sensor.dashboard")
    clients: list[mqtt.Client] = []

    def link(on_message: Callable, topic_filter: str, **kwargs: object) -> Delivered:
        delivered = Delivered()

        def forward(client, userdata, msg) -> None:
            on_message(client, userdata, msg)
            delivered.seen.put(msg)

        host, port = kwargs.pop("host", broker.host), kwargs.pop("port", broker.port)
        delivered.client = dashboard.subscribe_feed(host, port, topic_filter, forward, **kwargs)
        clients.append(delivered.client)
        return delivered

    yield link
    for client in clients:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def sensor_client(broker, client_id) -> Iterator[mqtt.Client]:
    """A connected client for run_sensor (the caller owns the connection)."""
    with connected(broker.host, broker.port, client_id("sensor")) as client:
        yield client
