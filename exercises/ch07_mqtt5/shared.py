"""Chapter 7 - shared subscriptions: a group of workers shares one stream of jobs.

A normal subscription gives every subscriber a copy of every message. When
the messages are jobs (resize this picture, store this reading), one copy
per job is what you want, spread over as many workers as you run. MQTT 5
names a group in the filter itself (MQTT 5.0 §4.8.2):

    $share/<group>/<filter>      e.g. $share/resizers/jobs/#

The broker hands each message that matches <filter> to ONE member of each
group (mosquitto takes turns, round robin) and, as before, a copy to every
plain subscriber of <filter>. Start another worker to share the load; stop
one and the others take over its share. The group name is one topic level:
no '/', '+' or '#'.

Each worker is a client of its own (its own connection, id and paho thread)
that subscribes to the shared filter at QoS 1 from on_connect.

Implement the Worker class and start_workers.
Check your work: kata check shared (or: pytest tests/ch07_mqtt5/test_shared.py).
日本語のヒント: kata hint shared --lang ja
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ..ch03_clients.subscriber import Message


class Worker:
    """One member of a share group: handler(message) for each job the broker gives it.

    The handler gets a Message(topic, payload, qos, retain). `handled` counts
    the jobs this worker received; a handler that raises is also counted in
    `errors` and never stops the worker. `name` tells the workers apart.
    ValueError for a group name that is empty or holds '/', '+' or '#'.
    """

    def __init__(
        self,
        host: str,
        port: int,
        group: str,
        topic_filter: str,
        handler: Callable[[Message], object],
        name: str = "worker",
    ) -> None:
        raise NotImplementedError("TODO: check the group, keep the settings, handled = errors = 0")

    def start(self, timeout: float = 5.0) -> None:
        """Connect and return once $share/<group>/<filter> is acknowledged (SUBACK).

        TimeoutError if that does not happen within `timeout` (and no thread left running).
        """
        raise NotImplementedError("TODO: connect, loop_start, subscribe the shared filter, wait")

    def stop(self) -> None:
        """Disconnect and stop the network loop."""
        raise NotImplementedError("TODO: disconnect and loop_stop")


def start_workers(
    host: str,
    port: int,
    group: str,
    topic_filter: str,
    n: int,
    handler: Callable[[Message], object],
    timeout: float = 5.0,
) -> list[Worker]:
    """Start n Workers in share group `group`; return them once all are subscribed.

    All n share `handler`. When start_workers returns, every worker's SUBACK
    has arrived, so jobs published right away are all handled. ValueError
    for n < 1 or a bad group name. If one worker cannot start, stop the ones
    already started, then raise. The caller stops each worker when done.
    """
    raise NotImplementedError("TODO: n Workers named <group>-<i>, start each, return the list")
