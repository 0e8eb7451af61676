"""Chapter 6 - reconnection: keep receiving when the broker goes away and comes back.

You write the ResilientSubscriber class.
Lesson: kata lesson reconnect  (reconnect.md, 日本語: reconnect.ja.md)
Check: kata check reconnect
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)


class ResilientSubscriber:
    """Calls handler(topic, text) for every message, across broker restarts, until stop().

    text is the payload decoded as UTF-8. `reconnects` counts successful
    reconnections (not attempts): 0 after start(), 1 after the first outage.
    paho reconnects with reconnect_delay_set(min_delay, max_delay) backoff.
    """

    def __init__(
        self,
        host: str,
        port: int,
        topic_filter: str,
        handler: Callable[[str, str], object],
        qos: int = 1,
        min_delay: float = 0.1,
        max_delay: float = 2.0,
    ) -> None:
        self.host, self.port = host, port
        self.topic_filter, self.qos = topic_filter, qos
        self.handler = handler
        self.reconnects = 0
        self._connected_before = False
        self._subscribed = threading.Event()
        self._refused: str | None = None
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"kata-resilient-{uuid.uuid4().hex[:8]}"
        )
        self._client.reconnect_delay_set(min_delay, max_delay)  # type: ignore[arg-type]
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
            return
        if self._connected_before:
            self.reconnects += 1
        self._connected_before = True
        client.subscribe(self.topic_filter, self.qos)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if reason_codes and reason_codes[0].is_failure:
            self._refused = f"subscription refused: {reason_codes[0]}"
        self._subscribed.set()

    def _on_message(self, client, userdata, msg) -> None:
        try:
            self.handler(msg.topic, msg.payload.decode("utf-8"))
        except Exception:
            # A handler bug must not kill the thread that does the reconnecting.
            log.exception("handler failed for a message on %s", msg.topic)

    def start(self, timeout: float = 5.0) -> None:
        """Connect, subscribe, and return once the broker acknowledged the subscription.

        OSError or TimeoutError when that does not happen within `timeout`,
        with no network thread left running.
        """
        self._client.connect_timeout = timeout
        self._client.connect(self.host, self.port, keepalive=60)
        self._client.loop_start()
        if not self._subscribed.wait(timeout) or self._refused:
            self.stop()
            why = self._refused or f"no SUBACK within {timeout} s"
            raise TimeoutError(f"{why} from {self.host}:{self.port} for {self.topic_filter!r}")

    def stop(self) -> None:
        """Disconnect and stop the network thread, also while the broker is down."""
        self._client.disconnect()
        self._client.loop_stop()
