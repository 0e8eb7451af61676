"""Chapter 7 - request/response over publish/subscribe, with MQTT 5 correlation.

MQTT has no replies: a publisher never learns who got its message. MQTT 5
adds two properties so a request can carry its own return address
(MQTT 5.0 §4.10):

- Response Topic: where the requester listens for the answer.
- Correlation Data: bytes the responder copies unchanged into its answer,
  so a requester with several questions open knows which answer is which.

A requester subscribes to a response topic of its own (and waits for the
SUBACK: an answer that comes before it is lost), then publishes the request
with both properties. A responder subscribes to the request topic; for each
request it publishes the handler's answer to the request's Response Topic,
with the request's Correlation Data. A request without Response Topic
cannot be answered and is ignored.

In paho: props = Properties(PacketTypes.PUBLISH); props.ResponseTopic = ...;
props.CorrelationData = b"..."; on the way in, msg.properties.ResponseTopic.
Both clients speak MQTT 5 (protocol=mqtt.MQTTv5).

Implement the Responder class, serve and request.
Check your work: kata check request_response (or: pytest tests/ch07_mqtt5/test_request_response.py).
日本語のヒント: kata hint request_response --lang ja
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

    handler gets the request payload (bytes) and returns the answer (bytes or
    str). The answer goes to the request's Response Topic with its Correlation
    Data (QoS 1). A request without Response Topic is ignored. A handler that
    raises is counted in `errors`, that request gets no answer, and the next
    one is served as usual.
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

    The caller may publish requests as soon as serve() returns, and calls
    stop() on the result when done.
    """
    raise NotImplementedError("TODO: Responder(...), start(timeout), return it")


def request(
    host: str,
    port: int,
    request_topic: str,
    payload: bytes | str,
    timeout: float = 5.0,
) -> bytes:
    """Publish one request and return the payload of the answer that correlates with it.

    Subscribe to a response topic of your own and wait for the SUBACK; then
    publish `payload` to `request_topic` (QoS 1) with Response Topic and a
    fresh Correlation Data. Return the first answer on the response topic
    whose Correlation Data is yours; ignore any other. TimeoutError saying no
    response came on `request_topic` within `timeout`. Disconnect and stop
    the loop before returning or raising.
    """
    raise NotImplementedError("TODO: subscribe, publish with ResponseTopic + CorrelationData, wait")
