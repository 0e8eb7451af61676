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

log = logging.getLogger(__name__)


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
        _check_group(group)
        self.host, self.port = host, port
        self.shared_filter = f"$share/{group}/{topic_filter}"
        self.handler = handler
        self.name = name
        self.handled = 0
        self.errors = 0
        self._subscribed = threading.Event()
        self._refused: str | None = None
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"kata-{name}-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
            self._subscribed.set()
            return
        client.subscribe(self.shared_filter, qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if reason_codes and reason_codes[0].is_failure:
            self._refused = f"subscription refused: {reason_codes[0]}"
        self._subscribed.set()

    def _on_message(self, client, userdata, msg) -> None:
        self.handled += 1
        try:
            self.handler(Message(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain)))
        except Exception:
            # One bad job must not stop this worker's thread.
            self.errors += 1
            log.exception("%s failed on a job from %s", self.name, msg.topic)

    def start(self, timeout: float = 5.0) -> None:
        """Connect and return once $share/<group>/<filter> is acknowledged (SUBACK).

        TimeoutError if that does not happen within `timeout` (and no thread left running).
        """
        self._client.connect_timeout = timeout
        self._client.connect(self.host, self.port, keepalive=60)
        self._client.loop_start()
        if not self._subscribed.wait(timeout) or self._refused:
            self.stop()
            why = self._refused or f"no SUBACK within {timeout} s"
            raise TimeoutError(f"{why} from {self.host}:{self.port} for {self.shared_filter!r}")

    def stop(self) -> None:
        """Disconnect and stop the network loop."""
        self._client.disconnect()
        self._client.loop_stop()


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
    _check_group(group)
    if n < 1:
        raise ValueError(f"a group needs at least one worker, not {n}")
    workers: list[Worker] = []
    try:
        for i in range(n):
            worker = Worker(host, port, group, topic_filter, handler, name=f"{group}-{i}")
            worker.start(timeout)
            workers.append(worker)
    except BaseException:
        for worker in workers:
            worker.stop()
        raise
    return workers
