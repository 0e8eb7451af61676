"""Chapter 2 - the broker reports on itself under $SYS.

Mosquitto publishes its own state as retained messages under `$SYS/broker/`
every sys_interval seconds (10 by default; the kata's test broker uses 1):

    $SYS/broker/version            "mosquitto version 2.0.18"
    $SYS/broker/uptime             "4211 seconds"
    $SYS/broker/clients/connected  "3"

Try it by hand: mosquitto_sub -h localhost -v -t '$SYS/broker/#'
Topics that start with '$' are the broker's: a filter starting with a
wildcard ('#', '+/...') never matches them (chapter 1), so subscribe to each
name, or to '$SYS/broker/#'. They are retained, so they arrive right after
the SUBACK, no need to wait for the next interval.

With paho-mqtt 2.x: mqtt.Client(CallbackAPIVersion.VERSION2), subscribe in
on_connect, collect in on_message (it runs on paho's network thread: hand
the values over with a queue.Queue or a threading.Event), loop_start(), and
always loop_stop() and disconnect() before you return or raise.

Implement broker_info.
Check your work: kata check sys_topics (or: pytest tests/ch02_broker/test_sys_topics.py).
日本語のヒント: kata hint sys_topics --lang ja
"""

from __future__ import annotations

import queue
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def broker_info(host: str, port: int, timeout: float = 5.0) -> dict:
    """{"version": str, "uptime_s": int, "clients_connected": int} from $SYS/broker/.

    version is the text of $SYS/broker/version as it is; uptime_s the number
    in "4211 seconds"; clients_connected the number in clients/connected.
    TimeoutError naming the topics that did not arrive within timeout.
    """
    raise NotImplementedError("TODO: subscribe to the three $SYS topics, wait for all three")
