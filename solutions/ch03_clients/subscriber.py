"""Chapter 3 - the subscriber: subscribe from on_connect, receive on paho's thread.

The seed's subscriber subscribed inside on_connect and printed in on_message;
both ideas are right, and this chapter shows why:

- on_connect runs after every CONNACK, also after an automatic reconnect.
  A subscription made there comes back with the connection; one made once
  after connect() is gone when a clean session reconnects.
- The subscription is active when the SUBACK arrives (on_subscribe), not when
  subscribe() returns. Anything published before the SUBACK is not for you.
- on_message runs on paho's network thread. An exception that escapes it
  kills that thread and nothing more is delivered: guard the handler.
- msg.payload is bytes. Text is payload.decode("utf-8").

paho-mqtt 2.x (CallbackAPIVersion.VERSION2) callbacks:
    on_connect(client, userdata, flags, reason_code, properties)
    on_subscribe(client, userdata, mid, reason_code_list, properties)
    on_message(client, userdata, message)

Implement collect_messages, the Subscriber class and main (the seed's subscriber).
`Message` is given: later chapters import it from here.
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


def collect_messages(
    host: str,
    port: int,
    topic_filter: str,
    count: int,
    timeout: float = 5.0,
    qos: int = 0,
) -> list[Message]:
    """Subscribe to `topic_filter` and return the first `count` messages that arrive."""
    inbox: queue.Queue[Message] = queue.Queue()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"kata-collect-{uuid.uuid4().hex[:8]}"
    )

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            client.subscribe(topic_filter, qos)

    def on_message(client, userdata, msg) -> None:
        inbox.put(Message(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain)))

    client.on_connect = on_connect
    client.on_message = on_message
    deadline = time.monotonic() + timeout
    received: list[Message] = []
    client.connect_timeout = timeout
    client.connect(host, port, keepalive=60)
    client.loop_start()
    try:
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
    finally:
        client.disconnect()
        client.loop_stop()


class Subscriber:
    """Calls handler(topic, text) for every message until stop(); survives reconnects."""

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
        self._subscribed = threading.Event()
        self._refused: str | None = None
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"kata-sub-{uuid.uuid4().hex[:8]}"
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
            return
        client.subscribe(self.topic_filter, self.qos)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if reason_codes and reason_codes[0].is_failure:
            self._refused = f"subscription refused: {reason_codes[0]}"
        self._subscribed.set()

    def _on_message(self, client, userdata, msg) -> None:
        try:
            self.handler(msg.topic, msg.payload.decode("utf-8"))
        except Exception:
            # One bad message or handler bug must not stop delivery.
            self.errors += 1
            log.exception("handler failed for a message on %s", msg.topic)

    def start(self, timeout: float = 5.0) -> None:
        """Connect and return once the broker acknowledged the subscription."""
        self._client.connect_timeout = timeout
        self._client.connect(self.host, self.port, keepalive=60)
        self._client.loop_start()
        if not self._subscribed.wait(timeout) or self._refused:
            self.stop()
            why = self._refused or f"no SUBACK within {timeout} s"
            raise TimeoutError(f"{why} from {self.host}:{self.port} for {self.topic_filter!r}")

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def main(argv: Sequence[str] | None = None) -> int:
    """The seed's subscriber: print every message until Ctrl-C (or --count of them)."""
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
    except (OSError, TimeoutError) as exc:
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
