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
    if not group or any(c in group for c in "/+#"):
        raise ValueError(
            f"a share group name is one non-empty topic level without '/', '+' or '#': {group!r}"
        )


class Worker:
    """One member of a share group: handler(message) for each job the broker gives it."""

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
        """Connect and return once the shared subscription is acknowledged."""
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
    """Start n Workers in share group `group`; return them once all are subscribed."""
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
