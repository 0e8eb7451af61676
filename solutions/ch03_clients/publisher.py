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
"""

from __future__ import annotations

import argparse
import contextlib
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def make_client(client_id: str | None = None) -> mqtt.Client:
    """A paho client on the 2.x callback API; a fresh unique id when none is given."""
    return mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"kata-pub-{uuid.uuid4().hex[:12]}",
    )


@contextlib.contextmanager
def _connected(host: str, port: int, timeout: float) -> Iterator[mqtt.Client]:
    """A client whose CONNACK arrived; disconnected and stopped on the way out."""
    client = make_client()
    client.connect_timeout = timeout
    connack = threading.Event()
    answer: dict[str, object] = {}

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        answer["reason"] = reason_code
        connack.set()

    client.on_connect = on_connect
    client.connect(host, port, keepalive=60)
    client.loop_start()
    try:
        if not connack.wait(timeout):
            raise TimeoutError(f"no CONNACK within {timeout} s from {host}:{port}")
        reason = answer["reason"]
        if reason.is_failure:  # type: ignore[attr-defined]
            raise ConnectionRefusedError(f"{host}:{port} refused the connection: {reason}")
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def _confirm(info: mqtt.MQTTMessageInfo, deadline: float, what: str) -> None:
    info.wait_for_publish(max(0.0, deadline - time.monotonic()))
    if not info.is_published():
        raise TimeoutError(f"{what} was not confirmed by the broker in time")


def publish_messages(
    host: str,
    port: int,
    topic: str,
    messages: Iterable[str | bytes],
    qos: int = 0,
    retain: bool = False,
    timeout: float = 5.0,
) -> int:
    """Publish every message in order; return how many, once all are confirmed."""
    deadline = time.monotonic() + timeout
    with _connected(host, port, timeout) as client:
        infos = [client.publish(topic, m, qos=qos, retain=retain) for m in messages]
        for number, info in enumerate(infos, start=1):
            _confirm(info, deadline, f"message {number} of {len(infos)} (QoS {qos})")
        return len(infos)


def main(argv: Sequence[str] | None = None) -> int:
    """The seed's publisher: send --count numbered messages, one per --interval."""
    parser = argparse.ArgumentParser(description="Publish numbered test messages.")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--topic", default="test/topic")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--qos", type=int, choices=(0, 1, 2), default=0)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between messages")
    args = parser.parse_args(argv)
    try:
        with _connected(args.host, args.port, timeout=5.0) as client:
            for i in range(args.count):
                message = f"Hello MQTT #{i}"
                info = client.publish(args.topic, message, qos=args.qos)
                _confirm(info, time.monotonic() + 5.0, f"message {i}")
                print(f"Sent: {message}", flush=True)
                if args.interval and i < args.count - 1:
                    time.sleep(args.interval)
    except (OSError, TimeoutError) as exc:
        print(f"error: {exc}", flush=True)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
