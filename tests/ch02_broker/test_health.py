"""Chapter 2: waiting for the broker (exercises/ch02_broker/health.py)."""

from __future__ import annotations

import socket
import time

import pytest

from kata import exercise
from kata.core.brokers import LOOPBACK, free_port
from kata.core.peers import in_background, silent_server

health = exercise("ch02_broker.health")


def test_a_running_broker_is_ready_at_once(broker) -> None:
    waited = health.wait_for_broker(broker.host, broker.port, timeout=5.0)
    assert isinstance(waited, float), f"return the seconds waited as a float, not {waited!r}"
    assert 0.0 <= waited < 2.0, f"the broker is up: the first CONNACK comes at once, not {waited}"


@pytest.mark.needs_private_broker
def test_a_broker_that_starts_late_is_found(broker_factory) -> None:
    # For the first 0.2 s the port belongs to a gate that accepts each attempt
    # and hangs up without a word; then the gate closes and a broker starts there.
    gate = socket.create_server((LOOPBACK, 0))
    port = gate.getsockname()[1]
    gate.settimeout(0.05)
    began = time.monotonic()
    waiting = in_background(health.wait_for_broker, LOOPBACK, port, timeout=20.0)
    attempts = 0
    with gate:
        while time.monotonic() - began < 0.2:
            try:
                conn, _ = gate.accept()  # the next attempt of wait_for_broker
            except TimeoutError:
                continue
            finally:
                if waiting.done():
                    waiting.result()  # the exercise's own error, if it raised one
                    pytest.fail("wait_for_broker returned, yet no CONNACK had come")
            conn.close()
            attempts += 1
    assert attempts, "wait_for_broker did not even try to connect in 0.2 s"
    private = broker_factory(port=port)  # returns once the broker answers CONNECT
    waited = waiting.result(timeout=20)
    assert isinstance(waited, float), f"return the seconds waited as a float, not {waited!r}"
    assert 0.15 <= waited <= time.monotonic() - began + 0.05, (
        f"wait_for_broker returned {waited!r}; it waited from its call until the broker's "
        f"CONNACK, {time.monotonic() - began:.2f} s or a little less: measure with time.monotonic()"
    )
    assert private.alive()


def test_a_closed_port_times_out_close_to_the_timeout() -> None:
    port = free_port()
    began = time.monotonic()
    with pytest.raises(TimeoutError) as raised:
        health.wait_for_broker("127.0.0.1", port, timeout=0.2)
    took = time.monotonic() - began
    assert 0.18 <= took <= 1.2, (
        f"with timeout=0.2 keep trying until about 0.2 s have passed, then raise; took {took:.2f} s"
    )
    assert "CONNACK" in str(raised.value), (
        f"say what did not happen, e.g. 'no CONNACK from 127.0.0.1:{port} within 0.2 s'; "
        f"got {raised.value!r}"
    )


def test_a_silent_tcp_server_is_not_ready(no_thread_leak) -> None:
    # It accepts the connection, so the port is open; it never sends a CONNACK.
    with silent_server() as port:
        began = time.monotonic()
        with pytest.raises(TimeoutError) as raised:
            health.wait_for_broker("127.0.0.1", port, timeout=0.2)
        took = time.monotonic() - began
    assert took <= 1.2, f"a silent server must not hold you past the timeout (0.2 s): {took:.2f} s"
    assert "CONNACK" in str(raised.value), f"name the missing CONNACK; got {raised.value!r}"
    no_thread_leak()


@pytest.mark.needs_listener("auth")
def test_a_broker_that_refuses_you_is_still_ready(broker) -> None:
    # The password listener answers an anonymous CONNECT with CONNACK 5: refused, but up.
    waited = health.wait_for_broker(broker.host, broker.auth_port, timeout=5.0)
    assert 0.0 <= waited < 2.0, "any CONNACK, even a refusal, proves the broker is running"
