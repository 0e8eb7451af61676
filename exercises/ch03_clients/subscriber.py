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
Check your work: `kata check subscriber` (or: pytest tests/ch03_clients/test_subscriber.py).
日本語のヒント: `kata hint subscriber --lang ja`
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


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
    """Subscribe to `topic_filter` and return the first `count` messages that arrive.

    Subscribe from on_connect. Put each message on a queue.Queue in on_message
    (a Message with payload as bytes) and take them off here. If fewer than
    `count` arrive within `timeout`, raise TimeoutError saying what did arrive.
    Disconnect and stop the loop before returning or raising.
    """
    raise NotImplementedError("TODO: subscribe in on_connect, queue messages, wait for count")


class Subscriber:
    """Calls handler(topic, text) for every message until stop(); survives reconnects.

    handler gets the payload decoded as UTF-8 text. A handler that raises is
    counted in `errors` and never stops delivery.
    """

    def __init__(
        self,
        host: str,
        port: int,
        topic_filter: str,
        handler: Callable[[str, str], object],
        qos: int = 0,
    ) -> None:
        raise NotImplementedError("TODO: keep the settings, set errors = 0, make the client")

    def start(self, timeout: float = 5.0) -> None:
        """Connect and return once the broker acknowledged the subscription (SUBACK).

        TimeoutError if that does not happen within `timeout` (and no thread left running).
        """
        raise NotImplementedError("TODO: connect, loop_start, wait for on_subscribe")

    def stop(self) -> None:
        """Disconnect and stop the network loop."""
        raise NotImplementedError("TODO: disconnect and loop_stop")


def main(argv: Sequence[str] | None = None) -> int:
    """The seed's subscriber as a command line tool.

    Options: --host (localhost) --port (1883) --topic (test/topic) --qos (0)
    --count (0 = run until Ctrl-C). Once subscribed, prints
    "Subscribed to 'test/topic' on localhost:1883; Ctrl-C to stop", then
    "Received 'Hello MQTT #0' on topic 'test/topic'" for every message.
    Returns 0 (also after Ctrl-C), or 1 after printing "error: ..." when the
    broker cannot be reached.
    """
    raise NotImplementedError("TODO: argparse, a Subscriber that prints, wait for Ctrl-C")


if __name__ == "__main__":
    raise SystemExit(main())
