"""The publisher: connect, wait for CONNACK, publish, wait for the broker's confirmation.

Lesson: kata lesson publisher  (publisher.md, 日本語: publisher.ja.md)
Check: kata check publisher
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from collections.abc import Iterable, Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode


def make_client(client_id: str | None = None) -> mqtt.Client:
    """A paho client on the 2.x callback API (CallbackAPIVersion.VERSION2).

    Without a client_id, make up a new unique one on every call.
    """
    return mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"kata-pub-{uuid.uuid4().hex[:12]}",
    )


def connect_client(host: str, port: int, timeout: float = 5.0) -> mqtt.Client:
    """A make_client() client whose network loop runs and whose CONNACK accepted it.

    No CONNACK within `timeout`: TimeoutError("no CONNACK within 5.0 s from host:port").
    A CONNACK that refuses: ConnectionRefusedError naming the reason code.
    Before raising, disconnect and stop the loop.
    """
    client = make_client()
    client.connect_timeout = timeout
    connack = threading.Event()
    reasons: list[ReasonCode] = []

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        reasons.append(reason_code)
        if reason_code.is_failure:
            # Hang up here, on paho's thread, before its loop schedules a retry
            # (a 1 s sleep that loop_stop() would have to wait out).
            client.disconnect()
        connack.set()

    client.on_connect = on_connect
    client.connect(host, port, keepalive=60)
    client.loop_start()
    arrived = connack.wait(timeout)
    if arrived and not reasons[0].is_failure:
        return client
    client.disconnect()
    client.loop_stop()
    if not arrived:
        raise TimeoutError(f"no CONNACK within {timeout} s from {host}:{port}")
    raise ConnectionRefusedError(f"{host}:{port} refused the connection: {reasons[0]}")


def publish_messages(
    host: str,
    port: int,
    topic: str,
    messages: Iterable[str | bytes],
    qos: int = 0,
    retain: bool = False,
    timeout: float = 5.0,
) -> int:
    """Publish every message in order with connect_client(); return how many.

    Return only once the broker confirmed each one (wait_for_publish); one
    not confirmed within `timeout` is a TimeoutError. Disconnect and stop the
    loop in every case.
    """
    deadline = time.monotonic() + timeout
    client = connect_client(host, port, timeout)
    try:
        infos = [client.publish(topic, m, qos=qos, retain=retain) for m in messages]
        for number, info in enumerate(infos, start=1):
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            if not info.is_published():
                raise TimeoutError(f"message {number} (QoS {qos}) not confirmed within {timeout} s")
        return len(infos)
    finally:
        client.disconnect()
        client.loop_stop()


def main(argv: Sequence[str] | None = None) -> int:
    """The study plan's publisher as a command line tool (given: it uses connect_client).

    Sends "Hello MQTT #0", "Hello MQTT #1", ... one per --interval seconds and
    prints "Sent: ..." once the broker has each one. Returns 0, or 1 after
    printing "error: ..." when it cannot connect.
    """
    parser = argparse.ArgumentParser(description="Publish numbered test messages.")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--topic", default="test/topic")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--qos", type=int, choices=(0, 1, 2), default=0)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between messages")
    args = parser.parse_args(argv)
    try:
        client = connect_client(args.host, args.port)
    except OSError as exc:  # TimeoutError and ConnectionRefusedError are OSErrors too
        print(f"error: {exc}", flush=True)
        return 1
    try:
        for i in range(args.count):
            message = f"Hello MQTT #{i}"
            info = client.publish(args.topic, message, qos=args.qos)
            info.wait_for_publish(5.0)
            if not info.is_published():
                print(f"error: {message!r} was not confirmed within 5 s", flush=True)
                return 1
            print(f"Sent: {message}", flush=True)
            if i < args.count - 1:
                time.sleep(args.interval)
    except KeyboardInterrupt:
        return 130
    finally:
        client.disconnect()
        client.loop_stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
