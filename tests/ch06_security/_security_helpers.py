"""Chapter 6 test helpers: an MQTT 5 publisher, a check that a returned client works.

The relay that cuts the network is kata.core.peers.Relay; expect_raises is kata.core.expect's.
"""

from __future__ import annotations

import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode


def publish_v5(
    host: str, port: int, username: str, password: str, topic: str, payload: bytes
) -> ReasonCode:
    """Publish once at QoS 1 with MQTT 5 and return the PUBACK's reason code."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"kata-v5-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(username, password)
    connected, acked = threading.Event(), threading.Event()
    got: dict[str, ReasonCode] = {}

    def on_publish(client, userdata, mid, reason_code, properties) -> None:
        got["reason"] = reason_code
        acked.set()

    client.on_connect = lambda *args: connected.set()
    client.on_publish = on_publish
    client.connect(host, port)
    client.loop_start()
    try:
        assert connected.wait(5), f"no CONNACK from {host}:{port}"
        client.publish(topic, payload, qos=1)
        assert acked.wait(5), f"no PUBACK for {topic!r}"
        return got["reason"]
    finally:
        client.disconnect()
        client.loop_stop()


def assert_publishes_then_close(client: object, probe, topic: str) -> None:
    """Publish one QoS 1 message through `client`; `probe` must receive it. Closes the client.

    Proves that a client returned by an exercise is really connected (and,
    for TLS, that the handshake was real: a TLS listener drops plain MQTT).
    """
    try:
        assert isinstance(client, mqtt.Client), (
            f"return the connected paho client, not {type(client).__name__}"
        )
        assert client.is_connected(), "the returned client should be connected (CONNACK received)"
        probe.subscribe(topic, qos=1)
        payload = f"hello from {uuid.uuid4().hex[:6]}".encode()
        info = client.publish(topic, payload, qos=1)
        info.wait_for_publish(5)
        assert info.is_published(), (
            "a QoS 1 publish through the returned client was not acknowledged: "
            "is its network loop running (loop_start())?"
        )
        got = probe.get()
        assert (got.topic, got.payload) == (topic, payload)
    finally:
        if isinstance(client, mqtt.Client):
            client.disconnect()
            client.loop_stop()


def leaves_a_failed_tls_socket(test):
    """Mark a test whose TLS handshake fails on purpose (see collect_failed_tls_sockets)."""
    test = pytest.mark.filterwarnings("ignore:unclosed <ssl.SSLSocket:ResourceWarning")(test)
    return pytest.mark.usefixtures("collect_failed_tls_sockets")(test)
