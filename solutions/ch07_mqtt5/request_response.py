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

log = logging.getLogger(__name__)


def _v5_client(role: str) -> mqtt.Client:
    return mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"kata-{role}-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )


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
        self.host, self.port = host, port
        self.request_topic = request_topic
        self.handler = handler
        self.errors = 0
        self._subscribed = threading.Event()
        self._refused: str | None = None
        self._client = _v5_client("responder")
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
            self._subscribed.set()
            return
        client.subscribe(self.request_topic, qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if reason_codes and reason_codes[0].is_failure:
            self._refused = f"subscription refused: {reason_codes[0]}"
        self._subscribed.set()

    def _on_message(self, client, userdata, msg) -> None:
        reply_to = getattr(msg.properties, "ResponseTopic", None)
        if not reply_to:
            log.warning("a request on %s has no Response Topic: nobody to answer", msg.topic)
            return
        try:
            answer = self.handler(bytes(msg.payload))
        except Exception:
            # A failing handler must not kill paho's thread: the next request gets served.
            self.errors += 1
            log.exception("the handler failed for a request on %s", msg.topic)
            return
        props = Properties(PacketTypes.PUBLISH)
        correlation = getattr(msg.properties, "CorrelationData", None)
        if correlation is not None:
            props.CorrelationData = correlation
        client.publish(reply_to, answer, qos=1, properties=props)

    def start(self, timeout: float = 5.0) -> None:
        """Connect and return once the request subscription is acknowledged (SUBACK).

        TimeoutError if that does not happen within `timeout` (and no thread left running).
        """
        self._client.connect_timeout = timeout
        self._client.connect(self.host, self.port, keepalive=60)
        self._client.loop_start()
        if not self._subscribed.wait(timeout) or self._refused:
            self.stop()
            why = self._refused or f"no SUBACK within {timeout} s"
            raise TimeoutError(f"{why} from {self.host}:{self.port} for {self.request_topic!r}")

    def stop(self) -> None:
        """Disconnect and stop the network loop."""
        self._client.disconnect()
        self._client.loop_stop()


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
    correlation = uuid.uuid4().bytes
    response_topic = f"{request_topic}/response/{uuid.uuid4().hex}"
    subscribed = threading.Event()
    answers: queue.Queue[bytes] = queue.Queue()
    refused: list[str] = []

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            refused.append(str(reason_code))
            subscribed.set()
            return
        client.subscribe(response_topic, qos=1)

    def on_subscribe(client, userdata, mid, reason_codes, properties) -> None:
        if reason_codes and reason_codes[0].is_failure:
            refused.append(f"subscription refused: {reason_codes[0]}")
        subscribed.set()

    def on_message(client, userdata, msg) -> None:
        # Anyone may publish on our response topic: only our correlation counts.
        if getattr(msg.properties, "CorrelationData", None) == correlation:
            answers.put(bytes(msg.payload))

    client = _v5_client("requester")
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    deadline = time.monotonic() + timeout
    client.connect_timeout = timeout
    client.connect(host, port, keepalive=60)
    client.loop_start()
    try:
        if not subscribed.wait(timeout):
            raise TimeoutError(f"no SUBACK within {timeout} s from {host}:{port}")
        if refused:
            raise ConnectionRefusedError(f"{host}:{port}: {refused[0]}")
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = response_topic
        props.CorrelationData = correlation
        client.publish(request_topic, payload, qos=1, properties=props)
        try:
            return answers.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(
                f"no response to the request on {request_topic!r} within {timeout} s "
                "(is a responder serving that topic?)"
            ) from None
    finally:
        client.disconnect()
        client.loop_stop()
