"""Chapter 7 - request/response over publish/subscribe, with MQTT 5 correlation.

You write the Responder class and request; serve is given.
Lesson: kata lesson request_response  (request_response.md, 日本語: request_response.ja.md)
Check: kata check request_response
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


class Responder:
    """Answers every request on `request_topic` with handler(payload) until stop().

    The answer (bytes or str) goes to the request's Response Topic with its
    Correlation Data, at QoS 1. A request without Response Topic is ignored.
    A handler that raises is counted in `errors`; serving goes on.
    """

    def __init__(
        self,
        host: str,
        port: int,
        request_topic: str,
        handler: Callable[[bytes], bytes | str],
    ) -> None:
        raise NotImplementedError("TODO: keep the settings, errors = 0, an MQTTv5 client")

    def start(self, timeout: float = 5.0) -> None:
        """Connect and return once the request subscription is acknowledged (SUBACK).

        TimeoutError if that does not happen within `timeout` (and no thread left running).
        """
        raise NotImplementedError("TODO: connect, loop_start, subscribe in on_connect, wait")

    def stop(self) -> None:
        """Disconnect and stop the network loop."""
        raise NotImplementedError("TODO: disconnect and loop_stop")


def serve(
    host: str,
    port: int,
    request_topic: str,
    handler: Callable[[bytes], bytes | str],
    timeout: float = 5.0,
) -> Responder:
    """Start a Responder and return it once it listens (after the SUBACK).

    The caller may publish requests at once, and calls stop() when done.
    """
    responder = Responder(host, port, request_topic, handler)
    responder.start(timeout)
    return responder


def request(
    host: str,
    port: int,
    request_topic: str,
    payload: bytes | str,
    timeout: float = 5.0,
) -> bytes:
    """Publish one request and return the payload of the answer that correlates with it.

    Subscribe to a response topic of your own and wait for the SUBACK; then
    publish (QoS 1) with Response Topic and fresh Correlation Data. Ignore
    answers with other Correlation Data. TimeoutError naming `request_topic`
    when none comes. Disconnect and stop the loop before returning or raising.
    """
    raise NotImplementedError("TODO: subscribe, publish with ResponseTopic + CorrelationData, wait")
