"""Chapter 3 - the publisher: connect, wait for CONNACK, publish, disconnect cleanly.

The seed's publisher was five lines of paho-mqtt 1.x:

    client = mqtt.Client()                  # 2.x: deprecated callback API
    client.connect("localhost", 1883, 60)
    client.publish("test/topic", message)   # returns at once, nothing is sent yet
    client.disconnect()                     # ...and this can drop what is queued

With paho-mqtt 2.x you name the callback API: mqtt.Client(CallbackAPIVersion.VERSION2).
connect() only sends CONNECT: the broker answers with CONNACK on the network
thread (loop_start()), and on_connect tells you whether it accepted you.
publish() queues a message and returns an MQTTMessageInfo; at QoS 1 the broker
confirms with PUBACK, at QoS 2 with PUBREC/PUBREL/PUBCOMP (MQTT 3.1.1 §4.3).
info.wait_for_publish() waits for exactly that. Disconnect only after every
message is confirmed, and always stop the network thread (loop_stop()).

Implement make_client, publish_messages and main (the seed's publisher as a CLI).
Check your work: `kata check publisher` (or: pytest tests/ch03_clients/test_publisher.py).
日本語のヒント: `kata hint publisher --lang ja`
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def make_client(client_id: str | None = None) -> mqtt.Client:
    """A paho client on the 2.x callback API; a fresh unique id when none is given.

    Two calls without an id must give two different client ids (a broker
    disconnects the older of two clients that share one).
    """
    raise NotImplementedError("TODO: mqtt.Client(CallbackAPIVersion.VERSION2, client_id=...)")


def publish_messages(
    host: str,
    port: int,
    topic: str,
    messages: Iterable[str | bytes],
    qos: int = 0,
    retain: bool = False,
    timeout: float = 5.0,
) -> int:
    """Publish every message in order; return how many, once all are confirmed.

    Connect, wait for CONNACK (TimeoutError "no CONNACK within 5.0 s from
    host:port" if it does not come), publish each message with `qos` and
    `retain`, wait until the broker confirmed every one, then disconnect and
    stop the network loop, also when something fails.
    """
    raise NotImplementedError("TODO: connect, wait for CONNACK, publish, confirm, disconnect")


def main(argv: Sequence[str] | None = None) -> int:
    """The seed's publisher as a command line tool.

    Options: --host (localhost) --port (1883) --topic (test/topic) --count (10)
    --qos (0) --interval (1.0 s between messages). Publishes "Hello MQTT #0",
    "Hello MQTT #1", ... and prints "Sent: Hello MQTT #0" for each one once the
    broker has it. Returns 0, or 1 after printing "error: ..." when the broker
    cannot be reached.
    """
    raise NotImplementedError("TODO: argparse, then publish and print 'Sent: ...' lines")


if __name__ == "__main__":
    raise SystemExit(main())
