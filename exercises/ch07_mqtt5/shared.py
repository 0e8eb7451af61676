"""Chapter 7 - shared subscriptions: a group of workers shares one stream of jobs.

You write the Worker class and start_workers; _check_group is given.
Lesson: kata lesson shared  (shared.md, 日本語: shared.ja.md)
Check: kata check shared
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ..ch03_clients.subscriber import Message


def _check_group(group: str) -> None:
    """ValueError unless `group` is one topic level: not empty, no '/', '+' or '#'."""
    if not group or any(c in group for c in "/+#"):
        raise ValueError(
            f"a share group name is one non-empty topic level without '/', '+' or '#': {group!r}"
        )


class Worker:
    """One member of a share group: handler(message) for each job the broker gives it.

    The handler gets a chapter 3 Message. `handled` counts the jobs this
    worker received; a handler that raises is also counted in `errors` and
    never stops the worker. ValueError for a bad group name (_check_group).
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
        raise NotImplementedError("TODO: _check_group, keep the settings, handled = errors = 0")

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

    ValueError for a bad group name or n < 1. If one worker cannot start,
    stop the ones already started, then raise. The caller stops each worker.
    """
    raise NotImplementedError("TODO: n Workers named <group>-<i>, start each, return the list")
