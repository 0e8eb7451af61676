"""Chapter 1 - your first message: a publisher, a broker and a subscriber.

send() publishes one text with paho's one-shot helper; receive() subscribes
and waits for one message, never longer than its timeout.
Lesson: kata lesson first_message  (first_message.md, 日本語: first_message.ja.md)
Check: kata check first_message
"""

from __future__ import annotations

import argparse
import queue
from collections.abc import Sequence

import paho.mqtt.client as mqtt
import paho.mqtt.publish as publish
from paho.mqtt import MQTTException
from paho.mqtt.enums import CallbackAPIVersion

from ..ch03_clients.subscriber import Message


def send(host: str, port: int, topic: str, text: str, qos: int = 0) -> None:
    """Publish text (as UTF-8) to topic once, with paho.mqtt.publish.single.

    One call: connect, PUBLISH at qos, wait until it is delivered (QoS 0:
    written; QoS 1: PUBACK; QoS 2: PUBCOMP), disconnect.
    """
    raise NotImplementedError("TODO: one call to publish.single(...), host and port too")


def receive(host: str, port: int, topic_filter: str, timeout: float = 5.0) -> Message:
    """Subscribe to topic_filter and return the first message that arrives.

    A client with loop_start(): subscribe in on_connect, put each message on a
    queue.Queue, wait at most timeout seconds (else TimeoutError naming
    topic_filter). disconnect() and loop_stop() before returning or raising.
    """
    raise NotImplementedError("TODO: a client: on_connect subscribes, on_message queues")


def main(argv: Sequence[str] | None = None) -> int:
    """The study plan's two terminals: `receive FILTER` in one, `send TOPIC TEXT` in the other."""
    parser = argparse.ArgumentParser(description="Your first MQTT message.")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=1883)
    commands = parser.add_subparsers(dest="command", required=True)
    sender = commands.add_parser("send", help="publish TEXT to TOPIC once")
    sender.add_argument("topic")
    sender.add_argument("text")
    sender.add_argument("--qos", type=int, choices=(0, 1, 2), default=0)
    receiver = commands.add_parser("receive", help="wait for one message on FILTER")
    receiver.add_argument("topic_filter")
    receiver.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    try:
        if args.command == "send":
            send(args.host, args.port, args.topic, args.text, args.qos)
            print(f"Sent '{args.text}' to topic '{args.topic}'")
        else:
            message = receive(args.host, args.port, args.topic_filter, args.timeout)
            text = message.payload.decode("utf-8", errors="replace")
            print(f"Received '{text}' on topic '{message.topic}'")
    except (OSError, MQTTException) as exc:
        print(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
