"""What QoS costs, measured (not asserted): python bench/qos.py [--messages N] [--runs N]

Publishes N messages at QoS 0, 1 and 2 with the reference publisher
(solutions/ch03_clients/publisher.py: publish_messages, which returns once
every message is confirmed) to a local mosquitto started for the run, while
one subscriber at the same QoS receives them. Prints a Markdown table of
medians: messages per second until the publisher had every confirmation,
and until the subscriber had every message.

The broker runs with `max_queued_messages 0` (no limit): with Mosquitto's
default of 1000, a publisher faster than its subscriber makes the broker
DROP QoS 1 and 2 messages for that subscriber, online or not.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from importlib.metadata import version
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kata.core import brokers  # noqa: E402
from solutions.ch03_clients.publisher import publish_messages  # noqa: E402

PACKETS = {0: "PUBLISH", 1: "PUBLISH, PUBACK", 2: "PUBLISH, PUBREC, PUBREL, PUBCOMP"}


class Counter:
    """A plain paho subscriber that notes when the n-th message arrived."""

    def __init__(self, host: str, port: int, topic: str, qos: int, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.done = threading.Event()
        self.finished_at = 0.0
        subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port, keepalive=60)
        self.client.loop_start()
        if not subscribed.wait(5):
            self.close()
            raise TimeoutError("the benchmark subscriber got no SUBACK")

    def _on_message(self, client, userdata, msg) -> None:
        self.count += 1
        if self.count == self.expected:
            self.finished_at = time.perf_counter()
            self.done.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def one_run(broker: brokers.Broker, qos: int, messages: int) -> tuple[float, float]:
    """(seconds until all confirmed, seconds until all received) for one batch."""
    topic = f"bench/qos{qos}/{uuid.uuid4().hex[:6]}"
    counter = Counter(broker.host, broker.port, topic, qos, messages)
    try:
        payloads = [f"reading {n}" for n in range(messages)]
        start = time.perf_counter()
        publish_messages(broker.host, broker.port, topic, payloads, qos=qos, timeout=60)
        confirmed = time.perf_counter() - start
        if not counter.done.wait(60):
            raise TimeoutError(f"QoS {qos}: the subscriber got {counter.count} of {messages}")
        return confirmed, counter.finished_at - start
    finally:
        counter.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000, help="messages per run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker = brokers.start_local(Path(tmp), listeners=("mqtt",), extra="max_queued_messages 0")
        try:
            rows = []
            for qos in (0, 1, 2):
                samples = [one_run(broker, qos, args.messages) for _ in range(args.runs)]
                confirmed = statistics.median(s[0] for s in samples)
                received = statistics.median(s[1] for s in samples)
                rows.append((qos, confirmed, received))
        finally:
            broker.close()
    mosquitto = broker.version or "mosquitto"
    print(
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, paho-mqtt {version('paho-mqtt')}, {mosquitto}; "
        f"{args.messages} messages of ~12 bytes, median of {args.runs} runs\n"
    )
    print("| QoS | packets per message | all confirmed (publisher) | all received (subscriber) |")
    print("|---|---|---|---|")
    for qos, confirmed, received in rows:
        print(
            f"| {qos} | {PACKETS[qos]} | {args.messages / confirmed:,.0f} msg/s "
            f"({confirmed:.2f} s) | {args.messages / received:,.0f} msg/s ({received:.2f} s) |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
