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
        raise NotImplementedError("TODO: keep the settings, reconnects = 0, reconnect_delay_set")

    def start(self, timeout: float = 5.0) -> None:
        """Connect, subscribe, and return once the broker acknowledged the subscription.

        OSError or TimeoutError when that does not happen within `timeout`,
        with no network thread left running.
        """
        raise NotImplementedError("TODO: connect, loop_start, wait for on_subscribe")

    def stop(self) -> None:
        """Disconnect and stop the network thread, also while the broker is down."""
        raise NotImplementedError("TODO: disconnect and loop_stop")
