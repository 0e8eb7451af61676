"""Chapter 6 - reconnection: keep receiving when the broker goes away and comes back.

Brokers restart (updates, crashes) and networks drop. paho's network thread
(loop_start()) reconnects by itself, and waits between attempts with capped
exponential backoff: client.reconnect_delay_set(min_delay, max_delay) waits
min_delay before the first attempt, doubles the wait after each failed one,
never waits longer than max_delay, and starts again at min_delay once a
CONNACK says success.
  - Why back off: after a broker restart, thousands of devices that retry at
    once in a tight loop keep it down (a "thundering herd").
  - Why cap: once the broker is back, nobody should wait an hour to notice.
A clean session comes back empty, so subscribe in on_connect (chapter 3):
it runs after every successful CONNACK, which also makes it the place to
count reconnections.
stop() is disconnect() then loop_stop(). paho sleeps its backoff in slices of
at most 1 s and checks for disconnect() between them, so stop() returns
within about a second even while the broker is down.

Implement ResilientSubscriber.
Check your work: `kata check reconnect` (or: pytest tests/ch06_security/test_reconnect.py).
日本語のヒント: `kata hint reconnect --lang ja`
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

    handler gets the payload decoded as UTF-8 text, as in chapter 3's
    Subscriber. `reconnects` counts the successful reconnections (not the
    attempts): 0 after start(), 1 after the first outage is over.
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
