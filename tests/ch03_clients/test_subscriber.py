"""Chapter 3: the subscriber (exercises/ch03_clients/subscriber.py)."""

from __future__ import annotations

import queue
import sys

import pytest

from kata import exercise
from kata.core.brokers import free_port
from kata.core.peers import LineQueue, in_background, mosquitto_tool
from kata.core.probe import Probe

subscriber = exercise("ch03_clients.subscriber")


def _publish_until_done(probe, topic: str, done, limit: int = 5000) -> int:
    """Publish numbered QoS 1 messages, one after the other, until `done()`.

    The collector subscribes at some moment we cannot see; from then on it
    must get every message, in order. Each publish waits for its PUBACK, so
    this paces itself without sleeping and stops at `limit`.
    """
    sent = 0
    while not done() and sent < limit:
        probe.publish(topic, str(sent).encode(), qos=1)
        sent += 1
    return sent


def test_collect_returns_consecutive_messages_in_order(broker, topic, probe) -> None:
    result = in_background(
        subscriber.collect_messages, broker.host, broker.port, f"{topic}/n", 5, timeout=5.0, qos=1
    )
    _publish_until_done(probe, f"{topic}/n", result.done)
    messages = result.result(timeout=5)
    numbers = [int(m.payload) for m in messages]
    assert len(messages) == 5, f"asked for 5 messages, got {len(messages)}"
    assert numbers == list(range(numbers[0], numbers[0] + 5)), (
        f"once subscribed, every message arrives, in order; got numbers {numbers}"
    )
    first = messages[0]
    assert isinstance(first, subscriber.Message), "return Message records"
    assert (first.topic, first.qos, first.retain) == (f"{topic}/n", 1, False)
    assert isinstance(first.payload, bytes), "Message.payload stays bytes"


def test_collect_subscribes_from_on_connect(broker, topic, probe) -> None:
    # Retained messages arrive right after the SUBACK: only a client that
    # really subscribed on a live connection sees them.
    for name in ("a", "b", "c"):
        probe.publish(f"{topic}/r/{name}", f"value {name}", qos=1, retain=True)
    messages = subscriber.collect_messages(broker.host, broker.port, f"{topic}/r/#", 3)
    assert sorted((m.topic, m.payload, m.retain) for m in messages) == [
        (f"{topic}/r/{n}", f"value {n}".encode(), True) for n in ("a", "b", "c")
    ]


def test_collect_times_out_listing_what_arrived(broker, topic, probe, no_thread_leak) -> None:
    probe.publish(f"{topic}/few", b"only-one", qos=1, retain=True)
    with pytest.raises(TimeoutError) as raised:
        subscriber.collect_messages(broker.host, broker.port, f"{topic}/few", 2, timeout=0.3)
    assert "only-one" in str(raised.value), (
        f"the TimeoutError should list what did arrive; got {raised.value!r}"
    )
    no_thread_leak()


def test_collect_leaves_no_network_thread(broker, topic, probe, no_thread_leak) -> None:
    probe.publish(f"{topic}/one", b"x", qos=1, retain=True)
    subscriber.collect_messages(broker.host, broker.port, f"{topic}/one", 1)
    no_thread_leak()


class Inbox:
    """A handler for Subscriber that records calls and can be told to fail."""

    def __init__(self, fail_on: set[str] = frozenset()) -> None:
        self.calls: queue.Queue[tuple[object, object]] = queue.Queue()
        self.fail_on = fail_on

    def __call__(self, topic, text) -> None:
        self.calls.put((topic, text))
        if text in self.fail_on:
            raise ValueError(f"the handler does not like {text!r}")

    def next(self, timeout: float = 5.0) -> tuple[object, object]:
        try:
            return self.calls.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the handler was not called within {timeout} s") from None


@pytest.fixture
def running(broker):
    """running(filter, handler, qos=0, port=None) -> a started Subscriber, stopped after."""
    started = []

    def start(topic_filter, handler, qos=0, port=None):
        sub = subscriber.Subscriber(
            broker.host, port or broker.port, topic_filter, handler, qos=qos
        )
        sub.start(timeout=5.0)
        started.append(sub)
        return sub

    yield start
    for sub in started:
        sub.stop()


def test_started_subscriber_gets_a_message_published_right_away(topic, probe, running) -> None:
    inbox = Inbox()
    running(f"{topic}/live", inbox, qos=1)
    probe.publish(f"{topic}/live", b"first", qos=1)
    assert inbox.next() == (f"{topic}/live", "first"), (
        "start() returns once the SUBACK arrived, so a message published right after is received"
    )


def test_handler_gets_text_not_bytes(topic, probe, running) -> None:
    inbox = Inbox()
    running(f"{topic}/text", inbox, qos=1)
    probe.publish(f"{topic}/text", "21.5 °C".encode(), qos=1)
    got_topic, text = inbox.next()
    assert isinstance(text, str), f"handler(topic, text) gets str, got {type(text).__name__}"
    assert (got_topic, text) == (f"{topic}/text", "21.5 °C"), "decode the payload as UTF-8"


def test_a_failing_handler_is_counted_and_delivery_goes_on(topic, probe, running) -> None:
    inbox = Inbox(fail_on={"bad"})
    sub = running(f"{topic}/errors", inbox, qos=1)
    probe.publish(f"{topic}/errors", b"bad", qos=1)
    probe.publish(f"{topic}/errors", b"good", qos=1)
    assert [inbox.next()[1], inbox.next()[1]] == ["bad", "good"], (
        "an exception in the handler must not stop the next message"
    )
    assert sub.errors == 1, f"errors counts handler failures: expected 1, got {sub.errors}"


def test_stop_leaves_no_network_thread(topic, running, no_thread_leak) -> None:
    sub = running(f"{topic}/stop", Inbox())
    sub.stop()
    no_thread_leak()


def test_start_on_a_closed_port_fails_and_leaves_no_thread(no_thread_leak) -> None:
    sub = subscriber.Subscriber("127.0.0.1", free_port(), "kata/x", Inbox())
    with pytest.raises((OSError, TimeoutError)):
        sub.start(timeout=1.0)
    no_thread_leak()


@pytest.mark.needs_private_broker
def test_subscription_comes_back_after_the_broker_restarts(broker_factory, topic) -> None:
    private = broker_factory()
    inbox = Inbox()
    sub = subscriber.Subscriber(private.host, private.port, f"{topic}/again", inbox, qos=1)
    sub.start(timeout=5.0)
    try:
        private.stop()
        private.start()
        # This broker keeps no sessions: a retained message reaches the
        # subscriber only if it reconnected AND subscribed again (on_connect).
        with Probe(private.host, private.port) as publisher:
            publisher.publish(f"{topic}/again", b"after restart", qos=1, retain=True)
            assert inbox.next(timeout=8.0) == (f"{topic}/again", "after restart"), (
                "after a reconnect, subscribe again: do it in on_connect"
            )
    finally:
        sub.stop()


def test_main_prints_received_lines(broker, topic, probe, monkeypatch) -> None:
    out = LineQueue()
    monkeypatch.setattr(sys, "stdout", out)
    args = ["--host", broker.host, "--port", str(broker.port), "--topic", f"{topic}/cli"]
    done = out.follow(in_background(subscriber.main, [*args, "--qos", "1", "--count", "2"]))
    out.wait_for(lambda line: line.startswith("Subscribed"))
    probe.publish(f"{topic}/cli", b"Hello MQTT #0", qos=1)
    probe.publish(f"{topic}/cli", b"Hello MQTT #1", qos=1)
    assert done.result(timeout=5) == 0
    assert [out.lines.get_nowait() for _ in range(2)] == [
        f"Received 'Hello MQTT #0' on topic '{topic}/cli'",
        f"Received 'Hello MQTT #1' on topic '{topic}/cli'",
    ]


@pytest.mark.skipif(mosquitto_tool("mosquitto_pub") is None, reason="mosquitto_pub not installed")
def test_main_hears_mosquitto_pub(broker, topic, monkeypatch) -> None:
    import subprocess

    out = LineQueue()
    monkeypatch.setattr(sys, "stdout", out)
    args = ["--host", broker.host, "--port", str(broker.port), "--topic", f"{topic}/cli"]
    done = out.follow(in_background(subscriber.main, [*args, "--count", "1"]))
    out.wait_for(lambda line: line.startswith("Subscribed"))
    pub = [mosquitto_tool("mosquitto_pub"), "-h", broker.host, "-p", str(broker.port)]
    subprocess.run([*pub, "-t", f"{topic}/cli", "-m", "from mosquitto_pub"], check=True, timeout=5)
    assert done.result(timeout=5) == 0
    assert out.wait_for(lambda line: "Received" in line, timeout=1) == (
        f"Received 'from mosquitto_pub' on topic '{topic}/cli'"
    )


def test_main_says_error_when_no_broker_listens(monkeypatch) -> None:
    out = LineQueue()
    monkeypatch.setattr(sys, "stdout", out)
    assert subscriber.main(["--host", "127.0.0.1", "--port", str(free_port())]) == 1
    assert out.wait_for(lambda line: True, timeout=1).lower().startswith("error")
