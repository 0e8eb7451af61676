"""The subscriber: subscribe from on_connect, receive on paho's network thread.

Lesson: kata lesson subscriber  (subscriber.md, 日本語: subscriber.ja.md)
Check: kata check subscriber
`Message` is given; later chapters import it from here.
"""

from __future__ import annotations

import argparse
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """One received message, as later chapters compare it."""

    topic: str
    payload: bytes
    qos: int
    retain: bool


def take_messages(
    inbox: queue.Queue[Message], count: int, timeout: float, topic_filter: str
) -> list[Message]:
    """Take `count` messages off `inbox` within `timeout` seconds (given).

    TimeoutError listing what did arrive when fewer come.
    """
    deadline = time.monotonic() + timeout
    received: list[Message] = []
    while len(received) < count:
        try:
            received.append(inbox.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            got = ", ".join(f"{m.topic}={m.payload!r}" for m in received) or "nothing"
            raise TimeoutError(
                f"{len(received)} of {count} messages on {topic_filter!r} "
                f"within {timeout} s; received: {got}"
            ) from None
    return received


def collect_messages(
    host: str,
    port: int,
    topic_filter: str,
    count: int,
    timeout: float = 5.0,
    qos: int = 0,
) -> list[Message]:
    """Subscribe to `topic_filter` from on_connect; return the first `count` messages.

    on_message puts a Message (payload stays bytes) on a queue.Queue;
    take_messages() takes them off. Disconnect and stop the loop before
    returning or raising.
    """
    raise NotImplementedError("TODO: on_connect subscribes, on_message queues; take_messages")


class Subscriber:
    """Calls handler(topic, text) for every message until stop(); survives reconnects.

    Given: __init__, which wires paho's callbacks to the three on_* methods.
    """

    def __init__(
        self,
        host: str,
        port: int,
        topic_filter: str,
        handler: Callable[[str, str], object],
        qos: int = 0,
    ) -> None:
        self.host, self.port = host, port
        self.topic_filter, self.qos = topic_filter, qos
        self.handler = handler
        self.errors = 0
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"kata-sub-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_connect = self.on_connect
        self.client.on_subscribe = self.on_subscribe
        self.client.on_message = self.on_message

    def on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        """A CONNACK arrived (after every connect and reconnect): subscribe if accepted."""
        raise NotImplementedError("TODO: if accepted, subscribe to self.topic_filter at self.qos")

    def on_subscribe(self, client, userdata, mid, reason_code_list, properties) -> None:
        """The SUBACK arrived: from now on the broker routes messages to us."""
        raise NotImplementedError("TODO: set self.subscribed")

    def on_message(self, client, userdata, message) -> None:
        """Call handler(topic, payload decoded as UTF-8); count any exception in errors."""
        raise NotImplementedError("TODO: self.handler(topic, text) inside try/except; count errors")

    def start(self, timeout: float = 5.0) -> None:
        """Connect, start the loop, return once the SUBACK arrived.

        TimeoutError if it does not arrive within `timeout`, after stop().
        """
        raise NotImplementedError("TODO: connect, loop_start, wait for self.subscribed (SUBACK)")

    def stop(self) -> None:
        """Disconnect and stop the network loop."""
        raise NotImplementedError("TODO: disconnect and loop_stop")


def main(argv: Sequence[str] | None = None) -> int:
    """The study plan's subscriber as a command line tool (given: it uses Subscriber).

    Prints "Received '<text>' on topic '<topic>'" for every message until
    Ctrl-C (or --count messages). Returns 0, or 1 after printing "error: ..."
    when it cannot subscribe.
    """
    parser = argparse.ArgumentParser(description="Print the messages on a topic.")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--topic", default="test/topic")
    parser.add_argument("--qos", type=int, choices=(0, 1, 2), default=0)
    parser.add_argument("--count", type=int, default=0, help="stop after N messages (0: never)")
    args = parser.parse_args(argv)
    seen = 0
    enough = threading.Event()

    def show(topic: str, text: str) -> None:
        nonlocal seen
        print(f"Received '{text}' on topic '{topic}'", flush=True)
        seen += 1
        if args.count and seen >= args.count:
            enough.set()

    subscriber = Subscriber(args.host, args.port, args.topic, show, qos=args.qos)
    try:
        subscriber.start()
    except OSError as exc:  # TimeoutError and ConnectionRefusedError are OSErrors too
        print(f"error: {exc}", flush=True)
        return 1
    print(f"Subscribed to '{args.topic}' on {args.host}:{args.port}; Ctrl-C to stop", flush=True)
    try:
        # A timed wait keeps Ctrl-C working on Windows.
        while not enough.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        subscriber.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
