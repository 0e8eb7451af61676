"""The harness's own recording client: the tests' eyes and hands on the broker.

A Probe is a paho client the harness trusts: it waits for each SUBACK and
acknowledgement and queues every message it receives, so tests wait instead of
sleeping. `settle()` proves that something did NOT arrive: what came before a
marker the probe publishes to itself.
"""

from __future__ import annotations

import queue
import socket
import ssl
import threading
import uuid
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from kata.core.i18n import t

_MARKER_ROOT = "kata-probe"
_MARKER_WORD = "kata-marker-"


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: dict = field(default_factory=dict, compare=False)

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")


def _properties_dict(props: Properties | None) -> dict:
    names = (name.replace(" ", "") for name in props.names) if props is not None else ()
    return {name: getattr(props, name) for name in names if hasattr(props, name)}


class Probe:
    """A connected, trusted test client. Use as a context manager or call close()."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str | None = None,
        protocol: mqtt.MQTTProtocolVersion = mqtt.MQTTv311,
        clean_session: bool = True,
        username: str | None = None,
        password: str | None = None,
        ca_path: str | None = None,
        tls: bool = False,
        timeout: float = 5.0,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.client_id = client_id or f"kata-probe-{uuid.uuid4().hex[:8]}"
        self.messages: queue.Queue[Received] = queue.Queue()
        self._connected = threading.Event()
        self._acks: dict[int, threading.Event] = {}
        self._granted: dict[int, list] = {}
        self._markers: dict[str, threading.Event] = {}
        self.session_present: bool | None = None
        self.connack_reason: ReasonCode | None = None
        clean = None if protocol == mqtt.MQTTv5 else clean_session  # MQTT 5: clean_start
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, self.client_id, clean, protocol=protocol
        )
        # After a lost connection paho sleeps its reconnect delay (1 s by
        # default) and close() would wait it out; a test's probe retries sooner.
        self.client.reconnect_delay_set(0.05, 1)  # type: ignore[arg-type]
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self.client.on_unsubscribe = self._on_ack
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls or ca_path:
            self.client.tls_set(ca_certs=ca_path, cert_reqs=ssl.CERT_REQUIRED)
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(timeout):
            self.close()
            raise TimeoutError(t("probe.no_connack", timeout=timeout, host=host, port=port))
        if self.connack_reason is not None and self.connack_reason.is_failure:
            self.close()
            raise ConnectionRefusedError(t("probe.refused", reason=self.connack_reason))
        # paho leaves Nagle's algorithm on: a small packet written while the
        # previous one is unacknowledged waits for the peer's delayed ACK
        # (~40 ms); settle() writes several in a row.
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # --- paho callbacks (network thread) -----------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.session_present = flags.session_present
        self.connack_reason = reason_code
        self._connected.set()

    def _on_message(self, client, userdata, msg) -> None:
        if _MARKER_WORD in msg.topic:
            if (event := self._markers.get(msg.topic)) is not None:
                event.set()
            return
        props = _properties_dict(getattr(msg, "properties", None))
        self.messages.put(Received(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain), props))

    def _on_ack(self, client, userdata, mid, reason_codes, properties) -> None:
        """SUBACK and UNSUBACK: keep the granted codes, wake who waits for `mid`."""
        self._granted[mid] = list(reason_codes)
        self._ack(mid).set()

    def _ack(self, mid: int) -> threading.Event:
        # The ack may come before client.subscribe() has returned its mid: whoever
        # is first makes the event (dict.setdefault is atomic).
        return self._acks.setdefault(mid, threading.Event())

    def _subscribe(self, filters: list[tuple[str, int]], what: str, timeout: float | None) -> list:
        """Subscribe and wait for the SUBACK; the granted codes."""
        result, mid = self.client.subscribe(filters)
        if result != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(t("probe.subscribe_failed", error=mqtt.error_string(result)))
        self._wait_ack(mid, what, timeout)
        return self._granted[mid]

    def _wait_ack(self, mid: int, what: str, timeout: float | None) -> None:
        if not self._ack(mid).wait(timeout or self.timeout):
            raise TimeoutError(t("probe.no_ack", what=what, timeout=timeout or self.timeout))

    def _marker(self, under: str | None = None) -> tuple[str, threading.Event]:
        """A topic of its own to publish to oneself, and the event set when it comes back."""
        marker = f"{under or _MARKER_ROOT}/{_MARKER_WORD}{uuid.uuid4().hex[:10]}"
        arrived = self._markers[marker] = threading.Event()
        return marker, arrived

    def _wait_marker(self, marker: str, arrived: threading.Event, timeout: float | None) -> None:
        if not arrived.wait(timeout or self.timeout):
            raise TimeoutError(t("probe.marker_lost", marker=marker))

    # --- actions -----------------------------------------------------------
    def subscribe(self, topic_filter: str, qos: int = 0, timeout: float | None = None) -> int:
        """Subscribe and wait for SUBACK; returns the granted QoS."""
        (code,) = self._subscribe([(topic_filter, qos)], f"SUBACK for {topic_filter!r}", timeout)
        value = code.value if isinstance(code, ReasonCode) else int(code)
        if value >= 0x80:
            raise PermissionError(t("probe.subscription_refused", filter=topic_filter, code=code))
        return value

    def unsubscribe(self, topic_filter: str, timeout: float | None = None) -> None:
        _, mid = self.client.unsubscribe(topic_filter)
        self._wait_ack(mid, f"UNSUBACK for {topic_filter!r}", timeout)

    def publish(
        self,
        topic: str,
        payload: bytes | str = b"",
        qos: int = 1,
        retain: bool = False,
        properties: Properties | None = None,
        timeout: float | None = None,
    ) -> None:
        """Publish and wait until it is written (QoS 0) or acknowledged (QoS 1/2)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        info.wait_for_publish(timeout or self.timeout)
        if not info.is_published():
            raise TimeoutError(t("probe.not_acknowledged", topic=topic))

    def get(self, timeout: float | None = None) -> Received:
        """The next message received; TimeoutError if none comes."""
        try:
            return self.messages.get(timeout=timeout or self.timeout)
        except queue.Empty:
            raise TimeoutError(t("probe.no_message", timeout=timeout or self.timeout)) from None

    def expect(self, count: int, timeout: float | None = None) -> list[Received]:
        """Exactly the next `count` messages, or TimeoutError listing what came."""
        got: list[Received] = []
        for _ in range(count):
            try:
                got.append(self.get(timeout))
            except TimeoutError:
                listing = ", ".join(f"{m.topic}={m.payload!r}" for m in got)
                raise TimeoutError(
                    t("probe.expected_messages", count=count, got=len(got), listing=listing)
                ) from None
        return got

    def settle(
        self, timeout: float | None = None, *, via: Probe | None = None, under: str | None = None
    ) -> list[Received]:
        """Everything that arrived before a marker published now comes back.

        Mosquitto delivers a client's messages in the order it routed them (the spec
        promises it only per topic and QoS): once the marker is back, anything still
        missing is not coming. `via` publishes the marker (for a probe the ACL forbids
        to publish), under the prefix `under` (for an ACL that limits what it reads).
        """
        marker, arrived = self._marker(under)
        self.subscribe(marker, qos=1)
        (via or self).publish(marker, b"marker", qos=1)
        self._wait_marker(marker, arrived, timeout)
        self.unsubscribe(marker)
        return self.drain()

    def retained_under(self, *filters: str, timeout: float | None = None) -> set[str]:
        """Topics matching `filters` whose retained message the broker keeps: two round trips.

        One SUBSCRIBE for the filters and a marker: the retained messages come right
        after the SUBACK, so all are in once the marker comes back. The subscriptions stay.
        """
        self.drain()
        marker, arrived = self._marker()
        self._subscribe([(f, 1) for f in (*filters, marker)], "SUBACK", timeout)
        self.publish(marker, b"marker", qos=0)
        self._wait_marker(marker, arrived, timeout)
        return {m.topic for m in self.drain() if m.retain}

    def drain(self) -> list[Received]:
        """What has arrived so far, without waiting."""
        return [self.messages.get_nowait() for _ in range(self.messages.qsize())]

    def close(self) -> None:
        try:
            # Also while still connecting: paho's thread then ends at once,
            # not after its select() times out (~1 s).
            self.client.disconnect()
        finally:
            self.client.loop_stop()
            # The probe and its client refer to each other through the
            # callbacks; break the cycle so both go away at once, and close
            # paho's internal socket pair now rather than in a GC pass.
            for name in ("on_connect", "on_message", "on_subscribe", "on_unsubscribe"):
                setattr(self.client, name, None)
            reset = getattr(self.client, "_reset_sockets", None)
            if reset is not None:
                reset()

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
