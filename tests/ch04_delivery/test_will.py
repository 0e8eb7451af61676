"""Chapter 4: last will and the birth-and-death pattern (exercises/ch04_delivery/will.py)."""

from __future__ import annotations

import contextlib

import pytest
from paho.mqtt.enums import CallbackAPIVersion

from kata import exercise
from kata.core.brokers import free_port

will = exercise("ch04_delivery.will")

# Positive waits return as soon as the message comes. A will sent on a
# keepalive expiry would take 1.5 x 60 s: 5 s tells the two apart.
WILL_WITHIN = 5.0


def _seen(dashboard) -> list[tuple[bytes, bool, int]]:
    """(payload, retain, qos) of everything the dashboard got so far (proved by a marker)."""
    return [(m.payload, m.retain, m.qos) for m in dashboard.settle()]


@pytest.fixture
def device(broker, client_id):
    """device(status_topic) -> a client from connect_with_status, disconnected after the test."""
    made = []

    def connect(status_topic: str):
        client = will.connect_with_status(
            broker.host, broker.port, client_id("device"), status_topic
        )
        made.append(client)
        return client

    yield connect
    for client in made:
        with contextlib.suppress(Exception):
            client.disconnect()
        with contextlib.suppress(Exception):
            client.loop_stop()


def test_connect_with_status_returns_a_connected_version2_client(broker, topic, client_id) -> None:
    cid = client_id("device")
    client = will.connect_with_status(broker.host, broker.port, cid, f"{topic}/status")
    try:
        assert client.callback_api_version == CallbackAPIVersion.VERSION2, (
            "create the client with mqtt.Client(CallbackAPIVersion.VERSION2, ...)"
        )
        assert client._client_id == cid.encode(), "use the client_id you were given"
        assert client.is_connected(), "return the client connected, with its loop running"
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_dashboard_that_starts_later_sees_online(topic, device, probe) -> None:
    device(f"{topic}/status")
    probe.subscribe(f"{topic}/status", qos=1)
    got = _seen(probe)
    assert got == [(b"online", True, 1)], (
        "once connect_with_status returned, the status topic holds 'online', retained, "
        f"QoS 1 (the birth message); a late dashboard got (payload, retain, qos) {got}"
    )


def test_crash_makes_the_broker_publish_the_will(
    topic, device, probe, probe_factory, no_thread_leak
) -> None:
    status = f"{topic}/status"
    client = device(status)
    probe.subscribe(status, qos=1)
    assert [m[0] for m in _seen(probe)] == [b"online"]
    will.crash(client)
    try:
        death = probe.get(timeout=WILL_WITHIN)
    except TimeoutError:
        raise AssertionError(
            f"no will within {WILL_WITHIN} s of crash(). Was will_set() called BEFORE "
            "connect() (the will travels in CONNECT)? Does crash() end the TCP connection "
            "(socket shutdown)? A broker only notices a silent client after 1.5 x keepalive."
        ) from None
    assert (death.payload, death.qos) == (b"offline", 1), (
        f"the will is 'offline' at QoS 1; the dashboard got {death}"
    )
    no_thread_leak()
    late = probe_factory()
    late.subscribe(status, qos=1)
    stored = [m[:2] for m in _seen(late)]
    assert stored == [(b"offline", True)], (
        "the will is retained, so a dashboard that starts later sees 'offline'; it got "
        f"(payload, retain) {stored}"
    )


def test_go_offline_says_offline_and_the_will_stays_unsent(
    topic, device, probe, probe_factory, watch_connection, no_thread_leak
) -> None:
    status = f"{topic}/status"
    client = device(status)
    probe.subscribe(status, qos=1)
    assert [m[0] for m in _seen(probe)] == [b"online"]
    connection = watch_connection(client)
    will.go_offline(client)
    no_thread_leak()
    assert connection.broker_closed(timeout=WILL_WITHIN), (
        "after go_offline the broker still holds the connection open: it never got a "
        "DISCONNECT. End with client.disconnect(), then loop_stop()."
    )
    # The broker has handled the end of that connection (a will would have
    # gone out before it closed it): everything it sent us is before the marker.
    said = [(payload, qos) for payload, _, qos in _seen(probe)]
    assert said == [(b"offline", 1)], (
        f"the dashboard should see exactly one 'offline' (QoS 1), published by go_offline "
        f"itself; it saw {said}. Two mean the will went out too: was the disconnect clean?"
    )
    late = probe_factory()
    late.subscribe(status, qos=1)
    stored = [m[:2] for m in _seen(late)]
    assert stored == [(b"offline", True)], (
        f"after a clean exit the status topic holds 'offline', retained; got {stored}"
    )


def test_connect_with_status_to_a_closed_port_fails_without_a_thread(
    topic, client_id, no_thread_leak
) -> None:
    with pytest.raises((OSError, TimeoutError)):
        will.connect_with_status("127.0.0.1", free_port(), client_id("device"), f"{topic}/s")
    no_thread_leak()
